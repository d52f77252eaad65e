import { expect } from 'chai';
import * as dgram from 'node:dgram';
import accessProbe from '../../probes/bacnet/access';
import bbmdProbe from '../../probes/bacnet/bbmd';
import identificationProbe from '../../probes/bacnet/identification';
import { startEmulator } from '../../src/emulator';
import {
  CONFIRMED_SERVICE, OBJECT_TYPE, PROPERTY, WILDCARD_INSTANCE, decodeElements, encodeApplication, encodeConfirmedRequest, encodeError,
  encodeTag, parseApdu, parseBvlc, parseNpdu, parseReadPropertyAck, readPropertyAckBody, readPropertyBody, readTag, unicastDatagram,
  withBacnet, writePropertyBody, type BacnetValue,
} from '../../src/protocols/bacnet';
import { bacnetPosture } from '../helpers/bacnet';
import { decodeCapture, fieldValues, startCapture } from '../helpers/enip';
import { requirePeer, requireRoot } from '../helpers/peers';
import { runProbe } from '../helpers/probe-harness';

const hex = (b: Buffer) => b.toString('hex');

describe('protocols/bacnet: frames', () => {
  it('ReadProperty of the wildcard device is byte for byte what nmap bacnet-info sends (invoke id 1)', () => {
    const request = unicastDatagram(encodeConfirmedRequest(1, CONFIRMED_SERVICE.readProperty, readPropertyBody({ objectType: OBJECT_TYPE.device, instance: WILDCARD_INSTANCE, property: PROPERTY.objectIdentifier })), true);
    expect(hex(request)).to.equal('810a00110104000501' + '0c0c023fffff194b');
  });

  it('tags: short and extended lengths, extended tag numbers, opening and closing tags', () => {
    expect(hex(encodeTag(7, false, 4))).to.equal('74');
    expect(hex(encodeTag(7, false, 20))).to.equal('7514');
    expect(hex(encodeTag(7, false, 300))).to.equal('75fe012c');
    expect(hex(encodeTag(20, true, 1))).to.equal('f914');
    expect(readTag(Buffer.from('3e', 'hex'), 0)).to.include({ number: 3, opening: true });
    expect(readTag(Buffer.from('7514', 'hex'), 0)).to.equal(undefined); // promises 20 bytes that are not there
  });

  it('values round-trip through application tags, nested in a ReadProperty-ACK', () => {
    const values: BacnetValue[] = [
      { type: 'null' }, { type: 'boolean', value: true }, { type: 'unsigned', value: 70000 }, { type: 'signed', value: -2 },
      { type: 'real', value: 21.5 }, { type: 'character-string', value: 'Plant room 1 äö', charset: 0 }, { type: 'enumerated', value: 3 },
      { type: 'object-identifier', objectType: 8, instance: 17808 }, { type: 'bit-string', unused: 4, bits: Buffer.from([0x80]) },
    ];
    const ack = parseReadPropertyAck(readPropertyAckBody({ objectType: 2, instance: 1, property: 87, arrayIndex: 3 }, values));
    expect(ack).to.deep.equal({ objectType: 2, instance: 1, property: 87, arrayIndex: 3, values });
    expect(decodeElements(Buffer.concat([Buffer.from('3e', 'hex'), encodeApplication({ type: 'real', value: 1 })]))).to.equal('opening tag 3 is never closed');
  });

  it('WriteProperty carries the value inside context tag 3 and the priority under tag 4', () => {
    expect(hex(writePropertyBody({ objectType: 2, instance: 1, property: 85 }, [{ type: 'null' }], 16))).to.equal('0c008000011955' + '3e003f' + '4910');
  });

  it('reads Error PDUs (class/code), rejects truncated ones, and checks the BVLC length and the NPDU', () => {
    expect(parseApdu(encodeError(7, 20, 4, 26))).to.deep.equal({ type: 'error', invokeId: 7, service: 20, errorClass: 4, errorCode: 26 });
    expect(parseApdu(Buffer.from('50071491', 'hex'))).to.have.property('error');
    expect(parseBvlc(Buffer.from('810a0010', 'hex'))).to.deep.equal({ error: 'BVLC length 16 differs from the 4-byte datagram' });
    expect(parseBvlc(Buffer.from('SSH-2.0'))).to.have.property('error').that.matches(/not BVLC type 0x81/);
    // DNET 0xFFFF (global broadcast), DLEN 0, hop count 255, then a Who-Is.
    expect(parseNpdu(Buffer.from('0120ffff00ff1008', 'hex'))).to.deep.include({ networkMessage: false, apdu: Buffer.from('1008', 'hex') });
  });
});

describe('protocols/bacnet: Wireshark\'s bvlc/bacnet/bacapp dissectors decode every datagram both ways (tshark)', function () {
  this.timeout(120_000);
  const LAYERS = ['bvlc', 'bacnet', 'bacapp'];

  async function captureRun(ctx: Mocha.Context, posture: 'weak' | 'hardened', extra?: (port: number) => Promise<void>) {
    const tshark = requirePeer(ctx, 'tshark', undefined, 'Debian package tshark');
    requireRoot(ctx, 'tshark captures on loopback');
    const emu = await startEmulator(bacnetPosture(posture), { ephemeralPorts: true });
    try {
      const port = emu.endpoint('bacnet').port;
      const service = { port, protocol: 'bacnet' as const };
      const capture = await startCapture(tshark, [port]);
      let file: string;
      try {
        await runProbe(identificationProbe, { service });
        await runProbe(accessProbe, { service, allow: ['passive', 'active', 'destructive'], inputs: { testObject: { objectType: 'analog-value', instance: 1 } } });
        await runProbe(bbmdProbe, { service });
        // Who-Is goes out only when the wildcard read fails: send one here so that Who-Is/I-Am are decoded too.
        await withBacnet({ host: '127.0.0.1', port }, { signal: AbortSignal.timeout(5000) }, (client) => client.whoIs());
        await extra?.(port);
      } finally {
        file = await capture.stop();
      }
      const packets = (await decodeCapture(tshark, file, [{ port, transport: 'udp', proto: 'bvlc' }], LAYERS)).filter((p) => 'bvlc' in p.layers);
      return { packets, port };
    } finally {
      await emu.close();
    }
  }

  it('weak: ReadProperty, Who-Is/I-Am, DCC, ReinitializeDevice, WriteProperty and the BBMD requests, each answer too', async function () {
    const { packets } = await captureRun(this, 'weak');
    expect(fieldValues(packets, 'bacapp.unconfirmed_service')).to.include.members(['0', '8']);
    expect(packets.filter((p) => p.problems.length > 0).map((p) => `${p.frame}: ${p.problems.join('; ')}`)).to.deep.equal([]);
    expect(new Set(fieldValues(packets, 'bacapp.confirmed_service'))).to.include.members(['12', '15', '17', '20']);
    expect(new Set(fieldValues(packets, 'bacapp.type'))).to.include.members(['0', '1', '2', '3']);
    expect(new Set(fieldValues(packets, 'bvlc.function'))).to.include.members(['0x00', '0x02', '0x03', '0x05', '0x06', '0x07', '0x08', '0x0a']);
  });

  it('hardened: Error PDUs (password-failure, write-access-denied) and the BVLC-Result NAKs; a broken frame is flagged, so the check can fail', async function () {
    const broken = Buffer.from('810a000d01040005010c0c023f', 'hex'); // object identifier promises 4 bytes, 2 follow
    const { packets } = await captureRun(this, 'hardened', async (port) => {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => socket.send(broken, port, '127.0.0.1', () => resolve()));
      socket.close();
    });
    const flagged = packets.filter((p) => p.problems.length > 0);
    expect(flagged, 'only our deliberately broken request').to.have.length(1);
    expect(fieldValues([flagged[0]], 'udp.length')).to.deep.equal([String(8 + broken.length)]);
    expect(new Set(fieldValues(packets, 'bacapp.type'))).to.include('5');
    expect(new Set(fieldValues(packets, 'bacapp.error_code'))).to.include.members(['26', '40']);
    expect(new Set(fieldValues(packets, 'bvlc.result'))).to.include.members(['0x0020', '0x0030', '0x0040']);
  });
});
