import {
  AuthRejected, MissingInput, ProtocolViolation, defineProbe, finding, formatTarget, judge, type Finding, type ProbeDefinition,
} from '../../src/sdk';
import {
  LoginBudget, clearMaybeLocked, markMaybeLocked, maybeLockedSince, type AuthProtocol, type LoginResponse,
} from '../../src/protocols/auth';
import { AUTH_APPLIES_TO, PHASE, accountFor, accountLocks, channelOf, notDetermined, secondAccountFor, sleep, wrongPassword } from './common';

export interface LockoutInputs {
  /** Give up after this many consecutive failures without a lock (default: documented threshold + 2, else 10). */
  maxAttempts?: number;
  /** How long to wait for the unlock at most (default: twice the documented duration, at least +10 s; else the budget). */
  unlockBoundSeconds?: number;
  /** Interval between unlock checks (default: a tenth of the documented duration, 0.25-5 s). */
  pollSeconds?: number;
}

/** Texts a device uses when it refuses because of a lock rather than a wrong password. */
const LOCK_TEXT = /lock|too many|blocked|disabled|suspend|try again later|temporar/i;

function signalsLock(first: LoginResponse | undefined, r: LoginResponse): boolean {
  if (first === undefined) return false;
  const code = (x: LoginResponse) => (x.status ?? '').split(' ')[0];
  return code(r) !== code(first) || (LOCK_TEXT.test(r.message ?? '') && !LOCK_TEXT.test(first.message ?? ''));
}

/**
 * `<protocol>.lockout` (intrusive): rounds of k wrong passwords (k = 1, 2, ...) each followed by the right
 * one, until the right one is refused (the lock) or maxAttempts; then whether another account still gets
 * in (per user or per source), then polls with the right password until the account works again.
 */
export function lockoutProbe(protocol: AuthProtocol): ProbeDefinition<LockoutInputs> {
  const id = `${protocol}.lockout`;
  return defineProbe<LockoutInputs>({
    id,
    protocol,
    title: `${protocol === 'http' ? 'HTTP' : protocol === 'ssh' ? 'SSH' : 'OPC UA'} account lockout after failed logins`,
    description:
      'With the test account (credentials.lockout.<protocol>, credentials.lockout or the protocol\'s own) makes rounds of '
      + 'k = 1, 2, ... wrong passwords, each followed by the right one, until the right one is refused or maxAttempts is '
      + 'reached; then logs in with a second account (credentials.lockout.<protocol>.second) to tell a per-user lock from a '
      + 'per-source one, and polls with the right password until the account works again or the bound runs out. Runs '
      + 'after every other probe on the host and alone among lockout tests; an account it leaves locked is reported.',
    requirements: ['CR 1.11'],
    safety: 'intrusive',
    scope: 'service',
    appliesTo: AUTH_APPLIES_TO[protocol],
    timeoutMs: 240_000,
    phase: PHASE.lockout,
    inputs: {
      schema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          maxAttempts: { type: 'integer', minimum: 1, maximum: 100 },
          unlockBoundSeconds: { type: 'number', minimum: 0 },
          pollSeconds: { type: 'number', minimum: 0.05 },
        },
      },
      defaults: {},
    },
    locks: ({ host, service, credentials }) => {
      const users = [accountFor(credentials, protocol, 'lockout'), secondAccountFor(credentials, protocol)].flatMap((c) => (c ? [c.username] : []));
      // A lock per source blocks this machine from the whole device: lockout tests of one host run one at a time.
      return [...accountLocks(host, service, users, 'exclusive'), { key: `lockout:${host.host}`, mode: 'exclusive' }];
    },
    async run(ctx) {
      const account = accountFor(ctx.credentials, protocol, 'lockout');
      if (!account) throw new MissingInput(`the profile gives no test account (credentials.lockout.${protocol}, credentials.lockout or credentials.${protocol}) for the lockout test`);
      const second = secondAccountFor(ctx.credentials, protocol);
      const channel = await channelOf(ctx);
      if ('unsupported' in channel) return notDetermined(channel.unsupported);
      const documented = ctx.policy.lockout;
      const threshold = new LoginBudget(ctx.ledger, ctx.policy, ctx.host.host).threshold;
      const maxAttempts = ctx.inputs.maxAttempts ?? (documented ? documented.threshold + 2 : 10);
      const notice = { probe: id, target: formatTarget(ctx.host.host, ctx.service!.port), account: account.username };
      const login = (username: string, password: string) => channel.tryLogin(username, password, ctx.signal);
      const transcript: string[] = [];
      const note = (line: string) => {
        transcript.push(`${new Date().toISOString()} ${line}`);
        ctx.evidence.append('lockout.log', line);
      };

      const before = await login(account.username, account.password);
      note(`valid login before the test: ${before.outcome}`);
      if (before.outcome !== 'accepted') {
        const earlier = maybeLockedSince(ctx.ledger, ctx.host.host, account.username, true);
        throw new AuthRejected(earlier
          ? `${account.source} (${account.username}) is refused before the test: a probe of this run may have left it (or, with a per-source lock, this machine) locked at ${new Date(earlier).toISOString()}`
          : `${account.source} (${account.username}) is refused before the test (${before.response.status ?? before.outcome}); check the profile's credentials`);
      }
      let secondWorks: boolean | undefined;
      if (second) {
        secondWorks = (await login(second.username, second.password)).outcome === 'accepted';
        note(`second account ${second.username} before the test: ${secondWorks ? 'accepted' : 'refused'}`);
      }

      markMaybeLocked(ctx.ledger, notice);
      let attempts = 0;
      let lockedAfter: number | null = null;
      let validDenied: boolean | null = null;
      let lockedAt = 0;
      let signalledOnly = false;
      let firstFailure: LoginResponse | undefined;
      for (let k = 1; k <= maxAttempts && lockedAfter === null; k++) {
        let signalledAt: number | undefined;
        for (let i = 1; i <= k; i++) {
          const r = await login(account.username, wrongPassword());
          attempts += 1;
          lockedAt = Date.now();
          note(`round ${k}: wrong password ${i}/${k}: ${r.outcome} ${r.response.status ?? ''} ${r.response.message ?? ''}`.trim());
          if (r.outcome === 'accepted') throw new ProtocolViolation(`${channel.label}: a random wrong password was accepted for ${account.username}; the lockout cannot be measured`);
          if (r.outcome === 'unsupported') return notDetermined(`${channel.label}: the server checks no password (no password method offered)`);
          if (firstFailure === undefined) firstFailure = r.response;
          else if (signalledAt === undefined && signalsLock(firstFailure, r.response)) signalledAt = i - 1;
        }
        const valid = await login(account.username, account.password);
        note(`round ${k}: right password after ${k} wrong: ${valid.outcome}`);
        if (valid.outcome !== 'accepted') {
          lockedAfter = k;
          validDenied = true;
        } else if (signalledAt !== undefined) {
          // The device answered differently (a lock message) yet let the right password in.
          lockedAfter = signalledAt;
          validDenied = false;
          signalledOnly = true;
        }
      }

      let scope: 'user' | 'source' | null = null;
      let scopeNote = second ? '' : 'no second account in the profile (credentials.lockout.<protocol>.second)';
      let unlockedAfterSeconds: number | null = null;
      let accountVerifiedAfter = false;
      let resolutionSeconds: number | null = null;
      if (validDenied) {
        if (second && secondWorks) {
          const s = await login(second.username, second.password);
          scope = s.outcome === 'accepted' ? 'user' : 'source';
          note(`second account ${second.username} while locked: ${s.outcome}`);
        } else if (second) scopeNote = `the second account ${second.username} did not log in before the test`;
        const duration = documented?.durationSeconds;
        const left = () => ctx.deadline - Date.now() - 3000;
        const bound = Math.min(left(), 1000 * (ctx.inputs.unlockBoundSeconds ?? (duration !== undefined ? Math.max(2 * duration, duration + 10) : Infinity)));
        const interval = 1000 * (ctx.inputs.pollSeconds ?? (duration !== undefined ? Math.min(5, Math.max(0.25, duration / 10)) : 1));
        resolutionSeconds = interval / 1000;
        let wait = duration !== undefined ? Math.max(interval, duration * 900 - (Date.now() - lockedAt)) : interval;
        let growth = interval;
        while (Date.now() - lockedAt + wait <= bound) {
          await sleep(wait, ctx.signal);
          const r = await login(account.username, account.password);
          note(`unlock check ${((Date.now() - lockedAt) / 1000).toFixed(1)} s after the last failure: ${r.outcome}`);
          if (r.outcome === 'accepted') {
            unlockedAfterSeconds = Number(((Date.now() - lockedAt) / 1000).toFixed(2));
            accountVerifiedAfter = true;
            break;
          }
          // Without a documented duration the checks thin out (each refused login may extend some locks).
          if (duration === undefined) growth = Math.min(15_000, growth * 1.5);
          wait = duration === undefined ? growth : interval;
        }
      } else {
        accountVerifiedAfter = true; // the last round ended with the right password accepted
      }
      if (accountVerifiedAfter) clearMaybeLocked(ctx.ledger, notice);

      const observations = {
        interface: channel.label,
        account: account.username,
        attempts,
        lockedAfter,
        validLoginDeniedWhileLocked: validDenied,
        unlockedAfterSeconds,
        unlockCheckResolutionSeconds: resolutionSeconds,
        scope,
        ...(scope === null && validDenied ? { scopeNotDetermined: scopeNote } : {}),
        accountVerifiedAfter,
        documented: documented ? { threshold: documented.threshold, durationSeconds: documented.durationSeconds ?? null, scope: documented.scope ?? null } : null,
        maxAttempts,
      };
      const path = ctx.evidence.save('lockout.json', { ...observations, details: channel.details, transcript });
      const findings: Finding[] = [];
      const add = (what: string, severity: Finding['severity'], message: string) => findings.push(finding({
        code: `${id}.${what}`, severity, requirements: severity === 'info' ? [] : ['CR 1.11'], evidence: [path], message: `${channel.label}: ${message}`,
      }));
      if (lockedAfter === null) {
        add('none', 'high', `no lockout: the right password still logged in after ${maxAttempts} consecutive wrong ones (${attempts} wrong in total)`);
      } else {
        if (documented && lockedAfter > documented.threshold) add('above-threshold', 'medium', `locked after ${lockedAfter} failures, more than the documented ${documented.threshold}`);
        if (signalledOnly) add('valid-login-accepted', 'high', `after ${lockedAfter} failures the device answers as if locked, but the right password still logs in`);
      }
      const duration = documented?.durationSeconds;
      if (unlockedAfterSeconds !== null && duration !== undefined && resolutionSeconds !== null && unlockedAfterSeconds < 0.8 * duration - resolutionSeconds) {
        add('shorter-than-documented', 'medium', `the lock ended after ${unlockedAfterSeconds} s, well before the documented ${duration} s`);
      }
      if (validDenied && !accountVerifiedAfter) {
        add('left-locked', 'info', `${account.username} was still locked when the test ended (${((Date.now() - lockedAt) / 1000).toFixed(0)} s after the last failure); it may need an administrator or more time`);
      }
      if (scope !== null && documented?.scope !== undefined && scope !== documented.scope) {
        add('scope-differs', 'info', `the lock applies per ${scope}, the profile documents per ${documented.scope}`);
      }
      const documentedText = documented ? `documented ${documented.threshold}` : `no documented threshold; assumed ${threshold.value} for other probes`;
      const passReason = `${channel.label}: locked after ${lockedAfter} failure(s) (${documentedText}); the right password was refused while locked`
        + `${unlockedAfterSeconds !== null ? `; unlocked after ${unlockedAfterSeconds} s` : ''}${scope ? `; per ${scope}` : ''}`;
      return {
        observations,
        findings,
        outcomes: judge([{ requirement: 'CR 1.11', coverage: documented ? 'full' : 'partial', passReason }], findings),
      };
    },
  });
}
