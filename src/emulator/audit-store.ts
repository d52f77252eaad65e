/**
 * The device's own copy of its security log (what it also sends to a collector): the records the web UI's
 * audit-log resource serves (services/audit-log.ts). Bounded like a device's ring buffer: past `max` records
 * the oldest go. Kept whether or not a collector is configured.
 */
import { auditText, capacityText, formatAuditRecord, formatCapacityRecord, isLogged, type AuditEvent, type AuditPosture } from './audit';

/** One stored record: as a JSON object (the API) and as the syslog line the device sends. */
export interface StoredAuditRecord {
  readonly object: Readonly<Record<string, unknown>>;
  readonly line: string;
}

export const DEFAULT_MAX_RECORDS = 1000;

/** How full the store is when it crosses the posture's `capacityWarningPercent` (CR 2.9 RE(1)). */
export interface StorageFill {
  readonly percent: number;
  readonly count: number;
  readonly max: number;
}

export class AuditRecordStore {
  private records: StoredAuditRecord[] = [];
  private seq = 0;
  /** The capacity warning was given and the store has not dropped below its threshold since. */
  private warned = false;

  /** `onCapacityWarning` sends the warning record (the device's sender); the store keeps a copy itself. */
  constructor(
    private readonly posture: AuditPosture, private readonly hostname: string, private readonly max = DEFAULT_MAX_RECORDS,
    private readonly onCapacityWarning?: (fill: StorageFill, line: (deviceAtMs: number) => string) => void,
  ) {}

  /** Keeps an event the posture logs, stamped with the device clock. */
  add(e: AuditEvent, atMs: number): void {
    if (!isLogged(this.posture, e)) return;
    const user = this.posture.includeUser === false ? undefined : e.user;
    const object = {
      seq: ++this.seq, time: new Date(atMs).toISOString(), host: this.hostname, service: e.service, event: e.category,
      ...(user !== undefined ? { user } : {}), ...(e.source ? { source: e.source } : {}), message: auditText(e, user),
    };
    this.push({ object, line: formatAuditRecord(e, this.posture, this.hostname, atMs) });
    this.checkCapacity(atMs);
  }

  /** Appends what a client wrote (weak devices accept it): a JSON object, or one text line per line. */
  write(body: string): void {
    for (const r of parseWritten(body)) this.push(r);
    this.checkCapacity(Date.now());
  }

  /** Replaces every record with what a client wrote (PUT on a weak device). */
  replace(body: string): void {
    this.records = [];
    this.write(body);
  }

  clear(): void {
    this.records = [];
  }

  list(): readonly StoredAuditRecord[] {
    return this.records;
  }

  /**
   * One warning when the store reaches the posture's threshold (a full ring buffer stays above it, so it is not
   * repeated); cleared or replaced below the threshold, the next crossing warns again.
   */
  private checkCapacity(atMs: number): void {
    const percent = this.posture.capacityWarningPercent;
    if (percent === undefined) return;
    const threshold = Math.ceil((this.max * percent) / 100);
    if (this.records.length < threshold) {
      this.warned = false;
      return;
    }
    if (this.warned) return;
    this.warned = true;
    const fill: StorageFill = { percent, count: this.records.length, max: this.max };
    const line = (deviceAtMs: number) => formatCapacityRecord(this.posture, this.hostname, deviceAtMs, fill);
    this.push({ object: { seq: ++this.seq, time: new Date(atMs).toISOString(), host: this.hostname, service: 'audit', event: 'audit-capacity', message: capacityText(fill) }, line: line(atMs) });
    this.onCapacityWarning?.(fill, line);
  }

  private push(r: StoredAuditRecord): void {
    this.records.push(r);
    if (this.records.length > this.max) this.records.splice(0, this.records.length - this.max);
  }
}

function parseWritten(body: string): StoredAuditRecord[] {
  try {
    const doc = JSON.parse(body) as unknown;
    const items = Array.isArray(doc) ? doc : [doc];
    return items.filter((o): o is Record<string, unknown> => o !== null && typeof o === 'object').map((object) => ({ object, line: JSON.stringify(object) }));
  } catch {
    return body.split(/\r?\n/).filter((l) => l.trim()).map((line) => ({ object: { message: line }, line }));
  }
}
