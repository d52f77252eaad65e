import { expect } from 'chai';
import { PostureError, loadPosture, startEmulator } from '../../src/emulator';
import {
  IsoConnection, SZL_IDS, cotpConnect, parseProtection, plcControl, probeS7Plus, readArea, readSzl, withSession, writeArea,
} from '../../src/protocols/s7';
import { handleSnapshot } from '../helpers/leaks';
import { s7Posture } from '../helpers/s7';

const options = () => ({ signal: AbortSignal.timeout(5000), waitMs: 1000, tsaps: [0x0102] });
const endpoint = (port: number) => ({ host: '127.0.0.1', port });

describe('emulator: s7 service', () => {
  it('is declared in both built-in postures on the example profiles\' fixed ports', () => {
    expect(loadPosture('weak').services.s7).to.include({ port: 10102, putGet: true, s7commPlus: 'off' });
    expect(loadPosture('hardened').services.s7).to.include({ port: 20102, putGet: false, s7commPlus: 'tls' });
  });

  it('an empty section is the secure choice: protection level 3, PUT/GET and CPU control refused, S7comm-plus with TLS', async () => {
    const handles = await handleSnapshot();
    const emu = await startEmulator({ name: 'bare', services: { s7: {} } }, { ephemeralPorts: true });
    try {
      const port = emu.endpoint('s7').port;
      await withSession(endpoint(port), options(), async ({ session }) => {
        const list = await readSzl(session, SZL_IDS.protection, 4);
        expect(list.status === 'ok' && parseProtection(list.records)).to.deep.include({ schRel: 3, schPar: 3, bartSch: 1 });
        expect(await readArea(session, { area: 'db', db: 1, offset: 0, length: 2 })).to.deep.include({ status: 'job-refused', error: 0x8104 });
        expect(await writeArea(session, { area: 'db', db: 1, offset: 0, length: 1 }, Buffer.from([1]))).to.deep.include({ status: 'job-refused', error: 0x8104 });
        expect(await plcControl(session, 'stop')).to.deep.include({ status: 'job-refused', error: 0xd241 });
      });
      const plus = await probeS7Plus(endpoint(port), { signal: AbortSignal.timeout(5000), waitMs: 2000 });
      expect(plus.tls).to.include({ status: 'established', protocol: 'TLSv1.3' });
    } finally {
      await emu.close();
    }
    await handles.check();
  });

  it('weak: reads and writes DB1 and the flags, stops and restarts the CPU', async () => {
    const emu = await startEmulator(s7Posture('weak'), { ephemeralPorts: true });
    try {
      await withSession(endpoint(emu.endpoint('s7').port), options(), async ({ session }) => {
        expect(await writeArea(session, { area: 'db', db: 1, offset: 30, length: 2 }, Buffer.from([0xbe, 0xef]))).to.deep.equal({ status: 'ok' });
        expect(await readArea(session, { area: 'db', db: 1, offset: 29, length: 3 })).to.deep.equal({ status: 'data', bytes: Buffer.from([0x1e, 0xbe, 0xef]) });
        expect(await readArea(session, { area: 'db', db: 1, offset: 31, length: 2 })).to.deep.include({ status: 'item-error', returnCode: 0x05 });
        expect(await readArea(session, { area: 'db', db: 2, offset: 0, length: 1 })).to.deep.include({ status: 'item-error', returnCode: 0x0a });
        expect(await plcControl(session, 'stop')).to.deep.equal({ status: 'ok' });
        expect(await plcControl(session, 'hot-start')).to.deep.equal({ status: 'ok' });
      });
    } finally {
      await emu.close();
    }
  });

  it('a TSAP it does not serve gets a COTP disconnect request; an S7comm-plus TSAP too when S7comm-plus is off', async () => {
    const emu = await startEmulator(s7Posture('weak'), { ephemeralPorts: true });
    try {
      for (const dstTsap of [0x0105, 'SIMATIC-ROOT-ES']) {
        const iso = await IsoConnection.open(endpoint(emu.endpoint('s7').port), { signal: AbortSignal.timeout(5000), waitMs: 1000 });
        try {
          expect(await cotpConnect(iso, { srcTsap: 0x0100, dstTsap })).to.deep.equal({ status: 'refused', how: 'COTP disconnect request, reason 3' });
        } finally {
          iso.close();
        }
      }
    } finally {
      await emu.close();
    }
  });

  it('refuses a data block list it cannot serve', async () => {
    let error: unknown;
    try {
      await startEmulator({ name: 'bad', services: { s7: { dataBlocks: { 0: 8 } } } }, { ephemeralPorts: true });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(PostureError);
    expect((error as Error).message).to.match(/^services\.s7: dataBlocks\.0: a DB number 1\.\.65535/);
  });
});
