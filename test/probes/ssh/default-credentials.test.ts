import { expect } from 'chai';
import probe from '../../../probes/ssh/default-credentials';
import { MapLedger } from '../../../src/runner/attempt';
import { startEmulator } from '../../../src/emulator';
import { accountKey, lockNotices, passwordDigest } from '../../../src/protocols/auth';
import { passwordLogin } from '../../../src/protocols/ssh';
import { OPERATOR, POLICY, WEAK_ADMIN, authPosture, useAuthDevices } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { PLAIN_SSHD, startSshdWithAccounts } from '../../helpers/sshd-account';
import type { Sshd } from '../../helpers/sshd';

interface Observations {
  tried: number;
  untried: number;
  accepted: { list: string; entry: string; username: string; passwordSha256: string }[];
  lockoutThreshold: { value: number; source: string };
}

describe('probe ssh.default-credentials', function () {
  this.timeout(30_000);
  const devices = useAuthDevices('ssh');

  it('weak posture: admin/admin and operator/operator log in -> critical findings, CR 1.5 and CR 1.1 fail', async () => {
    const { attempt, dir, read } = await runProbe(probe, { service: { port: devices.weak().endpoint('ssh').port, protocol: 'ssh' }, policy: POLICY });
    expect(attempt.status, attempt.message).to.equal('fail');
    const o = attempt.observations as unknown as Observations;
    expect(o.accepted.map((a) => `${a.list}/${a.entry}`)).to.deep.equal(['generic/admin-admin', 'generic/operator-operator']);
    expect(o.accepted[0].passwordSha256).to.equal(passwordDigest('admin'));
    expect(attempt.findings.filter((f) => f.severity === 'critical').map((f) => f.code)).to.deep.equal(['ssh.default-credentials.accepted', 'ssh.default-credentials.accepted']);
    expect(attempt.outcomes.map((x) => [x.requirement, x.verdict])).to.deep.equal([['CR 1.5', 'fail'], ['CR 1.1', 'fail']]);
    const evidence = JSON.parse(read(attempt.evidence.find((f) => f.endsWith('default-credentials.json'))!)) as { attempts: Record<string, unknown>[] };
    for (const row of evidence.attempts) expect(row).to.not.have.property('password');
    expect(JSON.stringify(evidence), dir).to.not.contain('"wago"');
  });

  it('hardened posture: no listed pair logs in; at most threshold-1 failures per account, and the profile account still works', async () => {
    const ledger = new MapLedger();
    const { port } = devices.hardened().endpoint('ssh');
    const { attempt } = await runProbe(probe, { service: { port, protocol: 'ssh' }, policy: POLICY, credentials: { ssh: OPERATOR }, ledger });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    const o = attempt.observations as unknown as Observations;
    expect(o.accepted).to.deep.equal([]);
    expect(o.tried).to.be.greaterThan(3);
    expect(o.untried).to.be.greaterThan(0); // the budget (2 per account) leaves most of the list
    expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['ssh.default-credentials.untried', 'info']]);
    for (const [key, n] of Object.entries(ledger.toJSON())) if (key.startsWith('auth.failures.account:')) expect(n, key).to.be.at.most(2);
    // operator/operator was tried, then the profile's password reset the device's counter.
    expect(ledger.get(accountKey('127.0.0.1', 'operator'))).to.equal(0);
    const again = await passwordLogin(OPERATOR.username, OPERATOR.password, { host: '127.0.0.1', port, signal: AbortSignal.timeout(5000), timeoutMs: 5000 });
    expect(again.outcome).to.equal('accepted');
  });

  it('failures booked by earlier probes of the run count: an exhausted account is not tried, and an undocumented threshold is assumed to be 3', async () => {
    const ledger = new MapLedger();
    ledger.set(accountKey('127.0.0.1', 'admin'), 2);
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('ssh').port, protocol: 'ssh' }, ledger, inputs: { lists: ['generic'] } });
    const o = attempt.observations as unknown as Observations;
    expect(o.lockoutThreshold).to.deep.include({ value: 3, source: 'assumed' });
    expect(ledger.get(accountKey('127.0.0.1', 'admin'))).to.equal(2);
    expect(attempt.status).to.equal('pass');
  });

  it('with intrusive allowed and exceedLockoutBudget: every pair is tried, and accounts pushed past the threshold become run notices', async () => {
    const emulator = await startEmulator(authPosture('hardened', 'ssh'), { ephemeralPorts: true });
    const ledger = new MapLedger();
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: emulator.endpoint('ssh').port, protocol: 'ssh' }, policy: POLICY, ledger, allow: ['passive', 'active', 'intrusive'],
        inputs: { lists: ['generic'], exceedLockoutBudget: true },
      });
      expect((attempt.observations as unknown as Observations).untried).to.equal(0);
      expect(lockNotices(ledger.toJSON()).map((n) => n.account)).to.deep.equal(['admin']); // 4 admin pairs; root has only 2
      // Without intrusive the input changes nothing.
      const safe = await runProbe(probe, { service: { port: emulator.endpoint('ssh').port, protocol: 'ssh' }, policy: POLICY, inputs: { lists: ['generic'], exceedLockoutBudget: true } });
      expect((safe.attempt.observations as unknown as Observations).untried).to.be.greaterThan(0);
    } finally {
      await emulator.close();
    }
  });

  describe('against OpenSSH sshd with a default account', () => {
    let sshd: Sshd | undefined;
    before(async function () {
      sshd = await startSshdWithAccounts(this as unknown as Mocha.Context, PLAIN_SSHD, [{ username: 'admin', password: 'admin' }]);
    });
    after(async () => sshd?.close());

    it('finds admin/admin on a real sshd (non-compliant: weak default kept)', async () => {
      const { attempt } = await runProbe(probe, { service: { port: sshd!.port, protocol: 'ssh' }, policy: POLICY, inputs: { lists: ['generic'] } });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect((attempt.observations as unknown as Observations).accepted.map((a) => a.username)).to.deep.equal(['admin']);
      expect(WEAK_ADMIN.username).to.equal('admin');
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'ssh' }), timeoutMs: 1500, stallTimeoutMs: 400 });
});
