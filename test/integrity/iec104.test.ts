import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import accessProbe from '../../probes/iec104/access';
import securityProbe from '../../probes/iec104/security';
import { COT, encodeAsdu, encodeU, parseApdu } from '../../src/protocols/iec104';
import { generateKey, issueCertificate } from '../../src/protocols/x509';
import { closedPort, listenTestServer, type TestServer } from '../../fixtures/servers';
import { BENCH_CLIENT, scriptedIec104Server } from '../helpers/iec104';
import { runProbe } from '../helpers/probe-harness';

// Deceptive IEC 104 outstations for iec104.access and iec104.security. Plain IEC 104 has no refusal message: an
// outstation that does not serve a client hangs up. A hang-up passes CR 1.1/2.1 (and, with IEC 62351-3 declared,
// CR 3.1/4.1) only when the control gets through: the same host starts data transfer over IEC 62351-3 for the
// profile's client certificate. Any hang-up without that control, or a control that is refused, judges nothing.

const hangUpOnStartdt = () => scriptedIec104Server({ onU: (fn) => (fn === 'startdtAct' ? 'close' : undefined) });

/** A TLS server that takes any client certificate, confirms TESTFR and hangs up on STARTDT, like the plain port. */
async function tlsHangUp(dir: string): Promise<TestServer> {
  const now = Date.now();
  const cert = issueCertificate({ commonName: 'deceptive', key: generateKey({ type: 'ec', curve: 'P-256' }), notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 86_400_000), extendedKeyUsage: ['serverAuth'] });
  fs.writeFileSync(path.join(dir, 's.pem'), cert.pem);
  const server = tls.createServer({ cert: cert.pem, key: cert.keyPem, requestCert: true, rejectUnauthorized: false }, (socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      const p = parseApdu(d);
      if (p.kind === 'apdu' && p.apdu.format === 'U' && p.apdu.fn === 'testfrAct') socket.write(encodeU('testfrCon'));
      else socket.end();
    });
  });
  return listenTestServer(server as unknown as net.Server);
}

describe('integrity: IEC 104 access and protection verdicts against deceptive outstations', function () {
  this.timeout(20_000);
  const service = (port: number) => ({ port, protocol: 'iec104' as const });
  const secure = (port: number) => ({ port, protocol: 'tls' as const, tls: true, options: { iec62351: true, ...BENCH_CLIENT } });
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-iec104-integrity-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a hang-up on STARTDT with no IEC 62351-3 service declared: nothing passes (a crash looks the same)', async () => {
    const peer = await hangUpOnStartdt();
    try {
      for (const probe of [accessProbe, securityProbe]) {
        const { attempt } = await runProbe(probe, { service: service(peer.port), inputs: { requestTimeoutMs: 300 } });
        expect(attempt.status, `${probe.id}: ${attempt.message}`).to.equal('not_determined');
        expect(attempt.outcomes).to.deep.equal([]);
      }
    } finally {
      await peer.close();
    }
  });

  it('a hang-up on STARTDT and a declared IEC 62351-3 port that is closed: the control fails, nothing passes', async () => {
    const [peer, closed] = await Promise.all([hangUpOnStartdt(), closedPort()]);
    try {
      const services = [service(peer.port), secure(closed.port)];
      const { attempt } = await runProbe(accessProbe, { service: service(peer.port), services, inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.observations.secureControl).to.deep.include({ status: 'failed' });
      const { attempt: security } = await runProbe(securityProbe, { service: service(peer.port), services, inputs: { requestTimeoutMs: 300 } });
      expect(security.status, security.message).to.equal('not_determined');
      expect(security.findings.map((f) => f.code)).to.deep.equal(['iec104.security.secure-control-failed']);
    } finally {
      await Promise.all([peer.close(), closed.close()]);
    }
  });

  it('a TLS port that takes the certificate but hangs up on STARTDT too is no control: nothing passes', async () => {
    const [peer, fake] = await Promise.all([hangUpOnStartdt(), tlsHangUp(dir)]);
    try {
      const services = [service(peer.port), secure(fake.port)];
      const { attempt } = await runProbe(accessProbe, { service: service(peer.port), services, inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      const { attempt: security } = await runProbe(securityProbe, { service: service(peer.port), services, inputs: { requestTimeoutMs: 300 } });
      expect(security.outcomes).to.deep.equal([]);
    } finally {
      await Promise.all([peer.close(), fake.close()]);
    }
  });

  it('STARTDT confirmed but the interrogation refused: data transfer for anyone still fails CR 1.1 and 2.1', async () => {
    const peer = await scriptedIec104Server({ onAsdu: (a, reply) => [reply(encodeAsdu({ ...a, cause: COT.activationCon, negative: true }))] });
    try {
      const { attempt } = await runProbe(accessProbe, { service: service(peer.port), inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['iec104.access.unauthenticated-data-transfer']);
      expect(attempt.observations.interrogation).to.deep.include({ confirmation: 'negative', informationObjects: 0 });
    } finally {
      await peer.close();
    }
  });

  it('a peer that answers STARTDT with TESTFR con is no IEC 104 refusal: a protocol error', async () => {
    const peer = await scriptedIec104Server({ onU: (fn) => (fn === 'startdtAct' ? [encodeU('testfrCon')] : undefined) });
    try {
      const { attempt } = await runProbe(accessProbe, { service: service(peer.port), inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('protocol');
    } finally {
      await peer.close();
    }
  });
});
