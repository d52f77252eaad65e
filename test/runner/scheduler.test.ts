import { expect } from 'chai';
import { defineProbe, type HostUnderTest, type LockRequest, type ProbeDefinition } from '../../src/sdk';
import type { Attempt, PlannedAttempt } from '../../src/runner/attempt';
import { schedule } from '../../src/runner/scheduler';

const host = (name: string): HostUnderTest => ({ host: name, name, addresses: [name], services: [] });

function probe(id: string, phase = 0, locks: LockRequest[] = []): ProbeDefinition<unknown> {
  return defineProbe<unknown>({
    id, protocol: 'x', title: id, description: id, requirements: [], safety: 'passive', scope: 'host', appliesTo: [],
    timeoutMs: 1000, phase, findings: {}, locks: () => locks, run: async () => ({ observations: {}, findings: [], outcomes: [] }),
  });
}

function plan(p: ProbeDefinition<unknown>, h: HostUnderTest): PlannedAttempt {
  return { probe: p, host: h, inputs: {}, timeoutMs: 1000 };
}

function attemptOf(p: PlannedAttempt, status: Attempt['status'] = 'pass', reason?: string): Attempt {
  return {
    probe: p.probe.id, target: p.host.host, service: 'host', safety: 'passive', status, reason, startedAt: '', durationMs: 1,
    observations: {}, findings: [], outcomes: [], evidence: [],
  };
}

/** An executor that records concurrency and lets the test decide each attempt's result. */
function recorder(result: (p: PlannedAttempt) => Attempt = (p) => attemptOf(p), delayMs = 15) {
  const log: string[] = [];
  let running = 0;
  const perHost = new Map<string, number>();
  const stats = { maxRunning: 0, maxPerHost: 0 };
  const execute = async (p: PlannedAttempt) => {
    running++;
    perHost.set(p.host.host, (perHost.get(p.host.host) ?? 0) + 1);
    stats.maxRunning = Math.max(stats.maxRunning, running);
    stats.maxPerHost = Math.max(stats.maxPerHost, perHost.get(p.host.host)!);
    log.push(`start ${p.probe.id}@${p.host.host}`);
    await new Promise((r) => setTimeout(r, delayMs));
    log.push(`end ${p.probe.id}@${p.host.host}`);
    running--;
    perHost.set(p.host.host, perHost.get(p.host.host)! - 1);
    return result(p);
  };
  return { execute, log, stats };
}

const lockInfo = (p: PlannedAttempt) => p.probe.locks?.({ host: p.host, inputs: {}, credentials: { get: () => undefined, keys: () => [] }, policy: {}, resolvePath: (f) => f }) ?? [];
const limits = { perHost: 2, global: 3, unhealthyAfter: 2 };

describe('runner: scheduler', () => {
  it('keeps within the per-host and global budgets and runs everything once', async () => {
    const hosts = [host('a'), host('b'), host('c')];
    const planned = hosts.flatMap((h) => ['p1', 'p2', 'p3'].map((id) => plan(probe(id), h)));
    const r = recorder();
    const attempts = await schedule(planned, r.execute, limits, new AbortController().signal, lockInfo);
    expect(attempts).to.have.length(9);
    expect(attempts.every((a) => a.status === 'pass')).to.equal(true);
    expect(r.stats.maxPerHost).to.equal(2);
    expect(r.stats.maxRunning).to.equal(3);
  });

  it('runs a higher phase on a host only after every lower-phase attempt there', async () => {
    const h = host('a');
    const planned = [plan(probe('lockout', 5), h), plan(probe('x'), h), plan(probe('y'), h)];
    const r = recorder();
    await schedule(planned, r.execute, limits, new AbortController().signal, lockInfo);
    expect(r.log.indexOf('start lockout@a')).to.be.greaterThan(r.log.indexOf('end x@a'));
    expect(r.log.indexOf('start lockout@a')).to.be.greaterThan(r.log.indexOf('end y@a'));
  });

  it('an exclusive lock never overlaps a shared one on the same key', async () => {
    const h = host('a');
    const key = 'ssh:a:22:operator';
    const planned = [plan(probe('user1', 0, [{ key, mode: 'shared' }]), h), plan(probe('locker', 0, [{ key, mode: 'exclusive' }]), h), plan(probe('user2', 0, [{ key, mode: 'shared' }]), h)];
    const r = recorder();
    await schedule(planned, r.execute, { ...limits, perHost: 3 }, new AbortController().signal, lockInfo);
    const s = r.log.indexOf('start locker@a');
    const e = r.log.indexOf('end locker@a');
    const between = r.log.slice(s + 1, e);
    expect(between, 'nothing else runs while the exclusive lock is held').to.deep.equal([]);
  });

  it('skips the rest of a host after repeated unreachable errors, not other hosts', async () => {
    const down = host('down');
    const up = host('up');
    const planned = [...['p1', 'p2', 'p3', 'p4'].map((id) => plan(probe(id), down)), plan(probe('p1'), up)];
    const r = recorder((p) => (p.host.host === 'down' ? attemptOf(p, 'error', 'unreachable') : attemptOf(p)));
    const attempts = await schedule(planned, r.execute, { perHost: 1, global: 1, unhealthyAfter: 2 }, new AbortController().signal, lockInfo);
    const onDown = attempts.filter((a) => a.target === 'down');
    expect(onDown.map((a) => a.status)).to.deep.equal(['error', 'error', 'skipped', 'skipped']);
    expect(onDown[2].reason).to.equal('target-unhealthy');
    expect(attempts.find((a) => a.target === 'up')!.status).to.equal('pass');
  });

  it('on cancellation starts nothing new and reports the rest as cancelled', async () => {
    const h = host('a');
    const planned = ['p1', 'p2', 'p3', 'p4'].map((id) => plan(probe(id), h));
    const controller = new AbortController();
    const r = recorder((p) => {
      controller.abort();
      return attemptOf(p);
    });
    const attempts = await schedule(planned, r.execute, { ...limits, perHost: 1 }, controller.signal, lockInfo);
    expect(attempts.map((a) => a.status)).to.deep.equal(['pass', 'skipped', 'skipped', 'skipped']);
    expect(attempts[1].reason).to.equal('cancelled');
  });

  it('an empty plan resolves at once', async () => {
    expect(await schedule([], recorder().execute, limits, new AbortController().signal, lockInfo)).to.deep.equal([]);
  });
});
