/**
 * Lab services a run starts for the audit probes (profile `lab:` block): what a probe reads through
 * `ctx.lab`. The runner owns them (started before the first attempt, closed after the last); their raw
 * journals are evidence in the run folder (lab/).
 */

export const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp',
  'security', 'console', 'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
export const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

export interface SyslogTimestamp {
  /** The timestamp as the device wrote it. */
  readonly text: string;
  /** Epoch ms; undefined when the text is no date. Without a zone it is read as UTC (`zoneAssumed`). */
  readonly epochMs?: number;
  readonly hasYear: boolean;
  /** The device named its offset to UTC (RFC 3339 `Z` or `±hh:mm`). */
  readonly hasZone: boolean;
  /** The year was not written and was taken from the receive time (the closest year). */
  readonly yearAssumed: boolean;
  /** Digits after the seconds (0: whole seconds). */
  readonly fractionDigits: number;
}

export interface StructuredElement {
  readonly id: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface SyslogMessage {
  readonly format: '5424' | '3164' | 'unknown';
  readonly facility?: (typeof FACILITIES)[number];
  readonly severity?: (typeof SEVERITIES)[number];
  readonly timestamp?: SyslogTimestamp;
  readonly hostname?: string;
  readonly appName?: string;
  readonly procId?: string;
  readonly msgId?: string;
  readonly structuredData: readonly StructuredElement[];
  readonly message: string;
}

/** One record the lab syslog collector received (raw bytes journaled before parsing). */
export interface SyslogRecord {
  /** 1, 2, ... in the order received (the journal's `seq`). */
  readonly seq: number;
  /** Collector (lab) clock, epoch ms. */
  readonly receivedAt: number;
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly peer: string;
  readonly peerPort: number;
  readonly framing: 'octet-counted' | 'lf' | 'none' | 'datagram';
  readonly raw: Buffer;
  readonly utf8Valid: boolean;
  /** Why this record is not a well-formed frame (kept all the same). */
  readonly problem?: string;
  /** TLS: the sender's certificate subject CN, when it presented one. */
  readonly clientCertificate?: string;
  readonly message: SyslogMessage;
}

/** One datagram the lab NTP server received. */
export interface NtpRequestRecord {
  readonly at: number;
  readonly peer: string;
  readonly peerPort: number;
  readonly version?: number;
  readonly mode?: string;
  /** Bytes beyond the 48-byte header: a MAC (symmetric key) or NTS extension fields. */
  readonly trailerBytes?: number;
  /** The offset served in the answer (ms), or undefined when it was not answered. */
  readonly servedOffsetMs?: number;
  /** The request's authentication (RFC 5905 MAC): none, valid, invalid, unknown-key, crypto-nak, unsupported. */
  readonly requestMac?: string;
  /** The key id the request's MAC names. */
  readonly keyId?: number;
  /** The answer's MAC: `valid` (verifies with the key), `wrong` (does not), `none`; undefined when not answered. */
  readonly answerMac?: 'valid' | 'wrong' | 'none';
}

/**
 * How the lab NTP server answers (CR 2.11 RE(2) tests switch it). `auto`, the normal service: a request with
 * a valid MAC is answered with a MAC of its key, one without a MAC without, one whose MAC does not verify not
 * at all. `none`: never a MAC (an unauthenticated source); `wrong`: a MAC that does not verify (a forger
 * without the key); `valid`: always a valid MAC (the authenticated control).
 */
export type NtpAnswerMac = 'auto' | 'none' | 'wrong' | 'valid';

export interface NtpServeMode {
  /** Served time = lab clock + offsetMs. */
  readonly offsetMs: number;
  readonly mac: NtpAnswerMac;
}

/** One period the lab syslog collector was made unreachable on purpose (CR 2.10, `audit.outage`). */
export interface CollectorOutage {
  /** Epoch ms (lab clock). */
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly transports: readonly ('udp' | 'tcp' | 'tls')[];
  /** Stream connections (and TLS handshakes in progress) destroyed at the start. */
  readonly connectionsDestroyed: number;
  readonly reason?: string;
  /** Why the collector resumed: the caller, its safety timer, or the collector closing. */
  readonly endedBy?: 'resume' | 'timer' | 'close';
}

export interface LabSyslog {
  readonly ports: Readonly<Partial<Record<'udp' | 'tcp' | 'tls', number>>>;
  readonly records: readonly SyslogRecord[];
  waitFor(match: (r: SyslogRecord) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<SyslogRecord | undefined>;
  /** The raw journal, relative to the run folder. */
  readonly journal: string;
  /**
   * Makes the collector unreachable: stops listening on `transports` (default all) and destroys the stream
   * connections, so reconnects are refused, until `resume()` (or by itself after `maxMs`). Journaled in the
   * collector's journal and the run journal. Only `audit.outage` uses it.
   */
  suspend(options: { transports?: readonly ('udp' | 'tcp' | 'tls')[]; maxMs: number; reason: string }): Promise<CollectorOutage>;
  /** Listens again on the same ports; undefined when no outage was on. */
  resume(): Promise<CollectorOutage | undefined>;
}

/** The profile's `lab.outage` block with defaults applied (docs/audit.md, CR 2.10). */
export interface LabOutageSettings {
  /** How long the collector stays unreachable (ms). */
  readonly durationMs: number;
  /** A record matching this (case-insensitive) is the device's alarm; undefined: the alarm is not judged. */
  readonly alarm?: RegExp;
  /** Provoke failed logins with unknown user names during the outage (default true). */
  readonly provoke: boolean;
  /** How long a sender may take to reconnect and deliver after the outage, before lab.settleSeconds (ms). */
  readonly reconnectMs: number;
  /** Collector transports taken down (default: every started one). */
  readonly transports?: readonly ('udp' | 'tcp' | 'tls')[];
}

export interface LabNtp {
  readonly port: number;
  /** The offset served (ms): the profile's offsetSeconds when intrusive probes are allowed, else 0. */
  readonly offsetMs: number;
  readonly requests: readonly NtpRequestRecord[];
  readonly journal: string;
  /** Ids of the symmetric keys the server holds (lab.ntp.keys); the secrets are not exposed. */
  readonly keyIds: readonly number[];
  readonly mode: NtpServeMode;
  /** Switches how the server answers from now on; journaled in the NTP journal with `why`. */
  setMode(mode: NtpServeMode, why: string): void;
}

/**
 * One OPC UA audit event (Part 5 §6.4 AuditEventType and its subtypes) the lab's subscriber received from the
 * Server object of a declared opcua service. Times are epoch ms (OPC UA DateTime is UTC); a field the server
 * left out is null.
 */
export interface OpcuaAuditEvent {
  /** 1, 2, ... over every subscription of the run (the journal's `seq`). */
  readonly seq: number;
  /** Lab clock when the notification arrived, epoch ms. */
  readonly receivedAt: number;
  /** The declared service the subscription is on (never an address the event names). */
  readonly host: string;
  readonly port: number;
  /** Browse name of the event type ("AuditActivateSessionEventType") and its NodeId. */
  readonly eventType: string;
  readonly eventTypeId: string;
  readonly time: number | null;
  readonly receiveTime: number | null;
  readonly actionTimeStamp: number | null;
  readonly sourceName: string | null;
  readonly message: string | null;
  readonly severity: number | null;
  /** The action succeeded (AuditEventType Status). */
  readonly status: boolean | null;
  readonly clientUserId: string | null;
  readonly serverId: string | null;
  readonly clientAuditEntryId: string | null;
  /** AuditSessionEventType and subtypes: the session the event is about. */
  readonly sessionId: string | null;
  /** AuditActivateSessionEventType: the user name of a UserName token (the password is never in it). */
  readonly tokenUserName: string | null;
  /** The event is about the subscriber's own session: journaled, never evidence of a provoked event. */
  readonly own: boolean;
}

/** The audit subscription on one declared opcua service, or why there is none. */
export interface OpcuaAuditSubscription {
  readonly host: string;
  readonly port: number;
  readonly state: 'subscribed' | 'unavailable';
  /** Why there is no subscription (no usable endpoint, credentials refused, ...): an observation, not an error. */
  readonly reason?: string;
  /** The server's Server_Auditing variable (i=2994), null when it could not be read. */
  readonly serverAuditing: boolean | null;
  /** `${securityMode}/${securityPolicy}` and the account the subscriber logged in with. */
  readonly endpoint?: string;
  readonly account?: string;
  /** The subscriber's session (its own events are marked `own`). */
  readonly sessionId?: string;
}

export interface LabOpcuaAudit {
  readonly subscriptions: readonly OpcuaAuditSubscription[];
  readonly events: readonly OpcuaAuditEvent[];
  /** The raw journal (every notification, own events too), relative to the run folder. */
  readonly journal: string;
}

export interface LabServices {
  readonly address: string;
  readonly syslog?: LabSyslog;
  readonly ntp?: LabNtp;
  /** OPC UA audit subscriptions (profile `lab.opcuaAudit`), subscribed before the first attempt. */
  readonly opcuaAudit?: LabOpcuaAudit;
  /** How long to wait after the last provoked event for records in flight (ms). */
  readonly settleMs: number;
  /** The collector outage `audit.outage` makes (profile `lab.outage`, defaults applied). */
  readonly outage?: LabOutageSettings;
}

/** Symmetric NTP key types (RFC 5905 MD5/SHA1 digests, RFC 8573 AES-128-CMAC), as chrony's keyfile names them. */
export const NTP_KEY_TYPES = ['MD5', 'SHA1', 'AES128CMAC'] as const;
export type NtpKeyType = (typeof NTP_KEY_TYPES)[number];

/** One symmetric key, its secret already resolved (never journaled or written to evidence). */
export interface NtpKey {
  readonly id: number;
  readonly type: NtpKeyType;
  readonly secret: Buffer;
}

/** Key material as chrony's keyfile writes it: `HEX:0a1b...` is hexadecimal, anything else the ASCII bytes. */
export function ntpKeyMaterial(text: string): Buffer {
  const hex = /^HEX:([0-9a-fA-F]+)$/.exec(text);
  return hex ? Buffer.from(hex[1], 'hex') : Buffer.from(text, 'latin1');
}

/** Why a key cannot be used (AES-128-CMAC needs exactly 16 bytes), or undefined. */
export function ntpKeyProblem(key: Pick<NtpKey, 'id' | 'type' | 'secret'>): string | undefined {
  if (!Number.isInteger(key.id) || key.id < 1 || key.id > 0xffffffff) return `key id ${key.id} is not 1..4294967295`;
  if (key.secret.length === 0) return `key ${key.id} is empty`;
  if (key.type === 'AES128CMAC' && key.secret.length !== 16) return `key ${key.id} (AES128CMAC) must be 16 bytes (32 hex digits after HEX:), not ${key.secret.length}`;
  return undefined;
}

