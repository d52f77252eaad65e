import { expect } from 'chai';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import probe from '../../../probes/winrm/transport';
import { generateKey, issueCertificate } from '../../../src/protocols/tls';
import { listenTestServer, type TestServer } from '../../../fixtures/servers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import type { ServiceUnderTest } from '../../../src/sdk';

/**
 * A deceptive WinRM listener (there is no WinRM server on Debian): answers POST /wsman as Windows' HTTP.sys does for
 * an unauthenticated client, 401 with Negotiate (and Basic when asked to) and Server: Microsoft-HTTPAPI/2.0; every
 * other request 404.
 */
function wsmanHandler(schemes: string[]): http.RequestListener {
  return (req, res) => {
    req.resume();
    if (req.method !== 'POST' || req.url !== '/wsman' || !/application\/soap\+xml/.test(req.headers['content-type'] ?? '')) {
      res.writeHead(404, { server: 'Microsoft-HTTPAPI/2.0' }).end();
      return;
    }
    res.writeHead(401, [['Server', 'Microsoft-HTTPAPI/2.0'], ...schemes.map((s) => ['WWW-Authenticate', s])]).end();
  };
}

async function winrm(kind: 'http' | 'https', schemes: string[]): Promise<TestServer> {
  if (kind === 'http') return listenTestServer(http.createServer(wsmanHandler(schemes)) as unknown as net.Server);
  const cert = issueCertificate({ commonName: 'winrm-test', key: generateKey({ type: 'ec', curve: 'P-256' }), notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) });
  return listenTestServer(https.createServer({ cert: cert.pem, key: cert.keyPem }, wsmanHandler(schemes)) as unknown as net.Server);
}

const FAST = { timeoutMs: 2000 };

describe('probe winrm.transport', () => {
  it('runs only on a service declared winrm or on 5985/5986', () => {
    const svc = (protocol: ServiceUnderTest['protocol'], port: number) => ({ host: 'h', port, protocol, transport: 'tcp', name: 'x', tls: false, options: {} }) as ServiceUnderTest;
    expect(probe.when!(svc('http', 5985))).to.equal(true);
    expect(probe.when!(svc('tcp', 5986))).to.equal(true);
    expect(probe.when!(svc('winrm', 8080))).to.equal(true);
    expect(probe.when!(svc('http', 80))).to.equal(false);
  });

  it('WinRM over plain HTTP with Basic offered: high, fails CR 4.1', async () => {
    const server = await winrm('http', ['Negotiate', 'Basic realm="WSMAN"']);
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'winrm' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.observations).to.include({ transport: 'http', wsman: true, status: 401, server: 'Microsoft-HTTPAPI/2.0' });
      expect(attempt.observations.schemes).to.deep.equal(['Negotiate', 'Basic']);
      expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['winrm.transport.cleartext-winrm', 'high']]);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 4.1:fail']);
    } finally {
      await server.close();
    }
  });

  it('WinRM over HTTPS (declared with tls): passes CR 4.1 in part', async () => {
    const server = await winrm('https', ['Negotiate']);
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'winrm', tls: true }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(attempt.observations).to.include({ transport: 'https', wsman: true, why: '401 challenging Negotiate' });
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['CR 4.1:pass:partial']);
    } finally {
      await server.close();
    }
  });

  it('a plain web server: not applicable when declared http on 5985, a protocol error when declared winrm', async () => {
    const server = await listenTestServer(http.createServer((req, res) => { req.resume(); res.writeHead(404).end('not found'); }) as unknown as net.Server);
    try {
      const asHttp = await runProbe(probe, { service: { port: server.port, protocol: 'http' }, inputs: FAST });
      expect(asHttp.attempt.status).to.equal('not_applicable');
      const asWinrm = await runProbe(probe, { service: { port: server.port, protocol: 'winrm' }, inputs: FAST });
      expect(asWinrm.attempt).to.include({ status: 'error', reason: 'protocol' });
    } finally {
      await server.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'winrm' }), timeoutMs: 3000, inputs: FAST });
});
