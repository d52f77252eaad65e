import { expect } from 'chai';
import { getEventListeners } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import accessProbe from '../../probes/iec104/access';
import identificationProbe from '../../probes/iec104/identification';
import securityProbe from '../../probes/iec104/security';
import { startEmulator } from '../../src/emulator';
import {
  BROADCAST_CA, COT, TYPE_IDS, clockSyncAsdu, decodeCp56, encodeAsdu, encodeCp56, encodeI, encodeS, encodeU, endDataTransfer, interrogate,
  interrogationAsdu, parseApdu, parseAsdu, singleCommandAsdu, startDataTransfer,
} from '../../src/protocols/iec104';
import { decodeCapture, fieldValues, startCapture } from '../helpers/enip';
import { iec104Posture, iec104Services, nmapIecIdentify } from '../helpers/iec104';
import { requirePeer } from '../helpers/peers';
import { runProbe } from '../helpers/probe-harness';

const hex = (b: Buffer) => b.toString('hex');

describe('protocols/iec104: frames', () => {
  it('TESTFR act, STARTDT act and the station interrogation are byte for byte what nmap iec-identify sends', () => {
    // iec-identify.nse: TESTFR = 68 04 43 00 00 00, STARTDT = 68 04 07 00 00 00, C_IC_NA_1_broadcast.
    expect(hex(encodeU('testfrAct'))).to.equal('680443000000');
    expect(hex(encodeU('startdtAct'))).to.equal('680407000000');
    expect(hex(encodeI(0, 0, interrogationAsdu(BROADCAST_CA)))).to.equal('680e0000000064010600ffff00000014');
    expect(hex(encodeU('stopdtAct'))).to.equal('680413000000');
  });

  it('numbers I-frames (N(S), N(R) shifted by one) and S-frames, and parses them back', () => {
    const i = encodeI(5, 3, singleCommandAsdu(1, 2000, true));
    expect(hex(i)).to.equal('680e0a0006002d01060001' + '00' + 'd00700' + '01');
    expect(parseApdu(i)).to.deep.include({ kind: 'apdu', bytes: 16 });
    const parsed = parseApdu(i);
    expect(parsed.kind === 'apdu' && parsed.apdu).to.deep.include({ format: 'I', sendSeq: 5, recvSeq: 3 });
    expect(parseApdu(encodeS(0x7fff))).to.deep.equal({ kind: 'apdu', bytes: 6, apdu: { format: 'S', recvSeq: 0x7fff } });
    expect(parseApdu(Buffer.from('6804', 'hex'))).to.deep.equal({ kind: 'incomplete' });
    expect(parseApdu(Buffer.from('SSH-2.0-x\r\n'))).to.deep.equal({ kind: 'invalid', reason: 'start byte 0x53 is not 0x68' });
    expect(parseApdu(Buffer.from('680201ff', 'hex'))).to.deep.include({ kind: 'invalid' });
  });

  it('reads ASDUs with a sequence of objects (SQ=1) and single objects, and refuses lengths that do not add up', () => {
    const sq = encodeAsdu({ typeId: TYPE_IDS.M_SP_NA_1, sequence: true, cause: COT.interrogatedByStation, commonAddress: 7, objects: [100, 101, 102].map((ioa) => ({ ioa, element: Buffer.from([ioa & 1]) })) });
    expect(hex(sq)).to.equal('0183140007006400000001' + '00');
    const a = parseAsdu(sq);
    expect(typeof a !== 'string' && a.objects.map((o) => o.ioa)).to.deep.equal([100, 101, 102]);
    expect(typeof a !== 'string' && a.commonAddress).to.equal(7);
    expect(parseAsdu(Buffer.from('640306000100000000' + '14', 'hex'))).to.be.a('string');
    const negative = parseAsdu(encodeAsdu({ typeId: TYPE_IDS.C_SC_NA_1, cause: COT.unknownIoa, negative: true, commonAddress: 1, objects: [{ ioa: 9, element: Buffer.from([1]) }] }));
    expect(typeof negative !== 'string' && [negative.cause, negative.negative]).to.deep.equal([47, true]);
  });

  it('CP56Time2a round-trips in UTC with the day of week; an invalid mark is no time', () => {
    const t = new Date(Date.UTC(2026, 11, 5, 13, 37, 42, 123));
    const b = encodeCp56(t);
    expect(hex(b)).to.equal('8ba4250dc50c1a');
    expect(decodeCp56(b)?.toISOString()).to.equal(t.toISOString());
    expect(decodeCp56(Buffer.from([0, 0, 0x80, 0, 1, 1, 0]))).to.equal(undefined);
    expect(hex(clockSyncAsdu(1, t))).to.equal('670106000100000000' + '8ba4250dc50c1a');
  });
});

describe('protocols/iec104: links on one signal', () => {
  it('leave no abort listener behind, whether data transfer started or the outstation hung up', async () => {
    const [weak, hardened] = await Promise.all([startEmulator(iec104Posture('weak'), { ephemeralPorts: true }), startEmulator(iec104Posture('hardened'), { ephemeralPorts: true })]);
    try {
      const signal = AbortSignal.timeout(20_000);
      for (let i = 0; i < 12; i++) {
        const started = await startDataTransfer({ host: '127.0.0.1', port: weak.endpoint('iec104').port }, { signal, waitMs: 1000 });
        if (!started.started) throw new Error('weak outstation refused');
        await interrogate(started.link, BROADCAST_CA);
        await endDataTransfer(started.link);
        expect(await startDataTransfer({ host: '127.0.0.1', port: hardened.endpoint('iec104').port }, { signal, waitMs: 1000 })).to.deep.include({ started: false });
      }
      expect(getEventListeners(signal, 'abort')).to.have.length(0);
    } finally {
      await Promise.all([weak.close(), hardened.close()]);
    }
  });
});

describe('protocols/iec104: independent peers agree (tshark dissectors, nmap iec-identify)', function () {
  this.timeout(120_000);

  it('tshark decodes every frame of the three probes and the emulator\'s answers without a malformed or error mark', async function () {
    const tshark = requirePeer(this, 'tshark', undefined, 'Debian package tshark');
    const emu = await startEmulator(iec104Posture('weak'), { ephemeralPorts: true });
    const port = emu.endpoint('iec104').port;
    const capture = await startCapture(tshark, [port]);
    let file: string | undefined;
    try {
      await runProbe(identificationProbe, iec104Services(emu));
      await runProbe(accessProbe, { ...iec104Services(emu), allow: ['passive', 'active', 'destructive'], inputs: { singleCommand: { ioa: 2000, statusIoa: 100 }, clockSync: true } });
      await runProbe(securityProbe, iec104Services(emu));
    } finally {
      file = await capture.stop();
      await emu.close();
    }
    try {
      const packets = await decodeCapture(tshark, file, [{ port, transport: 'tcp', proto: 'iec60870_104' }], ['iec60870_104', 'iec60870_asdu']);
      expect(packets.flatMap((p) => p.problems.map((x) => `frame ${p.frame}: ${x}`))).to.deep.equal([]);
      const types = new Set(fieldValues(packets, 'iec60870_asdu.typeid'));
      // C_IC_NA_1, M_SP_NA_1, M_ME_NC_1, M_ME_NB_1, C_SC_NA_1, C_CS_NA_1: every ASDU type we send or receive.
      expect([...types].sort((x, y) => Number(x) - Number(y))).to.deep.equal(['1', '11', '13', '45', '100', '103']);
      // U formats (control octet >> 2): STARTDT act/con 0x01/0x02, STOPDT act/con 0x04/0x08, TESTFR act/con 0x10/0x20.
      expect([...new Set(fieldValues(packets, 'iec60870_104.utype'))].sort()).to.deep.equal(['0x00000001', '0x00000002', '0x00000004', '0x00000008', '0x00000010', '0x00000020']);
      expect(fieldValues(packets, 'iec60870_asdu.addr')).to.include('1').and.to.include('65535');
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('the tshark check can fail: a frame whose ASDU claims three objects but carries one is flagged', async function () {
    const tshark = requirePeer(this, 'tshark', undefined, 'Debian package tshark');
    const sink = net.createServer((s) => s.on('data', () => undefined).on('error', () => undefined));
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    const port = (sink.address() as net.AddressInfo).port;
    const capture = await startCapture(tshark, [port]);
    let file: string | undefined;
    try {
      const broken = Buffer.from('680e0000000064030600010000000014', 'hex');
      await new Promise<void>((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1', () => c.end(broken));
        c.on('close', () => resolve()).on('error', reject);
      });
    } finally {
      file = await capture.stop();
      sink.close();
    }
    try {
      const packets = await decodeCapture(tshark, file, [{ port, transport: 'tcp', proto: 'iec60870_104' }], ['iec60870_104', 'iec60870_asdu']);
      const problems = packets.flatMap((p) => p.problems);
      expect(problems.join('\n')).to.match(/_ws\.(malformed|expert)/);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('nmap iec-identify reports the ASDU address and information object count iec104.identification observes', async function () {
    const emu = await startEmulator(iec104Posture('weak', { commonAddress: 105 }), { ephemeralPorts: true });
    try {
      const nmap = await nmapIecIdentify(this, emu.endpoint('iec104').port);
      const { attempt } = await runProbe(identificationProbe, iec104Services(emu));
      const gi = attempt.observations.interrogation as { asduAddresses: number[]; informationObjects: number };
      expect(nmap).to.deep.equal({ 'ASDU address': '105', 'Information objects': '7' });
      expect({ 'ASDU address': String(gi.asduAddresses[0]), 'Information objects': String(gi.informationObjects) }).to.deep.equal(nmap);
    } finally {
      await emu.close();
    }
  });

  it('nmap iec-identify gets nothing from the hardened plain port, where we observe a hang-up on STARTDT', async function () {
    const emu = await startEmulator(iec104Posture('hardened'), { ephemeralPorts: true });
    try {
      expect(await nmapIecIdentify(this, emu.endpoint('iec104').port)).to.deep.equal({});
      const { attempt } = await runProbe(identificationProbe, { service: { port: emu.endpoint('iec104').port, protocol: 'iec104' } });
      expect(attempt.observations).to.deep.include({ testFrame: 'confirmed', startDt: 'connection closed' });
    } finally {
      await emu.close();
    }
  });
});
