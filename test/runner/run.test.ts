import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { verifyFolder } from '../../src/evidence/manifest';
import { profileFromObject } from '../../src/profile';
import { runAssessment } from '../../src/runner/run';
import { REPORTERS, type Reporter } from '../../src/report';
import type { Report } from '../../src/report/model';
import type { ProbeDefinition } from '../../src/sdk';
import { FIXTURE_PROBES, greetingProbe, intrusiveProbe } from '../../fixtures/probes';
import { bannerServer, closedPort, stallServer, type TestServer } from '../../fixtures/servers';
import { expectValidReport } from '../helpers/report-schema';

describe('runner: a whole run against real sockets on 127.0.0.1', () => {
  let dir: string;
  const servers: TestServer[] = [];
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-run-test-'));
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('completes despite a closed port and a stalling server, and leaves a verifiable evidence folder', async () => {
    const good = await bannerServer('hello\r\n');
    const bad = await bannerServer('INSECURE\r\n');
    const stall = await stallServer();
    const closed = await closedPort();
    servers.push(good, bad, stall);
    const profile = profileFromObject({
      apiVersion: 'iacs-probe/v1',
      component: { name: 'Ünïcode PLC </script>', types: ['embedded'], slTarget: 2 },
      targets: [{ host: '127.0.0.1', services: [good, bad, stall, closed].map((s) => ({ port: s.port, protocol: 'tcp' })) }],
      probes: { 'fixture.greeting': { timeoutMs: 400 } },
    }, 'inline');
    const out = path.join(dir, 'run1');
    const { report } = await runAssessment(profile, { out, probes: [greetingProbe as ProbeDefinition<unknown>, intrusiveProbe as ProbeDefinition<unknown>] });
    expect(report.run.complete).to.equal(true);
    const byPort = (s: TestServer) => report.attempts.find((a) => a.probe === 'fixture.greeting' && a.target === `127.0.0.1:${s.port}`)!;
    expect(byPort(good).status).to.equal('pass');
    expect(byPort(bad).status).to.equal('fail');
    expect(byPort(stall)).to.include({ status: 'error', reason: 'timeout' });
    expect(byPort(stall).durationMs).to.be.lessThan(400 + 2500);
    expect(byPort(closed)).to.include({ status: 'error', reason: 'unreachable' });
    expect(report.attempts.filter((a) => a.probe === 'fixture.intrusive').every((a) => a.status === 'skipped' && a.reason === 'not-allowed')).to.equal(true);
    expect(report.requirements.find((r) => r.id === 'CR 4.1')!.verdict).to.equal('fail');
    expect(report.summary.failedAtTarget).to.equal(1);
    expectValidReport(report);
    expectValidReport(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')));
    const journal = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(journal[0].type).to.equal('run-start');
    expect(journal.filter((j) => j.type === 'attempt')).to.have.length(report.attempts.length);
    expect(journal.at(-1)!.type).to.equal('run-end');
    expect(verifyFolder(out).ok).to.equal(true);
  });

  it('refuses to overwrite an existing evidence folder', async () => {
    const profile = profileFromObject({ apiVersion: 'iacs-probe/v1', component: { name: 'x', types: ['embedded'], slTarget: 1 }, targets: [{ host: '127.0.0.1', services: [] }] }, 'inline');
    const out = path.join(dir, 'run1');
    let error: unknown;
    try {
      await runAssessment(profile, { out, probes: FIXTURE_PROBES });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/already holds files/);
  });

  it('a cancelled run leaves report.json with complete: false and a valid manifest', async () => {
    const stall = await stallServer();
    servers.push(stall);
    const profile = profileFromObject({
      apiVersion: 'iacs-probe/v1', component: { name: 'x', types: ['embedded'], slTarget: 1 },
      targets: [{ host: '127.0.0.1', services: [{ port: stall.port, protocol: 'tcp' }] }],
      probes: { 'fixture.greeting': { timeoutMs: 60_000 } },
    }, 'inline');
    const controller = new AbortController();
    const out = path.join(dir, 'cancelled');
    setTimeout(() => controller.abort(), 200);
    const { report } = await runAssessment(profile, { out, probes: [greetingProbe as ProbeDefinition<unknown>], signal: controller.signal });
    expect(report.run.complete).to.equal(false);
    expect(report.attempts[0]).to.include({ status: 'error', reason: 'cancelled' });
    expect(verifyFolder(out).ok).to.equal(true);
    expectValidReport(report);
  });

  it('redacts profile secrets from everything it writes', async () => {
    const good = await bannerServer('the password is S3cret-Bench-Pw!\r\n');
    servers.push(good);
    process.env.TEST_RUN_SECRET = 'S3cret-Bench-Pw!';
    try {
      const profile = profileFromObject({
        apiVersion: 'iacs-probe/v1', component: { name: 'x', types: ['embedded'], slTarget: 1 },
        targets: [{ host: '127.0.0.1', services: [{ port: good.port, protocol: 'tcp' }] }],
        credentials: { telnet: { username: 'op', password: { env: 'TEST_RUN_SECRET' } } },
      }, 'inline');
      const out = path.join(dir, 'secret');
      await runAssessment(profile, { out, probes: [greetingProbe as ProbeDefinition<unknown>] });
      for (const f of fs.readdirSync(out, { recursive: true }) as string[]) {
        const file = path.join(out, f);
        if (fs.statSync(file).isFile()) expect(fs.readFileSync(file, 'utf8'), f).to.not.contain('S3cret-Bench-Pw!');
      }
      expect(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).to.contain('the password is [redacted]');
    } finally {
      delete process.env.TEST_RUN_SECRET;
    }
  });

  it('a secret that is also a common word is redacted in values, never in field names', async () => {
    // 'greeting' is also the observation's field name (not a user name or a published default, so it is
    // redacted wherever it occurs in a value).
    const good = await bannerServer('your greeting\r\n');
    servers.push(good);
    process.env.TEST_RUN_SECRET = 'greeting';
    try {
      const profile = profileFromObject({
        apiVersion: 'iacs-probe/v1', component: { name: 'x', types: ['embedded'], slTarget: 1 },
        targets: [{ host: '127.0.0.1', services: [{ port: good.port, protocol: 'tcp' }] }],
        credentials: { telnet: { username: 'op', password: { env: 'TEST_RUN_SECRET' } } },
      }, 'inline');
      const out = path.join(dir, 'common-word');
      await runAssessment(profile, { out, probes: [greetingProbe as ProbeDefinition<unknown>], operator: 'A. Tester' });
      const written = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
      expectValidReport(written);
      expect(written.run.operator).to.equal('A. Tester');
      expect(written.attempts[0].observations.greeting).to.equal('your [redacted]\r\n');
      const journal = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(journal[0]).to.have.property('options');
      expect(verifyFolder(out).ok).to.equal(true);
    } finally {
      delete process.env.TEST_RUN_SECRET;
    }
  });

  it('a reporter that fails costs its own file only: the folder still gets its reports and manifest', async () => {
    const good = await bannerServer('hello\r\n');
    servers.push(good);
    const broken: Reporter = { file: 'broken.txt', render: () => { throw new Error('renderer bug'); } };
    (REPORTERS as Reporter[]).push(broken);
    try {
      const profile = profileFromObject({
        apiVersion: 'iacs-probe/v1', component: { name: 'x', types: ['embedded'], slTarget: 1 },
        targets: [{ host: '127.0.0.1', services: [{ port: good.port, protocol: 'tcp' }] }],
      }, 'inline');
      const out = path.join(dir, 'broken-reporter');
      const outcome = await runAssessment(profile, { out, probes: [greetingProbe as ProbeDefinition<unknown>] });
      expect(outcome.reporterErrors.map((e) => e.file)).to.deep.equal(['broken.txt']);
      expect(fs.existsSync(path.join(out, 'report.json'))).to.equal(true);
      expect(fs.existsSync(path.join(out, 'broken.txt'))).to.equal(false);
      expect(fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8')).to.contain('renderer bug');
      expect(verifyFolder(out).ok).to.equal(true);
    } finally {
      (REPORTERS as Reporter[]).pop();
    }
  });
});
