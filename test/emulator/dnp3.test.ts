import { expect } from 'chai';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { PostureError, startEmulator } from '../../src/emulator';
import {
  FUNCTION, class0Objects, encodeLinkFrame, parseLinkFrame, crobObjects, crobStatus, expectResponse, integrityPollObjects, readAnswer, withConnection, type Dnp3Connection,
} from '../../src/protocols/dnp3';
import { generateKey, issueCertificate, readIssuer } from '../../src/protocols/x509';
import { dnp3Posture } from '../helpers/dnp3';

const talk = <T>(port: number, fn: (c: Dnp3Connection) => Promise<T>, outstation = 1024) =>
  withConnection({ host: '127.0.0.1', port }, { signal: AbortSignal.timeout(5000), waitMs: 800, master: 1, outstation }, fn);
const ask = async (c: Dnp3Connection, fn: number, objects: Buffer) => readAnswer(expectResponse(await c.request(fn, objects), `0x${fn.toString(16)}`, 800));

describe('emulator: dnp3 outstation', () => {
  it('answers only its own link address; operate without a matching select is NO_SELECT', async () => {
    const emu = await startEmulator(dnp3Posture('weak', { address: 10 }), { ephemeralPorts: true });
    try {
      const port = emu.endpoint('dnp3').port;
      expect(await talk(port, async (c) => (await c.linkStatus()).kind, 1024)).to.equal('no-answer');
      await talk(port, async (c) => {
        expect((await c.linkStatus()).kind).to.equal('secondary');
        const crob = crobObjects({ index: 0, code: 3, count: 1, onTimeMs: 0, offTimeMs: 0 });
        expect(crobStatus(await ask(c, FUNCTION.operate, crob))?.name).to.equal('NO_SELECT');
        expect(crobStatus(await ask(c, FUNCTION.select, crobObjects({ index: 7, code: 3, count: 1, onTimeMs: 0, offTimeMs: 0 })))?.name).to.equal('NOT_SUPPORTED');
        expect(crobStatus(await ask(c, FUNCTION.select, crob))?.name).to.equal('SUCCESS');
        expect(crobStatus(await ask(c, FUNCTION.operate, crob))?.name).to.equal('SUCCESS');
      }, 10);
    } finally {
      await emu.close();
    }
  });

  it('challengeReads: false leaves point data readable under SAv5 while controls stay challenged', async () => {
    const emu = await startEmulator(dnp3Posture('hardened', { challengeReads: false, tls: null }), { ephemeralPorts: true });
    try {
      expect(emu.services.map((s) => s.protocol)).to.deep.equal(['dnp3']);
      await talk(emu.endpoint('dnp3').port, async (c) => {
        expect((await ask(c, FUNCTION.read, integrityPollObjects())).status).to.equal('served');
        expect((await ask(c, FUNCTION.directOperate, crobObjects({ index: 0, code: 1, count: 1, onTimeMs: 10, offTimeMs: 10 }))).status).to.equal('challenged');
      });
    } finally {
      await emu.close();
    }
  });

  it('plain: false serves DNP3 over TLS only: link status over TLS with a device-CA client certificate, nothing without one', async () => {
    const emu = await startEmulator(dnp3Posture('hardened', { plain: false }), { ephemeralPorts: true });
    try {
      expect(emu.services.map((s) => s.protocol)).to.deep.equal(['tls']);
      const { port } = emu.services[0];
      const ca = readIssuer(path.join(emu.workDir, 'pki', 'ca.crt'), path.join(emu.workDir, 'pki', 'ca.key'));
      const client = issueCertificate({ commonName: 'bench master', key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000), extendedKeyUsage: ['clientAuth'] });
      const socket = tls.connect({ host: '127.0.0.1', port, cert: client.pem, key: client.keyPem, ca: [ca.pem], servername: 'localhost' });
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      const answer = new Promise<Buffer>((resolve) => socket.once('data', resolve));
      socket.write(encodeLinkFrame({ control: 0xc9, destination: 1024, source: 1, userData: Buffer.alloc(0) }));
      const parsed = parseLinkFrame(await answer);
      socket.destroy();
      expect(parsed.kind === 'frame' && parsed.frame).to.deep.include({ control: 0x0b, destination: 1, source: 1024 });
      const anonymous = await new Promise<string>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => s.write(Buffer.alloc(10)));
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        s.on('data', () => resolve('answered'));
      });
      expect(anonymous).to.match(/ALERT|ECONNRESET/);
    } finally {
      await emu.close();
    }
  });

  it('class 0 reports the posture\'s point counts', async () => {
    const emu = await startEmulator(dnp3Posture('weak', { binaryInputs: 3, binaryOutputs: 0, analogInputs: 1 }), { ephemeralPorts: true });
    try {
      const a = await talk(emu.endpoint('dnp3').port, (c) => ask(c, FUNCTION.read, class0Objects()));
      expect(a.status === 'served' && a.blocks.map((b) => `g${b.group}v${b.variation}×${b.values.length}`)).to.deep.equal(['g1v2×3', 'g30v1×1']);
    } finally {
      await emu.close();
    }
  });

  it('refuses a posture with neither a plain nor a TLS port, and bad point counts', async () => {
    for (const overrides of [{ plain: false, tls: null }, { binaryInputs: -1 }]) {
      let error: unknown;
      try {
        await (await startEmulator(dnp3Posture('weak', overrides), { ephemeralPorts: true })).close();
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(overrides)).to.be.instanceOf(PostureError);
      expect((error as Error).message).to.match(/^services\.dnp3: /);
    }
  });
});
