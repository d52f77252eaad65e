import { expect } from 'chai';
import * as net from 'node:net';
import * as tls from 'node:tls';
import probe from '../../../probes/rdp/security-layer';
import { generateKey, issueCertificate } from '../../../src/protocols/tls';
import { listenTestServer, type TestServer } from '../../../fixtures/servers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { nmapRdpSuccesses } from '../../helpers/peer-output';
import { runProbe } from '../../helpers/probe-harness';
import { nmapRdp, startXrdp, type Xrdp } from '../../helpers/xrdp';

const FAST = { waitMs: 2000, connectTimeoutMs: 1000, tlsTimeoutMs: 2000 };
const verdicts = (outcomes: readonly { requirement: string; verdict: string }[]) => outcomes.map((o) => `${o.requirement}:${o.verdict}`);

/**
 * A deceptive RDP front written here, the only NLA-requiring server we have (xrdp has no CredSSP): answers every
 * Connection Request without HYBRID with RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER, selects HYBRID otherwise and then
 * speaks TLS 1.2+ on the same socket (and nothing after: CredSSP is never reached).
 */
async function nlaRequiredServer(): Promise<TestServer> {
  const cert = issueCertificate({ commonName: 'nla-front', key: generateKey({ type: 'ec', curve: 'P-256' }), notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) });
  return listenTestServer(net.createServer((socket) => {
    socket.once('data', (cr: Buffer) => {
      const requested = cr.readUInt32LE(cr.length - 4);
      const hybrid = (requested & 0x0a) !== 0;
      const neg = Buffer.from([hybrid ? 0x02 : 0x03, 0, 8, 0, 0, 0, 0, 0]);
      neg.writeUInt32LE(hybrid ? (requested & 0x08 ? 0x08 : 0x02) : 5, 4);
      const x224 = Buffer.concat([Buffer.from([6 + neg.length, 0xd0, 0, 0, 0x12, 0x34, 0]), neg]);
      socket.write(Buffer.concat([Buffer.from([3, 0, 0, 4 + x224.length]), x224]));
      if (!hybrid) return void socket.end();
      const secure = new tls.TLSSocket(socket, { isServer: true, cert: cert.pem, key: cert.keyPem, minVersion: 'TLSv1.2' });
      secure.on('error', () => socket.destroy());
    });
  }));
}

describe('probe rdp.security-layer', function () {
  this.timeout(60_000);
  const xrdp: Record<'rdp' | 'negotiate' | 'legacyTls', Xrdp | undefined> = { rdp: undefined, negotiate: undefined, legacyTls: undefined };
  before(async function () {
    [xrdp.rdp, xrdp.negotiate, xrdp.legacyTls] = await Promise.all([
      startXrdp(this, 'rdp'), startXrdp(this, 'negotiate'), startXrdp(this, 'tls', 'TLSv1, TLSv1.1, TLSv1.2, TLSv1.3'),
    ]);
  });
  after(async () => Promise.all(Object.values(xrdp).map((x) => x?.close())));
  const run = (port: number) => runProbe(probe, { service: { port, protocol: 'rdp' }, inputs: FAST });

  it('xrdp security_layer=rdp: Standard RDP Security for every request, no TLS: fails CR 1.1, 4.1, 4.3', async () => {
    const { attempt } = await run(xrdp.rdp!.port);
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.observations).to.include({ standardRdpAccepted: true, tlsAccepted: false, nlaSupported: false, nlaRequired: false });
    expect(attempt.observations).to.not.have.property('tls');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['rdp.security-layer.standard-rdp-security', 'rdp.security-layer.nla-not-required']);
    expect(verdicts(attempt.outcomes)).to.deep.equal(['CR 1.1:fail', 'CR 4.1:fail', 'CR 4.3:fail']);
  });

  it('xrdp security_layer=negotiate: TLS 1.2/1.3 offered but Standard RDP and no NLA still accepted', async () => {
    const { attempt } = await run(xrdp.negotiate!.port);
    expect(attempt.status).to.equal('fail');
    expect(attempt.observations).to.include({ standardRdpAccepted: true, tlsAccepted: true, nlaSupported: false });
    const seen = attempt.observations.tls as { protocols: Record<string, boolean>; certificate: { subject: string; selfSigned: boolean } };
    expect(seen.protocols).to.deep.equal({ TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true });
    expect(seen.certificate).to.include({ subject: 'CN=xrdp-test', selfSigned: true });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['rdp.security-layer.standard-rdp-security', 'rdp.security-layer.nla-not-required']);
  });

  it('xrdp security_layer=tls with TLS 1.0 on: Standard RDP refused (SSL_REQUIRED_BY_SERVER), legacy TLS fails CR 4.3, TLS passes CR 4.1', async () => {
    const { attempt } = await run(xrdp.legacyTls!.port);
    expect(attempt.status).to.equal('fail');
    expect((attempt.observations.negotiation as Record<string, { kind: string; name?: string }>).rdp).to.include({ kind: 'failure', name: 'SSL_REQUIRED_BY_SERVER' });
    expect(attempt.observations).to.include({ standardRdpAccepted: false, tlsAccepted: true, nlaRequired: false });
    expect((attempt.observations.tls as { protocols: Record<string, boolean> }).protocols).to.include({ TLSv1: true, 'TLSv1.2': true });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['rdp.security-layer.nla-not-required', 'rdp.security-layer.legacy-tls']);
    expect(verdicts(attempt.outcomes)).to.deep.equal(['CR 1.1:fail', 'CR 4.1:pass', 'CR 4.3:fail']);
  });

  it('a server that requires NLA with TLS 1.2+ (deceptive front): passes CR 1.1, 4.1, 4.3 (partial)', async () => {
    const server = await nlaRequiredServer();
    try {
      const { attempt } = await run(server.port);
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(attempt.observations).to.include({ standardRdpAccepted: false, tlsAccepted: false, nlaSupported: true, nlaRequired: true });
      expect((attempt.observations.tls as { protocols: Record<string, boolean> }).protocols).to.deep.equal({ TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true });
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['CR 1.1:pass:partial', 'CR 4.1:pass:partial', 'CR 4.3:pass:partial']);
    } finally {
      await server.close();
    }
  });

  // nmap's script fails on a TLS-only xrdp (its cipher enumeration after RDP_NEG_FAILURE): compared on the other two.
  it('nmap rdp-enum-encryption: a security layer is SUCCESS exactly where we got an RDP_NEG_RSP', async function () {
    const names: Record<string, string> = { rdp: 'Native RDP', tls: 'SSL', nla: 'CredSSP (NLA)', 'nla-ex': 'CredSSP with Early User Auth' };
    for (const x of [xrdp.rdp!, xrdp.negotiate!]) {
      const [{ attempt }, xml] = await Promise.all([run(x.port), nmapRdp(this, x.port)]);
      const ours = Object.entries(attempt.observations.negotiation as Record<string, { kind: string }>).filter(([, a]) => a.kind === 'selected').map(([n]) => names[n]);
      expect(nmapRdpSuccesses(xml).filter((n) => n !== 'RDSTLS')).to.deep.equal(ours.sort());
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'rdp' }), timeoutMs: 4000, inputs: FAST });
});
