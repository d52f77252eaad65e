import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
 * Left out, for time only: the three *.sessions probes (http.sessions on both web services, ssh.sessions,
 * opcua.sessions). Each holds a session idle for the documented 300 s plus its grace (360 s) and the four run
 * one after another (they share the admin account), so the full intrusive demo takes about 25 minutes; without
 * them it takes about 2. Everything else the demo runs with --allow intrusive is here, the PDF print included.
 */

const LEFT_OUT = /\.sessions$/;
const CONNECTION_PARALLELISM_INPUT = 'maxParallel';

function intrusiveSelection(): string[] {
  return loadProbes().filter((p) => p.safety !== 'destructive' && !LEFT_OUT.test(p.id)).map((p) => p.id);
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

async function exitOf(child: ReturnType<CapturedNamespace['spawn']>, output: { text: string }): Promise<number | null> {
  child.stdout!.on('data', (d: Buffer) => { output.text += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output.text += d.toString(); });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('proven scope: every packet of an intrusive demo run, captured in a namespace of its own', function () {
  this.timeout(300_000);
  let ns: CapturedNamespace | undefined;
  let dir: string;
  let facts: ScopeFacts;
  let attempts: Attempt[];
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
    const file = await ns.stopCapture();
    expect(code, output.text).to.equal(0);
    const announced = /Emulated PLC \(weak posture\) on (.*)/.exec(output.text)?.[1] ?? '';
    devicePorts = new Set([...announced.matchAll(/:(\d+)/g)].map((m) => Number(m[1])));
    expect(devicePorts.size, output.text).to.be.greaterThan(10);
    facts = judgeCapture(tshark, file, scope, devicePorts);
    attempts = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l) as { type: string; attempt?: Attempt }).filter((r) => r.type === 'attempt').map((r) => r.attempt!);
    console.log(`      scope capture: ${facts.packets} packets, ${attempts.length} attempts, ${((Date.now() - started) / 1000).toFixed(0)} s`
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
