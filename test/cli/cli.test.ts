import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator';
import type { Report } from '../../src/report/model';
import { cli, startCli } from '../helpers/cli';
import { expectValidReport } from '../helpers/report-schema';

function profileYaml(targets: { host: string; services: { port: number; protocol: string }[] }[], extra = ''): string {
  return `apiVersion: iacs-probe/v1
component: { name: CLI test PLC, types: [embedded], slTarget: 2 }
targets:
${targets.map((t) => `  - host: ${t.host}\n    services: [${t.services.map((s) => `{ port: ${s.port}, protocol: ${s.protocol} }`).join(', ')}]`).join('\n')}
${extra}`;
}

describe('command line', function () {
  this.timeout(90_000);
  let dir: string;
  let weak: Emulator;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-cli-'));
    weak = await startEmulator('weak', { ephemeralPorts: true });
  });
  after(async () => {
    await weak.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('catalog --sl 2 --type embedded --json lists the 61 rows required at SL 2', async () => {
    const r = await cli(['catalog', '--sl', '2', '--type', 'embedded', '--json']);
    expect(r.code).to.equal(0);
    const doc = JSON.parse(r.stdout) as { count: number; requirements: { id: string }[] };
    expect(doc.count).to.equal(61);
    expect(doc.requirements.map((x) => x.id)).to.include('EDR 3.14 RE(1)');
  });

  it('probes --json lists each probe with its requirements and safety class', async () => {
    const r = await cli(['probes', '--json']);
    expect(r.code).to.equal(0);
    const probes = JSON.parse(r.stdout) as { id: string; safety: string; requirements: string[] }[];
    expect(probes.find((p) => p.id === 'ports.tcp')).to.deep.include({ safety: 'passive', requirements: ['CR 7.7', 'CR 4.1'] });
  });

  it('an invalid profile exits 3, names file, line and field, and writes nothing', async () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, profileYaml([{ host: '127.0.0.1', services: [{ port: 0, protocol: 'tcp' }] }]));
    const out = path.join(dir, 'bad-out');
    const r = await cli(['run', file, '--out', out]);
    expect(r.code).to.equal(3);
    expect(r.stderr).to.match(/bad\.yaml:5:\d+: targets\[0\]\.services\[0\]\.port: must be >= 1/);
    expect(fs.existsSync(out)).to.equal(false);
  });

  it('a host outside the profile is refused (exit 3, nothing contacted or written)', async () => {
    const file = path.join(dir, 'scope.yaml');
    fs.writeFileSync(file, profileYaml([{ host: '127.0.0.1', services: [] }]));
    const out = path.join(dir, 'scope-out');
    const r = await cli(['run', file, '--host', '10.99.99.99', '--out', out]);
    expect(r.code).to.equal(3);
    expect(r.stderr).to.contain('10.99.99.99 is not a target');
    expect(fs.existsSync(out)).to.equal(false);
  });

  it('works from any working directory (the launcher finds its own tsx and files)', async () => {
    const r = await cli(['probes', '--json'], {}, os.tmpdir());
    expect(r.code, r.stderr).to.equal(0);
    expect((JSON.parse(r.stdout) as unknown[]).length).to.be.greaterThan(0);
  });

  it('usage errors exit 3 with the usage text', async () => {
    expect((await cli(['frobnicate'])).code).to.equal(3);
    const r = await cli(['run']);
    expect(r.code).to.equal(3);
    expect(r.stderr).to.contain('usage: iacs-probe run');
    expect((await cli(['catalog', '--sl', '9'])).code).to.equal(3);
  });

  it('run against the weak emulator exits 1; verify passes, then fails after one byte changes', async () => {
    const telnet = weak.endpoint('telnet');
    const file = path.join(dir, 'weak.yaml');
    fs.writeFileSync(file, profileYaml([{ host: '127.0.0.1', services: [{ port: telnet.port, protocol: 'telnet' }] }],
      `probes:\n  ports.tcp: { scanner: connect, ports: "${telnet.port},${weak.endpoint('tcp').port}" }\n`));
    const out = path.join(dir, 'weak-run');
    const r = await cli(['run', file, '--out', out]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout).to.match(/CR 7\.7 +Least functionality/);
    expect(r.stdout).to.contain('ports.tcp.undeclared-open');
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as unknown;
    expectValidReport(report);
    expect((await cli(['verify', out])).code).to.equal(0);
    const evidence = path.join(out, 'journal.ndjson');
    const bytes = fs.readFileSync(evidence);
    bytes[10] ^= 1;
    fs.writeFileSync(evidence, bytes);
    const v = await cli(['verify', out]);
    expect(v.code).to.equal(1);
    expect(v.stdout).to.match(/modified +journal\.ndjson/);
  });

  it('SIGINT mid-run leaves complete: false, a valid manifest and every attempt in the journal', async () => {
    const file = path.join(dir, 'slow.yaml');
    // One attempt at a time: a slow full-range scan of 127.0.0.1 is interrupted, 127.0.0.2 never starts.
    fs.writeFileSync(file, `apiVersion: iacs-probe/v1
component: { name: slow, types: [embedded], slTarget: 1 }
targets:
  - { host: 127.0.0.1, services: [] }
  - { host: 127.0.0.2, services: [] }
limits: { global: 1 }
probes:
  ports.tcp: { scanner: connect, ports: all, maxParallel: 1, timeoutMs: 600000 }
`);
    const out = path.join(dir, 'interrupted');
    const { child, done } = startCli(['run', file, '--out', out, '--only', 'ports.tcp']);
    const journal = path.join(out, 'journal.ndjson');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !(fs.existsSync(journal) && fs.readFileSync(journal, 'utf8').includes('"run-start"'))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stdout).to.contain('INCOMPLETE');
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { run: { complete: boolean }; attempts: { target: string; status: string; reason?: string }[] };
    expect(report.run.complete).to.equal(false);
    expectValidReport(report);
    expect(report.attempts.map((a) => [a.target, a.status, a.reason])).to.deep.equal([['127.0.0.1', 'error', 'cancelled'], ['127.0.0.2', 'skipped', 'cancelled']]);
    const lines = fs.readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; attempt?: unknown });
    // The journal is in finishing order, the report in plan order.
    expect(lines.filter((l) => l.type === 'attempt').map((l) => l.attempt)).to.have.deep.members(report.attempts);
    expect(lines.at(-1)!.type).to.equal('run-end');
    expect((await cli(['verify', out])).code).to.equal(0);
  });

  it('demo --posture hardened assesses the embedded emulator and writes a verifiable folder', async () => {
    const out = path.join(dir, 'demo');
    const r = await cli(['demo', '--posture', 'hardened', '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('Emulated PLC (hardened posture)');
    expect((await cli(['verify', out])).code).to.equal(0);
  });

  for (const posture of ['weak', 'hardened']) {
    it(`emulate --posture ${posture}: stdout is exactly one JSON line (no library output before it), and SIGTERM stops it`, async () => {
      const { child, done } = startCli(['emulate', '--posture', posture, '--ephemeral']);
      let stdout = '';
      child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && !stdout.includes('\n') && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      // node-opcua's asynchronous RSA PKCS#1 v1.5 check would print a line a moment later: give it time.
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGTERM');
      const r = await done;
      expect(r.code, r.stderr).to.equal(0);
      const lines = r.stdout.split('\n').filter(Boolean);
      expect(lines, r.stdout).to.have.length(1);
      const line = JSON.parse(lines[0]) as { services: { protocol: string; port: number }[] };
      expect(line.services.map((s) => s.protocol)).to.include('opcua');
      expect(r.stderr).to.not.match(/NODE-OPCUA|Warning/);
    });
  }

  it('demo --sl 3 assesses against SL 3 for every FR (the example profile says 2)', async () => {
    const out = path.join(dir, 'demo-sl3');
    const r = await cli(['demo', '--posture', 'hardened', '--sl', '3', '--only', 'ssh.algorithms', '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
    expect(Object.values(report.slTarget)).to.deep.equal([3, 3, 3, 3, 3, 3, 3]);
    const fromSl3 = report.requirements.filter((x) => Math.min(...x.sl) === 3);
    expect(fromSl3).to.not.be.empty;
    expect(fromSl3.every((x) => x.requiredAtTarget)).to.equal(true);
    expect((await cli(['demo', '--sl', '5', '--out', path.join(dir, 'demo-sl5')])).code).to.equal(3);
  });
});
