import { expect } from 'chai';
import * as https from 'node:https';
import probe from '../../../probes/http/transport';
import { listenTestServer } from '../../../fixtures/servers';
import { generateKey, issueCertificate } from '../../../src/protocols/tls';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { startWebDevice, useWebPostures, withLighttpd } from '../../helpers/web';

const FAST = { requestTimeoutMs: 2000 };
const verdicts = (outcomes: readonly { requirement: string; verdict: string }[]) => outcomes.map((o) => `${o.requirement}:${o.verdict}`);

describe('probe http.transport', () => {
  const devices = useWebPostures();

  it('weak posture, plain HTTP: the login form and the Basic challenge on /admin are served in cleartext: fail CR 4.1 and CR 1.5', async () => {
    const http = devices.weak().endpoint('http');
    const { attempt } = await runProbe(probe, { service: { port: http.port, protocol: 'http' }, inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['http.transport.cleartext-login', 'high'], ['http.transport.cleartext-basic-auth', 'high']]);
    expect(verdicts(attempt.outcomes)).to.deep.equal(['CR 1.5:fail', 'CR 4.1:fail']);
    expect(attempt.observations.authChallenges).to.deep.include({ path: '/admin', scheme: 'Basic', realm: 'EPLC-1 administration' });
  });

  it('weak posture, HTTPS: the login form is served over TLS and posts there: CR 4.1 and CR 1.5 pass (partial)', async () => {
    const https = devices.weak().endpoint('https');
    const { attempt } = await runProbe(probe, { service: { port: https.port, protocol: 'https' }, inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 4.1', 'pass', 'partial'], ['CR 1.5', 'pass', 'partial']]);
    expect(attempt.observations.loginForms).to.deep.equal([{ page: `https://127.0.0.1:${https.port}/`, action: `https://127.0.0.1:${https.port}/login` }]);
  });

  it('hardened posture: no plain HTTP at all, and HTTPS passes', async () => {
    expect(devices.hardened().services.map((s) => s.protocol)).to.deep.equal(['https']);
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('https').port, protocol: 'https' }, inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('pass');
    // The same service declared as `protocol: http, tls: true` is read over TLS too.
    const asHttpTls = await runProbe(probe, { service: { port: devices.hardened().endpoint('https').port, protocol: 'http', tls: true }, inputs: FAST });
    expect([asHttpTls.attempt.status, asHttpTls.attempt.observations.scheme]).to.deep.equal(['pass', 'https']);
  });

  it('plain HTTP that only redirects to the declared HTTPS service passes CR 4.1; the redirect is verified with one request', async () => {
    const emu = await startWebDevice('hardened', { httpPort: 0 }, { plainHttp: 'redirect' });
    try {
      const http = emu.endpoint('http');
      const https = emu.endpoint('https');
      const { attempt } = await runProbe(probe, {
        service: { port: http.port, protocol: 'http' }, services: [{ port: http.port, protocol: 'http' }, { port: https.port, protocol: 'https', name: 'web UI' }], inputs: FAST,
      });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(verdicts(attempt.outcomes)).to.deep.equal(['CR 1.5:pass', 'CR 4.1:pass']);
      expect(attempt.observations.redirect).to.deep.equal({
        from: `http://127.0.0.1:${http.port}/`, location: `https://127.0.0.1:${https.port}/`, to: `https://127.0.0.1:${https.port}/`, declaredService: 'web UI', answer: { status: 200 },
      });
    } finally {
      await emu.close();
    }
  });

  it('a redirect to an undeclared HTTPS port is recorded, not followed, and proves nothing about CR 4.1', async () => {
    const emu = await startWebDevice('hardened', { httpPort: 0 }, { plainHttp: 'redirect' });
    try {
      const http = emu.endpoint('http');
      const { attempt } = await runProbe(probe, { service: { port: http.port, protocol: 'http' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['http.transport.redirect-unverified']);
      expect(verdicts(attempt.outcomes)).to.deep.equal(['CR 1.5:pass']);
      expect(attempt.observations.redirect).to.include({ declaredService: null });
    } finally {
      await emu.close();
    }
  });

  it('an HTTPS service that redirects to plain HTTP fails CR 4.1 (http.transport.https-downgrade)', async () => {
    const plain = devices.weak().endpoint('http');
    // A device whose HTTPS landing page sends the browser to its plain-HTTP port (a misconfigured proxy rule).
    const key = generateKey({ type: 'ec', curve: 'P-256' });
    const cert = issueCertificate({ commonName: '127.0.0.1', key, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) });
    const server = await listenTestServer(https.createServer({ key: cert.keyPem, cert: cert.pem }, (_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${plain.port}/` }).end()));
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'https' }, inputs: FAST });
      expect(attempt.status).to.equal('fail');
      expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['http.transport.https-downgrade', 'medium']]);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 4.1:fail']);
    } finally {
      await server.close();
    }
  });

  it('Debian lighttpd with Basic auth over plain HTTP on /admin: http.transport.cleartext-basic-auth', async function () {
    await withLighttpd(this, async (server) => {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'http' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['http.transport.cleartext-basic-auth']);
      expect(attempt.observations.authChallenges).to.deep.include({ path: '/admin', scheme: 'Basic', realm: 'bench switch' });
      // The link from the index page was followed too.
      expect((attempt.observations.paths as { path: string; status: number }[]).map((p) => [p.path, p.status])).to.deep.include(['/admin/', 401]);
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'http' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 1000 } });
  describe('over TLS', () => {
    describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'https' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 1000 } });
  });
});
