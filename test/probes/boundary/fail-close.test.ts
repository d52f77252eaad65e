import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/boundary/fail-close';
import conduits from '../../../probes/boundary/conduits';
import type { BoundaryBench } from '../../../src/labnet/boundary-bench';
import { readPcap } from '../../../src/protocols/boundary';
import type { BoundaryHooks } from '../../../src/sdk';
import { TEST_CONDUITS, declOf, requireBoundaryBench, routerBench } from '../../helpers/boundary';
import { configureRouter, routerHooks, untilRuleset, type RouterPosture } from '../../helpers/nft-router';
import { runProbe } from '../../helpers/probe-harness';

interface Phases { [phase: string]: { declared: number; undeclared: number } }

describe('probe boundary.fail-close (two-sided bench, nftables router, stop/start hooks)', function () {
  this.timeout(60_000);
  let bench: BoundaryBench;
  let dir: string;

  before(async function () {
    await requireBoundaryBench(this);
    bench = await routerBench('hardened');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-failclose-'));
  });
  after(async () => {
    await bench?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => bench && configureRouter(bench, 'hardened', TEST_CONDUITS));

  const hooksOf = (posture: RouterPosture, timing = {}) => routerHooks(bench, posture, TEST_CONDUITS, dir, timing);
  const failClose = (hooks: BoundaryHooks, extra: { runSignal?: AbortSignal } = {}) =>
    runProbe(probe, { boundary: { ...declOf(bench), hooks }, types: ['network'], inputs: { baselineMs: 300 }, ...extra });

  it('hardened router (stopping leaves a drop-all table): nothing crosses while down or restarting (pass), declared flows before and after', async () => {
    const { attempt, dir: runDir } = await failClose(hooksOf('hardened'));
    expect(attempt.status, `${attempt.message} ${JSON.stringify(attempt.findings)}`).to.equal('pass');
    const phases = attempt.observations.phases as Phases;
    expect(phases.before.declared, 'the stream reached the far side before the stop').to.be.greaterThan(0);
    expect(phases.after.declared, 'and after the restart').to.be.greaterThan(0);
    for (const p of ['stopping', 'down', 'restarting']) expect(phases[p].undeclared, p).to.equal(0);
    expect(phases.down.declared).to.equal(0);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['NDR 5.2 RE(3):pass']);
    // The evidence: the hook runs with their argv and exit codes, the far endpoint's capture.
    const hooks = JSON.parse(fs.readFileSync(path.join(runDir, attempt.evidence.find((e) => e.endsWith('hooks.json'))!), 'utf8')) as { hook: string; code: number; argv: string[] }[];
    expect(hooks.map((h) => `${h.hook}:${h.code}`)).to.deep.equal(['stop:0', 'start:0']);
    const pcap = readPcap(fs.readFileSync(path.join(runDir, attempt.evidence.find((e) => e.endsWith('.pcap'))!)));
    expect(pcap.some((p) => p.dport === 8443)).to.equal(true);
  });

  it('weak router (stopping = nft flush ruleset, forwarding on): undeclared packets cross during the outage (fail, fail-open)', async () => {
    const { attempt } = await failClose(hooksOf('weak'));
    expect(attempt.status).to.equal('fail');
    // Flows opened while the filter was flushed stay in conntrack and go on crossing as "established" after the
    // restart (the ICMP timestamp stream keeps its id): undeclared-while-up may come too.
    expect(attempt.findings.map((f) => f.code)).to.include('boundary.fail-close.fail-open');
    const phases = attempt.observations.phases as Phases;
    expect(phases.down.undeclared).to.be.greaterThan(100); // ~1 s at 500 packets/s per sender
    expect(phases.before.undeclared, 'the running filter is the hardened one').to.equal(0);
    expect(attempt.outcomes.find((o) => o.requirement === 'NDR 5.2 RE(3)')?.verdict).to.equal('fail');
  });

  it('nothing leaves the bench: every hook runs inside the router namespace, the host\'s own ruleset and forwarding are untouched', async () => {
    // Other work on this machine may change the host's ruleset meanwhile: look for the router's table only.
    const hostRules = () => execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' });
    const forwarding = () => fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const before = forwarding();
    expect(hostRules()).to.not.contain('iacs_boundary');
    for (const posture of ['weak', 'hardened'] as const) {
      const { islandMode, failClose: fc } = hooksOf(posture);
      for (const h of [islandMode!.enter, islandMode!.leave, fc!.stop, fc!.start]) expect(h.argv.slice(0, 4)).to.deep.equal(['ip', 'netns', 'exec', bench.router.namespace]);
    }
    await failClose(hooksOf('weak'));
    expect(hostRules()).to.not.contain('iacs_boundary');
    expect(forwarding()).to.equal(before);
  });

  it('no failClose hooks in the profile: not determined, nothing sent', async () => {
    const { attempt } = await runProbe(probe, { boundary: declOf(bench), types: ['network'] });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.message).to.contain('boundaryHooks.failClose');
    expect(attempt.evidence).to.deep.equal([]);
  });

  it('a stop hook that fails: error, and the start hook still ran', async () => {
    const hooks = hooksOf('hardened');
    const broken = { ...hooks, failClose: { ...hooks.failClose!, stop: { argv: ['ip', 'netns', 'exec', bench.router.namespace, 'false'], timeoutMs: 5000 } } };
    const { attempt } = await failClose(broken);
    expect(attempt.status).to.equal('error');
    expect(attempt.message).to.contain('stop').and.contain('exit 1');
    expect(attempt.evidence.some((e) => e.endsWith('hooks.json'))).to.equal(true);
  });

  it('Ctrl-C mid-outage ends the attempt within 1 s, runs the start hook, and the router forwards the declared conduits again', async () => {
    const run = new AbortController();
    const pending = failClose(hooksOf('hardened', { outageMs: 20_000 }), { runSignal: run.signal });
    // Wait until the stop hook has replaced the rules (the drop-all table has no conduit rule).
    await untilRuleset(bench, (rules) => rules.includes('iacs_boundary') && !rules.includes('dport'));
    const aborted = Date.now();
    run.abort(new Error('Ctrl-C'));
    const { attempt } = await pending;
    expect(Date.now() - aborted, 'the attempt ended within 1 s of Ctrl-C').to.be.lessThan(1000);
    expect(attempt.status).to.equal('error');
    expect((await bench.run(bench.router.namespace, ['nft', 'list', 'ruleset'])).stdout).to.contain('dport 8443');
    const check = await runProbe(conduits, { boundary: declOf(bench), types: ['network'] });
    expect(check.attempt.status, 'the device was left working').to.equal('pass');
  });
});
