/**
 * Event correlation for the audit probes: which of the security events the run caused (the action log)
 * arrived at the lab collector as device records, how late, with which fields. A record is matched to at
 * most one action: the earliest unused record from the device's address, received within the window after
 * the action, whose text names the event kind (the patterns below are data; docs/audit.md lists them). A
 * record that fits contradictory kinds (failed and succeeded) is no evidence of either.
 */
import type { ActionKind, ActionRecord, SyslogRecord } from '../../sdk';
import type { OpcuaAuditRecord } from './opcua-records';

/** What the correlation matches: a syslog record, or an OPC UA audit event of the host's subscription. */
export type AuditRecord = SyslogRecord | OpcuaAuditRecord;

export const isOpcuaRecord = (r: AuditRecord): r is OpcuaAuditRecord => r.transport === 'opcua';

/** How device logs word each kind (OpenSSH, PAM, web servers, PLC vendors' English messages). */
export const KIND_PATTERNS: Readonly<Record<ActionKind, RegExp>> = {
  'login-failed': /\b(fail(ed|ure)?|invalid (user|password)|authentication (error|failure)|bad password|wrong password|denied|incorrect)\b/i,
  'login-succeeded': /\b(accepted|succe(ss|eded|ssful)|logged in|login ok|authenticated)\b/i,
  'login-refused': /\b(refused|rejected|denied|fail(ed|ure)?)\b/i,
  'lockout-expected': /\b(lock(ed|out)?|blocked|too many (failed|authentication)|disabled)\b/i,
  'session-opened': /\bsession (opened|open|start(ed)?)\b|\bconnect(ed|ion) (from|accepted)\b/i,
  'session-closed': /\bsession (closed|ended|terminated)\b|\b(logout|logged out|disconnect(ed)?)\b/i,
  'session-limit-hit': /\b(session limit|too many sessions|max(imum)? (sessions|startups)|limit reached)\b/i,
  'access-denied': /\b(denied|forbidden|unauthori[sz]ed|not permitted)\b/i,
  // Reading and changing the audit log itself (audit.log-access, audit.log-protection) are records of these kinds too.
  'config-read': /\b(config(uration)? (read|download|export)|read config|audit (log|trail) (read|viewed|accessed|export(ed)?|download(ed)?))\b/i,
  'config-changed': /\b(config(uration)? (change[ds]?|write|modif(y|ied)|upload)|settings? changed|audit (log|trail) (cleared|deleted|erased|modified|changed|written))\b/i,
};

/** Kinds the device must log (CR 2.8 access control); a refusal without verdict is not required. */
export const REQUIRED_KINDS: ReadonlySet<ActionKind> = new Set(['login-failed', 'login-succeeded', 'lockout-expected', 'session-opened', 'session-closed', 'session-limit-hit', 'access-denied', 'config-read', 'config-changed']);

/**
 * How records name the interface an event came through (daemon names, protocol words). A record that names
 * interfaces is matched only to actions on one of them, so that concurrent probes on several interfaces do not
 * take each other's records; a record that names none may match any.
 */
export const INTERFACE_PATTERNS: Readonly<Record<string, RegExp>> = {
  ssh: /\b(sshd?|ssh2|dropbear)\b/i,
  http: /\b(https?|web ?(ui|server)?|httpd|lighttpd|nginx|apache2?)\b/i,
  opcua: /\b(opc ?ua|opc\.tcp)\b/i,
  mqtt: /\b(mqtt|mosquitto)\b/i,
  telnet: /\b(telnetd?|console)\b/i,
  ftp: /\b(v?s?ftpd?|proftpd)\b/i,
};
/** The interface family of a declared service protocol (https and http are one web interface). */
const familyOf = (protocol: string) => (protocol === 'https' ? 'http' : protocol);

function namedInterfaces(text: string): string[] {
  return Object.entries(INTERFACE_PATTERNS).filter(([, re]) => re.test(text)).map(([family]) => family);
}

/** The record names no interface, or the action's. */
export function fitsInterface(r: SyslogRecord, protocol: string): boolean {
  const named = namedInterfaces(recordText(r));
  return named.length === 0 || named.includes(familyOf(protocol));
}

/**
 * Kinds no single record can report at once: a record whose text fits both (e.g. "login failed/succeeded",
 * a catch-all "auth event") says nothing about which happened and is never taken as evidence.
 */
export const CONTRADICTORY_KINDS: readonly (readonly [ActionKind, ActionKind])[] = [
  ['login-failed', 'login-succeeded'],
  ['session-opened', 'session-closed'],
];

/** The record's text fits two kinds that exclude each other. */
export function isAmbiguous(r: SyslogRecord): boolean {
  const text = recordText(r);
  return CONTRADICTORY_KINDS.some(([a, b]) => KIND_PATTERNS[a].test(text) && KIND_PATTERNS[b].test(text));
}

export interface EventMatch {
  readonly action: ActionRecord;
  readonly record?: AuditRecord;
  /** Collector receive time minus action time (ms). */
  readonly latencyMs?: number;
  /** The record names the account (CR 2.12). */
  readonly userPresent?: boolean;
  /** Device timestamp minus collector receive time (ms), when the record has a readable timestamp. */
  readonly clockOffsetMs?: number;
}

/** The searchable text of a record: the message, the tag, MSGID and structured-data values. */
export function recordText(r: SyslogRecord): string {
  const sd = r.message.structuredData.flatMap((e) => [e.id, ...Object.entries(e.params).map(([k, v]) => `${k}=${v}`)]);
  return [r.message.appName, r.message.msgId, ...sd, r.message.message].filter(Boolean).join(' ');
}

function mentions(text: string, account: string): boolean {
  const escaped = account.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w.-])${escaped}($|[^\\w.-])`).test(text);
}

/**
 * The record reports this action: a syslog record by its wording and the interface it names; an OPC UA
 * audit event by its kinds, and only for opcua actions on the host and port of its subscription.
 */
function reports(r: AuditRecord, action: ActionRecord): boolean {
  if (isOpcuaRecord(r)) return action.interface === 'opcua' && r.host === action.host && r.port === action.port && r.kinds.includes(action.kind);
  return KIND_PATTERNS[action.kind].test(recordText(r)) && fitsInterface(r, action.interface);
}

/** The record names the account: as a word of a syslog record; as the user an OPC UA event is attributed to. */
function namesAccount(r: AuditRecord, account: string): boolean {
  return isOpcuaRecord(r) ? r.attributedUser === account : mentions(recordText(r), account);
}

/**
 * Matches actions to the device's records (`deviceAddresses`: where the device's syslog records come from;
 * OPC UA audit records carry their subscription instead).
 */
export function correlate(actions: readonly ActionRecord[], records: readonly AuditRecord[], options: { deviceAddresses: readonly string[]; windowMs: number; earlyMs?: number }): EventMatch[] {
  const fromDevice = records.filter((r) => isOpcuaRecord(r) || (options.deviceAddresses.includes(r.peer) && !isAmbiguous(r)));
  // Keyed by the record itself: syslog and OPC UA records are numbered apart.
  const used = new Set<AuditRecord>();
  const early = options.earlyMs ?? 1000;
  return [...actions].sort((a, b) => a.atMs - b.atMs).map((action) => {
    const candidates = fromDevice.filter((r) => !used.has(r) && r.receivedAt >= action.atMs - early && r.receivedAt <= action.atMs + options.windowMs && reports(r, action));
    // Prefer a record that names the account: of two failures in a row, each finds its own.
    const record = candidates.find((r) => action.account !== undefined && namesAccount(r, action.account)) ?? candidates[0];
    if (!record) return { action };
    used.add(record);
    const ts = record.message.timestamp?.epochMs;
    return {
      action, record, latencyMs: record.receivedAt - action.atMs,
      ...(action.account !== undefined ? { userPresent: namesAccount(record, action.account) } : {}),
      ...(ts !== undefined ? { clockOffsetMs: ts - record.receivedAt } : {}),
    };
  });
}

export interface KindSummary {
  readonly kind: ActionKind;
  readonly provoked: number;
  readonly logged: number;
  readonly interfaces: readonly string[];
}

/** Per provoked kind: how many actions, how many logged, on which interfaces. */
export function summarizeKinds(matches: readonly EventMatch[]): KindSummary[] {
  const byKind = new Map<ActionKind, { provoked: number; logged: number; interfaces: Set<string> }>();
  for (const m of matches) {
    const k = byKind.get(m.action.kind) ?? { provoked: 0, logged: 0, interfaces: new Set<string>() };
    k.provoked += 1;
    if (m.record) k.logged += 1;
    k.interfaces.add(m.action.interface);
    byKind.set(m.action.kind, k);
  }
  return [...byKind].map(([kind, v]) => ({ kind, provoked: v.provoked, logged: v.logged, interfaces: [...v.interfaces].sort() }));
}
