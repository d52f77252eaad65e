import { expect } from 'chai';
import probe from '../../../probes/opcua/sessions';
import { BENCH_CLIENT } from '../../helpers/opcua';
import { OPERATOR, POLICY, WEAK_ADMIN, useAuthDevices } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  concurrent?: { opened: number; refused: { index: number; status: string | null }[]; openedAfterOneClosed?: boolean; aliveAtEnd: number };
  idle?: { endedByDevice: boolean; grantedIdleTimeoutSeconds?: number };
}

/** The weak device ends no idle session: a short documented idle time is enough to show it. */
const WEAK_POLICY = { ...POLICY, sessions: { maxConcurrent: 2, idleTimeoutSeconds: 0.5 } };

const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));

describe('probe opcua.sessions', function () {
  this.timeout(60_000);
  const devices = useAuthDevices('opcua');

  it('hardened posture: a third session for the user is refused; the server grants and enforces the 1 s idle timeout -> pass', async () => {
    const { attempt } = await runProbe(probe, {
      service: { port: devices.hardened().endpoint('opcua').port, protocol: 'opcua', options: BENCH_CLIENT }, credentials: { opcua: OPERATOR }, policy: POLICY, inputs: { idleGraceSeconds: 1.2 },
    });
    expect(attempt.status, JSON.stringify([attempt.message, attempt.findings])).to.equal('pass');
    const o = attempt.observations as unknown as Observations;
    expect(o.concurrent).to.deep.include({ opened: 2, openedAfterOneClosed: true });
    expect(o.concurrent!.refused.map((r) => r.index)).to.deep.equal([3]);
    expect(o.idle).to.deep.include({ endedByDevice: true, grantedIdleTimeoutSeconds: 1 });
  });

  it('weak posture: sessions unlimited, and a 50-minute session timeout granted -> limit-exceeded, idle-not-closed', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('opcua').port, protocol: 'opcua' }, credentials: { opcua: WEAK_ADMIN }, policy: WEAK_POLICY, inputs: { idleGraceSeconds: 0.5 } });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.sessions.limit-exceeded', 'opcua.sessions.idle-not-closed']);
    expect((attempt.observations as unknown as Observations).idle?.grantedIdleTimeoutSeconds).to.equal(3000);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 2.7': 'fail', 'CR 2.6': 'fail' });
    expect(attempt.status).to.equal('fail');
  });

  describeMisbehavingPeers(probe, {
    service: (port) => ({ port, protocol: 'opcua' }), timeoutMs: 1500, stallTimeoutMs: 600, credentials: { opcua: OPERATOR },
  });
});
