import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/boundary/island-mode';
import type { BoundaryBench } from '../../../src/labnet/boundary-bench';
import type { MatrixRow } from '../../../src/protocols/boundary';
import type { BoundaryHooks } from '../../../src/sdk';
import { TEST_CONDUITS, declOf, requireBoundaryBench, routerBench } from '../../helpers/boundary';
import { configureRouter, routerHooks, untilRuleset, type RouterPosture } from '../../helpers/nft-router';
import { runProbe } from '../../helpers/probe-harness';

describe('probe boundary.island-mode (two-sided bench, nftables router, enter/leave hooks)', function () {
  this.timeout(60_000);
  let bench: BoundaryBench;
  let dir: string;

  before(async function () {
    await requireBoundaryBench(this);
    bench = await routerBench('hardened');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-island-'));
  });
  after(async () => {
    await bench?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => bench && configureRouter(bench, 'hardened', TEST_CONDUITS));

  const island = (hooks: BoundaryHooks, extra: { runSignal?: AbortSignal } = {}) =>
    runProbe(probe, { boundary: { ...declOf(bench), hooks }, types: ['network'], inputs: { connectTimeoutMs: 500 }, ...extra });
  const hooksOf = (posture: RouterPosture) => routerHooks(bench, posture, TEST_CONDUITS, dir);

  it('hardened router (island = forward drop): no conduit crosses in island mode, all declared pass after leaving (pass)', async () => {
    const { attempt } = await island(hooksOf('hardened'));
    expect(attempt.status, `${attempt.message} ${JSON.stringify(attempt.findings)}`).to.equal('pass');
    expect((attempt.observations.island as MatrixRow[]).filter((r) => r.observed === 'pass')).to.deep.equal([]);
    const after = attempt.observations.after as MatrixRow[];
    expect(after.filter((r) => r.declared === 'allow').every((r) => r.observed === 'pass')).to.equal(true);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['NDR 5.2 RE(2):pass']);
    expect(attempt.evidence.some((e) => e.endsWith('island-far-untrusted-from-trusted.pcap'))).to.equal(true);
    expect(attempt.evidence.some((e) => e.endsWith('hooks.json'))).to.equal(true);
  });

  it('weak router (the island trigger does nothing): the declared conduits still cross (fail, island-crossed)', async () => {
    const { attempt } = await island(hooksOf('weak'));
    expect(attempt.status).to.equal('fail');
    const codes = attempt.findings.map((f) => f.code);
    expect(new Set(codes)).to.deep.equal(new Set(['boundary.island-mode.island-crossed']));
    expect(codes).to.have.length(5); // the 4 conduits forward, and ping's reverse (declared both ways)
    expect(attempt.outcomes.find((o) => o.requirement === 'NDR 5.2 RE(2)')?.verdict).to.equal('fail');
  });

  it('no islandMode hooks in the profile: not determined, nothing sent', async () => {
    const { attempt } = await runProbe(probe, { boundary: declOf(bench), types: ['network'] });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.message).to.contain('boundaryHooks.islandMode');
    expect(attempt.evidence).to.deep.equal([]);
  });

  it('an enter hook that times out: error, and the leave hook still ran', async () => {
    const hooks = hooksOf('hardened');
    const slow = { ...hooks, islandMode: { ...hooks.islandMode!, enter: { argv: ['sleep', '10'], timeoutMs: 300 } } };
    const started = Date.now();
    const { attempt, read } = await island(slow);
    expect(attempt.status).to.equal('error');
    expect(attempt.message).to.contain('enter').and.contain('timeout');
    expect(Date.now() - started).to.be.lessThan(5000);
    const runs = JSON.parse(read(attempt.evidence.find((e) => e.endsWith('hooks.json'))!)) as { hook: string; ended: string }[];
    expect(runs.map((r) => `${r.hook}:${r.ended}`)).to.deep.equal(['enter:timeout', 'leave:exited']);
  });

  it('Ctrl-C in island mode ends the attempt within 1 s and leaves island mode (the conduits pass again)', async () => {
    const run = new AbortController();
    const hooks = hooksOf('hardened');
    const pending = island({ ...hooks, islandMode: { ...hooks.islandMode!, settleMs: 20_000 } }, { runSignal: run.signal });
    await untilRuleset(bench, (rules) => !rules.includes('dport 8443')); // in island mode: no conduit rule
    const aborted = Date.now();
    run.abort(new Error('Ctrl-C'));
    const { attempt } = await pending;
    expect(Date.now() - aborted).to.be.lessThan(1000);
    expect(attempt.status).to.equal('error');
    expect((await bench.run(bench.router.namespace, ['nft', 'list', 'ruleset'])).stdout).to.contain('dport 8443');
  });
});
