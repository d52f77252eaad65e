import { expect } from 'chai';
import probe from '../../../probes/opcua/feedback';
import { BENCH_CLIENT } from '../../helpers/opcua';
import { OPERATOR, POLICY, WEAK_ADMIN, useAuthDevices } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  features: { feature: string; distinguishes: boolean; unknownUser: string[] }[];
  timing: { distinguishable: boolean } | null;
}

describe('probe opcua.feedback', function () {
  this.timeout(60_000);
  const devices = useAuthDevices('opcua');

  it('weak posture: the same BadUserAccessDenied, but existing users are refused later -> opcua.feedback.timing', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('opcua').port, protocol: 'opcua' }, credentials: { opcua: WEAK_ADMIN }, policy: POLICY });
    expect(attempt.status, attempt.message).to.equal('fail');
    const o = attempt.observations as unknown as Observations;
    expect(o.features.find((f) => f.feature === 'status')).to.deep.include({ distinguishes: false, unknownUser: ['BadUserAccessDenied'] });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.feedback.timing']);
  });

  it('hardened posture: status and timing alike -> pass', async () => {
    const { attempt } = await runProbe(probe, {
      service: { port: devices.hardened().endpoint('opcua').port, protocol: 'opcua', options: BENCH_CLIENT }, credentials: { opcua: OPERATOR }, policy: POLICY,
    });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    expect((attempt.observations as unknown as Observations).timing?.distinguishable).to.equal(false);
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'opcua' }), timeoutMs: 1500, stallTimeoutMs: 600, credentials: { opcua: OPERATOR } });
});
