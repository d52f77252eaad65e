import { expect } from 'chai';
import { httpRequest } from '../../src/protocols/http/request';
import { handleSnapshot } from '../helpers/leaks';
import { startWebDevice } from '../helpers/web';

const get = (port: number, tls: boolean, path: string, headers: Record<string, string> = {}) =>
  httpRequest({ host: '127.0.0.1', port, tls }, { path, headers, signal: AbortSignal.timeout(5000) });

describe('emulator: web UI posture knobs (https web:)', () => {
  it('each knob changes what a browser sees; the plain-HTTP redirect server closes cleanly', async () => {
    const handles = await handleSnapshot();
    const weak = await startWebDevice('weak');
    const hardened = await startWebDevice('hardened', { httpPort: 0 }, { plainHttp: 'redirect' });
    try {
      const w = await get(weak.endpoint('https').port, true, '/');
      const h = await get(hardened.endpoint('https').port, true, '/');
      // headers and Server
      expect(w.headers['strict-transport-security']).to.equal(undefined);
      expect(w.headers.server).to.equal('EPLC-Web/1.0.0 (Linux 4.14.98-rt51)');
      expect(h.headers.server).to.equal(undefined);
      expect(h.headers).to.include({ 'strict-transport-security': 'max-age=31536000; includeSubDomains', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
      // pre-login session with counter ids vs none
      expect(w.headers['set-cookie']).to.deep.equal(['session=1001; Path=/']);
      expect(h.headers['set-cookie']).to.equal(undefined);
      // open page vs redirect to the login
      expect((await get(weak.endpoint('https').port, true, '/config')).status).to.equal(200);
      expect((await get(hardened.endpoint('https').port, true, '/config')).status).to.equal(303);
      // verbose vs bare error page
      expect((await get(weak.endpoint('https').port, true, '/nope')).body.toString()).to.match(/ENOENT.*\/opt\/eplc\/www\/nope/);
      expect((await get(hardened.endpoint('https').port, true, '/nope')).body.toString()).to.not.match(/opt|EPLC-Web/);
      // plain HTTP: the application (weak) vs a redirect to the HTTPS port (knob)
      expect((await get(weak.endpoint('http').port, false, '/')).status).to.equal(200);
      const r = await get(hardened.endpoint('http').port, false, '/admin?x=1');
      expect([r.status, r.headers.location]).to.deep.equal([301, `https://127.0.0.1:${hardened.endpoint('https').port}/admin?x=1`]);
    } finally {
      await Promise.all([weak.close(), hardened.close()]);
    }
    await handles.check();
  });
});
