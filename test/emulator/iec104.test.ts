import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import tlsProtocols from '../../probes/tls/protocols';
import { PostureError, startEmulator, type Emulator } from '../../src/emulator';
import {
  COT, Iec104Link, TYPE_IDS, encodeAsdu, endDataTransfer, interrogate, parseAsdu, startDataTransfer, type Iec104Tls, type LinkOptions,
} from '../../src/protocols/iec104';
import { generateKey, issueCertificate, readIssuer } from '../../src/protocols/x509';
import { BENCH_CLIENT, iec104Posture } from '../helpers/iec104';
import { runProbe } from '../helpers/probe-harness';

const options = (extra: Partial<LinkOptions> = {}): LinkOptions => ({ signal: AbortSignal.timeout(5000), waitMs: 1000, ...extra });
const endpoint = (emu: Emulator, protocol = 'iec104') => ({ host: '127.0.0.1', port: emu.endpoint(protocol).port });

/** Sends one ASDU on a started link and returns the first I-frame's ASDU that comes back. */
async function answerTo(link: Iec104Link, asdu: Buffer) {
  link.sendI(asdu, 'test');
  for (;;) {
    const reply = await link.receive();
    if (reply.kind !== 'apdu') throw new Error(`no answer: ${reply.kind}`);
    if (reply.apdu.format === 'I') return parseAsdu(reply.apdu.asdu);
  }
}

describe('emulator: IEC 60870-5-104 outstation (services.iec104)', () => {
  describe('weak', () => {
    let weak: Emulator;
    before(async () => {
      weak = await startEmulator(iec104Posture('weak'), { ephemeralPorts: true });
    });
    after(async () => weak?.close());

    it('listens on the plain port only and starts data transfer for any client', async () => {
      expect(weak.services.map((s) => s.protocol)).to.deep.equal(['iec104']);
      const t = await startDataTransfer(endpoint(weak), options());
      expect(t.started).to.equal(true);
      if (t.started) expect(await endDataTransfer(t.link)).to.equal('confirmed');
    });

    it('answers an unknown common address, an unknown type and an unknown command IOA negatively with the cause that says so', async () => {
      const t = await startDataTransfer(endpoint(weak), options());
      if (!t.started) throw new Error('not started');
      try {
        const gi = await answerTo(t.link, encodeAsdu({ typeId: TYPE_IDS.C_IC_NA_1, cause: COT.activation, commonAddress: 9, objects: [{ ioa: 0, element: Buffer.from([20]) }] }));
        expect(typeof gi !== 'string' && [gi.cause, gi.negative]).to.deep.equal([COT.unknownCommonAddress, true]);
        const other = await answerTo(t.link, encodeAsdu({ typeId: 58, cause: COT.activation, commonAddress: 1, objects: [{ ioa: 1, element: Buffer.alloc(8) }] }));
        expect(typeof other !== 'string' && [other.cause, other.negative]).to.deep.equal([COT.unknownType, true]);
        const command = await answerTo(t.link, encodeAsdu({ typeId: TYPE_IDS.C_SC_NA_1, cause: COT.activation, commonAddress: 1, objects: [{ ioa: 7, element: Buffer.from([1]) }] }));
        expect(typeof command !== 'string' && [command.cause, command.negative]).to.deep.equal([COT.unknownIoa, true]);
      } finally {
        await endDataTransfer(t.link);
      }
    });

    it('closes a connection that sends an I-frame before STARTDT (104, 5.3)', async () => {
      const link = await Iec104Link.open(endpoint(weak), options());
      try {
        link.sendI(encodeAsdu({ typeId: TYPE_IDS.C_IC_NA_1, cause: COT.activation, commonAddress: 1, objects: [{ ioa: 0, element: Buffer.from([20]) }] }), 'early');
        expect((await link.receive()).kind).to.equal('closed');
      } finally {
        link.close();
      }
    });

    it('serves a listed client address and refuses data transfer to an unlisted one', async () => {
      const listed = await startEmulator(iec104Posture('weak', { allowedClients: ['127.0.0.1'] }), { ephemeralPorts: true });
      const unlisted = await startEmulator(iec104Posture('weak', { allowedClients: ['192.0.2.10'] }), { ephemeralPorts: true });
      try {
        const served = await startDataTransfer(endpoint(listed), options());
        if (served.started) await endDataTransfer(served.link);
        expect(served.started).to.equal(true);
        expect(await startDataTransfer(endpoint(unlisted), options())).to.deep.include({ started: false, testFrame: 'confirmed' });
      } finally {
        await Promise.all([listed.close(), unlisted.close()]);
      }
    });

    it('rejects a command mapped to a point it does not have', async () => {
      let error: unknown;
      try {
        await startEmulator(iec104Posture('weak', { commands: { 2000: 999 } }), { ephemeralPorts: true });
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(PostureError);
      expect((error as Error).message).to.match(/services\.iec104: commands\.2000: 999 is not one of the single points/);
    });
  });

  describe('hardened', () => {
    let hardened: Emulator;
    let dir: string;
    before(async () => {
      hardened = await startEmulator(iec104Posture('hardened'), { ephemeralPorts: true });
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-iec104-emu-'));
    });
    after(async () => {
      await hardened?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('plain port: TESTFR confirmed, then a hang-up on STARTDT; IEC 62351-3 on a second port', async () => {
      expect(hardened.services.map((s) => [s.protocol, s.tls ?? false])).to.deep.equal([['iec104', false], ['tls', true]]);
      expect(await startDataTransfer(endpoint(hardened), options())).to.deep.equal({ started: false, testFrame: 'confirmed', startDt: { kind: 'closed', reset: false } });
    });

    it('IEC 62351-3: a certificate from the device CA and the bench client get data transfer and the interrogation', async () => {
      const ca = readIssuer(path.join(hardened.workDir, 'pki', 'ca.crt'), path.join(hardened.workDir, 'pki', 'ca.key'));
      const now = Date.now();
      const client = issueCertificate({ commonName: 'scada master', key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 86_400_000), extendedKeyUsage: ['clientAuth'] });
      fs.writeFileSync(path.join(dir, 'c.pem'), client.pem);
      fs.writeFileSync(path.join(dir, 'c.key'), client.keyPem);
      const configs: Iec104Tls[] = [{ certFile: path.join(dir, 'c.pem'), keyFile: path.join(dir, 'c.key') }, { certFile: BENCH_CLIENT.clientCertificate, keyFile: BENCH_CLIENT.clientPrivateKey }];
      for (const config of configs) {
        const t = await startDataTransfer(endpoint(hardened, 'tls'), options({ tls: config }));
        if (!t.started) throw new Error(`not started with ${config.certFile}`);
        const gi = await interrogate(t.link, 1);
        await endDataTransfer(t.link);
        expect([gi.confirmation, gi.end, gi.objectCount]).to.deep.equal(['positive', 'actterm', 7]);
      }
    });

    it('IEC 62351-3: TLS 1.2 and 1.3 only (tls.protocols on the secure port)', async () => {
      const { attempt } = await runProbe(tlsProtocols, { service: { port: hardened.endpoint('tls').port, protocol: 'tls', options: { iec62351: true } } });
      expect(attempt.observations.protocols).to.deep.include({ TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true });
    });
  });
});
