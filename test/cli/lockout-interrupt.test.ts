import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator';
import { readNdjson } from '../../src/evidence/ndjson';
import { openLoginChannel } from '../../src/protocols/auth';
import type { Report } from '../../src/report/model';
import { defaultStateDir } from '../../src/runner/cleanup';
import { LOCKOUTS_FILE, readPendingLockouts } from '../../src/runner/lockouts';
import { OPERATOR, authPosture } from '../helpers/auth-devices';
import { inProcess, startCli } from '../helpers/cli';

const LOCKOUT = { threshold: 3, durationSeconds: 3, scope: 'user' as const };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue #23 item 2: ssh.lockout killed (SIGKILL) after it locked the account leaves a record in the profile's state
 * folder; the next run reads it and waits out the documented lockout before it logs in with that account, instead
 * of finding it locked (and failing, or locking it again).
 */
describe('a lockout test killed mid-way: the next run waits out the lockout it left', function () {
  this.timeout(60_000);
  let emulator: Emulator;
  let dir: string;
  let profileFile: string;
  const saved = process.env.IACS_TEST_SSH_PASSWORD;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-lockout-kill-'));
    emulator = await startEmulator({ ...authPosture('hardened', 'ssh'), lockout: LOCKOUT }, { ephemeralPorts: true });
    profileFile = path.join(dir, 'bench.yaml');
    fs.writeFileSync(profileFile, `apiVersion: iacs-probe/v1
component: { name: Lockout PLC, types: [embedded], slTarget: 2 }
targets:
  - { host: 127.0.0.1, services: [{ port: ${emulator.endpoint('ssh').port}, protocol: ssh }] }
credentials:
  ssh: { username: ${OPERATOR.username}, password: { env: IACS_TEST_SSH_PASSWORD } }
policy: { lockout: { threshold: ${LOCKOUT.threshold}, durationSeconds: ${LOCKOUT.durationSeconds}, scope: user } }
allow: [passive, active, intrusive]
`);
    process.env.IACS_TEST_SSH_PASSWORD = OPERATOR.password;
  });
  after(async () => {
    await emulator?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.IACS_TEST_SSH_PASSWORD;
    else process.env.IACS_TEST_SSH_PASSWORD = saved;
  });

  it('SIGKILL after the lock: the record names the account; the next run says what it waits for, waits, and its lockout test passes', async () => {
    const lockouts = path.join(defaultStateDir(profileFile), LOCKOUTS_FILE);
    const lines = () => readNdjson<{ op: string }>(lockouts).records;
    const { child, done } = startCli(['run', profileFile, '--out', path.join(dir, 'killed'), '--only', 'ssh.lockout', '--no-pdf'], { IACS_TEST_SSH_PASSWORD: OPERATOR.password });
    // Rounds of 1, 2, 3 wrong passwords: the sixth failed login is the third in a row, the one that locks.
    const deadline = Date.now() + 40_000;
    while (Date.now() < deadline && lines().filter((l) => l.op === 'failure').length < 6) await sleep(20);
    child.kill('SIGKILL');
    expect((await done).signal).to.equal('SIGKILL');
    const pending = readPendingLockouts(lockouts);
    expect(pending.map((p) => [p.probe, p.account])).to.deep.equal([['ssh.lockout', OPERATOR.username]]);

    // Without a wait the account is still locked: the right password is refused.
    const service = { host: '127.0.0.1', port: emulator.endpoint('ssh').port, protocol: 'ssh' as const, transport: 'tcp' as const, name: 'ssh', tls: false, options: {} };
    const channel = await openLoginChannel(service, { signal: AbortSignal.timeout(10_000), deadline: Date.now() + 10_000, resolvePath: (f) => f });
    if (!('tryLogin' in channel)) throw new Error('no ssh login channel');
    expect((await channel.tryLogin(OPERATOR.username, OPERATOR.password, AbortSignal.timeout(10_000))).outcome).to.equal('rejected');

    const out = path.join(dir, 'next');
    const r = await inProcess(['run', profileFile, '--out', out, '--only', 'ssh.lockout', '--no-pdf']);
    expect(r.stderr).to.match(new RegExp(`${OPERATOR.username} on 127\\.0\\.0\\.1 may still be locked: ssh\\.lockout of run ${pending[0].runId} made failed logins until \\S+ and did not see it work again; waiting \\d+\\.\\d s \\(the documented lockout of 3 s\\) before ssh\\.lockout@127\\.0\\.0\\.1:\\d+`));
    const journal = readNdjson<{ type: string; ms?: number; until?: string; account?: string }>(path.join(out, 'journal.ndjson')).records;
    const wait = journal.find((l) => l.type === 'lockout-wait')!;
    expect(wait).to.include({ account: OPERATOR.username });
    expect(wait.ms).to.be.within(1, (LOCKOUT.durationSeconds + 1) * 1000);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
    const attempt = report.attempts.find((a) => a.probe === 'ssh.lockout')!;
    // It started after the wait: the right password worked before the test, the lock was measured afresh.
    expect(Date.parse(attempt.startedAt)).to.be.at.least(Date.parse(wait.until!));
    expect(attempt.status, JSON.stringify([attempt.message, attempt.observations])).to.equal('pass');
    expect(attempt.observations).to.deep.include({ lockedAfter: LOCKOUT.threshold, validLoginDeniedWhileLocked: true });
    expect(r.code, r.stderr).to.equal(0);
    // The killed run's record is closed (waited out), the new run's own one too (it saw the account work again).
    expect(lines().filter((l) => l.op === 'cleared').map((l) => (l as { how?: string }).how).sort()).to.deep.equal(['seen-working', 'waited-out']);
    expect(readPendingLockouts(lockouts)).to.deep.equal([]);
  });
});
