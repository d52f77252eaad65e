import { expect } from 'chai';
import probe from '../../../probes/opcua/lockout';
import { BENCH_CLIENT } from '../../helpers/opcua';
import { ENGINEER, LOCKOUT_SECONDS, OPERATOR, POLICY, WEAK_ADMIN, useAuthDevices, type LockoutObservations } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

describe('probe opcua.lockout', function () {
  this.timeout(60_000);
  const devices = useAuthDevices('opcua');

  it('hardened posture: UserName logins lock after 3 failures, the right password is refused while locked, per user, released -> pass', async () => {
    const { attempt } = await runProbe(probe, {
      service: { port: devices.hardened().endpoint('opcua').port, protocol: 'opcua', options: BENCH_CLIENT },
      credentials: { opcua: OPERATOR, 'lockout.second': ENGINEER }, policy: POLICY,
    });
    expect(attempt.status, JSON.stringify([attempt.message, attempt.findings])).to.equal('pass');
    const o = attempt.observations as unknown as LockoutObservations;
    expect(o).to.deep.include({ lockedAfter: 3, validLoginDeniedWhileLocked: true, scope: 'user', accountVerifiedAfter: true });
    expect(o.interface).to.equal('OPC UA UserName token on SignAndEncrypt/Basic256Sha256');
    expect(o.unlockedAfterSeconds).to.be.a('number').within(LOCKOUT_SECONDS * 0.9, LOCKOUT_SECONDS + 3);
  });

  it('weak posture: no lockout -> opcua.lockout.none (CR 1.11 fails)', async () => {
    const { attempt } = await runProbe(probe, {
      service: { port: devices.weak().endpoint('opcua').port, protocol: 'opcua' }, credentials: { opcua: WEAK_ADMIN }, policy: POLICY, inputs: { maxAttempts: 4 },
    });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.observations).to.deep.include({ lockedAfter: null, attempts: 10, accountVerifiedAfter: true });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.lockout.none']);
  });

  describeMisbehavingPeers(probe, {
    service: (port) => ({ port, protocol: 'opcua' }), timeoutMs: 1500, stallTimeoutMs: 600, credentials: { opcua: OPERATOR },
  });
});
