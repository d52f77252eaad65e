/**
 * Integrity of certificate verdicts against deceptive peers (issue 15, "Also found"):
 * - an OPC UA front that answers discovery properly but hangs up on every OpenSecureChannel that carries a
 *   certificate must not earn a pass for CR 1.2 / CR 1.9 (a hang-up is not a validated refusal);
 * - DSA, P-192, SHA-224, MD5 and unknown-curve (secp160r1) certificates made by the openssl CLI are judged per the baseline by
 *   tls.certificate, and the same certificate served as an OPC UA server certificate gets the same
 *   judgement from opcua.endpoints: one X.509 module, one verdict.
 */
import { expect } from 'chai';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import anonymousProbe from '../../probes/opcua/anonymous';
import clientCertificate from '../../probes/opcua/client-certificate';
import endpointsProbe from '../../probes/opcua/endpoints';
import tlsCertificate from '../../probes/tls/certificate';
import { isSecureOpen, opcuaFront, type FrontAction, type OpcuaFront } from '../../fixtures/opcua-front';
import { discoverEndpoints } from '../../src/protocols/opcua';
import { firstCertificate, pemToDer } from '../../src/protocols/x509';
import { BENCH_CLIENT, startOpcua, type StartedOpcua } from '../helpers/opcua';
import { opensslPki, startOpensslServer, type OpensslDigest, type OpensslKey } from '../helpers/openssl-server';
import { findExecutable, requirePeer } from '../helpers/peers';
import { runProbe } from '../helpers/probe-harness';

interface CertificateTest { certificate: string; endpoint: string; outcome: string; status: string; corroboration?: string }

const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => a.outcomes.map((o) => `${o.requirement}:${o.verdict}`);
const sha256 = (der: Buffer) => crypto.createHash('sha256').update(der).digest('hex');

async function serverCertificateOf(device: StartedOpcua): Promise<Buffer> {
  const endpoints = await discoverEndpoints({ host: '127.0.0.1', port: device.port }, { signal: AbortSignal.timeout(10_000) });
  const der = endpoints.find((e) => e.serverCertificate)?.serverCertificate;
  if (!der) throw new Error('the emulator sent no server certificate');
  return der;
}

describe('integrity: OPC UA certificate verdicts against deceptive peers', function () {
  this.timeout(120_000);
  let hardened: StartedOpcua;
  let weak: StartedOpcua;
  const fronts: OpcuaFront[] = [];
  before(async () => {
    [hardened, weak] = await Promise.all([startOpcua('hardened'), startOpcua('weak')]);
  });
  afterEach(async () => {
    await Promise.all(fronts.splice(0).map((f) => f.close()));
  });
  after(async () => {
    await Promise.all([hardened?.emulator.close(), weak?.emulator.close()]);
  });

  async function front(device: StartedOpcua, decide: Parameters<typeof opcuaFront>[0]['onOpenSecureChannel'], replaceCertificate?: { from: Buffer; to: Buffer }) {
    const f = await opcuaFront({ upstream: { host: '127.0.0.1', port: device.port }, onOpenSecureChannel: decide, replaceCertificate });
    fronts.push(f);
    return f;
  }

  describe('a front that hangs up on every OpenSecureChannel with a certificate', () => {
    const cases: { device: () => StartedOpcua; name: string; action: FrontAction; options?: Record<string, unknown> }[] = [
      { device: () => hardened, name: 'hardened', action: 'reset' },
      { device: () => hardened, name: 'hardened', action: 'close' },
      { device: () => weak, name: 'weak', action: 'close' },
      { device: () => hardened, name: 'hardened, with the trusted bench client as control', action: 'reset', options: BENCH_CLIENT },
    ];
    for (const c of cases) {
      it(`${c.name} behind a front that answers discovery but ${c.action === 'reset' ? 'resets (RST)' : 'closes (FIN)'}: no verdict on CR 1.2 / CR 1.9, and the reason says why`, async () => {
        const f = await front(c.device(), (request) => (isSecureOpen(request) ? c.action : 'forward'));
        const { attempt } = await runProbe(clientCertificate, { service: { port: f.port, protocol: 'opcua', options: c.options } });
        expect(attempt.status, JSON.stringify(attempt.outcomes)).to.not.equal('pass');
        expect(attempt.findings).to.deep.equal([]);
        expect(attempt.outcomes, 'CR 1.2 and CR 1.9 stay not determined').to.deep.equal([]);
        const tests = attempt.observations.tests as CertificateTest[];
        expect(tests.length).to.be.greaterThan(0);
        for (const t of tests) {
          expect(t).to.include({ outcome: 'unanswered', status: 'ConnectionClosed' });
          expect(t.corroboration).to.match(/control certificate could not open a channel on this endpoint either \(ConnectionClosed\)/);
        }
        expect(attempt.observations.reason).to.match(/not evidence that the server validated and refused the certificate/);
        // The front hung up on the control certificate as well: that is what keeps the rows open.
        expect(f.opens.filter((o) => o.action === c.action).length).to.be.greaterThan(tests.length);
      });
    }
  });

  it('opcua.anonymous behind the same front: the hang-up is recorded as channel-closed and claims nothing', async () => {
    const f = await front(hardened, (request) => (isSecureOpen(request) ? 'reset' : 'forward'));
    const { attempt } = await runProbe(anonymousProbe, { service: { port: f.port, protocol: 'opcua', options: BENCH_CLIENT } });
    expect(attempt.outcomes).to.deep.equal([]);
    expect((attempt.observations.attempts as { outcome: string }[]).map((a) => a.outcome)).to.deep.equal(['channel-closed']);
    expect(attempt.observations.reason).to.match(/no answer about anonymous activation on Sign\/Aes128_Sha256_RsaOaep \(channel-closed\)/);
  });

  it('a front that hangs up only on certificates the device does not trust: the control opens a channel, the hang-up repeats, so it counts as a refusal', async () => {
    const trusted = pemToDer(fs.readFileSync(BENCH_CLIENT.clientCertificate, 'utf8'))[0];
    const f = await front(hardened, (request) => {
      if (!isSecureOpen(request)) return 'forward';
      return request.senderCertificate && firstCertificate(request.senderCertificate).equals(trusted) ? 'forward' : 'reset';
    });
    const { attempt } = await runProbe(clientCertificate, { service: { port: f.port, protocol: 'opcua', options: BENCH_CLIENT } });
    expect(verdicts(attempt)).to.deep.equal(['CR 1.2:pass', 'CR 1.9:pass']);
    const tests = attempt.observations.tests as CertificateTest[];
    expect(tests.map((t) => `${t.certificate} ${t.outcome} ${t.status}`)).to.deep.equal([
      'fresh rejected ConnectionClosed', 'fresh rejected ConnectionClosed', 'expired rejected ConnectionClosed',
    ]);
    for (const t of tests) expect(t.corroboration).to.match(/ConnectionClosed twice, while the control certificate opened a channel/);
    expect((attempt.observations.controls as CertificateTest[]).every((t) => t.outcome === 'accepted')).to.equal(true);
    expect(attempt.outcomes.find((o) => o.requirement === 'CR 1.2')?.reason).to.match(/ConnectionClosed twice/);
  });

  describe('weak certificates made by the openssl CLI: tls.certificate and opcua.endpoints give the same verdict', () => {
    let openssl: string;
    let pki: ReturnType<typeof opensslPki> | undefined;
    const made: Record<string, Buffer> = {};
    const CERTS: { name: string; key: OpensslKey; digest: OpensslDigest }[] = [
      { name: 'dsa', key: 'dsa:2048', digest: 'sha256' },
      { name: 'p192', key: 'ec:P-192', digest: 'sha256' },
      { name: 'sha224', key: 'rsa:2048', digest: 'sha224' },
      { name: 'md5', key: 'rsa:2048', digest: 'md5' },
      { name: 'secp160r1', key: 'ec:secp160r1', digest: 'sha256' },
    ];
    before(function () {
      openssl = requirePeer(this as unknown as Mocha.Context, 'openssl', findExecutable('openssl'));
      pki = opensslPki(openssl);
      for (const c of CERTS) {
        pki.selfSigned(c.name, c.key, c.digest);
        made[c.name] = pemToDer(fs.readFileSync(pki.file(`${c.name}.crt`), 'utf8'))[0];
      }
    });
    after(() => pki?.remove());

    /** Both probes on the same certificate at one SL: the TLS server is openssl s_server, the OPC UA server the hardened emulator behind a front that serves the certificate. */
    async function bothProbes(name: string, sl: number) {
      const server = await startOpensslServer(openssl, ['-cert', pki!.file(`${name}.crt`), '-key', pki!.file(`${name}.key`), '-cipher', 'ALL:@SECLEVEL=0'], pki!.dir);
      try {
        const f = await front(hardened, () => 'forward', { from: await serverCertificateOf(hardened), to: made[name] });
        const tls = (await runProbe(tlsCertificate, { service: { port: server.port, protocol: 'tls' }, sl })).attempt;
        const opcua = (await runProbe(endpointsProbe, { service: { port: f.port, protocol: 'opcua' }, sl })).attempt;
        expect(f.replacedChunks(), 'the front served the openssl certificate').to.be.greaterThan(0);
        expect((opcua.observations.certificate as { sha256: string }).sha256).to.equal(sha256(made[name]));
        expect((tls.observations.certificate as { sha256: string }).sha256).to.equal(sha256(made[name]));
        return { tls, opcua };
      } finally {
        await server.close();
      }
    }

    const EXPECTED: { name: string; sl: number; tls: string[]; opcua: string[]; weaknesses: string[] }[] = [
      { name: 'dsa', sl: 2, tls: ['tls.certificate.dsa-key'], opcua: ['opcua.endpoints.server-certificate-key-type'], weaknesses: ['key-type-forbidden'] },
      { name: 'p192', sl: 2, tls: ['tls.certificate.ec-key-short'], opcua: ['opcua.endpoints.server-certificate-short-key'], weaknesses: ['key-too-short'] },
      { name: 'sha224', sl: 2, tls: [], opcua: [], weaknesses: [] },
      { name: 'sha224', sl: 3, tls: ['tls.certificate.rsa-key-short', 'tls.certificate.sha224-signature'], opcua: ['opcua.endpoints.server-certificate-short-key', 'opcua.endpoints.server-certificate-weak-hash'], weaknesses: ['key-too-short', 'signature-hash-forbidden'] },
      { name: 'md5', sl: 1, tls: ['tls.certificate.md5-signature'], opcua: ['opcua.endpoints.server-certificate-weak-hash'], weaknesses: ['signature-hash-forbidden'] },
      // A curve the X.509 table does not know: no finding, and no pass on CR 4.3 either.
      { name: 'secp160r1', sl: 2, tls: [], opcua: [], weaknesses: ['key-unjudged'] },
    ];
    for (const e of EXPECTED) {
      it(`${e.name} at SL ${e.sl}: ${e.weaknesses.join(', ') || 'strong enough'} for both protocols`, async () => {
        const { tls, opcua } = await bothProbes(e.name, e.sl);
        const strengthCodes = (codes: string[], prefix: RegExp) => codes.filter((c) => prefix.test(c)).sort();
        expect(strengthCodes(tls.findings.map((f) => f.code), /-key|-signature$/)).to.deep.equal(e.tls);
        expect(strengthCodes(opcua.findings.map((f) => f.code), /^opcua\.endpoints\.server-certificate-/)).to.deep.equal(e.opcua);
        // One module, one verdict: the same weaknesses, thresholds and words.
        const tlsStrength = (tls.observations.strength as { weaknesses: unknown[] }[])[0].weaknesses;
        const opcuaStrength = (opcua.observations.strength as { weaknesses: unknown[] }[])[0].weaknesses;
        expect(opcuaStrength).to.deep.equal(tlsStrength);
        expect((tlsStrength as { kind: string }[]).map((w) => w.kind)).to.deep.equal(e.weaknesses);
        const verdict = e.weaknesses.includes('key-unjudged') ? undefined : e.weaknesses.length ? 'fail' : 'pass';
        const cr43 = (a: typeof tls) => a.outcomes.find((o) => o.requirement === 'CR 4.3')?.verdict;
        expect([cr43(tls), cr43(opcua)]).to.deep.equal([verdict, verdict]);
        expect(opcua.outcomes.find((o) => o.requirement === 'CR 1.9')?.verdict).to.equal(verdict);
      });
    }
  });
});
