import { expect } from 'chai';
import probe from '../../../probes/ssh/feedback';
import { MapLedger } from '../../../src/runner/attempt';
import { OPERATOR, POLICY, WEAK_ADMIN, useAuthDevices } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  samples: { unknownUser: number; wrongPassword: number };
  features: { feature: string; distinguishes: boolean }[];
  timing: { medianMs: [number, number]; distinguishable: boolean; confirmation?: { distinguishable: boolean } } | null;
}

describe('probe ssh.feedback', function () {
  this.timeout(30_000);
  const devices = useAuthDevices('ssh');

  it('weak posture: refusals for existing users come later (password hashed only for them) -> ssh.feedback.timing, confirmed by a second batch', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('ssh').port, protocol: 'ssh' }, credentials: { ssh: WEAK_ADMIN }, policy: POLICY });
    expect(attempt.status, attempt.message).to.equal('fail');
    const o = attempt.observations as unknown as Observations;
    expect(o.timing?.distinguishable).to.equal(true);
    expect(o.timing?.confirmation?.distinguishable).to.equal(true);
    expect(o.timing!.medianMs[1] - o.timing!.medianMs[0]).to.be.greaterThan(15);
    expect(o.features.find((f) => f.feature === 'status')?.distinguishes).to.equal(false);
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['ssh.feedback.timing']);
    expect(Object.fromEntries(attempt.outcomes.map((x) => [x.requirement, x.verdict]))).to.deep.equal({ 'CR 1.10': 'fail', 'CR 3.7': 'pass', 'CR 1.1': 'pass' });
  });

  it('hardened posture: same methods, same time for unknown users and wrong passwords -> pass; failures stay within the lockout budget', async () => {
    const ledger = new MapLedger();
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('ssh').port, protocol: 'ssh' }, credentials: { ssh: OPERATOR }, policy: POLICY, ledger });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    const o = attempt.observations as unknown as Observations;
    // 8 pairs (the fixed batch) on a quiet machine; on a saturated one the sequential timing test may need up to
    // maxSamples (12) before the answer is clear, as in http.feedback. Pairs: as many of each.
    expect(o.samples.unknownUser).to.equal(o.samples.wrongPassword);
    expect(o.samples.unknownUser).to.be.within(8, 12);
    expect(o.timing?.distinguishable).to.equal(false);
    for (const [key, n] of Object.entries(ledger.toJSON())) if (key.startsWith('auth.failures.account:')) expect(n, key).to.be.at.most(2);
  });

  it('without a known user: an input error', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('ssh').port, protocol: 'ssh' }, policy: POLICY });
    expect([attempt.status, attempt.reason]).to.deep.equal(['error', 'input']);
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'ssh' }), timeoutMs: 1500, stallTimeoutMs: 400, credentials: { ssh: OPERATOR } });
});
