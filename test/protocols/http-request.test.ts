import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../src/emulator';
import { cookieHeader, cookiesOf, httpRequest } from '../../src/protocols/http/request';
import { bannerServer, closedPort, stallServer } from '../../fixtures/servers';
import { handleSnapshot } from '../helpers/leaks';

describe('protocols/http: request adapter', () => {
  let weak: Emulator;
  before(async () => {
    weak = await startEmulator('weak', { ephemeralPorts: true });
  });
  after(() => weak.close());

  it('talks HTTPS to a self-signed TLS 1.0-capable web UI and plain HTTP, without following redirects', async () => {
    const https = weak.services.find((s) => s.protocol === 'https')!;
    const res = await httpRequest({ host: '127.0.0.1', port: https.port, tls: true }, { path: '/', signal: AbortSignal.timeout(5000) });
    expect(res.status).to.equal(200);
    expect(res.body.toString()).to.match(/<form/i);
    const plain = weak.endpoint('http');
    const res2 = await httpRequest({ host: '127.0.0.1', port: plain.port, tls: false }, { path: '/admin', signal: AbortSignal.timeout(5000) });
    expect([401, 302, 303]).to.include(res2.status);
  });

  it('form login returns a session cookie that opens the protected page', async () => {
    const https = weak.services.find((s) => s.protocol === 'https')!;
    const ep = { host: '127.0.0.1', port: https.port, tls: true };
    const login = await httpRequest(ep, {
      method: 'POST', path: '/login', body: 'username=admin&password=admin',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(5000),
    });
    const cookies = cookiesOf(login);
    expect(Object.keys(cookies)).to.have.length.greaterThan(0);
    const admin = await httpRequest(ep, { path: '/admin', headers: { cookie: cookieHeader(cookies) }, signal: AbortSignal.timeout(5000) });
    expect(admin.status).to.equal(200);
  });

  it('ends with typed errors on a closed port, a stall and a non-HTTP service, leaving nothing open', async () => {
    const handles = await handleSnapshot();
    const closed = await closedPort();
    const stall = await stallServer();
    const banner = await bannerServer('SSH-2.0-not-http\r\n');
    try {
      const err = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as Error & { code?: string; kind?: string });
      expect((await err(httpRequest({ host: '127.0.0.1', port: closed.port, tls: false }, { signal: AbortSignal.timeout(3000) })))?.code).to.equal('ECONNREFUSED');
      expect((await err(httpRequest({ host: '127.0.0.1', port: stall.port, tls: false }, { signal: AbortSignal.timeout(3000), timeoutMs: 200 })))?.kind).to.equal('timeout');
      expect((await err(httpRequest({ host: '127.0.0.1', port: banner.port, tls: false }, { signal: AbortSignal.timeout(3000) })))?.kind).to.equal('protocol');
    } finally {
      await stall.close();
      await banner.close();
    }
    await handles.check();
  });
});
