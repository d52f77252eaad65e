import { expect } from 'chai';
import probe from '../../../probes/mqtt/lockout';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { ENGINEER, OPERATOR, POLICY, WEAK_ADMIN, type LockoutObservations } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { MOSQUITTO_ACCOUNTS, type RunningMosquitto } from '../../helpers/mosquitto';
import { MQTT_LOCKOUT_SECONDS, mqttAuthPosture, requireMosquitto } from '../../helpers/mqtt';
import { runProbe } from '../../helpers/probe-harness';

describe('probe mqtt.lockout', function () {
  this.timeout(60_000);
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(mqttAuthPosture('weak'), { ephemeralPorts: true }), startEmulator(mqttAuthPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('hardened TLS port: logins lock after 3 failures, the right password is refused while locked, per user, released (pass)', async () => {
    const port = hardened.services.find((s) => s.tls)!.port;
    const { attempt } = await runProbe(probe, { service: { port, protocol: 'mqtt', tls: true }, credentials: { mqtt: OPERATOR, 'lockout.second': ENGINEER }, policy: POLICY });
    expect(attempt.status, JSON.stringify([attempt.message, attempt.findings])).to.equal('pass');
    const o = attempt.observations as unknown as LockoutObservations;
    expect(o).to.deep.include({ lockedAfter: 3, validLoginDeniedWhileLocked: true, scope: 'user', accountVerifiedAfter: true });
    expect(o.unlockedAfterSeconds).to.be.a('number').within(MQTT_LOCKOUT_SECONDS * 0.9, MQTT_LOCKOUT_SECONDS + 3);
  });

  it('weak plain port: no lockout -> mqtt.lockout.none (CR 1.11 fails)', async () => {
    const { attempt } = await runProbe(probe, { service: { port: weak.endpoint('mqtt').port, protocol: 'mqtt' }, credentials: { mqtt: WEAK_ADMIN }, policy: POLICY, inputs: { maxAttempts: 4 } });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.observations).to.deep.include({ lockedAfter: null, accountVerifiedAfter: true });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['mqtt.lockout.none']);
  });

  describe('Debian mosquitto (independent broker)', () => {
    let locked: RunningMosquitto | undefined;
    after(async () => {
      await locked?.stop();
    });

    it('secure configuration: mosquitto has no failed-login lockout (fail)', async function () {
      locked = await requireMosquitto(this, 'secure');
      const { attempt } = await runProbe(probe, {
        service: { port: locked.tlsPort!, protocol: 'mqtt', tls: true }, credentials: { mqtt: { username: 'operator', password: MOSQUITTO_ACCOUNTS.operator } }, policy: POLICY, inputs: { maxAttempts: 4 },
      });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['mqtt.lockout.none']);
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'mqtt' }), timeoutMs: 3000, credentials: { mqtt: OPERATOR },
    // No CONNACK is no authentication verdict: nothing is judged.
    reasons: { dropAfterHello: 'not_determined', rstMidHandshake: 'not_determined', tlsLargeChain: 'not_determined' },
  });
});
