import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/tls/protocols';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { suiteByName } from '../../../src/protocols/tls';
import { LEGACY_SUITES, legacyTlsServer } from '../../../fixtures/legacy-tls-server';
import { hardenedOpensslServer, weakOpensslServer } from '../../helpers/openssl-server';
import { findExecutable, requirePeer } from '../../helpers/peers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { postureWith } from '../../helpers/postures';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();

describe('tls.protocols', () => {
  describe('against the emulator', () => {
    let weak: Emulator;
    let hardened: Emulator;
    before(async () => {
      [weak, hardened] = await Promise.all([startEmulator(postureWith('weak', ['https']), { ephemeralPorts: true }), startEmulator(postureWith('hardened', ['https', 'modbus-tls']), { ephemeralPorts: true })]);
    });
    after(async () => {
      await Promise.all([weak?.close(), hardened?.close()]);
    });

    it('weak posture: TLS 1.0/1.1, static RSA and a 1024-bit DH group are reported (SL 2)', async () => {
      const { attempt, read } = await runProbe(probe, { service: { port: weak.endpoint('https').port, protocol: 'https' } });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['tls.protocols.no-forward-secrecy', 'tls.protocols.tls1-0', 'tls.protocols.tls1-1', 'tls.protocols.weak-dh']);
      const obs = attempt.observations as { protocols: Record<string, boolean>; ciphers: Record<string, string[]> };
      expect(obs.protocols).to.deep.equal({ SSLv3: false, TLSv1: true, 'TLSv1.1': true, 'TLSv1.2': true, 'TLSv1.3': false });
      expect(obs.ciphers.TLSv1).to.include('TLS_RSA_WITH_AES_128_CBC_SHA');
      expect(obs.ciphers['TLSv1.2']).to.include('TLS_RSA_WITH_AES_128_GCM_SHA256');
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal([
        'CR 4.3:fail:partial', 'CR 4.1:fail:partial', 'CR 3.1:pass:partial', 'CR 3.1 RE(1):fail:partial',
      ]);
      const transcript = attempt.evidence.find((e) => e.endsWith('handshakes.ndjson'))!;
      expect(read(transcript).trim().split('\n').length).to.equal((attempt.observations as { exchanges: number }).exchanges);
    });

    it('weak posture at SL 1: forward secrecy is not demanded, legacy protocols still are', async () => {
      const { attempt } = await runProbe(probe, { service: { port: weak.endpoint('https').port, protocol: 'https' }, sl: 1 });
      expect(codes(attempt)).to.deep.equal(['tls.protocols.tls1-0', 'tls.protocols.tls1-1', 'tls.protocols.weak-dh']);
    });

    it('weak posture at SL 4: the CBC and HMAC-SHA1 suites are reported too, under names the probe declares', async () => {
      const { attempt } = await runProbe(probe, { service: { port: weak.endpoint('https').port, protocol: 'https' }, sl: 4 });
      // 'fail', not 'error': the runner refuses a finding name the probe does not declare.
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(codes(attempt)).to.deep.equal([
        'tls.protocols.no-forward-secrecy', 'tls.protocols.suite-cbc', 'tls.protocols.suite-sha1', 'tls.protocols.tls1-0', 'tls.protocols.tls1-1',
        'tls.protocols.weak-dh',
      ]);
    });

    it('hardened posture: TLS 1.2/1.3 with AEAD suites only, no finding even at SL 4', async () => {
      for (const sl of [2, 4]) {
        const { attempt } = await runProbe(probe, { service: { port: hardened.endpoint('https').port, protocol: 'https' }, sl });
        expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
        const obs = attempt.observations as { protocols: Record<string, boolean>; ciphers: Record<string, string[]>; fallbackScsv: boolean; keyExchange: { forwardSecrecy: string; groups: Record<string, string[]> } };
        expect(obs.protocols).to.deep.equal({ SSLv3: false, TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true });
        expect(Object.values(obs.ciphers).flat().every((n) => suiteByName(n)?.flags.includes('AEAD'))).to.equal(true);
        expect(obs.keyExchange.forwardSecrecy).to.equal('all');
        expect(obs.keyExchange.groups['TLSv1.3']).to.have.members(['x25519', 'secp256r1', 'secp384r1']);
        expect(obs.fallbackScsv).to.equal(true);
      }
    });

    it('applies to the Modbus/TCP Security endpoint as well', async () => {
      const { attempt } = await runProbe(probe, { service: { port: hardened.endpoint('modbus-tls').port, protocol: 'modbus-tls' } });
      expect(attempt.status).to.equal('pass');
      expect((attempt.observations as { clientCertificate: { requested: boolean } }).clientCertificate.requested).to.equal(true);
    });

    it('a profile can bring its own policy file', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-policy-'));
      const file = path.join(dir, 'tls.yaml');
      const own = fs.readFileSync(path.join(__dirname, '../../../profiles/baselines/tls.yaml'), 'utf8')
        .replace(/allowed: \[TLSv1\.2, TLSv1\.3\]/g, 'allowed: [TLSv1, TLSv1.1, TLSv1.2, TLSv1.3]');
      fs.writeFileSync(file, own);
      try {
        const { attempt } = await runProbe(probe, { service: { port: weak.endpoint('https').port, protocol: 'https' }, baselineFiles: { tls: file } });
        expect(codes(attempt)).to.deep.equal(['tls.protocols.no-forward-secrecy', 'tls.protocols.weak-dh']);
        fs.writeFileSync(file, own.replaceAll('forbidden: ["NULL",', 'forbidden: [BOGUS, "NULL",'));
        const broken = await runProbe(probe, { service: { port: weak.endpoint('https').port, protocol: 'https' }, baselineFiles: { tls: file } });
        expect(broken.attempt.status).to.equal('error');
        expect(broken.attempt.message).to.match(/suites\.forbidden: unknown BOGUS/);
        // A signalling value is never a suite the server accepts: a rule against it could never fire.
        fs.writeFileSync(file, own.replaceAll('forbidden: ["NULL",', 'forbidden: [SCSV, "NULL",'));
        const scsv = await runProbe(probe, { service: { port: weak.endpoint('https').port, protocol: 'https' }, baselineFiles: { tls: file } });
        expect([scsv.attempt.status, scsv.attempt.findings]).to.deep.equal(['error', []]);
        expect(scsv.attempt.message).to.match(/suites\.forbidden: unknown SCSV/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('against Debian openssl s_server', () => {
    it('weak s_server (TLS 1.0, RSA 1024/SHA-1, ALL:eNULL:@SECLEVEL=0): the findings appear', async function () {
      const server = await weakOpensslServer(requirePeer(this, 'openssl', findExecutable('openssl')));
      try {
        const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' } });
        expect(codes(attempt)).to.deep.equal([
          'tls.protocols.no-forward-secrecy', 'tls.protocols.suite-anon', 'tls.protocols.suite-md5', 'tls.protocols.suite-null',
          'tls.protocols.tls1-0', 'tls.protocols.tls1-1', 'tls.protocols.weak-dh',
        ]);
      } finally {
        await server.close();
      }
    });

    it('hardened s_server (TLS 1.2+1.3, P-256, SHA-256, AEAD only): no finding', async function () {
      const server = await hardenedOpensslServer(requirePeer(this, 'openssl', findExecutable('openssl')), 'ec:P-256');
      try {
        const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' } });
        expect(attempt.findings, JSON.stringify(attempt.findings)).to.deep.equal([]);
        expect(attempt.status).to.equal('pass');
      } finally {
        await server.close();
      }
    });
  });

  it('legacy device (SSLv3, RC4, EXPORT, DES, 3DES, anon): each is reported', async () => {
    const s = LEGACY_SUITES;
    const server = await legacyTlsServer({
      versions: [0x0300, 0x0301],
      suites: [s.RC4_128_MD5, s.EXPORT_RC4_40_MD5, s.EXPORT_DES40_CBC_SHA, s.DES_CBC_SHA, s.TDES_EDE_CBC_SHA, s.DH_anon_RC4_128_MD5],
    });
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' } });
      expect(codes(attempt)).to.deep.equal([
        'tls.protocols.no-forward-secrecy', 'tls.protocols.sslv3', 'tls.protocols.suite-3des', 'tls.protocols.suite-anon', 'tls.protocols.suite-des',
        'tls.protocols.suite-export', 'tls.protocols.suite-md5', 'tls.protocols.suite-rc4', 'tls.protocols.tls1-0', 'tls.protocols.weak-dh',
      ]);
      expect(attempt.findings.find((f) => f.code === 'tls.protocols.sslv3')?.severity).to.equal('high');
      expect((attempt.observations as { ciphers: Record<string, string[]> }).ciphers.SSLv3).to.include('TLS_RSA_EXPORT_WITH_DES40_CBC_SHA');
    } finally {
      await server.close();
    }
  });

  it('a device that stalls mid-handshake: timeout within the budget', async () => {
    const server = await legacyTlsServer({ versions: [0x0303], suites: [LEGACY_SUITES.AES_128_CBC_SHA], stallMidHello: true });
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'tls' }, timeoutMs: 400 });
      expect([attempt.status, attempt.reason]).to.deep.equal(['error', 'timeout']);
    } finally {
      await server.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'tls' }), timeoutMs: 2000, stallTimeoutMs: 300,
    reasons: { tlsLargeChain: 'verdict' }, // a valid TLS server with a 64 KiB chain: judged like any other
  });
});
