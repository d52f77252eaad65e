import { expect } from 'chai';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { loadPosture, startEmulator, type Emulator, type Posture } from '../../src/emulator';
import { MODBUS_ROLE_OID, generateKey, issueCertificate, readHoldingRequest, readIssuer, utf8StringDer } from '../../src/protocols/tls';
import { handleSnapshot } from '../helpers/leaks';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with Node's own HTTP(S) client (legacy TLS allowed so that the weak posture answers). */
function request(port: number, secure: boolean, method: string, pathName: string, options: { body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const lib = secure ? https : http;
    const req = lib.request({
      host: '127.0.0.1', port, method, path: pathName, agent: false,
      headers: { ...(options.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...options.headers },
      ...(secure ? { rejectUnauthorized: false, minVersion: 'TLSv1' as const, ciphers: 'ALL:@SECLEVEL=0' } : {}),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A TLS handshake with the given client settings; resolves with the session facts or the error. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<{ protocol?: string; cert?: crypto.X509Certificate; error?: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const raw = s.getPeerCertificate().raw;
      resolve({ protocol: s.getProtocol() ?? undefined, cert: raw ? new crypto.X509Certificate(raw) : undefined });
      s.destroy();
    });
    s.on('error', (e) => {
      resolve({ error: e.message });
      s.destroy();
    });
  });
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('emulator: HTTPS web UI and Modbus/TCP Security', () => {
  let weak: Emulator;
  let hardened: Emulator;
  let hardDir: string;
  let handles: Awaited<ReturnType<typeof handleSnapshot>>;
  before(async () => {
    handles = await handleSnapshot();
    hardDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-https-'));
    [weak, hardened] = await Promise.all([
      startEmulator('weak', { ephemeralPorts: true }),
      startEmulator({ ...loadPosture('hardened'), workDir: hardDir }, { ephemeralPorts: true }),
    ]);
  });

  it('weak posture: login page, form login with a session cookie, basic auth on /admin', async () => {
    const port = weak.endpoint('https').port;
    expect((await request(port, true, 'GET', '/')).body).to.match(/<form method="post" action="\/login">/);
    const login = await request(port, true, 'POST', '/login', { body: 'username=admin&password=admin' });
    expect(login.status).to.equal(303);
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).to.match(/^session=\d+; Path=\/$/); // weak: counter ids, no Secure/HttpOnly/SameSite
    expect((await request(port, true, 'GET', '/admin', { headers: { cookie: cookie.split(';')[0] } })).status).to.equal(200);
    expect((await request(port, true, 'POST', '/login', { body: 'username=admin&password=nope' })).status).to.equal(401);
    const denied = await request(port, true, 'GET', '/admin');
    expect([denied.status, denied.headers['www-authenticate']]).to.deep.equal([401, 'Basic realm="EPLC-1 administration", charset="UTF-8"']);
    expect((await request(port, true, 'GET', '/admin', { headers: basic('operator', 'operator') })).body).to.match(/Logged in as operator/);
  });

  it('weak posture: the same login page in cleartext on the plain-HTTP port', async () => {
    const plain = weak.endpoint('http');
    expect((await request(plain.port, false, 'GET', '/')).body).to.match(/type="password"/);
    const login = await request(plain.port, false, 'POST', '/login', { body: 'username=admin&password=admin' });
    expect(String(login.headers['set-cookie'])).to.not.match(/Secure/);
  });

  it('weak posture TLS: TLS 1.0 completes; the certificate is 1024-bit RSA, SHA-1, self-signed', async () => {
    const r = await handshake(weak.endpoint('https').port, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0' });
    expect(r.protocol).to.equal('TLSv1');
    expect(r.cert!.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(1024);
    expect(r.cert!.subject).to.equal(r.cert!.issuer);
    expect(r.cert!.verify(r.cert!.publicKey)).to.equal(true);
    expect((await handshake(weak.endpoint('https').port, { minVersion: 'TLSv1.3' })).error).to.be.a('string');
  });

  it('hardened posture TLS: TLS 1.0 refused, TLS 1.3 completes, P-256 certificate issued by the device CA, no plain HTTP', async () => {
    const port = hardened.endpoint('https').port;
    expect((await handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'ALL:@SECLEVEL=0' })).error).to.be.a('string');
    const r = await handshake(port, { minVersion: 'TLSv1.3' });
    expect(r.protocol).to.equal('TLSv1.3');
    expect(r.cert!.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    const ca = new crypto.X509Certificate(fs.readFileSync(path.join(hardDir, 'pki/ca.crt')));
    expect(r.cert!.verify(ca.publicKey)).to.equal(true);
    expect(r.cert!.checkIP('127.0.0.1')).to.equal('127.0.0.1');
    expect(hardened.services.map((s) => s.protocol)).to.not.include('http');
    const cbc = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' });
    expect(cbc.error).to.be.a('string');
  });

  it('hardened posture: lockout threshold 3 refuses the 4th login even with the right password', async () => {
    const port = hardened.endpoint('https').port;
    for (let i = 0; i < 3; i++) expect((await request(port, true, 'GET', '/admin', { headers: basic('operator', 'wrong') })).status).to.equal(401);
    expect((await request(port, true, 'GET', '/admin', { headers: basic('operator', 'Op3rator!Bench-2026') })).status).to.equal(401);
    const form = await request(port, true, 'POST', '/login', { body: 'username=operator&password=Op3rator%21Bench-2026' });
    expect(form.status).to.equal(401);
    expect((await request(port, true, 'GET', '/admin', { headers: basic('engineer', 'Eng1neer!Bench-2026') })).status).to.equal(200);
  });

  it('Modbus/TCP Security: a certificate with a role reads registers, one without a role is cut off, none at all is refused', async () => {
    const port = hardened.endpoint('modbus-tls').port;
    const ca = readIssuer(path.join(hardDir, 'pki/ca.crt'), path.join(hardDir, 'pki/ca.key'));
    const client = (role?: string) => issueCertificate({
      commonName: 'client', key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000), extensions: role ? [{ id: MODBUS_ROLE_OID, value: utf8StringDer(role) }] : [],
    });
    const exchange = (cert?: ReturnType<typeof client>) => new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(cert ? { cert: cert.pem, key: cert.keyPem } : {}) }, () => s.write(readHoldingRequest(1)));
      s.on('data', (d: Buffer) => { resolve(`answer ${d.toString('hex')}`); s.destroy(); });
      s.on('error', (e) => resolve(`error ${e.message}`));
      s.on('close', () => resolve('closed'));
    });
    expect(await exchange(client('Operator'))).to.equal('answer 1d2c000000050103020000');
    expect(await exchange(client())).to.equal('closed');
    expect(await exchange()).to.match(/^error .*certificate required/);
  });

  it('client-certificate knob on the web UI: required + verified refuses a client without a certificate', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-https-cc-'));
    const base = loadPosture('hardened');
    const posture: Posture = { ...base, workDir: dir, services: { https: { ...base.services.https, clientCertificate: { mode: 'required' } } } };
    const emu = await startEmulator(posture, { ephemeralPorts: true });
    try {
      const port = emu.endpoint('https').port;
      const err = await request(port, true, 'GET', '/').then(() => undefined, (e: unknown) => e);
      expect(String(err)).to.match(/certificate required|socket hang up|ECONNRESET/);
    } finally {
      await emu.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('close() leaves no socket or timer behind', async () => {
    await Promise.all([weak.close(), hardened.close()]);
    fs.rmSync(hardDir, { recursive: true, force: true });
    await handles.check();
  });
});
