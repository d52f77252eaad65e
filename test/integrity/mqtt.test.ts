import { expect } from 'chai';
import accessProbe from '../../probes/mqtt/access';
import defaultCredentialsProbe from '../../probes/mqtt/default-credentials';
import transportProbe from '../../probes/mqtt/transport';
import { PACKET, encodeConnack, encodePingresp, encodeSuback, parseSubscribe, type RawPacket } from '../../src/protocols/mqtt';
import type { TestServer } from '../../fixtures/servers';
import { POLICY } from '../helpers/auth-devices';
import { connackAlways, scriptedBroker } from '../helpers/mqtt';
import { runProbe } from '../helpers/probe-harness';

const FAST = { windowMs: 300, takeoverWaitMs: 300, requestTimeoutMs: 1000 };

/** Says yes to everything (CONNACK 0, every subscription granted, PINGRESP) and never delivers a message. */
function yesAndNothing(packet: RawPacket, level: 4 | 5): Buffer | undefined {
  if (packet.type === PACKET.connect) return encodeConnack(level, false, 0);
  if (packet.type === PACKET.subscribe) {
    const { packetId, subscriptions } = parseSubscribe(level, packet.body);
    return encodeSuback(level, packetId, subscriptions.map(() => 0));
  }
  if (packet.type === PACKET.pingreq) return encodePingresp();
  return undefined;
}

describe('integrity: deceptive MQTT brokers give no verdict they do not evidence', function () {
  this.timeout(30_000);
  const peers: TestServer[] = [];
  const peer = async (answer: Parameters<typeof scriptedBroker>[0]) => {
    const p = await scriptedBroker(answer);
    peers.push(p);
    return p;
  };
  after(async () => {
    await Promise.all(peers.map((p) => p.close()));
  });

  it('"server busy" (0x89 / 3.1.1 code 3) to every CONNECT is no refusal of anonymous clients: access not determined', async () => {
    const { port } = await peer(connackAlways(3, 0x89));
    const { attempt } = await runProbe(accessProbe, { service: { port, protocol: 'mqtt' }, inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.anonymous).to.equal('CONNACK 0x89 server busy');
  });

  it('"server busy" to every login: no default credential is judged (no authentication verdict)', async () => {
    const { port } = await peer(connackAlways(3, 0x89));
    const { attempt } = await runProbe(defaultCredentialsProbe, { service: { port, protocol: 'mqtt' }, policy: POLICY, inputs: { lists: ['generic'], maxAttempts: 3 } });
    expect(attempt.status, attempt.message).to.equal('not_determined');
    expect(attempt.observations.notDetermined).to.match(/no tried pair got an authentication verdict/);
  });

  it('a broker that grants # and $SYS/# but delivers nothing and routes nothing: anonymous access fails CR 1.1/1.2, CR 2.1 stays undetermined', async () => {
    const { port } = await peer(yesAndNothing);
    const { attempt } = await runProbe(accessProbe, { service: { port, protocol: 'mqtt' }, inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['mqtt.access.anonymous-access']);
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict])).to.deep.equal([['CR 1.1', 'fail'], ['CR 1.2', 'fail']]);
    // Two connections with one client id both stay up here: no takeover, and the first still answers PINGREQ.
    expect(attempt.observations.takeover).to.deep.include({ taken: false, firstAlive: true });
  });

  it('a hang-up on a login is no refusal of the credentials: the plain port\'s CR 4.1 and CR 1.5 rest on what it answered', async () => {
    const { port } = await peer((packet, level) => {
      if (packet.type !== PACKET.connect) return undefined;
      return (packet.body[7] & 0x80) !== 0 ? null : encodeConnack(level, false, level === 5 ? 0x87 : 5); // user name flag set: hang up
    });
    const { attempt } = await runProbe(transportProbe, {
      service: { port, protocol: 'mqtt' }, services: [{ port, protocol: 'mqtt' }, { port: 1, protocol: 'mqtt', tls: true }], credentials: { mqtt: { username: 'operator', password: 'x' } },
    });
    expect(attempt.status, attempt.message).to.equal('not_determined');
    expect(attempt.observations.login).to.deep.equal({ account: 'credentials.mqtt', answer: 'connection closed without CONNACK' });
    expect(attempt.observations.loginOverTls).to.equal(null);
  });
});
