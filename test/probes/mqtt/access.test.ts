import { expect } from 'chai';
import probe from '../../../probes/mqtt/access';
import { startEmulator, type Emulator } from '../../../src/emulator';
import type { RunningMosquitto } from '../../helpers/mosquitto';
import { MOSQUITTO_ACCOUNTS } from '../../helpers/mosquitto';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { mqttPosture, publishRetained, requireMosquitto } from '../../helpers/mqtt';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const plain = (port: number) => ({ port, protocol: 'mqtt' as const });
const secure = (port: number) => ({ port, protocol: 'mqtt' as const, tls: true });
const FAST = { windowMs: 500, takeoverWaitMs: 1000 };

describe('probe mqtt.access', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(mqttPosture('weak'), { ephemeralPorts: true }), startEmulator(mqttPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: anonymous CONNECT accepted, # and $SYS read, the test message routed, client id taken over (fail CR 1.1, 1.2, 2.1)', async () => {
    const { attempt, read } = await runProbe(probe, { service: plain(weak.endpoint('mqtt').port), inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(codes(attempt)).to.deep.equal([
      'mqtt.access.anonymous-access', 'mqtt.access.client-id-takeover', 'mqtt.access.publish-accepted', 'mqtt.access.read-all',
      'mqtt.access.sys-readable', 'mqtt.access.version-disclosed',
    ]);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 1.2': 'fail', 'CR 2.1': 'fail' });
    expect(attempt.observations).to.deep.include({ anonymous: 'CONNACK 0x00 success', protocolLevel: '5.0' });
    const session = attempt.observations.session as { brokerVersion: string; topics: string[]; publish: string };
    expect(session.brokerVersion).to.equal('EPLC-1 MQTT broker 1.0.0');
    expect(session.publish).to.equal('delivered');
    expect(session.topics).to.include.members(['plant/line1/status', '$SYS/broker/version']);
    expect((attempt.observations.takeover as { taken: boolean; firstEnded: { reason: string } }).firstEnded.reason).to.equal('0x8e session taken over');
    const transcript = read(attempt.evidence.find((e) => e.endsWith('mqtt-access.txt'))!);
    // CONNECT MQTT 5.0: name "MQTT", level 5, flags 0x02 (clean start), keep alive 60, no properties.
    expect(transcript).to.match(/> 10 .. 00 04 4d 51 54 54 05 02 00 3c 00 00 13 69 61 63 73/);
    // Payloads are cut: the retained status "running" is never in the transcript beyond a few bytes.
    const stored = read(attempt.evidence.find((e) => e.endsWith('access.json'))!);
    expect(stored).to.include('"preview": "72756e6e"');
    expect(stored).to.not.include('72756e6e696e67');
  });

  it('weak over MQTT 3.1.1 only: the same findings, and the 3.1.1 takeover is a hang-up', async () => {
    const { attempt } = await runProbe(probe, { service: plain(weak.endpoint('mqtt').port), inputs: { ...FAST, protocolLevel: 4 } });
    expect(attempt.status).to.equal('fail');
    expect(attempt.observations.protocolLevel).to.equal('3.1.1');
    expect((attempt.observations.takeover as { firstEnded: { how: string } }).firstEnded.how).to.equal('closed');
  });

  it('hardened plain port: anonymous refused with 0x87; the operator account is refused # by the ACL (partial pass)', async () => {
    const { attempt } = await runProbe(probe, {
      service: plain(hardened.endpoint('mqtt').port), inputs: FAST, credentials: { mqtt: { username: 'operator', password: 'Op3rator!Bench-2026' } },
    });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 1.1', 'pass', 'partial'], ['CR 1.2', 'pass', 'partial'], ['CR 2.1', 'pass', 'partial']]);
    expect(attempt.observations.anonymous).to.equal('CONNACK 0x87 not authorized');
    // The plain port takes no user logins either (mqtt.transport judges that).
    expect(attempt.observations.account).to.deep.equal({ refused: 'CONNACK 0x87 not authorized' });
  });

  it('hardened TLS port: the account is refused # but an engineer reads $SYS (version disclosed, info only)', async () => {
    const port = hardened.services.find((s) => s.protocol === 'mqtt' && s.tls)!.port;
    const { attempt } = await runProbe(probe, { service: secure(port), inputs: FAST, credentials: { mqtt: { username: 'engineer', password: 'Eng1neer!Bench-2026' } } });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(codes(attempt)).to.deep.equal(['mqtt.access.version-disclosed']);
    const account = attempt.observations.account as { subscriptions: Record<string, string>; brokerVersion: string };
    expect(account.subscriptions['#']).to.equal('refused: 0x87 not authorized');
    expect(account.subscriptions['$SYS/#']).to.equal('granted QoS 0');
    expect(attempt.outcomes.find((o) => o.requirement === 'CR 2.1')!.reason).to.match(/refused # \(SUBACK refused: 0x87/);
  });

  describe('Debian mosquitto (independent broker)', () => {
    let anonymous: RunningMosquitto | undefined;
    let locked: RunningMosquitto | undefined;
    after(async () => {
      await Promise.all([anonymous?.stop(), locked?.stop()]);
    });

    it('anonymous configuration: the same failures as the weak emulator, and the version mosquitto publishes', async function () {
      anonymous = await requireMosquitto(this, 'anonymous');
      publishRetained(anonymous, 'plant/line1/status', 'running');
      const { attempt } = await runProbe(probe, { service: plain(anonymous.port), inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(codes(attempt)).to.deep.equal([
        'mqtt.access.anonymous-access', 'mqtt.access.client-id-takeover', 'mqtt.access.publish-accepted', 'mqtt.access.read-all',
        'mqtt.access.sys-readable', 'mqtt.access.version-disclosed',
      ]);
      expect((attempt.observations.session as { brokerVersion: string }).brokerVersion).to.equal(`mosquitto version ${anonymous.version}`);
      expect(attempt.observations.takeover, JSON.stringify(attempt.observations.takeover)).to.deep.include({ taken: true });
    });

    it('secure configuration: the plain listener refuses anonymous clients; over TLS mosquitto grants # yet delivers nothing (no finding from a SUBACK)', async function () {
      locked = await requireMosquitto(this, 'secure');
      publishRetained({ host: locked.host, port: locked.tlsPort! }, 'plant/line1/status', 'running', ['-u', 'engineer', '-P', MOSQUITTO_ACCOUNTS.engineer, '--cafile', locked.caFile!]);
      const onPlain = await runProbe(probe, { service: plain(locked.port), inputs: FAST });
      expect(onPlain.attempt.status, onPlain.attempt.message).to.equal('pass');
      expect(onPlain.attempt.observations.anonymous).to.equal('CONNACK 0x87 not authorized');
      const onTls = await runProbe(probe, { service: secure(locked.tlsPort!), inputs: FAST, credentials: { mqtt: { username: 'operator', password: MOSQUITTO_ACCOUNTS.operator } } });
      expect(onTls.attempt.status, onTls.attempt.message).to.equal('pass');
      const account = onTls.attempt.observations.account as { subscriptions: Record<string, string>; topics: string[]; publish: string };
      // mosquitto 2.0 answers SUBACK 0 for # and filters by its ACL: operator reads plant/# only ...
      expect(account.subscriptions['#']).to.equal('granted QoS 0');
      expect(account.topics).to.deep.equal(['plant/line1/status']);
      // ... and may not write the test topic: the test message never comes back (the subscription to it is not covered).
      expect(account.publish).to.not.equal('delivered');
      expect(codes(onTls.attempt)).to.deep.equal(['mqtt.access.account-wildcard']);
    });
  });

  describeMisbehavingPeers(probe, { service: plain, timeoutMs: 3000, inputs: { requestTimeoutMs: 1000 } });
});
