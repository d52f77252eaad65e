import { expect } from 'chai';
import probe from '../../../probes/http/feedback';
import { OPERATOR, POLICY, WEAK_ADMIN, serviceOf, useAuthDevices } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  features: { feature: string; distinguishes: boolean; unknownUser: unknown[]; wrongPassword: unknown[] }[];
  timing: { distinguishable: boolean } | null;
  passwordEchoed: boolean;
}

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);

describe('probe http.feedback', function () {
  this.timeout(30_000);
  const devices = useAuthDevices('https');

  it('weak posture, login form: "Unknown user name." vs "Wrong password." and a slower refusal for real users -> user enumeration and timing (CR 1.10, CR 3.7 fail)', async () => {
    const { attempt } = await runProbe(probe, { service: serviceOf(devices.weak(), 'http-form'), credentials: { http: WEAK_ADMIN }, policy: POLICY });
    expect(attempt.status).to.equal('fail');
    const o = attempt.observations as unknown as Observations;
    const message = o.features.find((f) => f.feature === 'message')!;
    expect(message.distinguishes).to.equal(true);
    expect(String(message.unknownUser[0])).to.contain('Unknown user name.');
    expect(String(message.wrongPassword[0])).to.contain('Wrong password.');
    expect(codes(attempt)).to.deep.equal(['http.feedback.user-enumeration', 'http.feedback.timing']);
    expect(Object.fromEntries(attempt.outcomes.map((x) => [x.requirement, x.verdict]))).to.deep.equal({ 'CR 1.10': 'fail', 'CR 3.7': 'fail', 'CR 1.1': 'pass' });
  });

  it('weak posture, basic authentication: the same 401 page, only the timing tells -> http.feedback.timing', async () => {
    const { attempt } = await runProbe(probe, { service: serviceOf(devices.weak(), 'http-basic'), credentials: { http: WEAK_ADMIN }, policy: POLICY });
    expect(codes(attempt)).to.deep.equal(['http.feedback.timing']);
    expect(Object.fromEntries(attempt.outcomes.map((x) => [x.requirement, x.verdict]))).to.deep.equal({ 'CR 1.10': 'fail', 'CR 3.7': 'pass', 'CR 1.1': 'pass' });
  });

  for (const iface of ['http-form', 'http-basic'] as const) {
    it(`hardened posture, ${iface}: one message, one status, one size, the same time -> pass`, async () => {
      const { attempt } = await runProbe(probe, { service: serviceOf(devices.hardened(), iface), credentials: { http: OPERATOR }, policy: POLICY });
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      const o = attempt.observations as unknown as Observations;
      expect(o.features.every((f) => !f.distinguishes)).to.equal(true);
      expect(o.passwordEchoed).to.equal(false);
    });
  }

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'http' }), timeoutMs: 1500, stallTimeoutMs: 400, credentials: { http: OPERATOR } });
});
