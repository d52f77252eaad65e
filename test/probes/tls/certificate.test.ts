import { expect } from 'chai';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/tls/certificate';
import { loadPosture, startEmulator, type Emulator, type Posture } from '../../../src/emulator';
import { generateKey, issueCertificate } from '../../../src/protocols/tls';
import { LEGACY_SUITES, legacyTlsServer } from '../../../fixtures/legacy-tls-server';
import { hardenedOpensslServer, weakOpensslServer } from '../../helpers/openssl-server';
import { findExecutable, requirePeer } from '../../helpers/peers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { postureWith } from '../../helpers/postures';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();

function httpsOnly(base: Posture, certificate: Record<string, unknown>, workDir?: string): Posture {
  return { ...base, ...(workDir ? { workDir } : {}), services: { https: { ...base.services.https, certificate: { ...(base.services.https?.certificate as object), ...certificate } } } };
}

describe('tls.certificate', () => {
  describe('against the emulator', () => {
    let weak: Emulator;
    let hardened: Emulator;
    let workDir: string;
    before(async () => {
      workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-cert-'));
      [weak, hardened] = await Promise.all([
        startEmulator(postureWith('weak', ['https']), { ephemeralPorts: true }),
        startEmulator(postureWith('hardened', ['https', 'modbus-tls'], { workDir }), { ephemeralPorts: true }),
      ]);
    });
    after(async () => {
      await Promise.all([weak?.close(), hardened?.close()]);
      fs.rmSync(workDir, { recursive: true, force: true });
    });

    it('weak posture: 1024-bit RSA, SHA-1, self-signed, 20-year certificate; the PEM is evidence', async () => {
      const { attempt, read } = await runProbe(probe, { service: { port: weak.endpoint('https').port, protocol: 'https' } });
      expect(codes(attempt)).to.deep.equal(['tls.certificate.lifetime-too-long', 'tls.certificate.rsa-key-short', 'tls.certificate.self-signed', 'tls.certificate.sha1-signature']);
      expect(attempt.status).to.equal('fail');
      const cert = (attempt.observations as { certificate: Record<string, unknown> }).certificate;
      expect(cert).to.include({ keyType: 'RSA', keyBits: 1024, signatureAlgorithm: 'sha1WithRSAEncryption', selfSigned: true, lifetimeDays: 7300 });
      expect(cert.sha256).to.match(/^[0-9a-f]{64}$/);
      expect(read(attempt.evidence.find((e) => e.endsWith('.pem'))!)).to.match(/^-----BEGIN CERTIFICATE-----/);
      expect((attempt.observations as { chainSource: string }).chainSource).to.equal('TLSv1.2 server flight, as sent');
    });

    it('weak posture at SL 1: self-signed and long-lived certificates pass, weak key and hash do not', async () => {
      const { attempt } = await runProbe(probe, { service: { port: weak.endpoint('https').port, protocol: 'https' }, sl: 1 });
      expect(codes(attempt)).to.deep.equal(['tls.certificate.rsa-key-short', 'tls.certificate.sha1-signature']);
    });

    it('hardened posture: P-256, SHA-256, issued by the device CA, names the address; trusted with the CA as anchor', async () => {
      const { attempt } = await runProbe(probe, {
        service: { port: hardened.endpoint('https').port, protocol: 'https' },
        inputs: { trustAnchorsFile: path.join(workDir, 'pki', 'ca.crt') },
      });
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      const obs = attempt.observations as { certificate: Record<string, unknown>; trusted: boolean; nameMatches: boolean; chainSource: string };
      expect(obs.certificate).to.include({ keyType: 'EC', keyBits: 256, signatureAlgorithm: 'sha256WithRSAEncryption', selfSigned: false });
      expect([obs.trusted, obs.nameMatches, obs.chainSource]).to.deep.equal([true, true, 'TLSv1.3 server flight, as sent']);
    });

    it('hardened posture against foreign trust anchors: untrusted', async () => {
      const foreign = issueCertificate({ commonName: 'Other plant CA', key: generateKey({ type: 'ec', curve: 'P-256' }), isCa: true, notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000) });
      fs.writeFileSync(path.join(workDir, 'foreign.pem'), foreign.pem);
      const { attempt } = await runProbe(probe, {
        service: { port: hardened.endpoint('https').port, protocol: 'https' },
        inputs: { trustAnchorsFile: path.join(workDir, 'foreign.pem') },
      });
      expect(codes(attempt)).to.deep.equal(['tls.certificate.untrusted']);
    });

    it('expired and not-yet-valid certificates', async () => {
      const base = loadPosture('hardened');
      const expired = await startEmulator(httpsOnly(base, { notBeforeDays: -400, validDays: 30 }), { ephemeralPorts: true });
      const future = await startEmulator(httpsOnly(base, { notBeforeDays: 10, validDays: 30 }), { ephemeralPorts: true });
      try {
        const a = await runProbe(probe, { service: { port: expired.endpoint('https').port, protocol: 'https' } });
        expect(codes(a.attempt)).to.deep.equal(['tls.certificate.expired']);
        const b = await runProbe(probe, { service: { port: future.endpoint('https').port, protocol: 'https' } });
        expect(codes(b.attempt)).to.deep.equal(['tls.certificate.not-yet-valid']);
      } finally {
        await Promise.all([expired.close(), future.close()]);
      }
    });
  });

  describe('against Debian openssl s_server', () => {
    it('weak s_server: 1024-bit RSA, SHA-1, self-signed, no name for the address', async function () {
      const server = await weakOpensslServer(requirePeer(this, 'openssl', findExecutable('openssl')));
      try {
        const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' } });
        expect(codes(attempt)).to.deep.equal(['tls.certificate.name-mismatch', 'tls.certificate.rsa-key-short', 'tls.certificate.self-signed', 'tls.certificate.sha1-signature']);
      } finally {
        await server.close();
      }
    });

    it('hardened s_server (RSA 2048 issued by a CA, SHA-256): no finding, trusted by its CA', async function () {
      const server = await hardenedOpensslServer(requirePeer(this, 'openssl', findExecutable('openssl')), 'rsa:2048');
      try {
        const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' }, inputs: { trustAnchorsFile: server.pki.file('labca.crt') } });
        expect(attempt.findings, JSON.stringify(attempt.findings)).to.deep.equal([]);
        expect((attempt.observations as { certificate: { keyBits: number } }).certificate.keyBits).to.equal(2048);
        expect((attempt.observations as { trusted: boolean }).trusted).to.equal(true);
      } finally {
        await server.close();
      }
    });
  });

  it('legacy device that node:tls cannot talk to: the chain comes from the raw TLS 1.0 flight', async () => {
    const server = await legacyTlsServer({ versions: [0x0300, 0x0301], suites: [LEGACY_SUITES.RC4_128_MD5] });
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' } });
      expect(codes(attempt)).to.include.members(['tls.certificate.rsa-key-short', 'tls.certificate.sha1-signature']);
      const obs = attempt.observations as { chainSource: string; negotiated: { failed?: string } };
      expect(obs.chainSource).to.equal('TLSv1 server flight, as sent');
      expect(obs.negotiated.failed).to.be.a('string');
    } finally {
      await server.close();
    }
  });

  it('a key on a curve the X.509 table does not know: CR 1.8 and CR 4.3 stay not determined, nothing is passed as strong', async () => {
    const key = crypto.generateKeyPairSync('ec', { namedCurve: 'secp160r1' });
    const now = Date.now();
    const certificate = issueCertificate({ commonName: 'odd-curve', key, notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 86_400_000) }).der;
    const server = await legacyTlsServer({ versions: [0x0301], suites: [LEGACY_SUITES.RC4_128_MD5], certificate });
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' }, sl: 1 });
      expect(attempt.findings).to.deep.equal([]);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 3.1 RE(1):pass']);
      const obs = attempt.observations as { certificate: { keyBits: unknown; curve: string }; notDetermined: string };
      expect(obs.certificate).to.include({ keyBits: null, curve: 'secp160r1' });
      expect(obs.notDetermined).to.match(/EC secp160r1 key of unknown size/);
    } finally {
      await server.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'tls' }), timeoutMs: 2000, stallTimeoutMs: 300,
    reasons: { tlsLargeChain: 'verdict' }, // a valid TLS server with a 64 KiB chain: judged like any other
  });
});
