import { expect } from 'chai';
import probe from '../../../probes/mqtt/transport';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { MOSQUITTO_ACCOUNTS, type RunningMosquitto } from '../../helpers/mosquitto';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { mqttPosture, requireMosquitto } from '../../helpers/mqtt';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const plain = (port: number) => ({ port, protocol: 'mqtt' as const });
const tlsService = (port: number) => ({ port, protocol: 'mqtt' as const, tls: true });
const HARDENED_OPERATOR = { mqtt: { username: 'operator', password: 'Op3rator!Bench-2026' } };

describe('probe mqtt.transport', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(mqttPosture('weak'), { ephemeralPorts: true }), startEmulator(mqttPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: anonymous sessions and the admin login accepted in cleartext, no TLS declared (fail CR 4.1, CR 1.5)', async () => {
    const { attempt, read } = await runProbe(probe, { service: plain(weak.endpoint('mqtt').port), credentials: { mqtt: { username: 'admin', password: 'admin' } } });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['mqtt.transport.cleartext-credentials', 'mqtt.transport.cleartext-sessions', 'mqtt.transport.no-tls']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 4.1': 'fail', 'CR 1.5': 'fail' });
    // The password is sent (the point of the test) but never written: the transcript shows ******** instead.
    const transcript = read(attempt.evidence.find((e) => e.endsWith('mqtt-transport.txt'))!);
    expect(transcript).to.include('2a 2a 2a 2a 2a 2a 2a 2a').and.include('password shown as ********');
    expect(transcript).to.not.match(/00 05 61 64 6d 69 6e 00 05 61 64 6d 69 6e/); // "admin" as user and password
  });

  it('hardened: the plain port refuses anonymous clients and the operator, who logs in over TLS (partial pass)', async () => {
    const tlsPort = hardened.services.find((s) => s.tls)!.port;
    const { attempt } = await runProbe(probe, {
      service: plain(hardened.endpoint('mqtt').port), services: [plain(hardened.endpoint('mqtt').port), tlsService(tlsPort)], credentials: HARDENED_OPERATOR,
    });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 4.1', 'pass', 'partial'], ['CR 1.5', 'pass', 'partial']]);
    expect(attempt.observations).to.deep.include({ anonymous: 'CONNACK 0x87 not authorized', loginOverTls: { service: `127.0.0.1:${tlsPort}`, answer: 'CONNACK 0x00 success' } });
  });

  it('a refusal on the plain port proves no policy when the account is refused over TLS too (wrong password: not determined)', async () => {
    const tlsPort = hardened.services.find((s) => s.tls)!.port;
    const { attempt } = await runProbe(probe, {
      service: plain(hardened.endpoint('mqtt').port), services: [plain(hardened.endpoint('mqtt').port), tlsService(tlsPort)],
      credentials: { mqtt: { username: 'nobody', password: 'not-a-password' } },
    });
    expect(attempt.status, attempt.message).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.notDetermined).to.match(/refused over TLS as well/);
  });

  it('without credentials a plain port that refuses anonymous clients leaves CR 4.1 not determined', async () => {
    const tlsPort = hardened.services.find((s) => s.tls)!.port;
    const { attempt } = await runProbe(probe, { service: plain(hardened.endpoint('mqtt').port), services: [plain(hardened.endpoint('mqtt').port), tlsService(tlsPort)] });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.observations.notDetermined).to.match(/gives no credentials.mqtt/);
  });

  describe('Debian mosquitto (independent broker)', () => {
    let anonymous: RunningMosquitto | undefined;
    let locked: RunningMosquitto | undefined;
    after(async () => {
      await Promise.all([anonymous?.stop(), locked?.stop()]);
    });

    it('anonymous configuration: any user name and password is taken in cleartext', async function () {
      anonymous = await requireMosquitto(this, 'anonymous');
      const { attempt } = await runProbe(probe, { service: plain(anonymous.port), credentials: { mqtt: { username: 'operator', password: 'whatever' } } });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['mqtt.transport.cleartext-credentials', 'mqtt.transport.cleartext-sessions', 'mqtt.transport.no-tls']);
    });

    it('secure configuration: logins only over TLS (partial pass)', async function () {
      locked = await requireMosquitto(this, 'secure');
      const { attempt } = await runProbe(probe, {
        service: plain(locked.port), services: [plain(locked.port), tlsService(locked.tlsPort!)], credentials: { mqtt: { username: 'operator', password: MOSQUITTO_ACCOUNTS.operator } },
      });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(attempt.observations).to.deep.include({ login: { account: 'credentials.mqtt', answer: 'CONNACK 0x87 not authorized' } });
    });
  });

  describeMisbehavingPeers(probe, { service: plain, timeoutMs: 3000, inputs: { requestTimeoutMs: 1000 } });
});
