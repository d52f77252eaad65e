/**
 * CR 2.10 (response to audit processing failures): what `audit.outage` reads from the lab collector after it
 * made the collector unreachable: which of the failed logins provoked during the outage reached it afterwards
 * (a stream sender must not lose them), and whether the device raised the alarm the profile describes.
 */
import type { ActionRecord, SyslogRecord } from '../../sdk';
import { correlate, fitsInterface, isAmbiguous, KIND_PATTERNS, recordText, type EventMatch } from './correlate';
import { AUDIT_PHASE } from './evidence';

/** After the other audit probes on the host: they judge records the outage must not disturb. */
export const OUTAGE_PHASE = AUDIT_PHASE + 1;

/** User names of the provoked failed logins: `iacs-outage-<n>`, the control events before the outage first. */
export const OUTAGE_ACCOUNT_PREFIX = 'iacs-outage-';

/** The account as a whole word of the record (a user name is never part of a longer name). */
export function namesAccount(r: SyslogRecord, account: string): boolean {
  const escaped = account.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w.-])${escaped}($|[^\\w.-])`).test(recordText(r));
}

/** A record from the device that reports this failed login (kind, interface, not before it). */
export function reportsFailedLogin(r: SyslogRecord, action: ActionRecord, deviceAddresses: readonly string[]): boolean {
  return deviceAddresses.includes(r.peer) && r.receivedAt >= action.atMs - 1000 && !isAmbiguous(r)
    && KIND_PATTERNS['login-failed'].test(recordText(r)) && fitsInterface(r, action.interface);
}

/** One record per distinct text: a sender that resends what it could not confirm may deliver a record twice. */
export function distinctRecords(records: readonly SyslogRecord[]): SyslogRecord[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const key = `${r.peer}|${r.raw.toString('latin1')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface Delivery {
  readonly matches: readonly EventMatch[];
  readonly delivered: readonly EventMatch[];
  readonly lost: readonly ActionRecord[];
}

/**
 * Which outage actions arrived. When the device names users (its control record did), a record counts only
 * for the action whose account it names, so a resent copy of another record cannot stand in for a lost one;
 * otherwise distinct records are matched by kind, interface and time (correlate). The control records and
 * their copies (`exclude`) are never evidence for an outage action.
 */
export function judgeDelivery(
  actions: readonly ActionRecord[], records: readonly SyslogRecord[],
  o: { deviceAddresses: readonly string[]; windowMs: number; namesUsers: boolean; exclude: readonly SyslogRecord[] },
): Delivery {
  const excluded = new Set(o.exclude.map((r) => r.raw.toString('latin1')));
  const candidates = distinctRecords(records).filter((r) => !excluded.has(r.raw.toString('latin1')));
  const matches = o.namesUsers
    ? actions.map((action): EventMatch => {
      const record = candidates.find((r) => reportsFailedLogin(r, action, o.deviceAddresses) && r.receivedAt <= action.atMs + o.windowMs && namesAccount(r, action.account ?? ''));
      return record ? { action, record, latencyMs: record.receivedAt - action.atMs, userPresent: true } : { action };
    })
    : correlate(actions, candidates, { deviceAddresses: o.deviceAddresses, windowMs: o.windowMs });
  return { matches, delivered: matches.filter((m) => m.record), lost: matches.filter((m) => !m.record).map((m) => m.action) };
}

/** The first record from the device since `sinceMs` whose raw text matches the profile's alarm pattern. */
export function findAlarm(records: readonly SyslogRecord[], pattern: RegExp, sinceMs: number, deviceAddresses: readonly string[]): SyslogRecord | undefined {
  return records.find((r) => deviceAddresses.includes(r.peer) && r.receivedAt >= sinceMs && pattern.test(r.raw.toString('utf8')));
}
