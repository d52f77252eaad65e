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
}

export interface LabServices {
  readonly address: string;
  readonly syslog?: LabSyslog;
  readonly ntp?: LabNtp;
  /** How long to wait after the last provoked event for records in flight (ms). */
  readonly settleMs: number;
  /** The collector outage `audit.outage` makes (profile `lab.outage`, defaults applied). */
  readonly outage?: LabOutageSettings;
}
