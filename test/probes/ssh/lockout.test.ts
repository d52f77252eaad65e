import { expect } from 'chai';
import probe from '../../../probes/ssh/lockout';
import { startEmulator } from '../../../src/emulator';
import { MapLedger } from '../../../src/runner/attempt';
import { lockNotices } from '../../../src/protocols/auth';
import { ENGINEER, LOCKOUT_SECONDS, OPERATOR, POLICY, WEAK_ADMIN, authPosture, useAuthDevices, type LockoutObservations } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { PLAIN_SSHD, startSshdWithAccounts } from '../../helpers/sshd-account';
import type { Sshd } from '../../helpers/sshd';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);

describe('probe ssh.lockout', function () {
  this.timeout(30_000);
  const devices = useAuthDevices('ssh');
  const hardenedCredentials = { ssh: OPERATOR, 'lockout.ssh.second': ENGINEER };

  it('hardened posture: locked after the documented 3 failures, the right password refused while locked, per user, released after the lock time -> pass', async () => {
    const ledger = new MapLedger();
    const { attempt } = await runProbe(probe, {
      service: { port: devices.hardened().endpoint('ssh').port, protocol: 'ssh' }, credentials: hardenedCredentials, policy: POLICY, ledger,
    });
    expect(attempt.status, JSON.stringify([attempt.message, attempt.findings])).to.equal('pass');
    const o = attempt.observations as unknown as LockoutObservations;
    expect(o).to.deep.include({ lockedAfter: 3, validLoginDeniedWhileLocked: true, scope: 'user', accountVerifiedAfter: true, attempts: 6 });
    expect(o.unlockedAfterSeconds).to.be.a('number').within(LOCKOUT_SECONDS * 0.9, LOCKOUT_SECONDS + 3);
    expect(attempt.outcomes).to.have.length(1);
    expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 1.11', verdict: 'pass', coverage: 'full' });
    expect(lockNotices(ledger.toJSON())).to.deep.equal([]);
  });

  it('weak posture: no lockout after maxAttempts consecutive failures -> ssh.lockout.none, CR 1.11 fails', async () => {
    const { attempt } = await runProbe(probe, {
      service: { port: devices.weak().endpoint('ssh').port, protocol: 'ssh' }, credentials: { ssh: WEAK_ADMIN }, policy: POLICY, inputs: { maxAttempts: 4 },
    });
    expect(attempt.status).to.equal('fail');
    const o = attempt.observations as unknown as LockoutObservations;
    expect(o).to.deep.include({ lockedAfter: null, validLoginDeniedWhileLocked: null, unlockedAfterSeconds: null, attempts: 10, accountVerifiedAfter: true });
    expect(codes(attempt)).to.deep.equal(['ssh.lockout.none']);
    expect(attempt.outcomes[0].verdict).to.equal('fail');
  });

  it('a device that locks per source address where the profile documents per user: scope source, CR 1.11 fails against the documented scope', async () => {
    const emulator = await startEmulator({ ...authPosture('hardened', 'ssh'), lockout: { threshold: 2, durationSeconds: 1, scope: 'source' } }, { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: emulator.endpoint('ssh').port, protocol: 'ssh' }, credentials: hardenedCredentials,
        policy: { lockout: { threshold: 3, durationSeconds: 1, scope: 'user' } },
      });
      const o = attempt.observations as unknown as LockoutObservations;
      expect(o).to.deep.include({ lockedAfter: 2, validLoginDeniedWhileLocked: true, scope: 'source' });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['ssh.lockout.scope-differs']);
      expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 1.11', verdict: 'fail' });
    } finally {
      await emulator.close();
    }
  });

  it('a lock that outlasts the bound (documented 60 s, checked for 0.5 s): not-released fails CR 1.11 against the documented duration, and a run notice names the account', async () => {
    const emulator = await startEmulator({ ...authPosture('hardened', 'ssh'), lockout: { threshold: 3, durationSeconds: 60, scope: 'user' } }, { ephemeralPorts: true });
    const ledger = new MapLedger();
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: emulator.endpoint('ssh').port, protocol: 'ssh' }, credentials: { ssh: OPERATOR }, ledger,
        policy: { lockout: { threshold: 3, durationSeconds: 60 } }, inputs: { unlockBoundSeconds: 0.5, pollSeconds: 0.25 },
      });
      const o = attempt.observations as unknown as LockoutObservations;
      expect(o).to.deep.include({ lockedAfter: 3, validLoginDeniedWhileLocked: true, unlockedAfterSeconds: null, accountVerifiedAfter: false, scope: null });
      expect(codes(attempt)).to.deep.equal(['ssh.lockout.not-released']);
      expect(attempt.status).to.equal('fail');
      expect(lockNotices(ledger.toJSON()).map((n) => [n.probe, n.account])).to.deep.equal([['ssh.lockout', 'operator']]);
    } finally {
      await emulator.close();
    }
  });

  it('without a documented duration, a lock still held at the end is info (left-locked) and CR 1.11 is only partial', async () => {
    const emulator = await startEmulator({ ...authPosture('hardened', 'ssh'), lockout: { threshold: 3, durationSeconds: 60, scope: 'user' } }, { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: emulator.endpoint('ssh').port, protocol: 'ssh' }, credentials: { ssh: OPERATOR },
        policy: { lockout: { threshold: 3 } }, inputs: { unlockBoundSeconds: 0.5 },
      });
      expect(codes(attempt)).to.deep.equal(['ssh.lockout.left-locked']);
      expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 1.11', verdict: 'pass', coverage: 'partial' });
    } finally {
      await emulator.close();
    }
  });

  it('every release poll waits through ctx.wait: the journal has one wait line per unlock check, numbered, with its pause', async () => {
    const emulator = await startEmulator(authPosture('hardened', 'ssh'), { ephemeralPorts: true });
    try {
      const { port } = emulator.endpoint('ssh');
      const { attempt, read } = await runProbe(probe, {
        service: { port, protocol: 'ssh' }, credentials: hardenedCredentials, policy: POLICY, inputs: { pollSeconds: 0.25 },
      });
      expect(attempt.status, attempt.message).to.equal('pass');
      const checks = (attempt.observations as { unlockChecks?: number }).unlockChecks;
      expect(checks).to.be.a('number').at.least(1);
      const waits = read('journal.ndjson').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.type === 'wait');
      expect(waits).to.have.length(checks!);
      waits.forEach((w, i) => {
        expect(w).to.include({ probe: 'ssh.lockout', target: `127.0.0.1:${port}`, ms: 250 });
        expect(w.why).to.match(new RegExp(`^lockout: pause before release check ${i + 1} `));
        expect(Date.parse(String(w.at))).to.not.be.NaN;
      });
    } finally {
      await emulator.close();
    }
  });

  it('errors say why: no test account (input), a refused test account (auth)', async () => {
    const { port } = devices.hardened().endpoint('ssh');
    const none = await runProbe(probe, { service: { port, protocol: 'ssh' }, policy: POLICY });
    expect([none.attempt.status, none.attempt.reason]).to.deep.equal(['error', 'input']);
    const wrong = await runProbe(probe, { service: { port, protocol: 'ssh' }, policy: POLICY, credentials: { 'lockout.ssh': { username: 'engineer', password: 'not-it' } } });
    expect([wrong.attempt.status, wrong.attempt.reason]).to.deep.equal(['error', 'auth']);
  });

  describe('against OpenSSH sshd (MaxAuthTries 3, no lockout)', () => {
    let sshd: Sshd | undefined;
    before(async function () {
      sshd = await startSshdWithAccounts(this as unknown as Mocha.Context, PLAIN_SSHD, [OPERATOR]);
    });
    after(async () => sshd?.close());

    it('MaxAuthTries limits one connection, not the account: no lockout after 5 failures in a row -> fail, in bounded time', async () => {
      const started = Date.now();
      const { attempt } = await runProbe(probe, { service: { port: sshd!.port, protocol: 'ssh' }, credentials: { ssh: OPERATOR }, policy: POLICY, timeoutMs: 20_000 });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect((attempt.observations as unknown as LockoutObservations)).to.deep.include({ lockedAfter: null, attempts: 15, accountVerifiedAfter: true });
      expect(codes(attempt)).to.deep.equal(['ssh.lockout.none']);
      expect(Date.now() - started).to.be.below(20_000);
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'ssh' }), timeoutMs: 1500, stallTimeoutMs: 400, credentials: { ssh: OPERATOR } });
});
