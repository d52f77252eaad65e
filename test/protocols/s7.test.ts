import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import accessProbe from '../../probes/s7/access';
import identificationProbe from '../../probes/s7/identification';
import securityProbe from '../../probes/s7/security';
import { startEmulator } from '../../src/emulator';
import {
  ROSCTR, decodeVlq, encodeConnectionRequest, encodeDataTpdu, encodeS7, initSslRequest, parseCotp, parseInitSslResponse,
  parseReadVarData, parseTpkt, rackSlotTsap, setupCommunicationParam, szlRequestData, szlRequestParam,
} from '../../src/protocols/s7';
import { requirePeer } from '../helpers/peers';
import { runProbe } from '../helpers/probe-harness';
import { requireSnap7, s7Posture, startSnap7 } from '../helpers/s7';

const hex = (b: Buffer) => b.toString('hex');

describe('protocols/s7: frames', () => {
  it('setup communication and the SZL 0x0011 request are byte for byte what nmap s7-info sends (PDU reference 0)', () => {
    // s7-info.nse: ROSCTR_Setup and first_SZL_Request (index 1).
    expect(hex(encodeDataTpdu(encodeS7({ rosctr: ROSCTR.job, pduRef: 0, param: setupCommunicationParam(480), data: Buffer.alloc(0) }))))
      .to.equal('0300001902f08032010000000000080000f0000001000101e0');
    expect(hex(encodeDataTpdu(encodeS7({ rosctr: ROSCTR.userData, pduRef: 0, param: szlRequestParam(), data: szlRequestData(0x0011, 1) }))))
      .to.equal('0300002102f080320700000000000800080001120411440100ff09000400110001');
  });

  it('a connection request carries the TPDU size and both TSAPs, numeric or named, and parses back', () => {
    const cr = encodeConnectionRequest({ srcTsap: 0x0100, dstTsap: rackSlotTsap(0, 2) });
    expect(hex(cr)).to.equal('0300001611e00000000100c0010ac1020100c2020102');
    const named = parseTpkt(encodeConnectionRequest({ srcTsap: 0x0600, dstTsap: 'SIMATIC-ROOT-HMI' }));
    expect(named.kind).to.equal('frame');
    const tpdu = parseCotp((named as { tpdu: Buffer }).tpdu);
    expect(typeof tpdu !== 'string' && tpdu.kind).to.equal('CR');
    expect(typeof tpdu !== 'string' && tpdu.params.get(0xc2)?.toString()).to.equal('SIMATIC-ROOT-HMI');
    expect(rackSlotTsap(0, 1)).to.equal(0x0101);
    expect(rackSlotTsap(1, 3, 2)).to.equal(0x0223);
  });

  it('tells TPKT that is incomplete from bytes that are not TPKT at all', () => {
    expect(parseTpkt(Buffer.from('0300', 'hex')).kind).to.equal('incomplete');
    expect(parseTpkt(Buffer.from('030000ff02f080', 'hex')).kind).to.equal('incomplete');
    expect(parseTpkt(Buffer.from('SSH-2.0-x\r\n'))).to.deep.equal({ kind: 'invalid', reason: 'first byte 0x53 is not TPKT version 3' });
    expect(parseTpkt(Buffer.from('03000005ff', 'hex')).kind).to.equal('invalid');
    expect(parseCotp(Buffer.from('0ef0', 'hex'))).to.be.a('string');
  });

  it('splits read-var data items with odd lengths (pad byte between items, none after the last) and item errors', () => {
    const data = Buffer.from('ff04001811223300' + '0a000000' + 'ff0400080a', 'hex');
    expect(parseReadVarData(data, 3)).to.deep.equal([
      { returnCode: 0xff, data: Buffer.from('112233', 'hex') }, { returnCode: 0x0a }, { returnCode: 0xff, data: Buffer.from('0a', 'hex') },
    ]);
    expect(parseReadVarData(Buffer.from('ff040040', 'hex'), 1)).to.be.a('string');
  });

  it('S7comm-plus: the InitSsl request layout, VLQ return values, and a classic PDU is not an InitSsl answer', () => {
    expect(hex(initSslRequest(1))).to.equal('7201001231000005b30000000100000000300000000072010000');
    expect(decodeVlq(Buffer.from([0x00]), 0)).to.deep.equal({ value: 0n, bytes: 1 });
    expect(decodeVlq(Buffer.from([0x81, 0x00]), 0)).to.deep.equal({ value: 128n, bytes: 2 });
    expect(decodeVlq(Buffer.from([0x81]), 0)).to.equal(undefined);
    expect(parseInitSslResponse(Buffer.from('32030000000100000000', 'hex'))).to.deep.include({ status: 'not-s7plus' });
    const ok = Buffer.from('7201000b32000005b300000001300072010000', 'hex');
    expect(parseInitSslResponse(ok)).to.deep.equal({ status: 'response', protocolVersion: 1, sequence: 1, returnValue: '0x0', accepted: true });
  });
});

/**
 * tshark capturing one TCP port on loopback (root), started before the exchange and stopped after. "Capturing on"
 * comes before the capture is live on a busy machine, so empty TCP connections are made until tshark prints a
 * packet (-P -l: summaries on stdout while writing the file); they carry no payload and decode as plain TCP.
 */
async function capture(tshark: string, port: number, file: string): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn(tshark, ['-i', 'lo', '-f', `tcp port ${port}`, '-w', file, '-P', '-l'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = false;
  child.stdout!.on('data', () => { seen = true; });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    for (let i = 0; i < 40 && !seen; i++) {
      await new Promise<void>((resolve) => net.connect(port, '127.0.0.1').on('connect', function (this: net.Socket) { this.destroy(); resolve(); }).on('error', () => resolve()));
      await new Promise((r) => setTimeout(r, 500));
    }
    if (!seen) throw new Error('tshark captured nothing within 20 s');
  } catch (err) {
    child.kill('SIGINT');
    await exited;
    throw err;
  }
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGINT');
      await exited;
    },
  };
}

/** Decodes the capture with TPKT on `port` (Wireshark decodes TPKT on 102 only by default). */
function decode(tshark: string, file: string, port: number, fields: string[], filter?: string): Promise<string[][]> {
  const args = ['-r', file, '-d', `tcp.port==${port},tpkt`, '-T', 'fields', ...fields.flatMap((f) => ['-e', f]), ...(filter ? ['-Y', filter] : [])];
  return new Promise((resolve, reject) => execFile(tshark, args, { timeout: 30_000 }, (err, out) => (err ? reject(err) : resolve(out.split('\n').filter(Boolean).map((l) => l.split('\t'))))));
}

describe('protocols/s7: Wireshark\'s S7comm dissector decodes every frame we exchange (tshark)', function () {
  this.timeout(90_000);

  async function check(ctx: Mocha.Context, port: number, run: () => Promise<void>) {
    const tshark = requirePeer(ctx, 'tshark', undefined, 'Debian package tshark');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-s7-pcap-'));
    const file = path.join(dir, 's7.pcap');
    try {
      const cap = await capture(tshark, port, file);
      try {
        await run();
      } finally {
        await cap.stop();
      }
      // Wireshark 4.0 has no S7comm-plus dissector (it is a separate plugin): on the SIMATIC-ROOT-HMI connection only
      // TPKT/COTP are checked (the CR and its TSAPs); the InitSsl and TLS bytes inside DT are not dissected there.
      const plusStreams = [...new Set((await decode(tshark, file, port, ['tcp.stream'], 'cotp.dst-tsap == "SIMATIC-ROOT-HMI"')).map((f) => f[0]))];
      const others = plusStreams.length > 0 ? ` && !(tcp.stream in {${plusStreams.join(' ')}})` : '';
      const flagged = await decode(tshark, file, port, ['frame.number', '_ws.col.Info'], `(_ws.malformed || _ws.expert.severity >= "error")${others}`);
      expect(flagged, 'frames Wireshark flags as malformed or in error').to.deep.equal([]);
      const frames = await decode(tshark, file, port, ['s7comm.header.rosctr', 's7comm.param.func', 's7comm.data.userdata.szl_id'], 's7comm');
      return { frames, plusStreams };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it('against the emulated CPU: setup, SZL 0x0011/0x001C/0x0232/0x0424, read and write var, STOP, hot restart', async function () {
    const emu = await startEmulator(s7Posture('weak'), { ephemeralPorts: true });
    try {
      const port = emu.endpoint('s7').port;
      const { frames } = await check(this, port, async () => {
        await runProbe(identificationProbe, { service: { port, protocol: 's7' } });
        await runProbe(accessProbe, { service: { port, protocol: 's7' }, allow: ['passive', 'active', 'destructive'], inputs: { testArea: { db: 1, offset: 0, length: 2 }, cpuStopStart: true } });
      });
      const szl = new Set(frames.map((f) => f[2]).filter(Boolean));
      expect([...szl].sort()).to.deep.equal(['0x0011', '0x001c', '0x0232', '0x0424']);
      const functions = new Set(frames.map((f) => f[1]).filter(Boolean));
      expect([...functions].sort()).to.include.members(['0x04', '0x05', '0x28', '0x29', '0xf0']);
    } finally {
      await emu.close();
    }
  });

  it('against snap7 and with the S7comm-plus InitSsl and TLS step of the hardened CPU', async function () {
    requireSnap7(this);
    const snap7 = await startSnap7();
    try {
      const { frames, plusStreams } = await check(this, snap7.port, async () => {
        await runProbe(securityProbe, { service: { port: snap7.port, protocol: 's7' } });
      });
      expect(frames.length).to.be.greaterThan(2);
      expect(plusStreams).to.have.length.greaterThan(0);
    } finally {
      await snap7.close();
    }
    const emu = await startEmulator(s7Posture('hardened'), { ephemeralPorts: true });
    try {
      const port = emu.endpoint('s7').port;
      const { frames, plusStreams } = await check(this, port, async () => {
        const { attempt } = await runProbe(securityProbe, { service: { port, protocol: 's7' } });
        expect(attempt.status).to.equal('pass');
      });
      expect(frames.map((f) => f[1]).filter(Boolean)).to.include.members(['0xf0', '0x04']);
      expect(plusStreams).to.have.length.greaterThan(0);
    } finally {
      await emu.close();
    }
  });
});
