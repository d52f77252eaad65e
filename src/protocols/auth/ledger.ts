import type { DevicePolicy, LockoutPolicy, RunLedger } from '../../sdk';

/**
 * Failed-login accounting shared by every probe of a run (through the run ledger), so that probes that
 * guess passwords on one device never add up to a lockout between them, and notices for accounts a run
 * may leave locked.
 *
 * Counting model (documented in docs/auth.md): per account, failures since the last successful login
 * (a successful login resets the device's counter, as pam_faillock, pam_tally2 and Windows do); per source
 * address, when the profile documents a per-source lockout, every failure of the run (a source counter
 * such as fail2ban's is not reset by a success).
 */

/** Assumed when the profile documents no lockout threshold: the lowest threshold in common use. */
export const ASSUMED_LOCKOUT_THRESHOLD = 3;

const ACCOUNT = 'auth.failures.account:';
const TOTAL = 'auth.failures.total:';
const SOURCE = 'auth.failures.source:';
const NOTICE = 'auth.notice.locked:';
const LOCKED = 'auth.locked.account:';
const LOCKED_HOST = 'auth.locked.host:';

export interface ThresholdInfo {
  value: number;
  /** profile: policy.lockout.threshold; assumed: not documented, ASSUMED_LOCKOUT_THRESHOLD used. */
  source: 'profile' | 'assumed';
  scope: 'user' | 'source';
  /** The scope was not documented; failures are counted per account. */
  scopeAssumed: boolean;
}

export function thresholdOf(policy: DevicePolicy): ThresholdInfo {
  const lockout: LockoutPolicy | undefined = policy.lockout;
  return {
    value: lockout?.threshold ?? ASSUMED_LOCKOUT_THRESHOLD,
    source: lockout ? 'profile' : 'assumed',
    scope: lockout?.scope ?? 'user',
    scopeAssumed: lockout?.scope === undefined,
  };
}

export function accountKey(host: string, username: string): string {
  return `${ACCOUNT}${host}:${username}`;
}

/**
 * How many more failed logins the run may make against an account without reaching the lockout
 * threshold (threshold - 1 in total), and the bookkeeping after each check.
 */
export class LoginBudget {
  readonly threshold: ThresholdInfo;

  constructor(private readonly ledger: RunLedger, policy: DevicePolicy, private readonly host: string) {
    this.threshold = thresholdOf(policy);
  }

  /** Failed logins still allowed for this user name (never below 0). */
  remaining(username: string): number {
    const limit = this.threshold.value - 1;
    const used = Math.max(
      this.ledger.get(accountKey(this.host, username)),
      this.threshold.scope === 'source' ? this.ledger.get(`${SOURCE}${this.host}`) : 0,
    );
    return Math.max(0, limit - used);
  }

  /** Failures the run has made against this user name since its last successful login. */
  used(username: string): number {
    return this.ledger.get(accountKey(this.host, username));
  }

  /** Every failure the run has made against this user name, successful logins or not (a device whose
   * counter a success does not reset may carry them). */
  totalFailures(username: string): number {
    return this.ledger.get(`${TOTAL}${this.host}:${username}`);
  }

  /** Books one credential check. A refusal that is no authentication verdict may still count on the device. */
  record(username: string, outcome: 'accepted' | 'rejected' | 'refused' | 'unsupported'): void {
    if (outcome === 'rejected' || outcome === 'refused') {
      this.ledger.add(accountKey(this.host, username), 1);
      this.ledger.add(`${SOURCE}${this.host}`, 1);
      this.ledger.add(`${TOTAL}${this.host}:${username}`, 1);
    } else if (outcome === 'accepted') {
      this.ledger.set(accountKey(this.host, username), 0);
    }
  }
}

/** An account a probe may have left locked: what the report's run notices are made of. */
export interface LockNotice {
  probe: string;
  /** "host:port" of the attempt. */
  target: string;
  account: string;
  /** Epoch ms since when it may be locked. */
  since: number;
}

function noticeKey(n: Omit<LockNotice, 'since'>): string {
  return `${NOTICE}${JSON.stringify([n.probe, n.target, n.account])}`;
}

/** The host part of an attempt target ("host:port", "[v6]:port"). */
export function hostOfTarget(target: string): string {
  return target.startsWith('[') ? target.slice(1, target.indexOf(']')) : target.replace(/:\d+$/, '');
}

/** Marks an account as possibly locked by this probe (set before the first failure that could lock it). */
export function markMaybeLocked(ledger: RunLedger, n: Omit<LockNotice, 'since'>, now = Date.now()): void {
  ledger.set(noticeKey(n), now);
  ledger.set(`${LOCKED}${hostOfTarget(n.target)}:${n.account}`, now);
  ledger.set(`${LOCKED_HOST}${hostOfTarget(n.target)}`, now);
}

/** The probe saw the account work again: no notice. */
export function clearMaybeLocked(ledger: RunLedger, n: Omit<LockNotice, 'since'>): void {
  ledger.set(noticeKey(n), 0);
  ledger.set(`${LOCKED}${hostOfTarget(n.target)}:${n.account}`, 0);
  ledger.set(`${LOCKED_HOST}${hostOfTarget(n.target)}`, 0);
}

/**
 * Epoch ms since when a probe of this run may have left the account locked on this host (0: none); with
 * `anyAccount`, the latest such mark for any account of the host (a per-source lock blocks them all).
 */
export function maybeLockedSince(ledger: RunLedger, host: string, account: string, anyAccount = false): number {
  return ledger.get(`${LOCKED}${host}:${account}`) || (anyAccount ? ledger.get(`${LOCKED_HOST}${host}`) : 0);
}

/** The notice a ledger key of markMaybeLocked stands for, or undefined for any other key. */
export function noticeOfKey(key: string): Omit<LockNotice, 'since'> | undefined {
  if (!key.startsWith(NOTICE)) return undefined;
  const [probe, target, account] = JSON.parse(key.slice(NOTICE.length)) as [string, string, string];
  return { probe, target, account };
}

/** The notices a run's ledger holds (accounts not seen to work again after a probe may have locked them). */
export function lockNotices(entries: Readonly<Record<string, number>>): LockNotice[] {
  const out: LockNotice[] = [];
  for (const [key, since] of Object.entries(entries)) {
    const notice = since ? noticeOfKey(key) : undefined;
    if (notice) out.push({ ...notice, since });
  }
  return out.sort((a, b) => a.since - b.since);
}
