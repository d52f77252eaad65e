import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { main } from '../../src/cli/main';
import { parse } from '../../src/cli/common';
import { runOptions, toRunOptions } from '../../src/cli/run';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';
import { verifyFolder, writeManifest } from '../../src/evidence/manifest';
import { listFiles, sha256 } from '../../src/evidence/store';
import { loadProfile } from '../../src/profile';
import type { Report } from '../../src/report/model';
import { runAssessment } from '../../src/runner/run';
import { expectValidReport } from '../helpers/report-schema';
import { findExecutable, requirePeer } from '../helpers/peers';
import { PDF_FILE, findChromium } from '../../src/runner/pdf';

/*
 * A fleet of four emulated devices, each on an address of its own on loopback (127.0.0.2-5; Linux routes all
 * of 127/8 to lo), assessed once whole and once as three shards joined by `iacs-probe merge`: the merged
 * report must equal the whole one in everything the assessment concluded. Then every refusal of merge.
 */

/** The CLI in this process: the runs and merges below need no new tsx start-up each. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const text = { out: '', err: '' };
  const sink = (key: 'out' | 'err') => new Writable({ write(chunk, _enc, done) { text[key] += String(chunk); done(); } });
  const code = await main(args, { out: sink('out'), err: sink('err') });
  return { code, stdout: text.out, stderr: text.err };
}

interface Comparison { identical: boolean; differences: { path: string; a: unknown; b: unknown }[] }
/** docker/harness/compare-reports.mjs: the same comparison the Docker Swarm run (docker/swarm-shards.sh) makes. */
const compareAssessments = async (a: Report, b: Report): Promise<Comparison> => {
  const m = (await import(pathToFileURL(path.resolve('docker/harness/compare-reports.mjs')).href)) as { compareAssessments(a: unknown, b: unknown): Comparison };
  return m.compareAssessments(a, b);
};

const sha256File = (file: string) => sha256(fs.readFileSync(file));
const readReport = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as Report;

/** Weak and hardened devices, alternating, with the services the selected probes talk to. */
const FLEET = [
  { host: '127.0.0.2', posture: 'weak' }, { host: '127.0.0.3', posture: 'hardened' },
  { host: '127.0.0.4', posture: 'weak' }, { host: '127.0.0.5', posture: 'hardened' },
] as const;
const SERVICES = ['telnet', 'ssh', 'https', 'http', 'modbus'];
const ONLY = 'ssh.algorithms,tls.protocols,tls.certificate,cleartext.telnet,http.headers,http.transport,modbus.identification,ports.tcp';

async function startDevice(host: string, postureName: string): Promise<Emulator> {
  const posture = loadPosture(postureName);
  posture.services = Object.fromEntries(Object.entries(posture.services).filter(([key]) => SERVICES.includes(key)));
  return startEmulator(posture, { host, ephemeralPorts: true });
}

describe('shards and merge: four emulated devices on 127.0.0.2-5, whole and as three shards', function () {
  this.timeout(300_000);
  let tmp: string;
  const devices: Emulator[] = [];
  let profileFile: string;
  let runArgs: string[];
  let whole: { code: number; report: Report };
  const shardDirs: string[] = [];

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-merge-'));
    for (const d of FLEET) devices.push(await startDevice(d.host, d.posture));
    const ports = [...new Set(devices.flatMap((e) => e.services.map((s) => s.port)))].join(',');
    profileFile = path.join(tmp, 'fleet.yaml');
    fs.writeFileSync(profileFile, toYaml({
      apiVersion: 'iacs-probe/v1',
      component: { name: 'Fleet of emulated PLCs', vendor: 'Example Automation', model: 'EPLC-1', types: ['embedded'], slTarget: 2 },
      targets: devices.map((e, i) => ({
        host: FLEET[i].host, name: `eplc-${i + 1}-${FLEET[i].posture}`,
        services: e.services.map((s) => ({ port: s.port, protocol: s.protocol })),
      })),
    }));
    // No PDF per shard (the merge prints its own below).
    runArgs = ['--only', ONLY, '--ports', ports, '--no-pdf'];
    const w = await inProcess(['run', profileFile, '--out', path.join(tmp, 'whole'), ...runArgs]);
    expect(w.stderr).to.not.match(/internal error/);
    whole = { code: w.code, report: readReport(path.join(tmp, 'whole')) };
    for (let i = 0; i < 3; i += 1) {
      shardDirs.push(path.join(tmp, `shard-${i}`));
      const r = await inProcess(['run', profileFile, '--shard', `${i}/3`, '--out', shardDirs[i], ...runArgs]);
      expect(r.stderr).to.not.match(/internal error/);
    }
  });
  after(async () => {
    await Promise.all(devices.map((d) => d.close()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the whole run assessed every device without errors', () => {
    expect(whole.report.run.complete).to.equal(true);
    expect(whole.report.summary.errors, JSON.stringify(whole.report.attempts.filter((a) => a.status === 'error').map((a) => [a.probe, a.target, a.message]))).to.equal(0);
    expect(whole.report.targets.map((t) => t.host)).to.have.members(FLEET.map((d) => d.host));
    expect(whole.code).to.equal(1); // the weak devices fail requirements
  });

  it('the shards split the hosts round-robin in name order, and say so in report.json and the journal', () => {
    const expected = [['127.0.0.2', '127.0.0.5'], ['127.0.0.3'], ['127.0.0.4']];
    shardDirs.forEach((dir, i) => {
      const report = readReport(dir);
      expect(report.run.shard).to.deep.equal({ index: i, count: 3, hosts: expected[i] });
      expect(report.targets.map((t) => t.host)).to.deep.equal(expected[i]);
      expect(new Set(report.attempts.map((a) => a.target.replace(/:\d+$/, '')))).to.deep.equal(new Set(expected[i]));
      expectValidReport(report);
      const start = JSON.parse(fs.readFileSync(path.join(dir, 'journal.ndjson'), 'utf8').split('\n')[0]) as { type: string; shard: unknown };
      expect(start).to.include({ type: 'run-start' }).and.to.deep.include({ shard: { index: i, count: 3, hosts: expected[i] } });
      expect(verifyFolder(dir).ok).to.equal(true);
    });
  });

  it('merge: the merged report equals the whole run (verdicts, attempts, observations, findings), exit code as run', async () => {
    const out = path.join(tmp, 'merged');
    const r = await inProcess(['merge', ...shardDirs, '--out', out, '--no-pdf']);
    expect(r.stderr).to.equal('');
    expect(fs.existsSync(path.join(out, PDF_FILE)), '--no-pdf').to.equal(false);
    expect(r.stdout).to.not.match(/PDF/);
    expect(r.code).to.equal(whole.code);
    expect(r.stdout).to.contain('Merged from 3 shards');
    const merged = readReport(out);
    expectValidReport(merged);
    const comparison = await compareAssessments(whole.report, merged);
    expect(comparison.differences).to.deep.equal([]);
    expect(verifyFolder(out).ok).to.equal(true);
    expect((await inProcess(['diff', path.join(tmp, 'whole'), out])).code, 'iacs-probe diff whole merged').to.equal(0);
    // Re-assessed from every shard's attempts: the hardened-only shard fails nothing that the fleet fails.
    const hardenedOnly = readReport(shardDirs[1]);
    const failedInFleet = merged.requirements.filter((x) => x.verdict === 'fail').map((x) => x.id);
    expect(failedInFleet).to.not.be.empty;
    expect(hardenedOnly.requirements.filter((x) => failedInFleet.includes(x.id)).map((x) => x.verdict)).to.not.include('fail');
  });

  it('merge writes report.pdf from the merged report.html, as run does (read back with pdftotext)', async function () {
    requirePeer(this, 'chromium', findChromium().ok ? 'found' : undefined, 'Debian package chromium');
    const pdftotext = requirePeer(this, 'pdftotext', findExecutable('pdftotext'), 'Debian package poppler-utils');
    const out = path.join(tmp, 'merged-pdf');
    const r = await inProcess(['merge', ...shardDirs, '--out', out, '--pdf']);
    expect(r.code, r.stderr).to.equal(whole.code);
    expect(r.stdout).to.match(/^PDF: report\.pdf \(/m);
    const merged = readReport(out);
    const text = execFileSync(pdftotext, ['-enc', 'UTF-8', path.join(out, PDF_FILE), '-'], { encoding: 'utf8', timeout: 30_000 }).replace(/\s+/g, ' ');
    expect(text).to.include('IEC 62443-4-2 COMPONENT SECURITY ASSESSMENT').and.include(merged.run.id);
    expect(merged.requirements.map((x) => x.id).filter((id) => !text.includes(id))).to.deep.equal([]);
    // Written before the manifest: verify covers it.
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { files: { path: string }[] };
    expect(manifest.files.map((f) => f.path)).to.include(PDF_FILE);
    expect(verifyFolder(out).ok).to.equal(true);
  });

  it('merge keeps every shard\'s evidence, report, journal and manifest, and lists the shards with their digests', () => {
    const out = path.join(tmp, 'merged');
    const merged = readReport(out);
    const files = new Set(listFiles(out));
    for (const [i, dir] of shardDirs.entries()) {
      for (const rel of listFiles(dir).filter((f) => f.startsWith('evidence/'))) {
        expect(files.has(rel), rel).to.equal(true);
        expect(fs.readFileSync(path.join(out, rel)).equals(fs.readFileSync(path.join(dir, rel))), rel).to.equal(true);
      }
      for (const file of ['report.json', 'journal.ndjson', 'manifest.json', 'manifest.sha256']) {
        expect(fs.readFileSync(path.join(out, 'shards', String(i), file)).equals(fs.readFileSync(path.join(dir, file))), file).to.equal(true);
      }
      const shard = readReport(dir);
      expect(merged.run.merged!.shards[i]).to.include({ index: i, id: shard.run.id, dir, copy: `shards/${i}`, complete: true });
      expect(merged.run.merged!.shards[i].journalSha256).to.equal(sha256File(path.join(dir, 'journal.ndjson')));
      expect(merged.run.merged!.shards[i].manifestSha256).to.equal(sha256File(path.join(dir, 'manifest.json')));
    }
    for (const a of merged.attempts) for (const rel of a.evidence) expect(files.has(rel), rel).to.equal(true);
    const journal = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; shards?: unknown[] });
    expect(journal.map((j) => j.type)).to.deep.equal(['merge-start', 'run-end']);
    expect(journal[0].shards).to.deep.equal(merged.run.merged!.shards);
  });

  it('a shard with no host (more shards than hosts) still writes a valid folder that says so', async () => {
    const dir = path.join(tmp, 'empty-shard');
    const r = await inProcess(['run', profileFile, '--shard', '4/5', '--out', dir, ...runArgs]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('Shard 4/5: no host');
    const report = readReport(dir);
    expect(report.run.shard).to.deep.equal({ index: 4, count: 5, hosts: [] });
    expect(report.attempts).to.deep.equal([]);
    expect(report.requirements.every((x) => x.verdict !== 'pass')).to.equal(true);
    expectValidReport(report);
    expect(verifyFolder(dir).ok).to.equal(true);
  });

  describe('refusals: exit 3, a message naming the problem, nothing written', () => {
    /** Runs merge and checks the refusal; `out` must not exist afterwards. */
    const refused = async (dirs: string[], pattern: RegExp, extra: string[] = []) => {
      const out = path.join(tmp, `refused-${Math.random().toString(36).slice(2)}`);
      const r = await inProcess(['merge', ...dirs, '--out', out, ...extra]);
      expect(r.code, r.stderr).to.equal(3);
      expect(r.stderr).to.match(pattern);
      expect(fs.existsSync(out), 'nothing written').to.equal(false);
      return r;
    };
    /** A copy of a shard folder, changed by `change` and given a new manifest (a forged or buggy shard). */
    const forged = (from: string, name: string, change: (report: Report, dir: string) => void) => {
      const dir = path.join(tmp, name);
      fs.cpSync(from, dir, { recursive: true });
      const report = readReport(dir);
      change(report, dir);
      fs.writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report, null, 2));
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Parameters<typeof writeManifest>[1];
      writeManifest(dir, manifest);
      return dir;
    };

    it('a missing shard', async () => {
      await refused([shardDirs[0], shardDirs[2]], /missing shard 1 of 3/);
    });

    it('a shard given twice', async () => {
      await refused([shardDirs[0], shardDirs[1], shardDirs[2], shardDirs[1]], /shard 1\/3 is given twice/);
    });

    it('a folder that is not a shard (the whole run)', async () => {
      await refused([shardDirs[0], path.join(tmp, 'whole')], /whole is not a shard: .*without --shard/);
    });

    it('overlapping hosts', async () => {
      const dir = forged(shardDirs[0], 'forged-overlap', (r) => { r.run.shard!.index = 2; });
      await refused([shardDirs[0], shardDirs[1], dir], /host 127\.0\.0\.2 is in shard 0\/3 .* and in shard 2\/3 .*overlapping/);
    });

    it('a shard of another profile', async () => {
      const dir = forged(shardDirs[2], 'forged-profile', (r) => { r.run.profileSha256 = 'f'.repeat(64); });
      await refused([shardDirs[0], shardDirs[1], dir], /differ in the profile \(profileSha256\): they are not shards of one run/);
    });

    it('shards of different counts, options or attestation files', async () => {
      await refused([shardDirs[0], shardDirs[1], path.join(tmp, 'empty-shard')], /differ in the shard count/);
      const only = forged(shardDirs[2], 'forged-only', (r) => { r.run.options.only = ['ssh']; });
      await refused([shardDirs[0], shardDirs[1], only], /differ in the run options/);
      const attested = forged(shardDirs[2], 'forged-attest', (_r, dir) => fs.writeFileSync(path.join(dir, 'attestations.yaml'), 'attestations: []\n'));
      await refused([shardDirs[0], shardDirs[1], attested], /differ in the attestation file/);
    });

    it('a shard folder that does not verify (one byte changed)', async () => {
      const dir = path.join(tmp, 'tampered');
      fs.cpSync(shardDirs[2], dir, { recursive: true });
      const evidence = listFiles(dir).find((f) => f.startsWith('evidence/'))!;
      fs.appendFileSync(path.join(dir, evidence), 'x');
      await refused([shardDirs[0], shardDirs[1], dir], new RegExp(`tampered does not verify[^]*modified ${evidence.replace(/[.]/g, '\\.')}`));
    });

    it('an --out folder that overlaps a shard folder', async () => {
      const r = await inProcess(['merge', ...shardDirs, '--out', path.join(shardDirs[0], 'merged'), '--overwrite']);
      expect(r.code).to.equal(3);
      expect(r.stderr).to.match(/overlaps the shard folder/);
      expect(verifyFolder(shardDirs[0]).ok).to.equal(true);
    });

    it('usage: no folder, no --out, a bad --shard', async () => {
      expect((await inProcess(['merge', '--out', path.join(tmp, 'x')])).stderr).to.match(/missing the shard folders/);
      expect((await inProcess(['merge', shardDirs[0]])).stderr).to.match(/--out DIR is required/);
      for (const bad of ['3/3', '1', '-1/2', '0/0']) {
        const r = await inProcess(['run', profileFile, '--shard', bad, '--out', path.join(tmp, 'never')]);
        expect(r.code, bad).to.equal(3);
        expect(r.stderr, bad).to.match(/--shard/);
      }
      expect(fs.existsSync(path.join(tmp, 'never'))).to.equal(false);
    });

    it('an incomplete shard: refused, or with --allow-incomplete merged into an incomplete run (exit 2)', async () => {
      // Shard 2 again, cancelled before it starts: exactly the options the command line gives, run.complete false.
      const dir = path.join(tmp, 'shard-2-cancelled');
      const { values } = parse(['--shard', '2/3', '--out', dir, ...runArgs], runOptions, { min: 0, max: 0, names: '' });
      await runAssessment(loadProfile(profileFile), { ...toRunOptions(values), signal: AbortSignal.abort() });
      expect(readReport(dir).run.complete).to.equal(false);
      await refused([shardDirs[0], shardDirs[1], dir], /incomplete shard \(run\.complete false[^]*shard 2\/3 .*cancelled[^]*--allow-incomplete/);
      const out = path.join(tmp, 'merged-incomplete');
      const r = await inProcess(['merge', shardDirs[0], shardDirs[1], dir, '--out', out, '--allow-incomplete', '--no-pdf']);
      expect(r.code, r.stderr).to.equal(2);
      const merged = readReport(out);
      expect(merged.run.complete).to.equal(false);
      expect(merged.run.incompleteReason).to.match(/merged from incomplete shards: shard 2\/3/);
      expect(verifyFolder(out).ok).to.equal(true);
    });
  });
});
