import { expect } from 'chai';
import probe from '../../../probes/ssh/sessions';
import { IDLE_SECONDS, OPERATOR, POLICY, WEAK_ADMIN, useAuthDevices } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  concurrent?: { limit: number; opened: number; refused: { index: number; status: string | null }[]; openedAfterOneClosed?: boolean; aliveAtEnd: number };
  idle?: { endedByDevice: boolean; closedAfterSeconds: number | null; notDetermined?: string };
}

/** The weak device ends no idle session: a short documented idle time is enough to show it. */
const WEAK_POLICY = { ...POLICY, sessions: { maxConcurrent: 2, idleTimeoutSeconds: 0.5 } };

const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));

describe('probe ssh.sessions', function () {
  this.timeout(30_000);
  const devices = useAuthDevices('ssh');

  it('hardened posture: the third concurrent session is refused, an idle session is closed after the configured time -> pass', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('ssh').port, protocol: 'ssh' }, credentials: { ssh: OPERATOR }, policy: POLICY, inputs: { idleGraceSeconds: 0.5 } });
    expect(attempt.status, JSON.stringify([attempt.message, attempt.findings])).to.equal('pass');
    const o = attempt.observations as unknown as Observations;
    expect(o.concurrent).to.deep.include({ limit: 2, opened: 2, aliveAtEnd: 2, openedAfterOneClosed: true });
    expect(o.concurrent!.refused.map((r) => r.index)).to.deep.equal([3]);
    expect(o.idle?.endedByDevice).to.equal(true);
    expect(o.idle?.closedAfterSeconds).to.be.a('number').within(IDLE_SECONDS * 0.9, IDLE_SECONDS + 1.5);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 2.7': 'pass', 'CR 2.6': 'pass' });
  });

  it('weak posture: three sessions at once, and an idle session stays open -> limit-exceeded and idle-not-closed', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('ssh').port, protocol: 'ssh' }, credentials: { ssh: WEAK_ADMIN }, policy: WEAK_POLICY, inputs: { idleGraceSeconds: 0.5 } });
    expect(attempt.status).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['ssh.sessions.limit-exceeded', 'ssh.sessions.idle-not-closed']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 2.7': 'fail', 'CR 2.6': 'fail' });
  });

  it('an idle time beyond the budget is not determined; no session policy is an input error', async () => {
    const { port } = devices.hardened().endpoint('ssh');
    const long = await runProbe(probe, { service: { port, protocol: 'ssh' }, credentials: { ssh: OPERATOR }, policy: { sessions: { idleTimeoutSeconds: 300 } }, timeoutMs: 10_000 });
    expect(long.attempt.outcomes).to.deep.equal([]);
    expect((long.attempt.observations as unknown as Observations).idle?.notDetermined).to.match(/does not fit the attempt's budget/);
    const none = await runProbe(probe, { service: { port, protocol: 'ssh' }, credentials: { ssh: OPERATOR } });
    expect([none.attempt.status, none.attempt.reason]).to.deep.equal(['error', 'input']);
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'ssh' }), timeoutMs: 1500, stallTimeoutMs: 400, credentials: { ssh: OPERATOR } });
});
