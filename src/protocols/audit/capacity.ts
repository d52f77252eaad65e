/**
 * CR 2.9 RE(1) (warn when the audit storage capacity threshold is reached): what `audit.capacity` needs besides
 * the login layer: the documented capacity (`policy.auditLog.capacity`), the caps on how many events it may
 * provoke and how fast, and what it reads from the lab collector (the warning record, how many of its events
 * the device logged).
 */
import type { DevicePolicy, ServiceProtocol, SyslogRecord } from '../../sdk';
import { fitsInterface, isAmbiguous, KIND_PATTERNS, recordText } from './correlate';
import { OUTAGE_PHASE } from './outage';

/** Last on the host: the flood must not disturb the records the other audit probes (and the outage) judge. */
export const CAPACITY_PHASE = OUTAGE_PHASE + 1;

/** User names of the provoked failed logins: `iacs-capacity-<n>` (no device has them: no real account locks). */
export const CAPACITY_ACCOUNT_PREFIX = 'iacs-capacity-';

/** Limits no profile can raise: a profile asking for more is clamped to these (and the attempt says so). */
export const CAPACITY_HARD_CAPS = { maxEvents: 20_000, maxRatePerSecond: 200 } as const;

/** The lab's tolerance above the documented threshold, in percentage points, when the profile gives none. */
export const DEFAULT_MARGIN_PERCENT = 5;

/** `policy.auditLog.capacity` with the default margin applied and the pattern compiled. */
export interface AuditCapacity {
  readonly records: number;
  readonly warnAtPercent: number;
  readonly marginPercent: number;
  readonly warning: RegExp;
}

/** The documented capacity, or why the probe cannot use what the profile says. */
export function auditCapacityOf(policy: DevicePolicy): AuditCapacity | { reason: string } {
  const c = (policy.auditLog as { capacity?: { records?: number; warnAtPercent?: number; warning?: string; marginPercent?: number } } | undefined)?.capacity;
  if (c?.records === undefined || c.warnAtPercent === undefined) {
    return { reason: 'the profile documents no audit storage capacity and threshold (policy.auditLog.capacity.records, warnAtPercent): the vendor\'s documentation gives them' };
  }
  if (!c.warning) return { reason: 'the profile gives no pattern for the device\'s warning record (policy.auditLog.capacity.warning): a warning cannot be recognised' };
  return { records: c.records, warnAtPercent: c.warnAtPercent, marginPercent: c.marginPercent ?? DEFAULT_MARGIN_PERCENT, warning: new RegExp(c.warning, 'i') };
}

/** Records the storage holds at the documented threshold. */
export const thresholdRecords = (c: AuditCapacity): number => Math.ceil((c.records * c.warnAtPercent) / 100);

/** Events after which a device that warns at its threshold (+ margin) must have warned, from an empty log. */
export const eventLimit = (c: AuditCapacity): number => Math.ceil((c.records * (c.warnAtPercent + c.marginPercent)) / 100);

export interface CapacityInputs {
  readonly maxEvents: number;
  readonly maxRatePerSecond: number;
}

/** The inputs within the hard caps; `clamped` says what the profile asked for beyond them. */
export function clampCaps(inputs: CapacityInputs): CapacityInputs & { clamped: string[] } {
  const clamped: string[] = [];
  const cap = (name: keyof CapacityInputs): number => {
    if (inputs[name] <= CAPACITY_HARD_CAPS[name]) return inputs[name];
    clamped.push(`${name} ${inputs[name]} is above the hard cap: ${CAPACITY_HARD_CAPS[name]} applies`);
    return CAPACITY_HARD_CAPS[name];
  };
  return { maxEvents: cap('maxEvents'), maxRatePerSecond: cap('maxRatePerSecond'), clamped };
}

/** One of the probe's own user names as a whole word (`iacs-capacity-12`), and the name. */
const OWN_ACCOUNT = new RegExp(`(^|[^\\w.-])(${CAPACITY_ACCOUNT_PREFIX}\\d+)($|[^\\w.-])`);

/** The record matches the warning pattern and is not the device's record of one of our logins (which names it). */
export function isWarning(r: SyslogRecord, pattern: RegExp): boolean {
  const text = r.raw.toString('utf8');
  return pattern.test(text) && !OWN_ACCOUNT.test(text);
}

/**
 * Finds the first record from the device that is the warning (isWarning), reading each record once (the
 * collector's list only grows), so checking after every provoked event stays linear in the records.
 */
export class WarningWatch {
  private next = 0;
  private found?: SyslogRecord;

  constructor(private readonly records: readonly SyslogRecord[], private readonly pattern: RegExp, private readonly deviceAddresses: readonly string[]) {}

  check(): SyslogRecord | undefined {
    for (; !this.found && this.next < this.records.length; this.next++) {
      const r = this.records[this.next];
      if (this.deviceAddresses.includes(r.peer) && isWarning(r, this.pattern)) this.found = r;
    }
    return this.found;
  }
}

/**
 * How many of the provoked failed logins the device logged, as far as the collector shows: records from the
 * device since `sinceMs` that report a failed login on the interface; when the device names users, only those
 * naming one of our accounts, each account once (a resent copy is not a second event).
 */
export function loggedFailures(
  records: readonly SyslogRecord[],
  o: { deviceAddresses: readonly string[]; sinceMs: number; iface: ServiceProtocol; namesUsers: boolean },
): number {
  const accounts = new Set<string>();
  let count = 0;
  for (const r of records) {
    if (!o.deviceAddresses.includes(r.peer) || r.receivedAt < o.sinceMs - 1000 || isAmbiguous(r)) continue;
    const text = recordText(r);
    if (!KIND_PATTERNS['login-failed'].test(text) || !fitsInterface(r, o.iface)) continue;
    if (!o.namesUsers) count++;
    else {
      const account = OWN_ACCOUNT.exec(text)?.[2];
      if (account) accounts.add(account);
    }
  }
  return o.namesUsers ? accounts.size : count;
}
