import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCatalog } from '../../src/catalog';
import { startEmulator, type Emulator } from '../../src/emulator';
import { verifyFolder } from '../../src/evidence/manifest';
import { parseNdjson } from '../../src/evidence/ndjson';
import { listFiles, sha256 } from '../../src/evidence/store';
import { loadProfile } from '../../src/profile';
import type { Attempt, Report } from '../../src/report/model';
import { buildPlan } from '../../src/runner/plan';
import { loadProbes } from '../../src/runner/registry';
import { inProcess, startCli, type CliResult } from '../helpers/cli';
import { postureWith } from '../helpers/postures';
import { expectValidReport } from '../helpers/report-schema';

/**
 * Issue #23 item 2: a real run of `iacs-probe run` (a child process) against the weak emulator, interrupted by
 * SIGINT, SIGTERM and SIGKILL at seeded random points while attempts run (IACS_TEST_SEED to replay other points),
 * then `iacs-probe resume` compared with an uninterrupted run of the same profile.
 */
const SEED = Number(process.env.IACS_TEST_SEED ?? 23);
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL'] as const;
const POINTS_PER_SIGNAL = 3;
const ONLY = 'ssh.algorithms,ssh.auth,ssh.default-credentials,cleartext,modbus.access,modbus.identification,tls.protocols,tls.certificate,http.headers,http.transport';

/** mulberry32: a small seeded generator, so that a failing point can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Journaled = { type: string; attempt?: Attempt };
const journalOf = (dir: string) => parseNdjson<Journaled>(fs.existsSync(path.join(dir, 'journal.ndjson')) ? fs.readFileSync(path.join(dir, 'journal.ndjson'), 'utf8') : '');
const attemptsIn = (dir: string) => journalOf(dir).records.filter((r) => r.type === 'attempt').map((r) => r.attempt!);
const readReport = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as Report;
const hashes = (dir: string) => Object.fromEntries(listFiles(dir).map((f) => [f, sha256(fs.readFileSync(path.join(dir, f)))]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What must be equal between runs of one profile against one device: live values (counters, dates, random paths) masked. */
function comparable(report: Report) {
  const mask = (v: unknown, key = ''): unknown => {
    if (typeof v === 'number') return /ms|seconds|duration|values|time/i.test(key) ? 'n' : v;
    if (typeof v === 'string') return v.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z|\w{3}, \d\d \w{3} \d{4} [\d:]+ GMT/g, 'DATE').replace(/iacs-probe-[0-9a-f]{8,}/g, 'iacs-probe-RANDOM');
    if (Array.isArray(v)) return v.map((x) => mask(x, key));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x, /values/i.test(key) ? key : k)]));
    return v;
  };
  return {
    requirements: report.requirements.map((r) => [r.id, r.verdict]),
    attempts: report.attempts.map((a) => ({
      key: `${a.probe}@${a.target}`, status: a.status, reason: a.reason, findings: a.findings.map((f) => f.code),
      outcomes: a.outcomes.map((o) => [o.requirement, o.verdict]), observations: mask(a.observations),
    })),
  };
}

interface Interrupted {
  signal: (typeof SIGNALS)[number];
  out: string;
  /** Attempts the journal held just before the signal was sent. */
  before: Attempt[];
  result: CliResult;
}

describe(`interruption and resume: SIGINT, SIGTERM and SIGKILL at seeded points of a real run (seed ${SEED})`, function () {
  this.timeout(120_000);
  let emulator: Emulator;
  let dir: string;
  let profileFile: string;
  let planned: number;
  let baseline: Report;
  const interrupted: Interrupted[] = [];
  const survived: Record<string, number> = { SIGINT: 0, SIGTERM: 0, SIGKILL: 0 };
  let resumedEqual = 0;

  /** Starts a run, sends `signal` once `after` attempts are journaled (+ a few ms), and waits for the process to end. */
  async function interrupt(signal: Interrupted['signal'], after: number, extraMs: number, name: string): Promise<Interrupted> {
    const out = path.join(dir, name);
    const { child, done } = startCli(['run', profileFile, '--out', out, '--only', ONLY, '--no-pdf']);
    let exited = false;
    void done.then(() => { exited = true; });
    const deadline = Date.now() + 60_000;
    while (!exited && Date.now() < deadline && attemptsIn(out).length < after) await sleep(20);
    await sleep(extraMs);
    expect(exited, `${name}: the run ended before the signal`).to.equal(false);
    const before = attemptsIn(out);
    child.kill(signal);
    return { signal, out, before, result: await done };
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-interrupt-'));
    emulator = await startEmulator(postureWith('weak', ['ssh', 'telnet', 'modbus', 'https', 'ftp']), { ephemeralPorts: true });
    profileFile = path.join(dir, 'bench.yaml');
    const port = (p: string) => emulator.endpoint(p).port;
    // One attempt at a time, so that a point "after k attempts" is inside attempt k+1. No lockout on the weak
    // device; a high documented threshold keeps the login budgets from depending on where the run was cut.
    fs.writeFileSync(profileFile, `apiVersion: iacs-probe/v1
component: { name: Interrupt PLC, types: [embedded], slTarget: 2 }
targets:
  - host: 127.0.0.1
    services: [{ port: ${port('ssh')}, protocol: ssh }, { port: ${port('telnet')}, protocol: telnet }, { port: ${port('modbus')}, protocol: modbus, unitId: 1 }, { port: ${port('https')}, protocol: https }, { port: ${port('ftp')}, protocol: ftp }]
limits: { global: 1 }
policy: { lockout: { threshold: 50 } }
`);
    planned = (await buildPlan(loadProfile(profileFile), loadProbes(), loadCatalog(), { only: ONLY.split(',') })).attempts.length;
    // Seeded points: after 1..planned-4 finished attempts (the last ones are too quick to be hit for sure), plus 0-40 ms.
    const next = random(SEED);
    const points = SIGNALS.flatMap((signal) => Array.from({ length: POINTS_PER_SIGNAL }, (_, i) => ({
      signal, after: 1 + Math.floor(next() * (planned - 4)), extraMs: Math.floor(next() * 40), name: `${signal}-${i}`,
    })));
    // Every run at once (their start-up, loading the probes, is most of their time), the uninterrupted one too.
    const whole = startCli(['run', profileFile, '--out', path.join(dir, 'baseline'), '--only', ONLY, '--no-pdf']).done;
    interrupted.push(...await Promise.all(points.map((p) => interrupt(p.signal, p.after, p.extraMs, p.name))));
    const r = await whole;
    expect(r.code, r.stderr).to.equal(1);
    baseline = readReport(path.join(dir, 'baseline'));
  });

  after(async () => {
    await emulator?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    // The figures of the README's Reliability section.
    console.log(`      interrupts survived: ${Object.entries(survived).map(([s, n]) => `${s} ${n}`).join(', ')}; resumed runs equal to an uninterrupted one: ${resumedEqual}`);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: exit 2, the folder closed and verifiable with run.complete false, every attempt journaled before the signal kept`, () => {
      for (const run of interrupted.filter((r) => r.signal === signal)) {
        expect(run.result.code, run.result.stderr).to.equal(2);
        expect(run.result.stderr).to.contain(`${signal}: stopping; finishing the evidence folder`);
        const report = readReport(run.out);
        expectValidReport(report);
        expect(report.run).to.include({ complete: false, incompleteReason: `cancelled by ${signal}` });
        expect(verifyFolder(run.out).ok, run.out).to.equal(true);
        const journal = journalOf(run.out);
        expect(journal.torn).to.equal(false);
        expect(journal.records.at(-1)!.type).to.equal('run-end');
        const journaled = attemptsIn(run.out);
        expect(journaled.slice(0, run.before.length)).to.deep.equal(run.before);
        expect(journaled).to.have.deep.members(report.attempts);
        expect(report.attempts.filter((a) => a.reason === 'cancelled').length, 'something was cut short').to.be.greaterThan(0);
        survived[signal] += 1;
      }
    });
  }

  it('SIGKILL: the journal holds every attempt that had finished, with its evidence; no manifest, and verify says so without crashing', () => {
    for (const run of interrupted.filter((r) => r.signal === 'SIGKILL')) {
      expect(run.result.signal).to.equal('SIGKILL');
      const journal = journalOf(run.out);
      expect(journal.unreadable).to.deep.equal([]);
      const journaled = attemptsIn(run.out);
      expect(journaled.slice(0, run.before.length)).to.deep.equal(run.before);
      expect(journaled.length).to.be.lessThan(planned);
      for (const a of journaled) for (const rel of a.evidence) expect(fs.existsSync(path.join(run.out, rel)), rel).to.equal(true);
      expect(fs.existsSync(path.join(run.out, 'report.json'))).to.equal(false);
      const verified = verifyFolder(run.out);
      expect(verified.ok).to.equal(false);
      expect(verified.problems.map((p) => `${p.kind} ${p.path}`)).to.deep.equal(['missing manifest.json']);
      survived.SIGKILL += 1;
    }
  });

  for (const signal of SIGNALS) {
    it(`resume after ${signal}: only the unfinished attempts run again; verdicts and observations equal the uninterrupted run; the interrupted folder is untouched`, async () => {
      const run = interrupted.find((r) => r.signal === signal)!;
      if (signal === 'SIGKILL') {
        // A kill in the middle of a write leaves half a line: readers must skip it.
        fs.appendFileSync(path.join(run.out, 'journal.ndjson'), '{"type":"attempt","attempt":{"probe":"ssh.algo');
      }
      const finished = attemptsIn(run.out).filter((a) => a.status !== 'skipped' && a.reason !== 'cancelled');
      const untouched = hashes(run.out);
      const out = path.join(dir, `resumed-${signal}`);
      const r = await inProcess(['resume', run.out, '--out', out, '--no-pdf']);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`${finished.length} finished attempt(s) taken over`);
      if (signal === 'SIGKILL') expect(r.stderr).to.contain('last line was cut off');
      expect(hashes(run.out)).to.deep.equal(untouched);
      if (signal !== 'SIGKILL') expect(verifyFolder(run.out).ok).to.equal(true);

      const report = readReport(out);
      expectValidReport(report);
      expect(verifyFolder(out).ok).to.equal(true);
      expect(report.run.complete).to.equal(true);
      expect(report.run.resumedFrom).to.include({ reused: finished.length, rerun: planned - finished.length, closed: signal !== 'SIGKILL', copy: 'interrupted' });
      expect(fs.readFileSync(path.join(out, 'interrupted', 'journal.ndjson'))).to.deep.equal(fs.readFileSync(path.join(run.out, 'journal.ndjson')));
      // Taken over as they were (same start time), with their evidence copied byte for byte.
      for (const a of finished) {
        expect(report.attempts).to.deep.include(a);
        for (const rel of a.evidence) expect(fs.readFileSync(path.join(out, rel))).to.deep.equal(fs.readFileSync(path.join(run.out, rel)));
      }
      expect(comparable(report)).to.deep.equal(comparable(baseline));
      resumedEqual += 1;
    });
  }

  it('refuses (exit 3, nothing written) a complete run, a folder that is no run folder, a demo run, and a changed profile unless --force', async () => {
    const refused = async (args: string[], text: RegExp) => {
      const out = path.join(dir, `refused-${Math.random().toString(36).slice(2)}`);
      const r = await inProcess(['resume', ...args, ...(args.includes('--out') ? [] : ['--out', out])]);
      expect(r.code, r.stderr).to.equal(3);
      expect(r.stderr).to.match(text);
      expect(fs.existsSync(out)).to.equal(false);
    };
    await refused([path.join(dir, 'baseline')], /is a complete run/);
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    await refused([empty], /is not a run folder: it has no journal\.ndjson/);
    const demo = fs.mkdtempSync(path.join(dir, 'demo-'));
    fs.writeFileSync(path.join(demo, 'journal.ndjson'), `${JSON.stringify({ type: 'run-start', runId: 'x', profile: 'weak.yaml', profileSha256: 'a'.repeat(64), options: { command: 'demo' } })}\n`);
    await refused([demo], /is a demo run/);
    const run = interrupted.filter((r) => r.signal === 'SIGTERM')[1];
    await refused([run.out, '--out', run.out], /overlaps the interrupted folder/);

    const oldSha = loadProfile(profileFile).sha256;
    fs.appendFileSync(profileFile, '# edited after the run\n');
    await refused([run.out], /changed since the interrupted run .* pass --force/);
    const out = path.join(dir, 'resumed-forced');
    const r = await inProcess(['resume', run.out, '--out', out, '--force', '--no-pdf']);
    expect(r.code, r.stderr).to.equal(1);
    expect(readReport(out).run.resumedFrom).to.include({ profileSha256: oldSha });
    expect(readReport(out).run.profileSha256).to.not.equal(oldSha);
  });
});
