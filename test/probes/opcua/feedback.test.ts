import { expect } from 'chai';
import probe from '../../../probes/opcua/feedback';
import { BENCH_CLIENT } from '../../helpers/opcua';
import { OPERATOR, POLICY, WEAK_ADMIN, useAuthDevices } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  features: { feature: string; distinguishes: boolean; unknownUser: string[] }[];
  timing: { distinguishable: boolean } | null;
  timingNotDetermined?: string;
}

describe('probe opcua.feedback', function () {
  this.timeout(60_000);
  const devices = useAuthDevices('opcua');

  it('weak posture: the same BadUserAccessDenied, but existing users are refused later -> opcua.feedback.timing', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('opcua').port, protocol: 'opcua' }, credentials: { opcua: WEAK_ADMIN }, policy: POLICY });
    const o = attempt.observations as unknown as Observations;
    expect(o.features.find((f) => f.feature === 'status')).to.deep.include({ distinguishes: false, unknownUser: ['BadUserAccessDenied'] });
    // Seen once with npm test's six mocha groups saturating both cores: the second batch neither confirmed nor
    // excluded the difference. Then the probe must say the timing is not determined (its CR 1.10 pass is partial,
    // so the row stays not determined) and must not claim the same time to refusal.
    if (attempt.status === 'pass') {
      expect(o.timingNotDetermined, JSON.stringify(o.timing)).to.be.a('string');
      expect(attempt.outcomes.find((x) => x.requirement === 'CR 1.10')).to.deep.include({ verdict: 'pass', coverage: 'partial' });
      return;
    }
    expect(attempt.status, attempt.message).to.equal('fail');
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
