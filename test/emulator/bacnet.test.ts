import { expect } from 'chai';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';
import {
  CONFIRMED_SERVICE, ENABLE_DISABLE, OBJECT_TYPE, PROPERTY, dccBody, describeAnswer, readProperty, shownValue, unicastDatagram, withBacnet,
  type BacnetClient,
} from '../../src/protocols/bacnet';
import { datagramExchange } from '../../src/protocols/datagram';
import { bacnetPosture } from '../helpers/bacnet';

const AV1 = { objectType: OBJECT_TYPE.analogValue, instance: 1 };
const client = <T>(emu: Emulator, fn: (c: BacnetClient) => Promise<T>, timeoutMs = 300) =>
  withBacnet(emu.endpoint('bacnet'), { signal: AbortSignal.timeout(5000), timeoutMs, retries: 0 }, fn);
const raw = async (emu: Emulator, hex: string) => {
  const answer = await datagramExchange(emu.endpoint('bacnet'), Buffer.from(hex, 'hex'), { signal: AbortSignal.timeout(3000), timeoutMs: 300, retries: 0, what: 'test' });
  return answer.kind === 'answer' ? answer.bytes.toString('hex') : 'no answer';
};

describe('emulator: BACnet/IP device (services.bacnet)', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(bacnetPosture('weak'), { ephemeralPorts: true }), startEmulator(bacnetPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('the postures put it on the fixed UDP ports 17808 (weak) and 27808 (hardened), as the example profiles declare it', () => {
    expect(loadPosture('weak').services.bacnet).to.include({ port: 17808, password: null, writable: true });
    expect(loadPosture('hardened').services.bacnet).to.include({ port: 27808, writable: false, bbmd: null });
    expect(weak.services).to.deep.equal([{ protocol: 'bacnet', host: '127.0.0.1', port: weak.endpoint('bacnet').port }]);
  });

  it('a commandable setpoint: priority array of 16, relinquish default, present value from the highest priority', async () => {
    await client(weak, async (c) => {
      expect(shownValue(await readProperty(c, { ...AV1, property: PROPERTY.priorityArray, arrayIndex: 0 }))).to.equal(16);
      expect(shownValue(await readProperty(c, { ...AV1, property: PROPERTY.relinquishDefault }))).to.equal(21.5);
      expect(describeAnswer(await readProperty(c, { ...AV1, property: PROPERTY.priorityArray, arrayIndex: 17 }))).to.equal('Error property/invalid-array-index');
      expect(describeAnswer(await readProperty(c, { objectType: OBJECT_TYPE.binaryValue, instance: 9, property: PROPERTY.presentValue }))).to.equal('Error object/unknown-object');
      expect(describeAnswer(await readProperty(c, { ...AV1, property: 9999 }))).to.equal('Error property/unknown-property');
    });
  });

  it('DCC disable silences everything but DCC and ReinitializeDevice until DCC enable', async () => {
    await client(weak, async (c) => {
      const dcc = (mode: number) => c.confirmed(CONFIRMED_SERVICE.deviceCommunicationControl, dccBody(mode, undefined, 1), 'dcc');
      expect((await dcc(ENABLE_DISABLE.disable)).status).to.equal('ack');
      expect((await readProperty(c, { ...AV1, property: PROPERTY.presentValue })).status).to.equal('no-answer');
      expect((await c.whoIs()).status).to.equal('no-answer');
      expect((await dcc(ENABLE_DISABLE.enable)).status).to.equal('ack');
      expect((await readProperty(c, { ...AV1, property: PROPERTY.presentValue })).status).to.equal('ack');
    });
  });

  it('the hardened device accepts DCC with its password only', async () => {
    await client(hardened, async (c) => {
      const dcc = (password?: string) => c.confirmed(CONFIRMED_SERVICE.deviceCommunicationControl, dccBody(ENABLE_DISABLE.enable, password), 'dcc');
      expect(describeAnswer(await dcc('wrong'))).to.equal('Error security/password-failure');
      expect(describeAnswer(await dcc('Bacnet!Bench-2026'))).to.equal('acknowledged');
    });
  });

  it('Who-Is: answered with a unicast I-Am in range, silence out of range', async () => {
    await client(weak, async (c) => {
      expect(await c.whoIs({ low: 17000, high: 18000 })).to.deep.equal({ status: 'ack', value: { device: { objectType: 8, instance: 17808 }, maxApdu: 1476, segmentation: 3, vendorId: 0 } });
      expect((await c.whoIs({ low: 1, high: 10 })).status).to.equal('no-answer');
    });
  });

  it('rejects an unknown service, aborts a segmented request, ignores garbage and a BVLC whose length lies', async () => {
    expect(await raw(weak, '810a000a01040005071f')).to.equal(unicastDatagram(Buffer.from('600709', 'hex'), false).toString('hex'));
    expect(await raw(weak, '810a000c0104080507000c00')).to.equal(unicastDatagram(Buffer.from('710704', 'hex'), false).toString('hex'));
    expect(await raw(weak, '00ff4741524241474520')).to.equal('no answer');
    expect(await raw(weak, '810a00ff0104000501' + '0c0c023fffff194b')).to.equal('no answer');
  });
});
