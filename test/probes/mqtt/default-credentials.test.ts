import { expect } from 'chai';
import probe from '../../../probes/mqtt/default-credentials';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { passwordDigest } from '../../../src/protocols/auth';
import { OPERATOR, POLICY } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { MOSQUITTO_ACCOUNTS, type RunningMosquitto } from '../../helpers/mosquitto';
import { mqttAuthPosture, requireMosquitto } from '../../helpers/mqtt';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  interface: string;
  tried: number;
  accepted: { list: string; entry: string; username: string; passwordSha256: string }[];
}

describe('probe mqtt.default-credentials', function () {
  this.timeout(60_000);
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(mqttAuthPosture('weak'), { ephemeralPorts: true }), startEmulator(mqttAuthPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: admin/admin and operator/operator log in over cleartext MQTT (fail CR 1.5, CR 1.1)', async () => {
    const { attempt } = await runProbe(probe, { service: { port: weak.endpoint('mqtt').port, protocol: 'mqtt' }, policy: POLICY });
    expect(attempt.status, attempt.message).to.equal('fail');
    const o = attempt.observations as unknown as Observations;
    expect(o.interface).to.equal('MQTT CONNECT user name and password in cleartext');
    expect(o.accepted.map((a) => `${a.list}/${a.entry}`)).to.deep.equal(['generic/admin-admin', 'generic/operator-operator']);
    expect(o.accepted[0].passwordSha256).to.equal(passwordDigest('admin'));
    expect(attempt.outcomes.map((x) => [x.requirement, x.verdict])).to.deep.equal([['CR 1.5', 'fail'], ['CR 1.1', 'fail']]);
  });

  it('hardened TLS port: no listed pair logs in, within the lockout budget (pass)', async () => {
    const port = hardened.services.find((s) => s.tls)!.port;
    const { attempt } = await runProbe(probe, { service: { port, protocol: 'mqtt', tls: true }, policy: POLICY, credentials: { mqtt: OPERATOR } });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    const o = attempt.observations as unknown as Observations;
    expect(o.interface).to.equal('MQTT CONNECT user name and password over TLS');
    expect(o.accepted).to.deep.equal([]);
    expect(o.tried).to.be.greaterThan(3);
  });

  it('hardened plain port: it refuses the profile\'s own account, so it takes no logins and no pair is judged there (not determined, no budget spent)', async () => {
    const { attempt } = await runProbe(probe, { service: { port: hardened.endpoint('mqtt').port, protocol: 'mqtt' }, policy: POLICY, credentials: { mqtt: OPERATOR } });
    expect(attempt.status, attempt.message).to.equal('not_determined');
    expect(attempt.observations.notDetermined).to.match(/refuses the profile's own account operator \(CONNACK 0x87 not authorized\)/);
  });

  describe('Debian mosquitto (independent broker)', () => {
    let anonymous: RunningMosquitto | undefined;
    let locked: RunningMosquitto | undefined;
    after(async () => {
      await Promise.all([anonymous?.stop(), locked?.stop()]);
    });

    it('secure configuration with an admin/admin account in its password file: found over TLS (fail)', async function () {
      locked = await requireMosquitto(this, 'secure');
      const { attempt } = await runProbe(probe, {
        service: { port: locked.tlsPort!, protocol: 'mqtt', tls: true }, policy: POLICY, credentials: { mqtt: { username: 'operator', password: MOSQUITTO_ACCOUNTS.operator } },
      });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect((attempt.observations as unknown as Observations).accepted.map((a) => `${a.list}/${a.entry}`)).to.deep.equal(['generic/admin-admin']);
    });

    it('anonymous configuration: mosquitto without a password file takes any user and password, so there is no login to judge (not determined)', async function () {
      anonymous = await requireMosquitto(this, 'anonymous');
      const { attempt } = await runProbe(probe, { service: { port: anonymous.port, protocol: 'mqtt' }, policy: POLICY });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.observations.notDetermined).to.match(/accepts a random user name with a random password/);
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'mqtt' }), timeoutMs: 3000,
    // No CONNACK is no authentication verdict: nothing is judged.
    reasons: { dropAfterHello: 'not_determined', rstMidHandshake: 'not_determined', tlsLargeChain: 'not_determined' },
  });
});
