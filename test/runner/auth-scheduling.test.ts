import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';
import { profileFromObject } from '../../src/profile';
import { runAssessment } from '../../src/runner/run';
import type { Attempt } from '../../src/report/model';
import { packagePath } from '../../src/paths';
import { ENGINEER, LOCKOUT_SECONDS, OPERATOR } from '../helpers/auth-devices';

interface Example {
  targets: { host: string; services: { port: number; protocol: string }[] }[];
  credentials?: Record<string, unknown>;
  policy?: Record<string, unknown>;
  allow?: string[];
}

/** Probes that log in with the profile's account and must never find it locked. */
const LOGS_IN = /^(ssh\.auth|opcua\.user-login|(ssh|opcua|http)\.(default-credentials|feedback|sessions))$/;

/**
 * The whole default plan plus the intrusive probes against the hardened device (lockout 3 per user, short
 * times), with one account (operator) used by every probe that logs in: lockout tests run last and alone,
 * and no probe meets a lock it did not cause.
 */
describe('scheduling of the authentication probes: the whole plan against the hardened device', function () {
  this.timeout(120_000);
  let emulator: Emulator | undefined;
  let out: string | undefined;
  const saved = { ...process.env };

  before(async () => {
    const base = loadPosture('hardened');
    const services = Object.fromEntries(Object.entries(base.services).map(([k, v]) => [k, v && {
      ...v,
      ...(k === 'ssh' ? { idleTimeoutSeconds: 1 } : k === 'https' ? { sessionSeconds: 1 } : k === 'opcua' ? { sessionTimeoutSeconds: 1 } : {}),
    }]));
    emulator = await startEmulator({ ...base, lockout: { threshold: 3, durationSeconds: LOCKOUT_SECONDS, scope: 'user' }, services }, { ephemeralPorts: true });
  });
  after(async () => {
    await emulator?.close();
    if (out) fs.rmSync(out, { recursive: true, force: true });
    process.env = saved;
  });

  it('every probe that logs in succeeds, lockout tests run last and each sees the documented threshold from a clean counter, no account is left locked', async () => {
    const file = packagePath('profiles', 'examples', 'hardened.yaml');
    const example = parseYaml(fs.readFileSync(file, 'utf8')) as Example;
    const ports = new Map<string, number[]>();
    for (const s of emulator!.services) ports.set(s.protocol, [...(ports.get(s.protocol) ?? []), s.port]);
    for (const s of example.targets[0].services) s.port = ports.get(s.protocol)!.shift()!;
    process.env.IACS_TEST_OPERATOR = OPERATOR.password;
    process.env.IACS_TEST_ENGINEER = ENGINEER.password;
    const operator = { username: OPERATOR.username, password: { env: 'IACS_TEST_OPERATOR' } };
    example.credentials = {
      ...example.credentials, ssh: operator, opcua: operator, http: operator, mqtt: operator,
      'lockout.second': { username: ENGINEER.username, password: { env: 'IACS_TEST_ENGINEER' } },
    };
    example.policy = { lockout: { threshold: 3, durationSeconds: LOCKOUT_SECONDS, scope: 'user' }, sessions: { maxConcurrent: 2, idleTimeoutSeconds: 1 } };
    const profile = profileFromObject(example, 'hardened.yaml (test ports)', path.dirname(file));
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-auth-plan-'));
    const { report } = await runAssessment(profile, {
      out, overwrite: true, allow: ['passive', 'active', 'intrusive'],
      probeInputs: { 'ports.tcp': { ports: emulator!.services.map((s) => s.port).join(',') }, 'ssh.sessions': { idleGraceSeconds: 0.5 }, 'http.sessions': { idleGraceSeconds: 0.5 }, 'opcua.sessions': { idleGraceSeconds: 1.2 } },
    });

    const byProbe = (re: RegExp) => report.attempts.filter((a) => re.test(a.probe));
    const loginAttempts = byProbe(LOGS_IN);
    expect(loginAttempts.map((a) => a.probe)).to.include.members(['ssh.auth', 'opcua.user-login', 'ssh.default-credentials', 'http.feedback', 'opcua.sessions']);
    for (const a of loginAttempts) expect([a.probe, a.status, a.message], JSON.stringify(a.findings)).to.deep.equal([a.probe, 'pass', undefined]);

    const lockouts = byProbe(/\.lockout$/);
    expect(lockouts.map((a) => a.probe).sort()).to.deep.equal(['http.lockout', 'mqtt.lockout', 'mqtt.lockout', 'opcua.lockout', 'ssh.lockout']);
    // The hardened broker's plain port refuses every client, the profile's account too: it takes no logins, so
    // there is no lockout to see there (not determined); MQTT over TLS is where the account logs in.
    const plainPort = emulator!.services.find((s) => s.protocol === 'mqtt' && !s.tls)!.port;
    const plainMqtt = lockouts.filter((a) => a.probe === 'mqtt.lockout' && a.target.endsWith(`:${plainPort}`));
    expect(plainMqtt.map((a) => a.status)).to.deep.equal(['not_determined']);
    for (const a of lockouts.filter((l) => !plainMqtt.includes(l))) {
      expect([a.probe, a.status], a.message).to.deep.equal([a.probe, 'pass']);
      // A counter another probe had left above zero would show as a lock after fewer failures.
      expect(a.observations, a.probe).to.deep.include({ lockedAfter: 3, validLoginDeniedWhileLocked: true, accountVerifiedAfter: true, scope: 'user' });
    }
    expect(report.run.notices).to.equal(undefined);

    // Journal order: every lockout attempt finished after every other attempt on the host, one at a time; only
    // the audit probes, which read what all the others caused, come after them.
    const all = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l) as { type: string; attempt?: Attempt }).filter((j) => j.type === 'attempt' && j.attempt!.status !== 'skipped').map((j) => j.attempt!);
    // audit.log-access reads the device's log (an action it provokes) with the session probes, in phase 1.
    const readsTheRun = (probe: string) => probe.startsWith('audit.') && probe !== 'audit.log-access' && probe !== 'audit.log-protection';
    const firstAudit = all.findIndex((a) => readsTheRun(a.probe));
    expect(all.slice(firstAudit).map((a) => a.probe).sort(), all.map((a) => a.probe).join(' ')).to.deep.equal(['audit.events', 'audit.identity', 'audit.monitoring', 'audit.outage', 'audit.timestamps']);
    // The collector outage (intrusive) comes after the audit probes that read the run's records.
    expect(all[all.length - 1].probe).to.equal('audit.outage');
    const journal = all.slice(0, firstAudit);
    const firstLockout = journal.findIndex((a) => a.probe.endsWith('.lockout'));
    expect(journal.slice(firstLockout).every((a) => a.probe.endsWith('.lockout')), journal.map((a) => a.probe).join(' ')).to.equal(true);
    const lockoutStarts = journal.slice(firstLockout).map((a) => [Date.parse(a.startedAt), Date.parse(a.startedAt) + a.durationMs]);
    const others = journal.slice(0, firstLockout).map((a) => Date.parse(a.startedAt) + a.durationMs);
    for (const [start] of lockoutStarts) expect(start).to.be.at.least(Math.max(...others));
    for (let i = 1; i < lockoutStarts.length; i++) expect(lockoutStarts[i][0]).to.be.at.least(lockoutStarts[i - 1][1]);
  });
});
