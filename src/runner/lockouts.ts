import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { appendDurably, readNdjson } from '../evidence/ndjson';
import { hostOfTarget, noticeOfKey, type LockNotice } from '../protocols/auth/ledger';
import { sleep, type LockRequest, type LockoutPolicy } from '../sdk';
import { MapLedger } from './attempt';

/**
 * Accounts a run may have left locked, kept in the profile's state folder (next to cleanup.ndjson) so that the
 * next run, or `iacs-probe resume`, finds them even when this process was killed in the middle of a lockout
 * test. A record opens when a probe marks an account as possibly locked (markMaybeLocked: before the failed
 * login that could lock it), learns the time of every later failed login on that account, and closes when a
 * probe sees the account work again or a later run has waited out the documented lockout duration.
 */
export const LOCKOUTS_FILE = 'lockouts.ndjson';

type Line =
  | { op: 'maybe-locked'; id: string; probe: string; target: string; host: string; account: string; since: string; runId: string }
  | { op: 'failure'; id: string; at: string }
  | { op: 'cleared'; id: string; how: 'seen-working' | 'waited-out'; runId: string; at: string };

/** An account that may still be locked on a device. */
export interface PendingLockout {
  id: string;
  probe: string;
  target: string;
  host: string;
  account: string;
  /** The run that left it. */
  runId: string;
  /** When the probe marked it (before its first failed login that could lock it). */
  since: string;
  /** The last failed login recorded on the account after that: the lock lasts from here. */
  lastFailureAt: string;
}

/** Open records of a lockouts file; a torn last line is ignored. */
export function readPendingLockouts(file: string): PendingLockout[] {
  const open = new Map<string, PendingLockout>();
  for (const line of readNdjson<Line>(file).records) {
    if (line.op === 'maybe-locked') {
      const { op: _op, ...rest } = line;
      open.set(line.id, { ...rest, lastFailureAt: line.since });
    } else if (line.op === 'failure') {
      const record = open.get(line.id);
      if (record && line.at > record.lastFailureAt) record.lastFailureAt = line.at;
    } else if (line.op === 'cleared') open.delete(line.id);
  }
  return [...open.values()];
}

/** A profile's lockouts file. */
export class LockoutState {
  readonly file: string;
  constructor(stateDir: string, private readonly runId: string, private readonly now: () => Date = () => new Date()) {
    this.file = path.join(stateDir, LOCKOUTS_FILE);
  }

  pending(): PendingLockout[] {
    return readPendingLockouts(this.file);
  }

  open(notice: Omit<LockNotice, 'since'>, since: number): string {
    const id = randomBytes(8).toString('hex');
    appendDurably(this.file, { op: 'maybe-locked', id, ...notice, host: hostOfTarget(notice.target), since: new Date(since).toISOString(), runId: this.runId });
    return id;
  }

  failure(id: string, atMs: number): void {
    appendDurably(this.file, { op: 'failure', id, at: new Date(atMs).toISOString() });
  }

  clear(id: string, how: 'seen-working' | 'waited-out'): void {
    appendDurably(this.file, { op: 'cleared', id, how, runId: this.runId, at: this.now().toISOString() });
  }
}

/**
 * The run ledger, writing through to the lockouts file what the auth probes mark in it: an account marked as
 * possibly locked and the account seen working again (which also closes the records earlier runs left for the
 * same probe, target and account). Failed logins on a marked account come from the run's action log.
 */
export class PersistentLockLedger extends MapLedger {
  private readonly open = new Map<string, { id: string; host: string; account: string }>();

  constructor(private readonly state: LockoutState) {
    super();
  }

  /** Sets counters as a journaled snapshot held them (resume), without opening records again. */
  restore(entries: Readonly<Record<string, number>>): void {
    for (const [key, value] of Object.entries(entries)) super.set(key, value);
  }

  override set(key: string, value: number): void {
    super.set(key, value);
    const notice = noticeOfKey(key);
    if (!notice) return;
    if (value) {
      if (!this.open.has(key)) this.open.set(key, { id: this.state.open(notice, value), host: hostOfTarget(notice.target), account: notice.account });
      return;
    }
    this.open.delete(key);
    for (const r of this.state.pending()) {
      if (r.probe === notice.probe && r.target === notice.target && r.account === notice.account) this.state.clear(r.id, 'seen-working');
    }
  }

  /** A failed login the action log saw (time of the device's last failure): extends an open record of that account. */
  loginFailed(host: string, account: string, atMs: number): void {
    for (const r of this.open.values()) if (r.host === host && r.account === account) this.state.failure(r.id, atMs);
  }
}

/** What the run journals and prints about a lockout an earlier run may have left. */
export interface LockoutWaitRecord {
  type: 'lockout-wait' | 'lockout-pending';
  host: string;
  account: string;
  leftBy: { probe: string; target: string; runId: string };
  lastFailureAt: string;
  durationSeconds: number | null;
  /** lockout-wait: until when and how long this run waits, and the attempt that waits. */
  until?: string;
  ms?: number;
  before?: string;
  /** lockout-pending: why the run does not wait. */
  notWaited?: string;
  message: string;
}

/** Margin after the documented duration: clocks and the device's own timer granularity. */
const MARGIN_MS = 1000;

/** Does an attempt with these locks log in with `account` on `host` (or, with a lock per source, any account there)? */
function logsInto(locks: readonly LockRequest[], record: PendingLockout, perUser: boolean): boolean {
  const prefix = `account:${record.host}:`;
  return locks.some((l) => (perUser ? l.key === `${prefix}${record.account}` : l.key.startsWith(prefix)));
}

/**
 * Holds back attempts that log in to an account an earlier (killed or cancelled) run may have left locked, until
 * the profile's documented lockout duration has passed since the last failed login recorded on it; then closes
 * the record. Without a documented duration nothing tells how long to wait: the run says so once and goes on.
 */
export class LockoutGate {
  private readonly waits = new Map<string, Promise<void>>();
  private readonly announced = new Set<string>();

  constructor(
    private readonly pending: readonly PendingLockout[], private readonly policy: LockoutPolicy | undefined, private readonly state: LockoutState,
    private readonly report: (record: LockoutWaitRecord) => void, private readonly now: () => number = Date.now,
  ) {}

  /** Resolves when `attempt` (probe@target, with its locks) may start; rejects only when `signal` aborts. */
  async before(host: string, attempt: string, locks: readonly LockRequest[], signal: AbortSignal): Promise<void> {
    const perUser = this.policy?.scope === 'user';
    for (const record of this.pending.filter((r) => r.host === host && logsInto(locks, r, perUser))) {
      await this.waitFor(record, attempt, signal);
    }
  }

  private waitFor(record: PendingLockout, attempt: string, signal: AbortSignal): Promise<void> {
    const base = {
      host: record.host, account: record.account, leftBy: { probe: record.probe, target: record.target, runId: record.runId },
      lastFailureAt: record.lastFailureAt, durationSeconds: this.policy?.durationSeconds ?? null,
    };
    const what = `${record.account} on ${record.host} may still be locked: ${record.probe} of run ${record.runId} made failed logins until ${record.lastFailureAt} and did not see it work again`;
    if (this.policy?.durationSeconds === undefined) {
      if (!this.announced.has(record.id)) {
        this.announced.add(record.id);
        this.report({ type: 'lockout-pending', ...base, notWaited: 'the profile documents no lockout duration (policy.lockout.durationSeconds)', message: `${what}; not waiting: the profile documents no lockout duration` });
      }
      return Promise.resolve();
    }
    let wait = this.waits.get(record.id);
    if (!wait) {
      const untilMs = Date.parse(record.lastFailureAt) + this.policy.durationSeconds * 1000 + MARGIN_MS;
      const ms = Math.max(0, untilMs - this.now());
      this.report({
        type: 'lockout-wait', ...base, until: new Date(untilMs).toISOString(), ms, before: attempt,
        message: `${what}; waiting ${(ms / 1000).toFixed(1)} s (the documented lockout of ${this.policy.durationSeconds} s) before ${attempt}`,
      });
      wait = sleep(ms, signal).then(() => this.state.clear(record.id, 'waited-out'));
      this.waits.set(record.id, wait);
    }
    return wait;
  }
}
