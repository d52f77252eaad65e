import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadProfile } from '../../src/profile';
import { packagePath } from '../../src/paths';
import { loadProbes } from '../../src/runner/registry';
import type { Attempt } from '../../src/report/model';
import { debianPython, requirePeer, requireRoot } from '../helpers/peers';
import { captureNamespace, judgeCapture, type CapturedNamespace, type ScopeFacts } from '../helpers/scope-capture';

/*
 * Proven scope (issue #23, item 3): `iacs-probe demo --allow intrusive` runs in a network namespace of its own
 * while tshark captures every packet on every interface there (loopback and a veth that carries the default
 * routes), then the capture is judged: every packet is between addresses of the profile, no name is looked up,
 * and the TCP connections open at once at the device stay within the budget.
 *
 * The *.sessions probes (http.sessions on both web services, ssh.sessions, opcua.sessions) hold a session idle
 * for the documented idle timeout, 300 s in the demo's profile, and run one after another (they share the admin
 * account): the full demo would take about 25 minutes. So the demo runs without them, and in the same capture a
 * second `iacs-probe run` runs them alone against the weak emulator with the demo's profile documenting a 3 s idle
 * timeout: every kind of traffic they make (k+1 concurrent sessions, the retry, the idle hold with its keep-alives,
 * the liveness check) is captured, only shorter.
 */

const SESSIONS = /\.sessions$/;
const SHORT_IDLE_SECONDS = 3;
const CONNECTION_PARALLELISM_INPUT = 'maxParallel';

function intrusiveSelection(): string[] {
  return loadProbes().filter((p) => p.safety !== 'destructive' && !SESSIONS.test(p.id)).map((p) => p.id);
}

/** The largest number of connections one attempt may hold open at once by its inputs (the port scans' maxParallel). */
function largestAttemptParallelism(): number {
  const declared = loadProbes().map((p) => (p.inputs?.defaults as Record<string, unknown> | undefined)?.[CONNECTION_PARALLELISM_INPUT]);
  return Math.max(...declared.filter((v): v is number => typeof v === 'number'));
}

/** Most attempts running at once against one host, from the journal's start times and durations. */
function peakAttemptsPerHost(attempts: readonly Attempt[]): number {
  const edges = attempts.filter((a) => a.status !== 'skipped').flatMap((a) => {
    const host = a.target.replace(/:\d+$/, '');
    const start = Date.parse(a.startedAt);
    return [{ host, at: start, delta: 1 }, { host, at: start + a.durationMs, delta: -1 }];
  }).sort((x, y) => x.at - y.at || x.delta - y.delta);
  const running = new Map<string, number>();
  let peak = 0;
  for (const e of edges) {
    running.set(e.host, (running.get(e.host) ?? 0) + e.delta);
    peak = Math.max(peak, running.get(e.host)!);
  }
  return peak;
}

function sessionsSelection(): string[] {
  return loadProbes().filter((p) => SESSIONS.test(p.id)).map((p) => p.id);
}

/** The demo's profile for `iacs-probe run` against `emulate --posture weak` (its fixed ports), with a short documented idle timeout. */
function shortIdleProfile(dir: string): string {
  const example = parseYaml(fs.readFileSync(packagePath('profiles', 'examples', 'weak.yaml'), 'utf8')) as Record<string, unknown> & { policy: { sessions: Record<string, number> } };
  example.policy.sessions.idleTimeoutSeconds = SHORT_IDLE_SECONDS;
  delete example.lab; // the sessions probes use no lab service
  fs.copyFileSync(packagePath('profiles', 'examples', 'demo-secrets.yaml'), path.join(dir, 'demo-secrets.yaml'));
  const file = path.join(dir, 'sessions.yaml');
  fs.writeFileSync(file, stringifyYaml(example));
  return file;
}

function journalAttempts(runDir: string): Attempt[] {
  return fs.readFileSync(path.join(runDir, 'journal.ndjson'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as { type: string; attempt?: Attempt }).filter((r) => r.type === 'attempt').map((r) => r.attempt!);
}

async function firstLine(child: ReturnType<CapturedNamespace['spawn']>): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulate printed no services line within 60 s: ${text}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text.slice(0, text.indexOf('\n')));
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`emulate exited (${code}): ${text}`)); });
  });
}

async function exitOf(child: ReturnType<CapturedNamespace['spawn']>, output: { text: string }): Promise<number | null> {
  child.stdout!.on('data', (d: Buffer) => { output.text += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output.text += d.toString(); });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('proven scope: every packet of an intrusive demo run, captured in a namespace of its own', function () {
  this.timeout(420_000);
  let ns: CapturedNamespace | undefined;
  let dir: string;
  let facts: ScopeFacts;
  let attempts: Attempt[];
  let sessionAttempts: Attempt[];
  let devicePorts: Set<number>;
  const scope = new Set(['127.0.0.1']);
  const profile = loadProfile(packagePath('profiles', 'examples', 'weak.yaml'));

  before(async function () {
    requireRoot(this, 'a network namespace of its own and a capture in it');
    const tshark = requirePeer(this, 'tshark');
    requirePeer(this, 'nmap');
    const python = requirePeer(this, 'python3', debianPython());
    requirePeer(this, 'unshare');
    requirePeer(this, 'nsenter');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-scope-'));
    const started = Date.now();
    ns = await captureNamespace(tshark, python);
    const out = path.join(dir, 'run');
    const demo = ns.spawn([process.execPath, packagePath('bin', 'iacs-probe'), 'demo', '--allow', 'intrusive', '--out', out,
      ...intrusiveSelection().flatMap((id) => ['--only', id])]);
    const output = { text: '' };
    const code = await exitOf(demo, output);
    expect(code, output.text).to.equal(0);
    const announced = /Emulated PLC \(weak posture\) on (.*)/.exec(output.text)?.[1] ?? '';
    devicePorts = new Set([...announced.matchAll(/:(\d+)/g)].map((m) => Number(m[1])));
    expect(devicePorts.size, output.text).to.be.greaterThan(10);
    attempts = journalAttempts(out);

    const emulator = ns.spawn([process.execPath, packagePath('bin', 'iacs-probe'), 'emulate', '--posture', 'weak']);
    emulator.stderr!.resume();
    try {
      const services = (JSON.parse(await firstLine(emulator)) as { services: { port: number }[] }).services;
      for (const s of services) devicePorts.add(s.port);
      const sessionsOut = path.join(dir, 'sessions-run');
      const run = ns.spawn([process.execPath, packagePath('bin', 'iacs-probe'), 'run', shortIdleProfile(dir), '--allow', 'intrusive',
        '--no-pdf', '--out', sessionsOut, ...sessionsSelection().flatMap((id) => ['--only', id])]);
      const sessionsOutput = { text: '' };
      // Exit 1: the weak device fails CR 2.6 and CR 2.7, as it should.
      expect(await exitOf(run, sessionsOutput), sessionsOutput.text).to.equal(1);
      sessionAttempts = journalAttempts(sessionsOut);
    } finally {
      const gone = new Promise((resolve) => emulator.once('exit', resolve));
      emulator.kill('SIGTERM');
      await gone;
    }
    const file = await ns.stopCapture();
    facts = judgeCapture(tshark, file, scope, devicePorts);
    console.log(`      scope capture: ${facts.packets} packets, ${attempts.length + sessionAttempts.length} attempts, ${((Date.now() - started) / 1000).toFixed(0)} s`
      + ` (peak ${facts.peakConnections} connections at the device: ${JSON.stringify(facts.peakByPort)})`);
  });

  after(() => {
    ns?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ran the intrusive probes and made the traffic it judges', () => {
    const ran = attempts.filter((a) => a.status !== 'skipped');
    expect(ran.length).to.be.greaterThan(60);
    expect(ran.map((a) => a.probe)).to.include.members(['ports.tcp', 'ports.udp', 'ssh.lockout', 'opcua.lockout', 'audit.outage']);
    expect(facts.packets).to.be.greaterThan(5000);
  });

  it('ran every *.sessions probe to the end, the idle hold included (so its traffic is in the capture)', () => {
    expect(sessionAttempts.map((a) => a.probe).sort()).to.deep.equal(['http.sessions', 'http.sessions', 'opcua.sessions', 'ssh.sessions']);
    for (const a of sessionAttempts) {
      expect(a.status, `${a.probe} ${a.target}`).to.equal('fail'); // the weak device keeps more sessions than documented, and idle ones
      const idle = (a.observations as { idle?: { waitedSeconds?: number; endedByDevice?: boolean } }).idle;
      expect(idle?.waitedSeconds, `${a.probe} ${a.target}`).to.be.greaterThan(SHORT_IDLE_SECONDS);
      expect(idle?.endedByDevice, `${a.probe} ${a.target}: the weak device keeps idle sessions`).to.equal(false);
    }
  });

  it('every packet is between addresses of the profile (none outside scope, none that is not IP)', () => {
    expect(facts.outside.slice(0, 20), `${facts.outside.length} packets outside scope`).to.deep.equal([]);
  });

  it('no name is looked up (the resolvers are outside the scope, so a lookup would be seen going there)', () => {
    const resolvers = [...fs.readFileSync('/etc/resolv.conf', 'utf8').matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]);
    for (const r of resolvers) expect(scope.has(r), `resolver ${r} in scope: a lookup would not stand out`).to.equal(false);
    expect(facts.nameLookups).to.deep.equal([]);
  });

  it('the connection budget held: at most limits.perHost attempts at once, and the connections at the device within it', () => {
    const perHost = profile.limits.perHost;
    expect(peakAttemptsPerHost(attempts)).to.be.at.most(perHost);
    // Run-scoped clients that hold a connection for the whole run: the OPC UA audit subscriber and the monitor.
    const runScoped = (profile.lab?.opcuaAudit ? 1 : 0) + (profile.monitor ? 1 : 0);
    const budget = perHost * largestAttemptParallelism() + runScoped;
    expect(facts.peakConnections).to.be.greaterThan(0);
    expect(facts.peakConnections, JSON.stringify(facts.peakByPort)).to.be.at.most(budget);
  });
});
