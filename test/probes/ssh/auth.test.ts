import { expect } from 'chai';
import probe from '../../../probes/ssh/auth';
import { assess } from '../../../src/assess';
import { loadCatalog } from '../../../src/catalog';
import type { Attempt, Attestation } from '../../../src/report/model';
import type { ComponentInfo } from '../../../src/sdk';
import { startEmulator } from '../../../src/emulator';
import { bannerServer, closedPort, garbageServer, resetServer, stallServer, type TestServer } from '../../../fixtures/servers';
import { useBothPostures } from '../../helpers/postures';
import { runProbe } from '../../helpers/probe-harness';
import { HARDENED_BANNER, useSshdPair } from '../../helpers/sshd';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

interface Observations {
  users: { role: string; username: string; noneAccepted: boolean; methods: string[] }[];
  methods: string[];
  noneAccepted: boolean;
  passwordOffered: boolean;
  publickeyOffered: boolean;
  rootPasswordOffered?: boolean;
  preAuthBanner: string | null;
  emptyPasswordAccepted?: boolean;
  login?: { username: string; outcome: string; method: string | null };
}

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));

describe('probe ssh.auth', function () {
  this.timeout(30_000);

  describe('against the emulator', () => {
    const { weak, hardened } = useBothPostures();

    it('weak posture: "none" accepted, root offered a password -> fail (CR 1.1, CR 2.1); no banner is info, CR 1.12 not judged', async () => {
      const { port } = weak().endpoint('ssh');
      const { attempt } = await runProbe(probe, {
        service: { port, protocol: 'ssh' }, credentials: { ssh: { username: 'admin', password: 'admin' } },
      });
      expect(attempt.status, attempt.message).to.equal('fail');
      const o = attempt.observations as unknown as Observations;
      expect(o.noneAccepted).to.equal(true);
      expect(o.users.map((u) => [u.role, u.noneAccepted])).to.deep.equal([['nonexistent', true], ['profile', true], ['root', true]]);
      expect(o.preAuthBanner).to.equal(null);
      expect(o.rootPasswordOffered).to.equal(true);
      expect(o.login).to.deep.equal({ username: 'admin', outcome: 'accepted', method: 'password' });
      expect(codes(attempt)).to.deep.equal(['ssh.auth.no-banner', 'ssh.auth.none-accepted', 'ssh.auth.root-password-offered']);
      expect(attempt.findings.find((f) => f.code === 'ssh.auth.no-banner')).to.include({ severity: 'info' });
      expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 2.1': 'fail', 'CR 1.5': 'pass' });
    });

    describe('CR 1.12 in the assessment: the SSH banner is supporting evidence, never a failure', () => {
      const catalog = loadCatalog();
      const component: ComponentInfo = { name: 'c', types: ['embedded'], slTarget: { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 } };
      const rowFor = (attempt: Attempt, attestation?: Attestation) => assess({
        catalog, component, attempts: [attempt], probeRequirements: new Map([[probe.id, probe.requirements]]),
        attestations: attestation ? [attestation] : [],
      }).requirements.find((r) => r.id === 'CR 1.12')!;
      const attested = (verdict: Attestation['verdict']): Attestation => ({ id: 'CR 1.12', verdict, reviewer: 'lab', date: '2026-01-10', evidence: 'HMI login screen shows the notification' });

      it('no banner: the attestation decides (a pass stays a pass); without one the row is not determined', async () => {
        const { port } = weak().endpoint('ssh');
        const { attempt } = await runProbe(probe, { service: { port, protocol: 'ssh' }, credentials: { ssh: { username: 'admin', password: 'admin' } } });
        expect(attempt.outcomes.map((o) => o.requirement)).to.not.include('CR 1.12');
        expect(rowFor(attempt, attested('pass'))).to.include({ verdict: 'pass', source: 'manual' });
        expect(rowFor(attempt)).to.include({ verdict: 'not_determined' });
      });

      it('a banner: a partial pass, completed (or overruled) by the attestation', async () => {
        const { port } = hardened().endpoint('ssh');
        const { attempt } = await runProbe(probe, {
          service: { port, protocol: 'ssh' }, credentials: { ssh: { username: 'engineer', password: 'Eng1neer!Bench-2026' } },
          policy: { lockout: { threshold: 3 } }, inputs: { tryEmptyPassword: false },
        });
        expect(attempt.outcomes.find((o) => o.requirement === 'CR 1.12')).to.include({ verdict: 'pass', coverage: 'partial' });
        expect(rowFor(attempt)).to.include({ verdict: 'not_determined', source: 'probe' });
        expect(rowFor(attempt, attested('pass'))).to.include({ verdict: 'pass', source: 'manual' });
        expect(rowFor(attempt, attested('fail'))).to.include({ verdict: 'fail', source: 'manual' });
      });
    });

    it('hardened posture: methods listed, banner shown, root publickey only, profile login works -> pass', async () => {
      const { port } = hardened().endpoint('ssh');
      const { attempt, dir, read } = await runProbe(probe, {
        service: { port, protocol: 'ssh' }, credentials: { ssh: { username: 'engineer', password: 'Eng1neer!Bench-2026' } },
        policy: { lockout: { threshold: 3 } },
      });
      for (const file of attempt.evidence) expect(read(file), `${dir}/${file}`).to.not.contain('Eng1neer!Bench-2026');
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      const o = attempt.observations as unknown as Observations;
      expect(o.noneAccepted).to.equal(false);
      expect(o.methods).to.deep.equal(['publickey', 'password', 'keyboard-interactive']);
      expect(o.users.find((u) => u.role === 'root')?.methods).to.deep.equal(['publickey']);
      expect(o.rootPasswordOffered).to.equal(false);
      expect(o.preAuthBanner).to.match(/^WARNING: This system belongs to the plant operator/);
      expect(o.emptyPasswordAccepted).to.equal(false);
      expect(o.login).to.deep.equal({ username: 'engineer', outcome: 'accepted', method: 'password' });
      expect(attempt.findings).to.deep.equal([]);
      expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'pass', 'CR 2.1': 'pass', 'CR 1.12': 'pass', 'CR 1.5': 'pass' });
      expect(attempt.outcomes.every((x) => x.coverage === 'partial')).to.equal(true);
    });

    it('wrong profile credentials: recorded as an info finding, the other checks still count', async () => {
      const { port } = hardened().endpoint('ssh');
      const { attempt } = await runProbe(probe, {
        service: { port, protocol: 'ssh' }, credentials: { ssh: { username: 'operator', password: 'not-the-password' } },
        inputs: { tryEmptyPassword: false },
      });
      expect(attempt.status).to.equal('pass');
      expect((attempt.observations as unknown as Observations).login?.outcome).to.equal('rejected');
      expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['ssh.auth.login-failed', 'info']]);
    });

    it('an empty password that logs in is a critical finding', async () => {
      const emu = await startEmulator({
        name: 'empty', accounts: [{ username: 'maint', password: '' }],
        services: { ssh: { banner: 'Authorised use only', hostKeys: [{ type: 'ed25519' }] } },
      }, { ephemeralPorts: true });
      try {
        const { attempt } = await runProbe(probe, {
          service: { port: emu.endpoint('ssh').port, protocol: 'ssh' }, credentials: { ssh: { username: 'maint', password: '' } },
        });
        expect(codes(attempt)).to.deep.equal(['ssh.auth.empty-password']);
        expect(verdicts(attempt)).to.include({ 'CR 1.1': 'fail', 'CR 2.1': 'fail', 'CR 1.12': 'pass' });
      } finally {
        await emu.close();
      }
    });
  });

  describe('against OpenSSH sshd', () => {
    const sshd = useSshdPair();

    it('weak sshd (no banner): password offered, "none" refused -> CR 1.1 passes; no banner is info, CR 1.12 not judged', async () => {
      const { attempt } = await runProbe(probe, { service: { port: sshd.weak().port, protocol: 'ssh' } });
      const o = attempt.observations as unknown as Observations;
      expect(o.users.map((u) => u.role)).to.deep.equal(['nonexistent', 'root']);
      expect(o.methods).to.deep.equal(['publickey', 'password']);
      expect(o.noneAccepted).to.equal(false);
      expect(o.preAuthBanner).to.equal(null);
      expect(o.rootPasswordOffered).to.equal(true);
      expect(attempt.findings.map((f) => [f.code, f.severity]).sort()).to.deep.equal([['ssh.auth.no-banner', 'info'], ['ssh.auth.root-password-offered', 'info']]);
      expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'pass', 'CR 2.1': 'pass', 'CR 1.5': 'pass' });
      expect(attempt.status).to.equal('pass');
    });

    it('hardened sshd: the Banner file is shown before authentication -> pass', async () => {
      const { attempt } = await runProbe(probe, { service: { port: sshd.hardened().port, protocol: 'ssh' } });
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      const o = attempt.observations as unknown as Observations;
      expect(o.preAuthBanner).to.equal(HARDENED_BANNER);
      // OpenSSH offers root the same methods whatever PermitRootLogin says: the finding is only info.
      expect(attempt.findings.map((f) => f.severity)).to.deep.equal(['info']);
    });
  });

  describe('misbehaving peers end as errors within the budget', () => {
    const cases: [string, () => Promise<TestServer>, string][] = [
      ['closed port', closedPort, 'unreachable'],
      ['accepts and stalls', stallServer, 'timeout'],
      ['resets', resetServer, 'protocol'],
      ['garbage', () => garbageServer(), 'protocol'],
      ['a non-SSH text service (SMTP-like)', () => bannerServer(), 'protocol'],
    ];
    for (const [name, start, reason] of cases) {
      it(name, async () => {
        const server = await start();
        try {
          const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'ssh' }, timeoutMs: 1500 });
          expect(attempt.status).to.equal('error');
          expect(attempt.reason, attempt.message).to.equal(reason);
        } finally {
          await server.close();
        }
      });
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'ssh' }), timeoutMs: 1500, stallTimeoutMs: 400 });
});
