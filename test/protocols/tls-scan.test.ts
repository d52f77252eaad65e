import { expect } from 'chai';
import * as crypto from 'node:crypto';
import * as tls from 'node:tls';
import { ProtocolViolation, TargetTimeout } from '../../src/sdk';
import { helloExchange, inspectServer, scanTls, suiteCode, suitesFor } from '../../src/protocols/tls';
import { clientHelloMessage } from '../../src/protocols/tls/wire';
import {
  certificateMatches, generateKey, issueCertificate, parseCertificate, utf8Extension, utf8StringDer, verifyChain,
  type IssuedCertificate,
} from '../../src/protocols/x509';
import { LEGACY_SUITES, legacyTlsServer } from '../../fixtures/legacy-tls-server';
import { closedPort, garbageServer, resetServer, stallServer, type TestServer } from '../../fixtures/servers';

const DAY = 86_400_000;
const opts = (ms = 10_000) => ({ signal: new AbortController().signal, deadline: Date.now() + ms, helloTimeoutMs: Math.min(ms, 5000) });

async function nodeServer(options: tls.TlsOptions): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server = tls.createServer(options, (s) => s.on('error', () => undefined));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as import('node:net').AddressInfo;
  return { port, close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }) };
}

describe('TLS adapters: X.509 issue and parse', () => {
  const now = Date.now();
  let ca: IssuedCertificate;
  before(() => {
    ca = issueCertificate({ commonName: 'Test CA', key: generateKey({ type: 'rsa', bits: 2048 }), isCa: true, notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY) });
  });

  it('issues EC, RSA and Ed25519 certificates that node:crypto verifies, and parses them back', () => {
    const ec = issueCertificate({ commonName: 'plc', key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, notBefore: new Date(now), notAfter: new Date(now + DAY), altNames: ['127.0.0.1', 'plc.example'] });
    const x = new crypto.X509Certificate(ec.der);
    expect(x.verify(new crypto.X509Certificate(ca.der).publicKey)).to.equal(true);
    const info = parseCertificate(ec.der);
    expect(info).to.include({ keyType: 'EC', keyBits: 256, curve: 'prime256v1', signatureAlgorithm: 'sha256WithRSAEncryption', selfSigned: false, subject: 'CN=plc', issuer: 'CN=Test CA' });
    expect(info.subjectAltNames).to.deep.equal(['IP:127.0.0.1', 'DNS:plc.example']);
    expect(certificateMatches(ec.der, '127.0.0.1')).to.equal(true);
    expect(certificateMatches(ec.der, '127.0.0.2')).to.equal(false);
    expect(verifyChain([ec.der], [ca.der]).trusted).to.equal(true);
    const weak = issueCertificate({ commonName: 'weak', key: generateKey({ type: 'rsa', bits: 1024 }), hash: 'sha1', notBefore: new Date(now), notAfter: new Date(now + 7300 * DAY) });
    expect(parseCertificate(weak.der)).to.include({ keyType: 'RSA', keyBits: 1024, signatureHash: 'sha1', selfSigned: true, lifetimeDays: 7300 });
    expect(verifyChain([weak.der], [ca.der]).trusted).to.equal(false);
    const ed = issueCertificate({ commonName: 'ed', key: generateKey({ type: 'ed25519' }), notBefore: new Date(now), notAfter: new Date(now + DAY) });
    expect(parseCertificate(ed.der)).to.include({ keyType: 'Ed25519', keyBits: 256, signatureAlgorithm: 'Ed25519', signatureHash: 'sha512', selfSigned: true });
  });

  it('writes and reads the Modbus role extension; a forged signature does not verify', () => {
    const withRole = issueCertificate({ commonName: 'c', key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, notBefore: new Date(now), notAfter: new Date(now + DAY), extensions: [{ id: '1.3.6.1.4.1.50316.802.1', value: utf8StringDer('Operator') }] });
    expect(utf8Extension(withRole.der, '1.3.6.1.4.1.50316.802.1')).to.equal('Operator');
    expect(utf8Extension(ca.der, '1.3.6.1.4.1.50316.802.1')).to.equal(undefined);
    const forged = issueCertificate({ commonName: 'f', key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, signWith: generateKey({ type: 'rsa', bits: 2048 }).privateKey, notBefore: new Date(now), notAfter: new Date(now + DAY) });
    expect(parseCertificate(forged.der).issuer).to.equal('CN=Test CA');
    expect(verifyChain([forged.der], [ca.der]).trusted).to.equal(false);
  });
});

describe('TLS adapters: raw hellos against node:tls', () => {
  const now = Date.now();
  let server: { port: number; close(): Promise<void> };
  let requesting: { port: number; close(): Promise<void> };
  let ca: IssuedCertificate;
  let leaf: IssuedCertificate;
  before(async () => {
    ca = issueCertificate({ commonName: 'Hello CA', key: generateKey({ type: 'ec', curve: 'P-256' }), isCa: true, notBefore: new Date(now - DAY), notAfter: new Date(now + DAY) });
    leaf = issueCertificate({ commonName: 'hello', key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, notBefore: new Date(now - DAY), notAfter: new Date(now + DAY) });
    server = await nodeServer({ key: leaf.keyPem, cert: leaf.pem + ca.pem, minVersion: 'TLSv1.2', ecdhCurve: 'P-384' });
    requesting = await nodeServer({ key: leaf.keyPem, cert: leaf.pem, requestCert: true, rejectUnauthorized: true, ca: [ca.pem] });
  });
  after(async () => {
    await server.close();
    await requesting.close();
  });

  it('pads ClientHellos out of the 256..511-byte range', () => {
    for (const n of [10, 60, 120, 200]) {
      const hello = clientHelloMessage({ version: 0x0303, suites: suitesFor('TLSv1.2').slice(0, n).map(suiteCode) });
      expect(hello.length >= 256 && hello.length < 512, `${n} suites: ${hello.length} bytes`).to.equal(false);
    }
  });

  it('reads a TLS 1.3 HelloRetryRequest, then decrypts the flight: chain as sent, no CertificateRequest', async () => {
    const out = await inspectServer({ host: '127.0.0.1', port: server.port }, opts());
    expect(out.protocol).to.equal('TLSv1.3');
    expect(out.certificates?.map((c) => c.toString('hex'))).to.deep.equal([leaf.der.toString('hex'), ca.der.toString('hex')]);
    expect(out.clientCertificate.requested).to.equal(false);
  });

  it('sees an encrypted TLS 1.3 CertificateRequest and its CA names', async () => {
    const out = await inspectServer({ host: '127.0.0.1', port: requesting.port }, opts());
    expect(out.clientCertificate).to.deep.include({ requested: true, protocol: 'TLSv1.3', authorities: ['CN=Hello CA'] });
  });

  it('enumerates a modern server: versions, suites, groups, fallback protection', async () => {
    const r = await scanTls({ host: '127.0.0.1', port: server.port }, opts());
    expect(r.protocols).to.deep.equal({ SSLv3: false, TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true });
    expect(r.ciphers['TLSv1.3']).to.have.members(['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256']);
    expect(r.ciphers['TLSv1.2']).to.include('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    expect(r.groups['TLSv1.3']).to.deep.equal(['secp384r1']);
    expect(r.fallbackScsv).to.equal(true);
    expect(r.forwardSecrecy).to.equal('all');
    expect(r.secureRenegotiation).to.equal(true);
  });

  it('a raw exchange with an unknown-version hello ends in an alert, not an error', async () => {
    const out = await helloExchange({ host: '127.0.0.1', port: server.port }, { version: 0x0300, suites: [0x000a] }, { signal: new AbortController().signal, timeoutMs: 5000 });
    expect(out.kind).to.equal('alert');
  });
});

describe('TLS adapters: the legacy hello-only server', () => {
  let legacy: TestServer;
  let clientOrder: TestServer;
  before(async () => {
    const s = LEGACY_SUITES;
    legacy = await legacyTlsServer({ versions: [0x0300, 0x0301], suites: [s.RC4_128_MD5, s.EXPORT_RC4_40_MD5, s.TDES_EDE_CBC_SHA, s.DES_CBC_SHA, s.DHE_RSA_3DES_EDE_CBC_SHA, s.DH_anon_RC4_128_MD5] });
    clientOrder = await legacyTlsServer({ versions: [0x0301], suites: [s.AES_128_CBC_SHA, s.RC4_128_SHA], serverOrder: false, fallbackScsv: false });
  });
  after(async () => {
    await legacy.close();
    await clientOrder.close();
  });

  it('reports SSLv3 and the RC4, EXPORT, 3DES and DES suites no local library can negotiate', async () => {
    const r = await scanTls({ host: legacy.host, port: legacy.port }, opts());
    expect(r.protocols).to.deep.equal({ SSLv3: true, TLSv1: true, 'TLSv1.1': false, 'TLSv1.2': false, 'TLSv1.3': false });
    const expected = ['TLS_RSA_WITH_RC4_128_MD5', 'TLS_RSA_EXPORT_WITH_RC4_40_MD5', 'TLS_RSA_WITH_3DES_EDE_CBC_SHA', 'TLS_RSA_WITH_DES_CBC_SHA', 'TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA', 'TLS_DH_anon_WITH_RC4_128_MD5'];
    expect(r.ciphers.SSLv3).to.deep.equal(expected);
    expect(r.ciphers.TLSv1).to.deep.equal(expected);
    expect(r.serverOrder.SSLv3).to.equal(true);
    expect(r.minDhBits).to.equal(1024);
    expect(r.fallbackScsv).to.equal(true);
    expect(r.certificates?.protocol).to.equal('TLSv1');
  });

  it('tells a client-order server apart, and a missing fallback SCSV', async () => {
    const r = await scanTls({ host: clientOrder.host, port: clientOrder.port }, opts());
    expect(r.serverOrder.TLSv1).to.equal(false);
    expect(r.ciphers.TLSv1).to.have.members(['TLS_RSA_WITH_AES_128_CBC_SHA', 'TLS_RSA_WITH_RC4_128_SHA']);
  });
});

describe('TLS adapters: misbehaving peers end in typed errors within the budget', () => {
  it('closed port: ECONNREFUSED', async () => {
    const s = await closedPort();
    const err = await scanTls({ host: s.host, port: s.port }, opts()).then(() => undefined, (e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED');
  });

  it('stall: TargetTimeout', async () => {
    const s = await stallServer();
    try {
      const err = await scanTls({ host: s.host, port: s.port }, { ...opts(300), helloTimeoutMs: 300 }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(TargetTimeout);
    } finally {
      await s.close();
    }
  });

  it('stall mid-handshake (half a ServerHello, then silence): TargetTimeout', async () => {
    const s = await legacyTlsServer({ versions: [0x0303], suites: [LEGACY_SUITES.AES_128_CBC_SHA], stallMidHello: true });
    try {
      const err = await scanTls({ host: s.host, port: s.port }, { ...opts(300), helloTimeoutMs: 300 }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(TargetTimeout);
    } finally {
      await s.close();
    }
  });

  it('garbage: ProtocolViolation', async () => {
    const s = await garbageServer();
    try {
      const err = await scanTls({ host: s.host, port: s.port }, opts()).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(ProtocolViolation);
    } finally {
      await s.close();
    }
  });

  it('reset: ProtocolViolation', async () => {
    const s = await resetServer();
    try {
      const err = await inspectServer({ host: s.host, port: s.port }, opts()).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(ProtocolViolation);
    } finally {
      await s.close();
    }
  });

  it('abort: the signal ends the scan at once', async () => {
    const s = await stallServer();
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 50);
    try {
      const err = await scanTls({ host: s.host, port: s.port }, { signal: ac.signal, deadline: Date.now() + 10_000 }).then(() => undefined, (e: unknown) => e);
      expect((err as Error).message).to.equal('stop');
    } finally {
      await s.close();
    }
  });
});
