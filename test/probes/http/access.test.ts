import { expect } from 'chai';
import * as http from 'node:http';
import probe from '../../../probes/http/access';
import { listenTestServer } from '../../../fixtures/servers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { startWebDevice, useWebPostures, withLighttpd } from '../../helpers/web';

const FAST = { requestTimeoutMs: 2000 };
type PathRow = { path: string; source: string; access: string; status?: number };
const rows = (o: Record<string, unknown>) => (o.paths as PathRow[]).map((p) => `${p.path} ${p.source} ${p.access}`);

describe('probe http.access', () => {
  const devices = useWebPostures();

  it('weak posture: /config answers without a session: fail CR 1.1 and CR 2.1 (HTTPS and plain HTTP alike)', async () => {
    for (const [protocol, port] of [['https', devices.weak().endpoint('https').port], ['http', devices.weak().endpoint('http').port]] as const) {
      const { attempt } = await runProbe(probe, { service: { port, protocol }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['http.access.unauthenticated-access', 'high']]);
      expect(attempt.findings[0].message).to.match(/\/config \(200\)/);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.1:fail', 'CR 2.1:fail']);
      expect(rows(attempt.observations)).to.deep.equal(['/admin input challenge', '/config input open', '/setup input absent']);
    }
  });

  it('hardened posture: /admin challenges, /config redirects to the login page, /setup does not exist: pass (partial)', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('https').port, protocol: 'https' }, inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(rows(attempt.observations)).to.deep.equal(['/admin input challenge', '/config input login-page', '/setup input absent']);
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 1.1', 'pass', 'partial'], ['CR 2.1', 'pass', 'partial']]);
  });

  it('the service option protectedPaths is checked first; paths that do not exist leave the requirements not determined', async () => {
    const { attempt } = await runProbe(probe, {
      service: { port: devices.hardened().endpoint('https').port, protocol: 'https', options: { protectedPaths: ['/plc/program'] } },
      inputs: { ...FAST, paths: [], maxPaths: 1 },
    });
    expect(attempt.status).to.equal('not_determined');
    expect(rows(attempt.observations)).to.deep.equal(['/plc/program service-option absent']);
    expect(attempt.outcomes).to.deep.equal([]);
  });

  it('plain HTTP that redirects every path to the declared HTTPS service counts as protected', async () => {
    const emu = await startWebDevice('hardened', { httpPort: 0 }, { plainHttp: 'redirect' });
    try {
      const plain = emu.endpoint('http');
      const { attempt } = await runProbe(probe, {
        service: { port: plain.port, protocol: 'http' }, services: [{ port: plain.port, protocol: 'http' }, { port: emu.endpoint('https').port, protocol: 'https' }], inputs: FAST,
      });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(rows(attempt.observations)).to.deep.equal(['/admin input redirects-to-https', '/config input redirects-to-https', '/setup input redirects-to-https']);
    } finally {
      await emu.close();
    }
  });

  it('a single-page UI that answers every path with the same page is not mistaken for open pages', async () => {
    const spa = '<!doctype html><html><head><title>Switch UI</title></head><body><div id="app"></div><script src="/app.js"></script></body></html>';
    const server = await listenTestServer(http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(spa)));
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'http' }, inputs: FAST });
      expect(attempt.status).to.equal('not_determined');
      expect(rows(attempt.observations)).to.deep.equal(['/admin input absent', '/config input absent', '/setup input absent']);
    } finally {
      await server.close();
    }
  });

  it('Debian lighttpd: /admin and the linked /admin/ ask for Basic authentication: pass', async function () {
    await withLighttpd(this, async (server) => {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'http' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(rows(attempt.observations)).to.deep.equal(['/admin input challenge', '/config input absent', '/setup input absent', '/admin/ login-page-link challenge']);
    });
  });

  it('a device that hangs on some paths: the attempt ends within its budget with what it saw', async () => {
    const server = await listenTestServer(http.createServer((req, res) => {
      if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end('<a href="/admin">admin</a>');
      else if (req.url === '/admin') res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end();
      // anything else: never answered
    }));
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'http' }, inputs: { requestTimeoutMs: 500 }, timeoutMs: 2500 });
      expect(attempt.status, attempt.message).to.equal('pass');
      const paths = attempt.observations.paths as { path: string; access: string; error?: string }[];
      // Which of the hanging paths timed out and which were skipped for lack of budget depends on the clock.
      expect(paths.map((p) => [p.path, p.access])).to.deep.equal([['/admin', 'challenge'], ['/config', 'no-answer'], ['/setup', 'no-answer']]);
      for (const p of paths.slice(1)) expect(p.error).to.match(/no HTTP response|budget ran out/);
    } finally {
      await server.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'http' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 1000 } });
});
