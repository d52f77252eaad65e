import {
  AuthRejected, MissingInput, ProtocolViolation, defineProbe, finding, formatTarget, judge, type Finding, type ProbeContext, type ProbeDefinition,
  inputsSchema,
} from '../../../sdk';
import {
  LoginBudget, clearMaybeLocked, thresholdOf, markMaybeLocked, maybeLockedSince, type AuthProtocol, type LoginChannel, type LoginResponse, type LoginResult,
} from '..';
import { AUTH_LABELS, onEveryLoginService, PHASE, accountFor, accountLocks, channelOf, notDetermined, secondAccountFor, wrongPassword } from './common';

export interface LockoutInputs {
  /** Give up after this many consecutive failures without a lock (default: documented threshold + 2, else 10). */
  maxAttempts?: number;
  /** How long to wait for the unlock at most (default: twice the documented duration, at least +10 s; else the budget). */
  unlockBoundSeconds?: number;
  /** Interval between unlock checks, from the moment of the lock (default: a twentieth of the documented duration, 0.25-2 s). */
  pollSeconds?: number;
}

/** Texts a device uses when it refuses because of a lock rather than a wrong password. */
const LOCK_TEXT = /lock|too many|blocked|disabled|suspend|try again later|temporar/i;

function signalsLock(first: LoginResponse | undefined, r: LoginResponse): boolean {
  if (first === undefined) return false;
  const code = (x: LoginResponse) => (x.status ?? '').split(' ')[0];
  return code(r) !== code(first) || (LOCK_TEXT.test(r.message ?? '') && !LOCK_TEXT.test(first.message ?? ''));
}

/** How far a measured release time may be from the documented duration before it counts as different. */
function releaseTolerance(durationSeconds: number, resolutionSeconds: number): number {
  return resolutionSeconds + Math.max(1, 0.1 * durationSeconds);
}

/** A login whose answer is no authentication verdict ends the test: a lock cannot be told from a broken interface. */
class NoVerdict extends Error {
  constructor(readonly what: string, readonly result: LoginResult) {
    super(`${what} was answered with ${result.response.status ?? 'no status'}, which is no authentication verdict`);
  }
}

interface RoundsResult {
  attempts: number;
  lockedAfter: number | null;
  /** The right password was refused as an authentication failure (true), or only a lock message came (false). */
  validDenied: boolean | null;
  lockedAt: number;
}

/**
 * Rounds of k = 1, 2, ... wrong passwords, each followed by the right one, until the right one is refused
 * as an authentication failure (the lock) or maxAttempts.
 */
async function failUntilLocked(login: (u: string, p: string) => Promise<LoginResult>, username: string, password: string, maxAttempts: number, note: (line: string) => void, label: string): Promise<RoundsResult> {
  const result: RoundsResult = { attempts: 0, lockedAfter: null, validDenied: null, lockedAt: 0 };
  let firstFailure: LoginResponse | undefined;
  for (let k = 1; k <= maxAttempts && result.lockedAfter === null; k++) {
    let signalledAt: number | undefined;
    for (let i = 1; i <= k; i++) {
      const r = await login(username, wrongPassword());
      result.attempts += 1;
      result.lockedAt = Date.now();
      note(`round ${k}: wrong password ${i}/${k}: ${r.outcome} ${r.response.status ?? ''} ${r.response.message ?? ''}`.trim());
      if (r.outcome === 'accepted') throw new ProtocolViolation(`${label}: a random wrong password was accepted for ${username}; the lockout cannot be measured`);
      if (r.outcome === 'refused') throw new NoVerdict(`wrong password ${i} of round ${k}`, r);
      if (firstFailure === undefined) firstFailure = r.response;
      else if (signalledAt === undefined && signalsLock(firstFailure, r.response)) signalledAt = i - 1;
    }
    const valid = await login(username, password);
    note(`round ${k}: right password after ${k} wrong: ${valid.outcome} ${valid.response.status ?? ''}`.trim());
    if (valid.outcome === 'refused') throw new NoVerdict(`the right password after ${k} wrong ones`, valid);
    if (valid.outcome === 'rejected') {
      result.lockedAfter = k;
      result.validDenied = true;
    } else if (signalledAt !== undefined) {
      // The device answered differently (a lock message) yet let the right password in.
      result.lockedAfter = signalledAt;
      result.validDenied = false;
    }
  }
  return result;
}

interface ReleaseResult {
  unlockedAfterSeconds: number | null;
  resolutionSeconds: number;
  boundSeconds: number;
  checks: number;
  noVerdictChecks: number;
}

/** Polls with the right password from the moment of the lock until it works again or the bound runs out. */
async function awaitRelease(ctx: ProbeContext<LockoutInputs>, login: () => Promise<LoginResult>, lockedAt: number, note: (line: string) => void): Promise<ReleaseResult> {
  const duration = ctx.policy.lockout?.durationSeconds;
  const left = ctx.deadline - Date.now() - 3000;
  const boundMs = Math.max(0, Math.min(left, 1000 * (ctx.inputs.unlockBoundSeconds ?? (duration !== undefined ? Math.max(2 * duration, duration + 10) : Infinity))));
  const interval = 1000 * (ctx.inputs.pollSeconds ?? (duration !== undefined ? Math.min(2, Math.max(0.25, duration / 20)) : 1));
  const out: ReleaseResult = { unlockedAfterSeconds: null, resolutionSeconds: interval / 1000, boundSeconds: boundMs / 1000, checks: 0, noVerdictChecks: 0 };
  let wait = interval;
  while (Date.now() - lockedAt + wait <= boundMs) {
    await ctx.wait(wait, `lockout: pause before release check ${out.checks + 1} (right password ${((Date.now() - lockedAt + wait) / 1000).toFixed(1)} s after the last failure)`);
    const r = await login();
    out.checks += 1;
    const at = (Date.now() - lockedAt) / 1000;
    note(`unlock check ${at.toFixed(1)} s after the last failure: ${r.outcome} ${r.response.status ?? ''}`.trim());
    if (r.outcome === 'accepted') {
      out.unlockedAfterSeconds = Number(at.toFixed(2));
      break;
    }
    if (r.outcome === 'refused') out.noVerdictChecks += 1;
    // Without a documented duration the checks thin out (each refused login may extend some locks).
    wait = duration === undefined ? Math.min(15_000, wait * 1.5) : interval;
  }
  return out;
}

/**
 * `<protocol>.lockout` (intrusive): rounds of k wrong passwords (k = 1, 2, ...) each followed by the right
 * one, until the right one is refused as an authentication failure (the lock) or maxAttempts; then whether
 * another account still gets in (per user or per source), then polls with the right password from the
 * moment of the lock until the account works again. What the profile documents (threshold, duration,
 * scope: the <cfg> values of CR 1.11) is what the device is judged against. An answer that is no
 * authentication verdict (a server error, a session limit) leaves CR 1.11 not determined.
 */
export function lockoutProbe(protocol: AuthProtocol): ProbeDefinition<LockoutInputs> {
  const id = `${protocol}.lockout`;
  return defineProbe<LockoutInputs>({
    id,
    ...onEveryLoginService(protocol),
    title: `${AUTH_LABELS[protocol]} account lockout after failed logins`,
    description:
      'With the test account (credentials.lockout.<protocol>, credentials.lockout or the protocol\'s own) makes rounds of '
      + 'k = 1, 2, ... wrong passwords, each followed by the right one, until the right one is refused as an authentication '
      + 'failure or maxAttempts is reached; then logs in with a second account (credentials.lockout.<protocol>.second) to '
      + 'tell a per-user lock from a per-source one, and polls with the right password from the moment of the lock until the '
      + 'account works again or the bound runs out. Judged against the documented threshold, duration and scope. Runs after '
      + 'every other probe on the host and alone among lockout tests; an account it leaves locked is reported.',
    requirements: ['CR 1.11'],
    findings: {
      none: 'the right password still logs in after maxAttempts consecutive wrong ones',
      'above-threshold': 'locked after more failures than the documented threshold',
      'valid-login-accepted': 'a lock is signalled, but the right password still logs in',
      'not-released': 'with a documented duration, the lock did not end within the bound',
      'longer-than-documented': 'the lock ended later than the documented duration',
      'shorter-than-documented': 'the lock ended earlier than the documented duration',
      'scope-differs': 'the lock applies per user or per source other than documented',
      'left-locked': 'without a documented duration, the account was still locked when the test ended',
    },
    safety: 'intrusive',
    timeoutMs: 240_000,
    phase: PHASE.lockout,
    inputs: {
      schema: inputsSchema({
        maxAttempts: { type: 'integer', minimum: 1, maximum: 100 },
        unlockBoundSeconds: { type: 'number', minimum: 0 },
        pollSeconds: { type: 'number', minimum: 0.05 },
      }),
      defaults: {},
    },
    locks: ({ host, service, credentials }) => {
      const users = [accountFor(credentials, protocol, 'lockout'), secondAccountFor(credentials, protocol)].flatMap((c) => (c ? [c.username] : []));
      // A lock per source blocks this machine from the whole device: lockout tests of one host run one at a time.
      return [...accountLocks(host, service, users, 'exclusive'), { key: `lockout:${host.host}`, mode: 'exclusive' }];
    },
    logins: ({ credentials, policy, inputs }) => {
      const account = accountFor(credentials, protocol, 'lockout');
      const second = secondAccountFor(credentials, protocol);
      const threshold = thresholdOf(policy).value;
      const maxAttempts = inputs.maxAttempts ?? (policy.lockout ? policy.lockout.threshold + 2 : 10);
      const rounds = (k: number) => (k * (k + 1)) / 2;
      return [
        ...(account ? [{
          account: account.username, consecutiveFailuresMax: maxAttempts, failuresMax: rounds(maxAttempts), locksOnPurpose: true,
          basis: `rounds of 1, 2, ... wrong passwords until the lock: ${rounds(threshold)} failed logins when it locks at ${threshold}, at most ${rounds(maxAttempts)} (maxAttempts ${maxAttempts}); then release checks with the right password`,
        }] : []),
        ...(second ? [{ account: second.username, consecutiveFailuresMax: 0, failuresMax: 0, locksOnPurpose: false, basis: 'right-password logins only (before and while the first account is locked)' }] : []),
      ];
    },
    async run(ctx) {
      const account = accountFor(ctx.credentials, protocol, 'lockout');
      if (!account) throw new MissingInput(`the profile gives no test account (credentials.lockout.${protocol}, credentials.lockout or credentials.${protocol}) for the lockout test`);
      const second = secondAccountFor(ctx.credentials, protocol);
      const channel = await channelOf(ctx);
      if ('unsupported' in channel) return notDetermined(channel.unsupported);
      const documented = ctx.policy.lockout;
      const budget = new LoginBudget(ctx.ledger, ctx.policy, ctx.host.host);
      const threshold = budget.threshold;
      // Failures earlier probes of this run made against the account: a device whose counter a successful
      // login does not reset may still count them, and would then lock before the documented threshold.
      const earlierFailuresInRun = budget.totalFailures(account.username);
      const maxAttempts = ctx.inputs.maxAttempts ?? (documented ? documented.threshold + 2 : 10);
      const notice = { probe: id, target: formatTarget(ctx.host.host, ctx.service!.port), account: account.username };
      const login = (username: string, password: string) => channel.tryLogin(username, password, ctx.signal);
      const transcript: string[] = [];
      const note = (line: string) => {
        transcript.push(`${new Date().toISOString()} ${line}`);
        ctx.evidence.append('lockout.log', line);
      };

      const before = await login(account.username, account.password);
      note(`valid login before the test: ${before.outcome} ${before.response.status ?? ''}`.trim());
      if (before.outcome === 'refused') return notDetermined(`${channel.label}: the right password before the test was answered with ${before.response.status ?? 'no status'}, which is no authentication verdict`);
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
      let rounds: RoundsResult;
      try {
        rounds = await failUntilLocked(login, account.username, account.password, maxAttempts, note, channel.label);
      } catch (err) {
        if (!(err instanceof NoVerdict)) throw err;
        note(`not determined: ${err.message}`);
        ctx.evidence.save('lockout.json', { interface: channel.label, account: account.username, details: channel.details, transcript });
        return notDetermined(`${channel.label}: ${err.message}; a lock cannot be told from a refusing interface`, { interface: channel.label, account: account.username });
      }
      const { lockedAfter, validDenied, lockedAt, attempts } = rounds;
      if (validDenied) {
        ctx.actions.record({ kind: 'lockout-expected', account: account.username, at: lockedAt, detail: `${channel.label}: the right password was refused after ${attempts} failed logins` });
      }

      let scope: 'user' | 'source' | null = null;
      let scopeNote = second ? '' : 'no second account in the profile (credentials.lockout.<protocol>.second)';
      let release: ReleaseResult | undefined;
      if (validDenied) {
        if (second && secondWorks) {
          const s = await login(second.username, second.password);
          note(`second account ${second.username} while locked: ${s.outcome} ${s.response.status ?? ''}`.trim());
          if (s.outcome === 'accepted') scope = 'user';
          else if (s.outcome === 'rejected') scope = 'source';
          else scopeNote = `the second account's login while locked got no authentication verdict (${s.response.status ?? 'no status'})`;
        } else if (second) scopeNote = `the second account ${second.username} did not log in before the test`;
        release = await awaitRelease(ctx, () => login(account.username, account.password), lockedAt, note);
      }
      const accountVerifiedAfter = !validDenied || release?.unlockedAfterSeconds !== null;
      if (accountVerifiedAfter) clearMaybeLocked(ctx.ledger, notice);

      const observations = {
        interface: channel.label,
        account: account.username,
        attempts,
        lockedAfter,
        failuresAtLock: lockedAfter === null ? null : { inLastRound: lockedAfter, sinceTestStart: attempts, earlierInRun: earlierFailuresInRun },
        validLoginDeniedWhileLocked: validDenied,
        unlockedAfterSeconds: release?.unlockedAfterSeconds ?? null,
        unlockCheckResolutionSeconds: release?.resolutionSeconds ?? null,
        ...(release ? { unlockChecks: release.checks, unlockBoundSeconds: release.boundSeconds } : {}),
        ...(release?.noVerdictChecks ? { unlockChecksWithoutVerdict: release.noVerdictChecks } : {}),
        scope,
        ...(scope === null && validDenied ? { scopeNotDetermined: scopeNote } : {}),
        accountVerifiedAfter,
        documented: documented ? { threshold: documented.threshold, durationSeconds: documented.durationSeconds ?? null, scope: documented.scope ?? null } : null,
        maxAttempts,
      };
      const path = ctx.evidence.save('lockout.json', { ...observations, details: channel.details, transcript });
      const findings = judgeLockout(channel, observations, documented, path);
      return {
        observations,
        findings,
        outcomes: judge([{ requirement: 'CR 1.11', coverage: coverageOf(documented, observations), passReason: passReasonOf(channel, observations, threshold.value) }], findings),
      };
    },
  });
}

type LockoutObservations = {
  account: string;
  attempts: number;
  lockedAfter: number | null;
  validLoginDeniedWhileLocked: boolean | null;
  unlockedAfterSeconds: number | null;
  unlockCheckResolutionSeconds: number | null;
  unlockBoundSeconds?: number;
  scope: 'user' | 'source' | null;
  accountVerifiedAfter: boolean;
  maxAttempts: number;
};

/** The findings: the lock against what the profile documents (threshold, duration, scope). */
function judgeLockout(channel: LoginChannel, o: LockoutObservations, documented: ProbeContext<unknown>['policy']['lockout'], path: string): Finding[] {
  const findings: Finding[] = [];
  const add = (what: string, severity: Finding['severity'], message: string) => findings.push(finding({
    code: what, severity, requirements: severity === 'info' ? [] : ['CR 1.11'], evidence: [path], message: `${channel.label}: ${message}`,
  }));
  if (o.lockedAfter === null) {
    add('none', 'high', `no lockout: the right password still logged in after ${o.maxAttempts} consecutive wrong ones (${o.attempts} wrong in total)`);
    return findings;
  }
  if (documented && o.lockedAfter > documented.threshold) add('above-threshold', 'medium', `locked after ${o.lockedAfter} failures, more than the documented ${documented.threshold}`);
  if (o.validLoginDeniedWhileLocked === false) add('valid-login-accepted', 'high', `after ${o.lockedAfter} failures the device answers as if locked, but the right password still logs in`);
  const duration = documented?.durationSeconds;
  const resolution = o.unlockCheckResolutionSeconds ?? 0;
  if (o.validLoginDeniedWhileLocked && duration !== undefined) {
    const tolerance = releaseTolerance(duration, resolution);
    if (o.unlockedAfterSeconds === null) {
      add('not-released', 'medium', `the lock did not end within ${o.unlockBoundSeconds ?? '?'} s of the last failure (documented ${duration} s); ${o.account} may need an administrator`);
    } else if (o.unlockedAfterSeconds > duration + tolerance) {
      add('longer-than-documented', 'medium', `the lock ended after ${o.unlockedAfterSeconds} s (checked every ${resolution} s), later than the documented ${duration} s`);
    } else if (o.unlockedAfterSeconds < duration - tolerance) {
      add('shorter-than-documented', 'medium', `the lock ended after ${o.unlockedAfterSeconds} s (checked every ${resolution} s), well before the documented ${duration} s`);
    }
  } else if (o.validLoginDeniedWhileLocked && !o.accountVerifiedAfter) {
    add('left-locked', 'info', `${o.account} was still locked when the test ended; it may need an administrator or more time`);
  }
  if (o.scope !== null && documented?.scope !== undefined && o.scope !== documented.scope) {
    add('scope-differs', 'medium', `the lock applies per ${o.scope}, the profile documents per ${documented.scope}`);
  }
  return findings;
}

/** Full only when everything the profile documents was observed: the threshold, the release, the scope. */
function coverageOf(documented: ProbeContext<unknown>['policy']['lockout'], o: LockoutObservations): 'full' | 'partial' {
  if (!documented || documented.durationSeconds === undefined) return 'partial';
  if (documented.scope !== undefined && o.scope === null) return 'partial';
  return 'full';
}

function passReasonOf(channel: LoginChannel, o: LockoutObservations & { documented: { threshold: number } | null }, assumed: number): string {
  const documentedText = o.documented ? `documented ${o.documented.threshold}` : `no documented threshold; assumed ${assumed} for other probes`;
  return `${channel.label}: locked after ${o.lockedAfter} failure(s) (${documentedText}); the right password was refused as an authentication failure while locked`
    + `${o.unlockedAfterSeconds !== null ? `; unlocked after ${o.unlockedAfterSeconds} s (checked every ${o.unlockCheckResolutionSeconds} s)` : ''}${o.scope ? `; per ${o.scope}` : ''}`;
}
