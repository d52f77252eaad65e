import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import probe from '../../../probes/ssh/algorithms';
import { bannerServer, closedPort, garbageServer, resetServer, stallServer, type TestServer } from '../../../fixtures/servers';
import { nmapSshTables, sshAuditLists } from '../../helpers/peer-output';
import { findExecutable, requirePeer } from '../../helpers/peers';
import { useBothPostures } from '../../helpers/postures';
import { runProbe } from '../../helpers/probe-harness';
import { useSshdPair } from '../../helpers/sshd';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const run = promisify(execFile);

interface Observations {
  banner: string;
  kex: string[];
  hostKey: string[];
  ciphers: string[];
  macs: string[];
  compression: string[];
  hostKeys: { algorithm: string; keyType?: string; bits?: number; fingerprint?: string; error?: string }[];
}

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();

describe('probe ssh.algorithms', function () {
  this.timeout(30_000);

  describe('against the emulator', () => {
    const { weak, hardened } = useBothPostures();

    it('weak posture: SHA-1/1024-bit kex, CBC/3DES, MD5/-96 MACs, 1024-bit RSA -> fail with findings and evidence', async () => {
      const { port } = weak().endpoint('ssh');
      const { attempt, read } = await runProbe(probe, { service: { port, protocol: 'ssh' }, sl: 2 });
      expect(attempt.status, attempt.message).to.equal('fail');
      const o = attempt.observations as unknown as Observations;
      expect(o.banner).to.equal('SSH-2.0-EPLC1_SSH_1.0');
      // The server's order, as the posture lists it (ssh2 appends the strict-kex marker).
      expect(o.kex).to.deep.equal(['diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1', 'diffie-hellman-group-exchange-sha1', 'diffie-hellman-group14-sha256', 'kex-strict-s-v00@openssh.com']);
      expect(o.ciphers).to.deep.equal(['aes128-cbc', '3des-cbc', 'aes256-cbc', 'aes128-ctr']);
      expect(o.macs).to.deep.equal(['hmac-md5', 'hmac-sha1', 'hmac-sha1-96', 'hmac-sha2-256']);
      expect(o.compression).to.deep.equal(['none', 'zlib']);
      expect(o.hostKey).to.deep.equal(['ssh-rsa', 'rsa-sha2-256']);
      expect(o.hostKeys.map((h) => [h.algorithm, h.keyType, h.bits])).to.deep.equal([['ssh-rsa', 'ssh-rsa', 1024], ['rsa-sha2-256', 'ssh-rsa', 1024]]);
      expect(codes(attempt)).to.deep.equal([
        'ssh.algorithms.cipher-64bit-block', 'ssh.algorithms.cipher-cbc', 'ssh.algorithms.hostkey-rsa-short', 'ssh.algorithms.hostkey-sha1',
        'ssh.algorithms.kex-dh-1024', 'ssh.algorithms.kex-sha1', 'ssh.algorithms.mac-md5', 'ssh.algorithms.mac-sha1', 'ssh.algorithms.mac-truncated',
      ]);
      const cbc = attempt.findings.find((f) => f.code === 'ssh.algorithms.cipher-cbc')!;
      expect(cbc.message).to.contain('aes128-cbc, 3des-cbc, aes256-cbc');
      expect(cbc.requirements).to.deep.equal(['CR 4.1', 'CR 4.3']);
      expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([
        ['CR 4.3', 'fail', 'partial'], ['CR 4.1', 'fail', 'partial'], ['CR 3.1', 'fail', 'partial'],
      ]);
      const raw = attempt.evidence.find((e) => e.endsWith('kexinit.bin'))!;
      expect(Buffer.from(read(raw), 'latin1')[0], 'raw KEXINIT starts with message 20').to.equal(20);
      expect(attempt.evidence.some((e) => e.endsWith('hostkeys.json'))).to.equal(true);
    });

    it('weak posture at SL 1 drops the SL-2 rules (HMAC-SHA-1, ssh-rsa signatures)', async () => {
      const { port } = weak().endpoint('ssh');
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'ssh' }, sl: 1 });
      expect(codes(attempt)).to.not.include.members(['ssh.algorithms.mac-sha1', 'ssh.algorithms.hostkey-sha1']);
      expect(codes(attempt)).to.include('ssh.algorithms.kex-sha1');
    });

    it('a profile\'s own baseline: its rules raise the declared names; a rule named by a full code is refused, not reported', async () => {
      const { port } = weak().endpoint('ssh');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssh-policy-'));
      const file = path.join(dir, 'ssh.yaml');
      const shipped = fs.readFileSync(path.join(__dirname, '../../../profiles/baselines/ssh.yaml'), 'utf8');
      try {
        // Only the CBC rule at every level: the run reports it under the probe's id.
        fs.writeFileSync(file, shipped.replace(/^levels:[^]*$/m, 'levels:\n' + [1, 2, 3, 4].map((l) => `  ${l}:\n    rules: [*cipher-cbc]\n`).join('')));
        const own = await runProbe(probe, { service: { port, protocol: 'ssh' }, baselineFiles: { ssh: file } });
        expect([own.attempt.status, codes(own.attempt)]).to.deep.equal(['fail', ['ssh.algorithms.cipher-cbc']]);
        fs.writeFileSync(file, shipped.replace('code: cipher-cbc', 'code: ssh.algorithms.cipher-cbc'));
        const { attempt } = await runProbe(probe, { service: { port, protocol: 'ssh' }, baselineFiles: { ssh: file } });
        expect(attempt.status).to.equal('error');
        expect(attempt.findings).to.deep.equal([]);
        expect(attempt.message).to.match(/ssh baseline is invalid: rules\[\d+\] \(ssh\.algorithms\.cipher-cbc\): code is a finding name without the probe id \(e\.g\. cipher-cbc\)/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('hardened posture: curve25519/AEAD/ETM and ed25519 -> pass, no findings', async () => {
      const { port } = hardened().endpoint('ssh');
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'ssh' }, sl: 3 });
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      const o = attempt.observations as unknown as Observations;
      expect(o.kex[0]).to.equal('curve25519-sha256');
      expect(o.macs).to.deep.equal(['hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256-etm@openssh.com']);
      expect(o.hostKeys).to.have.length(1);
      expect(o.hostKeys[0]).to.include({ algorithm: 'ssh-ed25519', keyType: 'ssh-ed25519', bits: 256 });
      expect(attempt.outcomes.every((x) => x.verdict === 'pass' && x.coverage === 'partial')).to.equal(true);
    });
  });

  describe('against OpenSSH sshd', () => {
    const sshd = useSshdPair();

    it('weak sshd: SHA-1 kex, CBC, DSA and 1024-bit RSA found; host keys sized', async () => {
      const { attempt } = await runProbe(probe, { service: { port: sshd.weak().port, protocol: 'ssh' }, sl: 2 });
      expect(attempt.status, attempt.message).to.equal('fail');
      const o = attempt.observations as unknown as Observations;
      expect(o.banner).to.match(/^SSH-2\.0-OpenSSH_/);
      expect(codes(attempt)).to.include.members([
        'ssh.algorithms.kex-sha1', 'ssh.algorithms.kex-dh-1024', 'ssh.algorithms.cipher-cbc', 'ssh.algorithms.cipher-64bit-block',
        'ssh.algorithms.mac-md5', 'ssh.algorithms.mac-truncated', 'ssh.algorithms.hostkey-dss', 'ssh.algorithms.hostkey-rsa-short',
      ]);
      const sized = Object.fromEntries(o.hostKeys.map((h) => [h.algorithm, h.bits]));
      expect(sized).to.include({ 'rsa-sha2-512': 1024, 'ssh-rsa': 1024, 'ssh-dss': 1024, 'ssh-ed25519': 256 });
    });

    it('hardened sshd: no findings at SL 3; sntrup761 listed although no key exchange of ours can use it', async () => {
      const { attempt } = await runProbe(probe, { service: { port: sshd.hardened().port, protocol: 'ssh' }, sl: 3 });
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      const o = attempt.observations as unknown as Observations;
      expect(o.kex).to.include('sntrup761x25519-sha512@openssh.com');
      expect(Object.fromEntries(o.hostKeys.map((h) => [h.algorithm, h.bits]))).to.deep.equal({ 'ssh-ed25519': 256, 'rsa-sha2-512': 3072, 'rsa-sha2-256': 3072 });
    });

    for (const which of ['weak', 'hardened'] as const) {
      it(`${which} sshd: lists equal what ssh-audit -j and nmap ssh2-enum-algos report for the same sshd`, async function () {
        const sshAudit = requirePeer(this, 'ssh-audit', findExecutable('ssh-audit'), 'Debian package ssh-audit');
        const nmap = requirePeer(this, 'nmap', findExecutable('nmap'), 'Debian package nmap');
        const port = (which === 'weak' ? sshd.weak() : sshd.hardened()).port;
        const [{ attempt }, audit, scan] = await Promise.all([
          runProbe(probe, { service: { port, protocol: 'ssh' } }),
          // ssh-audit exits non-zero when it finds failures; its JSON is on stdout either way.
          run(sshAudit, ['-j', '-p', String(port), '127.0.0.1'], { timeout: 20_000 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' })),
          run(nmap, ['-Pn', '-n', '-sT', '-p', String(port), '--script', '+ssh2-enum-algos', '-oX', '-', '127.0.0.1'], { timeout: 20_000 }),
        ]);
        const o = attempt.observations as unknown as Observations;
        const a = sshAuditLists(audit.stdout);
        expect(o.banner).to.equal(a.banner);
        expect(o.kex).to.deep.equal(a.kex);
        expect(o.hostKey).to.deep.equal(a.hostKey);
        expect(o.ciphers).to.deep.equal(a.ciphers);
        expect(o.macs).to.deep.equal(a.macs);
        expect(o.compression).to.deep.equal(a.compression);
        const sized = Object.entries(a.keySizes);
        if (which === 'weak') expect(sized.length, 'ssh-audit sized the RSA key').to.be.greaterThan(0);
        for (const [algorithm, bits] of sized) expect(o.hostKeys.find((h) => h.algorithm === algorithm)?.bits, algorithm).to.equal(bits);
        const tables = nmapSshTables(scan.stdout);
        expect(o.kex).to.deep.equal(tables.kex_algorithms);
        expect(o.hostKey).to.deep.equal(tables.server_host_key_algorithms);
        expect(o.ciphers).to.deep.equal(tables.encryption_algorithms);
        expect(o.macs).to.deep.equal(tables.mac_algorithms);
        expect(o.compression).to.deep.equal(tables.compression_algorithms);
      });
    }
  });

  describe('misbehaving peers end as errors within the budget', () => {
    const cases: [string, () => Promise<TestServer>, string[]][] = [
      ['closed port', closedPort, ['unreachable']],
      ['accepts and stalls', stallServer, ['timeout']],
      ['resets', resetServer, ['protocol']],
      ['garbage', () => garbageServer(), ['protocol']],
      ['a non-SSH text service (SMTP-like)', () => bannerServer(), ['protocol']],
      ['an SSH banner followed by garbage', () => garbageServer(Buffer.from('SSH-2.0-Fake_1.0\r\n\xff\xff\xff\xff\x00garbage', 'latin1')), ['protocol']],
    ];
    for (const [name, start, reasons] of cases) {
      it(name, async () => {
        const server = await start();
        try {
          const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'ssh' }, timeoutMs: 1500 });
          expect(attempt.status).to.equal('error');
          expect(reasons, attempt.message).to.include(attempt.reason);
          expect(attempt.outcomes).to.deep.equal([]);
        } finally {
          await server.close();
        }
      });
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'ssh' }), timeoutMs: 1500, stallTimeoutMs: 400 });
});
