import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/tls/client-certificate';
import { loadPosture, startEmulator, type Emulator, type Posture } from '../../../src/emulator';
import { hardenedOpensslServer } from '../../helpers/openssl-server';
import { findExecutable, requirePeer } from '../../helpers/peers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { postureWith } from '../../helpers/postures';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const ALL_ACCEPTED = [
  'tls.client-certificate.bad-signature-accepted', 'tls.client-certificate.expired-accepted', 'tls.client-certificate.self-signed-accepted',
  'tls.client-certificate.untrusted-ca-accepted',
];

/** The hardened web UI with a client-certificate knob, its CA in a known workDir. */
function webUi(workDir: string, clientCertificate: { mode: string; verify?: boolean }): Posture {
  const base = loadPosture('hardened');
  return { ...base, workDir, services: { https: { ...base.services.https, clientCertificate } } };
}

describe('tls.client-certificate', () => {
  describe('against the emulator', () => {
    const dirs: string[] = [];
    const started: Emulator[] = [];
    const start = async (mode: string, verify: boolean) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-client-'));
      dirs.push(dir);
      const emu = await startEmulator(webUi(dir, { mode, verify }), { ephemeralPorts: true });
      started.push(emu);
      return { port: emu.endpoint('https').port, inputs: { trustedCaCertFile: path.join(dir, 'pki/ca.crt'), trustedCaKeyFile: path.join(dir, 'pki/ca.key'), settleMs: 300 } };
    };
    after(async () => {
      await Promise.all(started.map((e) => e.close()));
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    });

    it('required and verified against the device CA: every invalid certificate is refused, the valid one accepted', async () => {
      const { port, inputs } = await start('required', true);
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'https' }, inputs });
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      const obs = attempt.observations as { mode: string; requested: boolean; results: Record<string, { accepted: boolean; evidence: string }> };
      expect([obs.mode, obs.requested]).to.deep.equal(['required', true]);
      expect(Object.fromEntries(Object.entries(obs.results).map(([k, v]) => [k, v.accepted]))).to.deep.equal({
        'self-signed': false, 'untrusted-ca': false, 'bad-signature': false, expired: false, valid: true,
      });
      expect(obs.results.valid.evidence).to.equal('response');
      expect(attempt.outcomes).to.deep.include({ requirement: 'CR 1.9', verdict: 'pass', coverage: 'partial', reason: attempt.outcomes[0].reason });
    });

    it('required but not verified (a careless device): all four invalid certificates are accepted', async () => {
      const { port, inputs } = await start('required', false);
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'https' }, inputs });
      expect(codes(attempt)).to.deep.equal(ALL_ACCEPTED);
      expect(attempt.status).to.equal('fail');
      expect(attempt.findings.every((f) => f.severity === 'high')).to.equal(true);
      expect(attempt.evidence.filter((e) => /client-.*\.pem$/.test(e))).to.have.length(5);
    });

    it('optional and not verified: accepted too, with a lower severity', async () => {
      const { port, inputs } = await start('optional', false);
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'https' }, inputs });
      expect(codes(attempt)).to.deep.equal(ALL_ACCEPTED);
      expect(attempt.findings.every((f) => f.severity === 'medium')).to.equal(true);
    });

    it('optional but verified: a presented invalid certificate is refused', async () => {
      const { port, inputs } = await start('optional', true);
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'https' }, inputs });
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      expect((attempt.observations as { mode: string }).mode).to.equal('optional');
    });

    it('without a trusted test CA: expired is skipped with the reason, the others still run', async () => {
      const { port } = await start('required', false);
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'https' }, inputs: { settleMs: 300 } });
      expect(codes(attempt)).to.deep.equal([
        'tls.client-certificate.bad-signature-accepted', 'tls.client-certificate.self-signed-accepted', 'tls.client-certificate.untrusted-ca-accepted',
      ]);
      expect((attempt.observations as { skipped: Record<string, string> }).skipped.expired).to.match(/trustedCaCertFile/);
    });

    it('weak posture (no client certificate requested): not applicable', async () => {
      const emu = await startEmulator(postureWith('weak', ['https']), { ephemeralPorts: true });
      started.push(emu);
      const { attempt } = await runProbe(probe, { service: { port: emu.endpoint('https').port, protocol: 'https' } });
      expect(attempt.status).to.equal('not_applicable');
      expect(attempt.outcomes[0].reason).to.match(/does not request a client certificate/);
    });
  });

  describe('against Debian openssl s_server', () => {
    it('-Verify without -verify_return_error (verification errors ignored): invalid certificates are accepted', async function () {
      const openssl = requirePeer(this, 'openssl', findExecutable('openssl'));
      const server = await hardenedOpensslServer(openssl, 'ec:P-256', ['-Verify', '1', '-CAfile', 'labca.crt']);
      try {
        const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' }, inputs: { trustedCaCertFile: server.pki.file('labca.crt'), trustedCaKeyFile: server.pki.file('labca.key'), settleMs: 300 } });
        expect(codes(attempt)).to.deep.equal(ALL_ACCEPTED);
      } finally {
        await server.close();
      }
    });

    it('-Verify with -verify_return_error: every invalid certificate is refused with its alert', async function () {
      const openssl = requirePeer(this, 'openssl', findExecutable('openssl'));
      const server = await hardenedOpensslServer(openssl, 'ec:P-256', ['-Verify', '1', '-verify_return_error', '-CAfile', 'labca.crt']);
      try {
        const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' }, inputs: { trustedCaCertFile: server.pki.file('labca.crt'), trustedCaKeyFile: server.pki.file('labca.key'), settleMs: 300 } });
        expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
        const results = (attempt.observations as { results: Record<string, { alert?: string }> }).results;
        expect(results.expired.alert).to.equal('certificate_expired');
        expect(results['self-signed'].alert).to.equal('unknown_ca');
      } finally {
        await server.close();
      }
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'tls' }), timeoutMs: 2000, stallTimeoutMs: 300,
    reasons: { tlsLargeChain: 'verdict' }, // a valid TLS server with a 64 KiB chain: judged like any other
  });
});
