import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import accessProbe from '../../probes/mqtt/access';
import transportProbe from '../../probes/mqtt/transport';
import { startEmulator } from '../../src/emulator';
import {
  PACKET, decodeVarint, encodeConnect, encodeProperties, encodePublish, encodeSubscribe, encodeVarint, parseConnect, parsePublish,
  parseSubscribe, readPacket, Reader, topicMatches,
} from '../../src/protocols/mqtt';
import { decodeCapture, fieldValues, startCapture, type DecodedPacket } from '../helpers/enip';
import { mqttPosture, scriptedBroker } from '../helpers/mqtt';
import { requirePeer, requireRoot } from '../helpers/peers';
import { runProbe } from '../helpers/probe-harness';

const body = (bytes: Buffer) => {
  const r = readPacket(bytes);
  if (r.kind !== 'packet') throw new Error(`not one packet: ${r.kind}`);
  return r.packet;
};

describe('protocols/mqtt: packets', () => {
  it('variable byte integers: the boundaries of MQTT 5.0 §1.5.5', () => {
    for (const [n, hex] of [[0, '00'], [127, '7f'], [128, '8001'], [16_383, 'ff7f'], [16_384, '808001'], [268_435_455, 'ffffff7f']] as const) {
      expect(encodeVarint(n).toString('hex'), String(n)).to.equal(hex);
      expect(decodeVarint(Buffer.from(hex, 'hex'), 0)).to.deep.equal({ value: n, length: hex.length / 2 });
    }
    expect(() => decodeVarint(Buffer.from('ffffffff01', 'hex'), 0)).to.throw(/longer than 4 bytes/);
  });

  it('CONNECT 3.1.1, anonymous, clean session, keep alive 60: the bytes of the specification\'s layout', () => {
    expect(encodeConnect({ level: 4, clientId: 'a', keepAliveSeconds: 60 }).toString('hex')).to.equal('100d00044d5154540402003c000161');
    const withLogin = encodeConnect({ level: 5, clientId: 'c', username: 'u', password: 'p', keepAliveSeconds: 10 });
    expect(parseConnect(body(withLogin).body)).to.deep.equal({ level: 5, clientId: 'c', cleanStart: true, keepAliveSeconds: 10, username: 'u', password: Buffer.from('p') });
  });

  it('SUBSCRIBE (flags 0x2), PUBLISH and 5.0 properties parse back', () => {
    const sub = body(encodeSubscribe(5, 7, [{ filter: '#' }, { filter: '$SYS/#', qos: 1 }]));
    expect(sub.flags).to.equal(2);
    expect(parseSubscribe(5, sub.body)).to.deep.equal({ packetId: 7, subscriptions: [{ filter: '#', qos: 0 }, { filter: '$SYS/#', qos: 1 }] });
    const pub = body(encodePublish(4, { topic: 'plant/x', payload: Buffer.from('42'), qos: 1, packetId: 9, retain: true }));
    expect(parsePublish(4, pub.flags, pub.body)).to.deep.include({ topic: 'plant/x', qos: 1, retain: true, packetId: 9 });
    const props = new Map<number, number | string | Buffer | [string, string]>([[0x1f, 'why'], [0x24, 1], [0x11, 3600], [0x26, ['k', 'v']]]);
    expect(new Reader(encodeProperties(props)).properties()).to.deep.equal(props);
  });

  it('readPacket: waits for the rest, and refuses type 0, wrong fixed flags and oversize announcements', () => {
    expect(readPacket(Buffer.from('2002', 'hex')).kind).to.equal('incomplete');
    expect(readPacket(Buffer.from('0000', 'hex'))).to.deep.include({ kind: 'invalid' });
    expect(readPacket(Buffer.from('8000', 'hex'))).to.deep.include({ kind: 'invalid' }); // SUBSCRIBE must carry flags 0x2
    expect(readPacket(Buffer.from('30ffffff7f', 'hex'), 1024)).to.deep.include({ kind: 'invalid' });
    expect(readPacket(Buffer.from('d000', 'hex'))).to.deep.include({ kind: 'packet', length: 2 });
    expect(body(Buffer.from('d000', 'hex')).type).to.equal(PACKET.pingresp);
  });

  it('topic filters: wildcards, and $ topics only for filters that name them (§4.7)', () => {
    expect(topicMatches('#', 'plant/a')).to.equal(true);
    expect(topicMatches('#', '$SYS/broker/version')).to.equal(false);
    expect(topicMatches('$SYS/#', '$SYS/broker/version')).to.equal(true);
    expect(topicMatches('plant/+/status', 'plant/l1/status')).to.equal(true);
    expect(topicMatches('plant/+', 'plant/l1/status')).to.equal(false);
    expect(topicMatches('plant/#', 'plant')).to.equal(true);
  });
});

/** Packets with a decoding problem, as "frame n: marker" lines (empty when the dissector took everything). */
const problems = (packets: readonly DecodedPacket[]) => packets.flatMap((p) => p.problems.map((m) => `frame ${p.frame}: ${m}`));

describe('protocols/mqtt: Wireshark\'s mqtt dissector decodes every packet the probes and the emulated broker exchange (tshark)', function () {
  this.timeout(90_000);

  it('weak (5.0 and 3.1.1) and hardened plain port: no malformed packet; the packet types, refusals and topics as we sent and read them', async function () {
    const tshark = requirePeer(this, 'tshark', undefined, 'Debian package tshark');
    requireRoot(this, 'tshark captures on loopback');
    const [weak, hardened] = await Promise.all([startEmulator(mqttPosture('weak'), { ephemeralPorts: true }), startEmulator(mqttPosture('hardened'), { ephemeralPorts: true })]);
    const weakPort = weak.endpoint('mqtt').port;
    const hardPort = hardened.endpoint('mqtt').port;
    try {
      const capture = await startCapture(tshark, [weakPort, hardPort]);
      const fast = { windowMs: 300, takeoverWaitMs: 500 };
      const attempts = [
        (await runProbe(accessProbe, { service: { port: weakPort, protocol: 'mqtt' }, inputs: fast })).attempt,
        (await runProbe(accessProbe, { service: { port: weakPort, protocol: 'mqtt' }, inputs: { ...fast, protocolLevel: 4 } })).attempt,
        (await runProbe(transportProbe, { service: { port: weakPort, protocol: 'mqtt' }, credentials: { mqtt: { username: 'admin', password: 'admin' } } })).attempt,
        (await runProbe(accessProbe, { service: { port: hardPort, protocol: 'mqtt' }, inputs: fast })).attempt,
        (await runProbe(accessProbe, { service: { port: hardPort, protocol: 'mqtt' }, inputs: { ...fast, protocolLevel: 4 } })).attempt,
      ];
      const file = await capture.stop();
      const packets = await decodeCapture(tshark, file, [weakPort, hardPort].map((port) => ({ port, transport: 'tcp' as const, proto: 'mqtt' })), ['mqtt']);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      expect(attempts.map((a) => a.status), attempts.map((a) => a.message).join('; ')).to.deep.equal(['fail', 'fail', 'fail', 'pass', 'pass']);
      expect(problems(packets)).to.deep.equal([]);
      // CONNECT, CONNACK, PUBLISH, SUBSCRIBE, SUBACK, DISCONNECT (tshark's mqtt.msgtype).
      const types = new Set(fieldValues(packets, 'mqtt.msgtype').map(Number));
      for (const t of [1, 2, 3, 8, 9, 14]) expect([...types], `packet type ${t}`).to.include(t);
      expect(new Set(fieldValues(packets, 'mqtt.ver'))).to.deep.equal(new Set(['4', '5']));
      // Refusals as the dissector reads them: 3.1.1 return code 5, 5.0 reason 0x87 (135); the takeover's 0x8E (142).
      expect(fieldValues(packets, 'mqtt.conack.val').map(Number)).to.include.members([0, 5]);
      expect(fieldValues(packets, 'mqtt.connack.reason_code').map(Number)).to.include.members([0, 135]);
      expect(fieldValues(packets, 'mqtt.disconnect.reason_code').map(Number)).to.include(0x8e);
      const version = (attempts[0].observations.session as { brokerVersion: string }).brokerVersion;
      expect(fieldValues(packets, 'mqtt.topic')).to.include.members(['$SYS/broker/version', 'plant/line1/status', '#', '$SYS/#']);
      expect(fieldValues(packets, 'mqtt.msg').map((hex) => Buffer.from(hex.replace(/:/g, ''), 'hex').toString('utf8'))).to.include(version);
    } finally {
      await Promise.all([weak.close(), hardened.close()]);
    }
  });

  it('the check can fail: a CONNACK one byte short is flagged by the dissector (and refused by our client)', async function () {
    const tshark = requirePeer(this, 'tshark', undefined, 'Debian package tshark');
    requireRoot(this, 'tshark captures on loopback');
    const peer = await scriptedBroker((packet) => (packet.type === PACKET.connect ? Buffer.from('200100', 'hex') : undefined));
    try {
      const capture = await startCapture(tshark, [peer.port]);
      const { attempt } = await runProbe(accessProbe, { service: { port: peer.port, protocol: 'mqtt' }, inputs: { requestTimeoutMs: 500 } });
      const file = await capture.stop();
      const packets = await decodeCapture(tshark, file, [{ port: peer.port, transport: 'tcp', proto: 'mqtt' }], ['mqtt']);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      expect(attempt).to.deep.include({ status: 'error', reason: 'protocol' });
      expect(problems(packets)).to.have.length.greaterThan(0);
    } finally {
      await peer.close();
    }
  });
});
