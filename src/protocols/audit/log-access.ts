/**
 * What audit.log-access (CR 6.1, 6.1 RE(1), CR 3.9 reading) and audit.log-protection (CR 3.9 deleting and
 * altering) share: the declared log interface (`policy.auditLog.http`), the accounts (`credentials.audit.reader`,
 * `credentials.audit.unprivileged`), one read of the log as a given identity, the parsing of what came back into
 * records, and the comparison of two reads. The verdicts rest on records, never on status codes alone.
 */
import { createHash } from 'node:crypto';
import { AuthRejected, type Credential, type ProbeContext, type ServiceUnderTest } from '../../sdk';
import { looksLikeHtml } from '../http/html';
import { httpEndpoint, httpRequest, type HttpResponse } from '../http/request';
import { parseSyslog } from '../syslog/parse';

/** What the documentation promises the interface returns. */
export const AUDIT_LOG_FORMATS = ['json', 'ndjson', 'syslog', 'html'] as const;
export type AuditLogFormat = (typeof AUDIT_LOG_FORMATS)[number];
/** What a read turned out to hold: a promised format, unstructured text lines, or nothing. */
export type ObservedFormat = AuditLogFormat | 'text' | 'empty';
/** Formats a program can read record by record without scraping (CR 6.1 RE(1)). */
export const MACHINE_READABLE: ReadonlySet<ObservedFormat> = new Set(['json', 'ndjson', 'syslog']);

/** `policy.auditLog.http` of the profile. */
export interface AuditLogHttp {
  readonly path: string;
  readonly format?: AuditLogFormat;
  /** The declared service that serves it; absent: every declared http/https service of the host. */
  readonly port?: number;
  /** Only HTTP basic authentication today. */
  readonly auth?: 'basic';
}

/** Who asks: the authorised account, the non-admin account, or nobody. */
export interface Account { kind: 'reader' | 'unprivileged'; credential: Credential }
export type Identity = Account | { kind: 'anonymous' };

/** CR 3.9 is judged in two parts on an interface: reading (audit.log-access) and deleting/altering (audit.log-protection). */
export const CR39_PARTS = ['read', 'modify'] as const;

export const READER_KEY = 'audit.reader';
export const UNPRIVILEGED_KEY = 'audit.unprivileged';
export const REQUEST_TIMEOUT_MS = 10_000;

export const identityName = (i: Identity) => (i.kind === 'anonymous' ? 'unauthenticated' : `${i.kind} account ${i.credential.username}`);

/** The declared interface for this service, or why the probe has nothing to judge here. */
export function auditLogInterface(ctx: ProbeContext<unknown>): { http: AuditLogHttp } | { notDetermined: string } | { notApplicable: string } {
  const declared = (ctx.policy.auditLog as { http?: AuditLogHttp } | undefined)?.http;
  if (!declared || typeof declared.path !== 'string' || !declared.path.startsWith('/')) {
    return { notDetermined: 'the profile declares no audit log interface (policy.auditLog.http.path): where the log is read is the vendor\'s documentation to give' };
  }
  if (declared.port !== undefined && declared.port !== ctx.service!.port) {
    return { notApplicable: `the audit log is declared on port ${declared.port}, not on this service` };
  }
  return { http: declared };
}

export function identities(ctx: ProbeContext<unknown>): { reader?: Account; unprivileged?: Account } {
  const reader = ctx.credentials.get(READER_KEY);
  const unprivileged = ctx.credentials.get(UNPRIVILEGED_KEY);
  return {
    ...(reader ? { reader: { kind: 'reader', credential: reader } as const } : {}),
    ...(unprivileged ? { unprivileged: { kind: 'unprivileged', credential: unprivileged } as const } : {}),
  };
}

/** One read (or write) of the log resource as an identity; the password never leaves this function. */
export async function logRequest(
  ctx: ProbeContext<unknown>, service: ServiceUnderTest, log: AuditLogHttp, identity: Identity,
  request: { method?: string; body?: string; contentType?: string } = {},
): Promise<HttpResponse> {
  const headers: Record<string, string> = { accept: 'application/json, application/x-ndjson, text/plain;q=0.9, */*;q=0.5' };
  if (identity.kind !== 'anonymous') {
    headers.authorization = `Basic ${Buffer.from(`${identity.credential.username}:${identity.credential.password}`).toString('base64')}`;
  }
  if (request.contentType) headers['content-type'] = request.contentType;
  return httpRequest(httpEndpoint(service), {
    method: request.method ?? 'GET', path: log.path, headers, body: request.body, signal: ctx.signal, timeoutMs: REQUEST_TIMEOUT_MS, maxBodyBytes: 4 * 1024 * 1024,
  });
}

/** A read of the log: status, what the body held, and one canonical text per record. */
export interface LogSnapshot {
  readonly status: number;
  readonly contentType: string;
  readonly format: ObservedFormat;
  readonly records: readonly string[];
  readonly bytes: number;
  readonly sha256: string;
  readonly truncated: boolean;
}

export const isSuccess = (status: number) => status >= 200 && status < 300;
/** Statuses that refuse the identity (or hide the resource from it): 401, 403, 404, 405, and a redirect to a login page. */
export const isRefusal = (status: number) => !isSuccess(status);

export function snapshotOf(response: HttpResponse): LogSnapshot {
  const contentType = String(response.headers['content-type'] ?? '');
  const parsed = isSuccess(response.status) ? parseAuditLog(response.body, contentType) : { format: 'empty' as const, records: [] };
  return {
    status: response.status, contentType, ...parsed, bytes: response.body.length,
    sha256: createHash('sha256').update(response.body).digest('hex'), truncated: response.truncated,
  };
}

/** Reads the log as the authorised account: a 401 means the profile's credentials are wrong (an error, not a verdict). */
export async function readAsReader(ctx: ProbeContext<unknown>, service: ServiceUnderTest, log: AuditLogHttp, reader: Identity): Promise<LogSnapshot> {
  const snapshot = snapshotOf(await logRequest(ctx, service, log, reader));
  if (snapshot.status === 401) throw new AuthRejected(`${log.path} refused the credentials of ${identityName(reader)} (401): check credentials.${READER_KEY}`);
  return snapshot;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

const stable = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
};

/** The record array of a JSON document: the document itself, or its one array-valued member (`{"records": [...]}`). */
function jsonRecords(doc: unknown): unknown[] | undefined {
  if (Array.isArray(doc)) return doc;
  if (doc === null || typeof doc !== 'object') return undefined;
  const arrays = Object.values(doc).filter(Array.isArray);
  return arrays.length === 1 ? arrays[0] : undefined;
}

const decodeEntities = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
const textOf = (html: string) => decodeEntities(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();

/** Records of an HTML page: table rows with cells, else the lines of a <pre>, else list items. */
function htmlRecords(html: string): string[] {
  const rows = [...html.matchAll(/<tr\b[^>]*>([\s\S]*?)<\/tr>/gi)].filter((m) => /<td\b/i.test(m[1])).map((m) => textOf(m[1]));
  if (rows.length > 0) return rows.filter(Boolean);
  const pre = [...html.matchAll(/<pre\b[^>]*>([\s\S]*?)<\/pre>/gi)].flatMap((m) => decodeEntities(m[1].replace(/<[^>]*>/g, '')).split(/\r?\n/));
  if (pre.some((l) => l.trim())) return pre.map((l) => l.trim()).filter(Boolean);
  return [...html.matchAll(/<li\b[^>]*>([\s\S]*?)<\/li>/gi)].map((m) => textOf(m[1])).filter(Boolean);
}

/** What a log body holds. JSON is tried first, then NDJSON, HTML, syslog lines; anything else is text lines. */
export function parseAuditLog(body: Buffer, contentType: string): { format: ObservedFormat; records: string[] } {
  const text = body.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') return { format: 'empty', records: [] };
  const trimmed = text.trim();
  if (/^[[{]/.test(trimmed)) {
    try {
      const records = jsonRecords(JSON.parse(trimmed));
      if (records) return { format: records.length > 0 ? 'json' : 'empty', records: records.map(stable) };
    } catch {
      // not one JSON document: NDJSON or text
    }
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const ndjson = lines.map((l) => {
    try {
      const v = JSON.parse(l) as unknown;
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? stable(v) : undefined;
    } catch {
      return undefined;
    }
  });
  if (ndjson.every((r) => r !== undefined)) return { format: 'ndjson', records: ndjson as string[] };
  if (looksLikeHtml(contentType || undefined, body) || /^\s*<(!doctype|html|table|body)\b/i.test(text)) {
    const records = htmlRecords(text);
    return { format: records.length > 0 ? 'html' : 'empty', records };
  }
  if (lines.every((l) => parseSyslog(l).format !== 'unknown')) return { format: 'syslog', records: lines };
  return { format: 'text', records: lines };
}

// ---------------------------------------------------------------------------------------------------------
// Comparison

/** How a later read differs from an earlier one, for the records the earlier one held. */
export interface LogChange {
  /** The resource no longer answers with the log (404/410), or answers with no record where there were some. */
  readonly gone: boolean;
  /** Records of the earlier read not found in the later one (rotation excluded). */
  readonly missing: number;
  /** Records new since the earlier read (the device keeps logging: not a change by itself). */
  readonly added: number;
  /** The later read holds the marker of our forged record. */
  readonly forged: boolean;
  /** The oldest records left while as many or more arrived: a full ring buffer, not a deletion. */
  readonly rotated: number;
  /** The later read could not be compared (the reader was refused, or an error page). */
  readonly unverifiable?: string;
}

/** Fewer records than this are never read as a ring buffer that rotated. */
export const MIN_RING_RECORDS = 50;

/**
 * Compares two reads of the log as multisets of records, so that records the device appends meanwhile (our own
 * logins are logged) are not a change. A read that answers 404/410 is a log that is gone.
 */
export function compareLogs(before: LogSnapshot, after: LogSnapshot, marker: string): LogChange {
  const forged = after.records.some((r) => r.includes(marker)) && !before.records.some((r) => r.includes(marker));
  if (after.status === 404 || after.status === 410) return { gone: true, missing: before.records.length, added: 0, forged: false, rotated: 0 };
  if (!isSuccess(after.status)) return { gone: false, missing: 0, added: 0, forged: false, rotated: 0, unverifiable: `the authorised read answered ${after.status}` };
  const left = new Map<string, number>();
  for (const r of after.records) left.set(r, (left.get(r) ?? 0) + 1);
  const missingAt: number[] = [];
  before.records.forEach((r, i) => {
    const n = left.get(r) ?? 0;
    if (n > 0) left.set(r, n - 1);
    else missingAt.push(i);
  });
  const added = [...left.values()].reduce((a, b) => a + b, 0);
  const gone = before.records.length > 0 && after.records.length === 0;
  const oldestOnly = missingAt.every((index, k) => index === k);
  // Only a log big enough to be a full ring buffer rotates; a small log that lost its oldest records was deleted from.
  const rotated = !gone && !forged && missingAt.length > 0 && oldestOnly && before.records.length >= MIN_RING_RECORDS
    && after.records.length >= before.records.length ? missingAt.length : 0;
  return { gone, missing: missingAt.length - rotated, added, forged, rotated };
}

/** Records both reads hold (a response that shares none with the authorised read is not the log). */
export function commonRecords(a: LogSnapshot, b: LogSnapshot): number {
  const set = new Set(a.records);
  return b.records.filter((r) => set.has(r)).length;
}

const TIMESTAMP = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d/;
const MIN_DISTINCT_LENGTH = 16;

/** Values of a record distinctive enough to recognise it in another rendering: its timestamp and long texts. */
function fingerprints(record: string): string[] {
  let leaves: string[];
  try {
    const leafStrings = (v: unknown): string[] => (typeof v === 'string' ? [v] : v !== null && typeof v === 'object' ? Object.values(v).flatMap(leafStrings) : []);
    leaves = leafStrings(JSON.parse(record));
  } catch {
    const parsed = parseSyslog(record);
    leaves = [record, ...(parsed.message ? [parsed.message] : [])];
  }
  return leaves.filter((v) => TIMESTAMP.test(v) || v.length >= MIN_DISTINCT_LENGTH);
}

const escapeHtml = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * How many records of the authorised read appear in another answer's raw body, in whatever form: the same record,
 * or one of its timestamps or long texts (an HTML view of the log, JSON with fields added per viewer). Exact
 * record comparison alone would take such an answer for "no record read".
 */
export function recognisedRecords(authorised: LogSnapshot, body: Buffer): number {
  const text = body.toString('utf8');
  if (text.length === 0) return 0;
  return authorised.records.filter((r) => fingerprints(r).some((v) => text.includes(v) || text.includes(escapeHtml(v)))).length;
}
