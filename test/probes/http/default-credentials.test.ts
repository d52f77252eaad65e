import { expect } from 'chai';
import probe from '../../../probes/http/default-credentials';
import { MapLedger } from '../../../src/runner/attempt';
import { OPERATOR, POLICY, serviceOf, useAuthDevices, type Interface } from '../../helpers/auth-devices';
import { startLighttpd, type Lighttpd } from '../../helpers/lighttpd';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  interface: string;
  tried: number;
  accepted: { list: string; entry: string; username: string }[];
}

describe('probe http.default-credentials', function () {
  this.timeout(30_000);
  const devices = useAuthDevices('https');

  for (const iface of ['http-form', 'http-basic'] as Interface[]) {
    describe(iface, () => {
      it('weak posture: admin/admin and operator/operator log in -> CR 1.5 fails', async () => {
        const { attempt } = await runProbe(probe, { service: serviceOf(devices.weak(), iface), policy: POLICY });
        expect(attempt.status, attempt.message).to.equal('fail');
        const o = attempt.observations as unknown as Observations;
        expect(o.accepted.map((a) => a.entry)).to.deep.equal(['admin-admin', 'operator-operator']);
        expect(attempt.findings.filter((f) => f.severity === 'critical')).to.have.length(2);
      });

      it('hardened posture: nothing logs in within the lockout budget -> pass', async () => {
        const ledger = new MapLedger();
        const { attempt } = await runProbe(probe, { service: serviceOf(devices.hardened(), iface), policy: POLICY, credentials: { http: OPERATOR }, ledger });
        expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
        expect((attempt.observations as unknown as Observations).accepted).to.deep.equal([]);
        for (const [key, n] of Object.entries(ledger.toJSON())) if (key.startsWith('auth.failures.account:')) expect(n, key).to.be.at.most(2);
      });
    });
  }

  it('the weak posture\'s plain-HTTP port: the same login form, found the same way', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('http').port, protocol: 'http' }, policy: POLICY, inputs: { lists: ['generic'] } });
    expect(attempt.status).to.equal('fail');
    expect((attempt.observations as unknown as Observations).interface).to.equal('HTTP login form POST /login');
  });

  it('a page without any login: not determined, with the reason', async () => {
    const { attempt } = await runProbe(probe, { service: { ...serviceOf(devices.hardened(), 'http-form'), options: { auth: { path: '/nothing-here' } } }, policy: POLICY });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(String(attempt.observations.notDetermined)).to.match(/no login this harness can use \(404/);
  });

  describe('against lighttpd with basic authentication', () => {
    let server: Lighttpd | undefined;
    before(async function () {
      server = await startLighttpd(this as unknown as Mocha.Context, [{ username: 'admin', password: 'admin' }]);
    });
    after(async () => server?.close());

    it('detects basic authentication on /admin/ and finds admin/admin (weak default kept)', async () => {
      const { attempt } = await runProbe(probe, { service: { port: server!.port, protocol: 'http', options: { auth: { path: '/admin/' } } }, policy: POLICY, inputs: { lists: ['generic'] } });
      expect(attempt.status, attempt.message).to.equal('fail');
      const o = attempt.observations as unknown as Observations;
      expect(o.interface).to.equal('HTTP basic authentication on /admin/');
      expect(o.accepted.map((a) => a.username)).to.deep.equal(['admin']);
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'http' }), timeoutMs: 1500, stallTimeoutMs: 400 });
});
