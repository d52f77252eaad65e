import { expect } from 'chai';
import probe from '../../../probes/http/lockout';
import { ENGINEER, LOCKOUT_SECONDS, OPERATOR, POLICY, WEAK_ADMIN, serviceOf, useAuthDevices, type Interface, type LockoutObservations } from '../../helpers/auth-devices';
import { startLighttpd, type Lighttpd } from '../../helpers/lighttpd';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

describe('probe http.lockout', function () {
  this.timeout(30_000);
  const devices = useAuthDevices('https');

  for (const iface of ['http-form', 'http-basic'] as Interface[]) {
    describe(iface, () => {
      it('hardened posture: locked after 3 failures, the right password refused while locked, per user, released -> pass', async () => {
        const { attempt } = await runProbe(probe, {
          service: serviceOf(devices.hardened(), iface), credentials: { http: OPERATOR, 'lockout.http.second': ENGINEER }, policy: POLICY,
        });
        expect(attempt.status, JSON.stringify([attempt.message, attempt.findings])).to.equal('pass');
        const o = attempt.observations as unknown as LockoutObservations;
        expect(o).to.deep.include({ lockedAfter: 3, validLoginDeniedWhileLocked: true, scope: 'user', accountVerifiedAfter: true, attempts: 6 });
        expect(o.interface).to.match(iface === 'http-form' ? /^HTTP login form POST \/login$/ : /^HTTP basic authentication on \/admin$/);
        expect(o.unlockedAfterSeconds).to.be.a('number').within(LOCKOUT_SECONDS * 0.9, LOCKOUT_SECONDS + 3);
      });

      it('weak posture: no lockout -> http.lockout.none (CR 1.11 fails)', async () => {
        const { attempt } = await runProbe(probe, { service: serviceOf(devices.weak(), iface), credentials: { http: WEAK_ADMIN }, policy: POLICY });
        expect(attempt.status, attempt.message).to.equal('fail');
        expect(attempt.observations).to.deep.include({ lockedAfter: null, attempts: 15, accountVerifiedAfter: true });
        expect(attempt.findings.map((f) => f.code)).to.deep.equal(['http.lockout.none']);
      });
    });
  }

  describe('against lighttpd with basic authentication (no lockout)', () => {
    let server: Lighttpd | undefined;
    before(async function () {
      server = await startLighttpd(this as unknown as Mocha.Context, [OPERATOR]);
    });
    after(async () => server?.close());

    it('the right password still works after 4 failures in a row -> http.lockout.none', async () => {
      const { attempt } = await runProbe(probe, {
        service: { port: server!.port, protocol: 'http', options: { auth: { path: '/admin/' } } }, credentials: { http: OPERATOR }, policy: POLICY, inputs: { maxAttempts: 4 },
      });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.observations).to.deep.include({ lockedAfter: null, attempts: 10, interface: 'HTTP basic authentication on /admin/' });
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'http' }), timeoutMs: 1500, stallTimeoutMs: 400, credentials: { http: OPERATOR } });
});
