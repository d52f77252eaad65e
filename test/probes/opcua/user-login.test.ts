import { expect } from 'chai';
import probe from '../../../probes/opcua/user-login';
import { BENCH_CLIENT, startOpcua, weakAndHardened } from '../../helpers/opcua';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { LoginBudget } from '../../../src/protocols/auth/ledger';
import { MapLedger } from '../../../src/runner/attempt';

const OPERATOR = { username: 'operator', password: 'Op3rator!Bench-2026' };

describe('probe opcua.user-login', function () {
  this.timeout(60_000);
  const devices = weakAndHardened();

  it('hardened posture with the commissioned client certificate: wrong password refused, the profile\'s login works (positive path)', async () => {
    const { attempt, dir } = await runProbe(probe, {
      service: { port: devices.hardened.port, protocol: 'opcua', options: BENCH_CLIENT }, credentials: { opcua: OPERATOR },
    });
    expect(attempt.status).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.observations).to.deep.include({ endpoint: 'SignAndEncrypt/Basic256Sha256', username: 'operator' });
    expect(attempt.observations.wrongPassword).to.deep.equal({ outcome: 'refused', status: 'BadUserAccessDenied' });
    expect((attempt.observations.login as { outcome: string }).outcome).to.equal('activated');
    expect(attempt.outcomes).to.deep.equal([{
      requirement: 'CR 1.1', verdict: 'pass', coverage: 'partial',
      reason: "SignAndEncrypt/Basic256Sha256: a wrong password for operator was refused (BadUserAccessDenied) and the profile's credentials were accepted",
    }]);
    expect(JSON.stringify(attempt)).to.not.contain(OPERATOR.password);
    expect(dir).to.be.a('string');
  });

  it('with the lockout budget spent by earlier checks of the run: no wrong password is sent, the login is, CR 1.1 not determined', async () => {
    const ledger = new MapLedger();
    const budget = new LoginBudget(ledger, {}, '127.0.0.1');
    budget.record(OPERATOR.username, 'rejected');
    budget.record(OPERATOR.username, 'rejected'); // threshold 3 assumed: two failures leave none to spend
    const { attempt } = await runProbe(probe, {
      service: { port: devices.hardened.port, protocol: 'opcua', options: BENCH_CLIENT }, credentials: { opcua: OPERATOR }, ledger,
    });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.message).to.match(/^no failed login left in the lockout budget for operator \(threshold 3, assumed/);
    expect(attempt.observations.wrongPassword).to.include({ outcome: 'skipped' });
    expect((attempt.observations.login as { outcome: string }).outcome).to.equal('activated');
    // The successful login reset the account's counter: a later probe may spend the budget again.
    expect(budget.remaining(OPERATOR.username)).to.equal(2);
  });

  it('weak posture (any client certificate trusted): the same check passes with the default credentials', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak.port, protocol: 'opcua' }, credentials: { opcua: { username: 'admin', password: 'admin' } } });
    expect(attempt.status).to.equal('pass');
  });

  it('a device that accepts any password: wrong-password-accepted (CR 1.1 fails)', async () => {
    const broken = await startOpcua('hardened', { acceptAnyPassword: true });
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: broken.port, protocol: 'opcua', options: BENCH_CLIENT }, credentials: { opcua: OPERATOR },
      });
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.user-login.wrong-password-accepted']);
      expect(attempt.outcomes[0].verdict).to.equal('fail');
    } finally {
      await broken.emulator.close();
    }
  });

  it('errors say why: no credentials (input), untrusted harness certificate (input), wrong credentials (auth)', async () => {
    const none = await runProbe(probe, { service: { port: devices.hardened.port, protocol: 'opcua', options: BENCH_CLIENT } });
    expect([none.attempt.status, none.attempt.reason]).to.deep.equal(['error', 'input']);
    const untrusted = await runProbe(probe, { service: { port: devices.hardened.port, protocol: 'opcua' }, credentials: { opcua: OPERATOR } });
    expect([untrusted.attempt.status, untrusted.attempt.reason]).to.deep.equal(['error', 'input']);
    expect(untrusted.attempt.message).to.match(/BadSecurityChecksFailed.*clientCertificate/);
    const wrong = await runProbe(probe, {
      service: { port: devices.hardened.port, protocol: 'opcua', options: BENCH_CLIENT }, credentials: { opcua: { username: 'engineer', password: 'not-it' } },
    });
    expect([wrong.attempt.status, wrong.attempt.reason]).to.deep.equal(['error', 'auth']);
  });

  describeMisbehavingPeers(probe, {
    service: (port) => ({ port, protocol: 'opcua' }), timeoutMs: 1500, credentials: { opcua: { username: 'operator', password: 'not-used-here' } },
  });
});
