import { expect } from 'chai';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { startEmulator, type Emulator } from '../../src/emulator';
import {
  CIP_SERVICES, COMMANDS, EnipConnection, decodeListIdentity, encodeCipRequest, encodeEncap, listIdentity, listServices, registerSession, sendRRData,
  sendRRDataPayload, udpListRequest, withEnip, type CipPath,
} from '../../src/protocols/enip';
import { probeDtls } from '../../src/protocols/dtls';
import { generateKey, issueCertificate, readIssuer } from '../../src/protocols/x509';
import tlsProtocols from '../../probes/tls/protocols';
import tlsClientCertificate from '../../probes/tls/client-certificate';
import { enipPosture } from '../helpers/enip';
import { handleSnapshot } from '../helpers/leaks';
import { runProbe } from '../helpers/probe-harness';

const signal = () => AbortSignal.timeout(5000);
const get = (path: CipPath) => encodeCipRequest(CIP_SERVICES.getAttributeSingle, path);
const OUTPUT: CipPath = { classId: 4, instance: 150, attribute: 3 };

/** One request in a fresh session on `conn`: the CIP general status and data (hex). */
async function ask(conn: EnipConnection, cip: Buffer): Promise<{ status: number; data: string }> {
  const session = await registerSession(conn, 1000);
  if (session.status !== 'ok') throw new Error(`RegisterSession ${session.status}`);
  const reply = await sendRRData(conn, session.value, cip, 1000, 'test');
  if (reply.status !== 'ok') throw new Error(`SendRRData ${reply.status}`);
  return { status: reply.value.generalStatus, data: reply.value.data.toString('hex') };
}

describe('emulator: EtherNet/IP adapter (services.enip)', () => {
  describe('weak', () => {
    let weak: Emulator;
    before(async () => {
      weak = await startEmulator(enipPosture('weak', { resetDowntimeMs: 400 }), { ephemeralPorts: true });
    });
    after(async () => weak?.close());

    it('listens on TCP and UDP at one port number, without CIP Security', () => {
      const [tcp, udp] = weak.services;
      expect(weak.services).to.have.length(2);
      expect(tcp).to.deep.equal({ protocol: 'enip', host: '127.0.0.1', port: tcp.port });
      expect(udp).to.deep.equal({ protocol: 'enip', host: '127.0.0.1', port: tcp.port, transport: 'udp' });
    });

    it('serves every command on the plain port; the output assembly is writable and input assembly 100 counts', async () => {
      await withEnip(weak.endpoint('enip'), { signal: signal() }, async (conn) => {
        expect((await listServices(conn, 1000)).status).to.equal('ok');
        expect(await ask(conn, encodeCipRequest(CIP_SERVICES.setAttributeSingle, OUTPUT, Buffer.from('1122334455667788', 'hex')))).to.deep.equal({ status: 0, data: '' });
        expect(await ask(conn, get(OUTPUT))).to.deep.equal({ status: 0, data: '1122334455667788' });
        expect(await ask(conn, encodeCipRequest(CIP_SERVICES.setAttributeSingle, OUTPUT, Buffer.from('0102030405060708', 'hex')))).to.include({ status: 0 });
        expect((await ask(conn, get({ classId: 4, instance: 100, attribute: 3 }))).data).to.have.length(8);
        expect(await ask(conn, get({ classId: 1, instance: 1, attribute: 99 }))).to.include({ status: 0x14 });
        expect(await ask(conn, get({ classId: 0x5d, instance: 1, attribute: 1 }))).to.include({ status: 0x05 });
        expect(await ask(conn, encodeCipRequest(CIP_SERVICES.setAttributeSingle, { classId: 1, instance: 1, attribute: 7 }, Buffer.from('00', 'hex')))).to.include({ status: 0x0e });
      });
    });

    it('does not check session handles', async () => {
      await withEnip(weak.endpoint('enip'), { signal: signal() }, async (conn) => {
        const reply = await sendRRData(conn, 0x1234, get({ classId: 1, instance: 1, attribute: 1 }), 1000, 'unregistered handle');
        expect(reply.status).to.equal('ok');
      });
    });

    it('Reset: answered, then every connection drops and the device is silent for resetDowntimeMs, then answers again', async () => {
      const conn = await EnipConnection.open(weak.endpoint('enip'), { signal: signal() });
      try {
        expect(await ask(conn, encodeCipRequest(CIP_SERVICES.reset, { classId: 1, instance: 1 }, Buffer.from([0])))).to.deep.equal({ status: 0, data: '' });
        expect(await conn.closedWithin(1000)).to.equal(true);
      } finally {
        conn.close();
      }
      expect((await udpListRequest(weak.endpoint('enip'), COMMANDS.listIdentity, { signal: signal(), timeoutMs: 100, retries: 0 })).kind).to.equal('no-answer');
      await new Promise((r) => setTimeout(r, 500));
      expect(decodeListIdentity(await udpListRequest(weak.endpoint('enip'), COMMANDS.listIdentity, { signal: signal() })).status).to.equal('ok');
    });
  });

  describe('hardened', () => {
    let hardened: Emulator;
    before(async () => {
      hardened = await startEmulator(enipPosture('hardened'), { ephemeralPorts: true });
    });
    after(async () => hardened?.close());
    const secure = () => hardened.services.find((s) => s.protocol === 'tls' && !s.transport)!;

    it('adds CIP Security: TLS and DTLS at one port number', () => {
      expect(hardened.services.map((s) => [s.protocol, s.transport ?? 'tcp'])).to.deep.equal([['enip', 'tcp'], ['enip', 'udp'], ['tls', 'tcp'], ['tls', 'udp']]);
      expect(secure()).to.include({ tls: true });
    });

    it('the plain port answers ListIdentity only; everything else gets 0x006A', async () => {
      await withEnip(hardened.endpoint('enip'), { signal: signal() }, async (conn) => {
        expect((await listIdentity(conn, 1000)).status).to.equal('ok');
        expect(await listServices(conn, 1000)).to.include({ status: 'refused', encapStatus: 0x6a });
        expect(await registerSession(conn, 1000)).to.include({ status: 'refused', encapStatus: 0x6a });
      });
    });

    it('over TLS with a client certificate from the device CA: sessions, the Identity object, the CIP Security object (configured); writes and Reset refused', async () => {
      const ca = readIssuer(path.join(hardened.workDir, 'pki', 'ca.crt'), path.join(hardened.workDir, 'pki', 'ca.key'));
      const client = issueCertificate({ commonName: 'bench client', key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000), extendedKeyUsage: ['clientAuth'] });
      const socket = tls.connect({ host: '127.0.0.1', port: secure().port, cert: client.pem, key: client.keyPem, ca: [ca.pem], servername: 'localhost' });
      const received: Buffer[] = [];
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      socket.on('data', (d: Buffer) => received.push(d));
      // RegisterSession, then Get_Attribute_Single on the CIP Security object's State, over the TLS channel.
      socket.write(encodeEncap({ command: COMMANDS.registerSession, data: Buffer.from([1, 0, 0, 0]) }));
      await new Promise((r) => setTimeout(r, 200));
      const session = Buffer.concat(received).readUInt32LE(4);
      expect(Buffer.concat(received).readUInt32LE(8), 'RegisterSession status over TLS').to.equal(0);
      received.length = 0;
      socket.write(encodeEncap({ command: COMMANDS.sendRRData, session, data: sendRRDataPayload(get({ classId: 0x5d, instance: 1, attribute: 1 })) }));
      await new Promise((r) => setTimeout(r, 200));
      const reply = Buffer.concat(received);
      socket.destroy();
      // ... 0xB2 item: reply service 0x8E, reserved, status 0, no additional status, State = 2 (configured).
      expect(reply.subarray(-5).toString('hex')).to.equal('8e00000002');
    });

    it('TLS without a client certificate is refused', async () => {
      const socket = tls.connect({ host: '127.0.0.1', port: secure().port, rejectUnauthorized: false });
      const outcome = await new Promise<string>((resolve) => {
        socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        socket.once('secureConnect', () => socket.once('close', () => resolve('closed after handshake')).write(Buffer.alloc(24)));
      });
      socket.destroy();
      expect(outcome).to.match(/CERTIFICATE_REQUIRED|closed after handshake|ECONNRESET/);
    });

    it('tls.protocols and tls.client-certificate pass on the CIP Security TLS port (with the device CA as the lab CA)', async () => {
      const service = { port: secure().port, protocol: 'tls' as const, options: { cipSecurity: true } };
      const { attempt: protocols } = await runProbe(tlsProtocols, { service });
      expect(protocols.status, protocols.message).to.equal('pass');
      const ca = { trustedCaCertFile: path.join(hardened.workDir, 'pki', 'ca.crt'), trustedCaKeyFile: path.join(hardened.workDir, 'pki', 'ca.key') };
      const { attempt: clientCert } = await runProbe(tlsClientCertificate, { service, inputs: ca });
      expect(clientCert.status, clientCert.message).to.equal('pass');
    });

    it('DTLS: a HelloVerifyRequest with a cookie, then a handshake_failure alert for the ClientHello that carries it', async () => {
      const dtls = hardened.services.find((s) => s.protocol === 'tls' && s.transport === 'udp')!;
      expect(await probeDtls(dtls, { signal: signal() })).to.deep.equal({
        kind: 'dtls', first: 'HelloVerifyRequest', version: 'DTLS 1.0', cookieBytes: 20, afterCookie: 'alert handshake_failure (level 2)',
      });
    });
  });

  it('close() leaves no handle (TCP, UDP, TLS, DTLS sockets and the counter timer)', async () => {
    const handles = await handleSnapshot();
    const emu = await startEmulator(enipPosture('hardened'), { ephemeralPorts: true });
    await withEnip(emu.endpoint('enip'), { signal: signal() }, (conn) => listIdentity(conn, 1000));
    await emu.close();
    await handles.check();
  });
});
