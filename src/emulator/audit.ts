/**
 * The emulated device's security log (issue 19, layer 4): the account store and the services that log users
 * in report what happened (logins, lockouts, sessions); the device sends it to the lab syslog collector the
 * way its posture says: weak devices send RFC 3164 over UDP without year or user and drop lockout events;
 * hardened ones (the defaults) send RFC 5424 over TLS with every field and take their time from the lab NTP
 * server. Nothing is sent until a sink is configured (`startEmulator(posture, { auditSink })`).
 * The device clock (lab clock + the offset learned from NTP) is polled in the background; with an `ntpKey`
 * the device signs its requests and follows only answers whose MAC verifies (CR 2.11 RE(2)), without one it
 * follows any answer.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ntpKeyMaterial, ntpKeyProblem, queryNtp, type NtpKey, type NtpKeyType } from '../protocols/ntp';

/** What the device logs, in its own words (the CR 2.8 access-control events it can see). */
export const AUDIT_CATEGORIES = [
  'login-succeeded', 'login-failed', 'account-locked', 'login-while-locked', 'session-opened', 'session-closed', 'session-limit-hit',
  // Audit log access (CR 2.8 "audit log events"; the log resource of the web UI, services/audit-log.ts).
  'access-denied', 'audit-log-read', 'audit-log-changed',
  // Account management (services/account-api.ts): created, disabled, deleted, password changed.
  'account-changed',
] as const;
export type AuditCategory = (typeof AUDIT_CATEGORIES)[number];

export interface AuditEvent {
  readonly category: AuditCategory;
  /** The posture key of the interface: ssh, https, opcua, mqtt, telnet, ftp. */
  readonly service: string;
  readonly user?: string;
  /** The client's address as the service saw it. */
  readonly source?: string;
  /** Extra words for the message (a threshold, a limit). */
  readonly detail?: string;
}

/** The posture's `audit:` section. Absent fields take the secure default. */
export interface AuditPosture {
  /** Message format: '5424' (default) or '3164' (BSD: `Mmm dd hh:mm:ss`, no year, no zone). */
  format?: '5424' | '3164';
  /** Transport to the collector: 'tls' (default, RFC 5425), 'tcp' (RFC 6587 octet counting) or 'udp'. */
  transport?: 'tls' | 'tcp' | 'udp';
  /** The user name in each record (default true). */
  includeUser?: boolean;
  /** The categories the device logs (default: all). */
  categories?: AuditCategory[];
  /** The interfaces (posture service keys) whose events are logged (default: all). */
  services?: string[];
  /** Set the clock from the sink's NTP server (default true). */
  followNtp?: boolean;
  /** The symmetric key shared with the lab NTP server (the example hardened profile's lab.ntp.keys): requests
   * carry its MAC and only answers with a valid MAC set the clock. Absent: any answer sets it. */
  ntpKey?: { id: number; type: NtpKeyType; secret: string };
  /** How often the clock asks the NTP server (default 2 s; an emulator, not a real device's 64 s). */
  ntpPollSeconds?: number;
  /** HOSTNAME field (default: the product code in lower case). */
  hostname?: string;
  /**
   * CR 2.10: when a stream transport (tcp/tls) reconnects after the collector was unreachable, send an alarm
   * record first (MSGID `AUDIT_FAIL`, "audit collector unreachable since …") (default true). A UDP sender
   * cannot see the collector fail (RFC 5426), so it never raises one.
   */
  alarmOnFailure?: boolean;
  /**
   * CR 2.9 RE(1): when the device's own log copy (audit-store.ts) reaches this percentage of its capacity, one
   * warning record is logged and sent (MSGID `AUDIT_CAPACITY`, "audit storage 80% full (800 of 1000 records)").
   * Absent: no warning.
   */
  capacityWarningPercent?: number;
}

/** Where the lab collector is: told to the emulator by the demo or a test (a real device is configured by hand). */
export interface AuditSink {
  address: string;
  udpPort?: number;
  tcpPort?: number;
  tlsPort?: number;
  /** The lab CA the device trusts for the collector's certificate (PEM). */
  caPem?: string;
  /** A device certificate and key for mutual TLS (PEM). */
  certPem?: string;
  keyPem?: string;
  /** The lab NTP server's port on `address`. */
  ntpPort?: number;
}

export interface DeviceAuditLog {
  event(e: AuditEvent): void;
  /** A record the device raises about its log itself (not an access event): sent whatever `categories` says. */
  notice?(format: (deviceAtMs: number) => string): void;
  /** Resolves when every event reported so far was handed to the transport. */
  flush(): Promise<void>;
  /** The device clock's offset to this host's clock (ms), as learned from NTP. */
  clockOffsetMs(): number;
  /** The device clock (epoch ms): what its services state as the time (HTTP Date). */
  now(): number;
  close(): Promise<void>;
}

const SEVERITY: Record<AuditCategory, number> = {
  'login-succeeded': 6, 'login-failed': 4, 'account-locked': 4, 'login-while-locked': 4, 'session-opened': 6, 'session-closed': 6, 'session-limit-hit': 4,
  'access-denied': 4, 'audit-log-read': 6, 'audit-log-changed': 4, 'account-changed': 5,
};
const AUTHPRIV = 10;
const MSGID: Record<AuditCategory, string> = {
  'login-succeeded': 'AUTH_OK', 'login-failed': 'AUTH_FAIL', 'account-locked': 'ACCT_LOCK', 'login-while-locked': 'AUTH_LOCKED',
  'session-opened': 'SESSION_OPEN', 'session-closed': 'SESSION_CLOSE', 'session-limit-hit': 'SESSION_LIMIT',
  'access-denied': 'ACCESS_DENIED', 'audit-log-read': 'LOG_READ', 'audit-log-changed': 'LOG_CHANGE', 'account-changed': 'ACCT_CHANGE',
};
/** `result` field: only login events have one (a session record is neither). */
const RESULT: Partial<Record<AuditCategory, string>> = {
  'login-succeeded': 'success', 'login-failed': 'failure', 'login-while-locked': 'failure', 'session-limit-hit': 'refused',
  'access-denied': 'refused', 'audit-log-read': 'success', 'audit-log-changed': 'success', 'account-changed': 'success',
};

/** The message text; `user` undefined leaves the user out (weak devices). */
export function auditText(e: AuditEvent, user: string | undefined): string {
  const who = user !== undefined ? ` for user ${user}` : '';
  const from = e.source ? ` from ${e.source}` : '';
  switch (e.category) {
    case 'login-succeeded': return `login succeeded${who}${from} via ${e.service}`;
    case 'login-failed': return `login failed${who}${from} via ${e.service}`;
    case 'account-locked': return `account${user !== undefined ? ` ${user}` : ''} locked out${e.detail ? ` (${e.detail})` : ''}`;
    case 'login-while-locked': return `login refused${who}${from} via ${e.service}: account locked`;
    case 'session-opened': return `session opened${who}${from} via ${e.service}`;
    case 'session-closed': return `session closed${who} via ${e.service}`;
    case 'session-limit-hit': return `session refused${who}${from} via ${e.service}: session limit reached${e.detail ? ` (${e.detail})` : ''}`;
    case 'access-denied': return `access denied${who}${from} via ${e.service}${e.detail ? `: ${e.detail}` : ''}`;
    case 'audit-log-read': return `audit log read${who}${from} via ${e.service}`;
    case 'audit-log-changed': return `audit log ${e.detail ?? 'changed'}${who}${from} via ${e.service}`;
    case 'account-changed': return `${e.detail ?? 'account changed'}${who}${from} via ${e.service}`;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** RFC 3339 with the local offset, e.g. 2026-03-05T10:00:00.123+01:00. */
function rfc3339(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}${zone}`;
}

const sdValue = (v: string) => v.replace(/["\\\]]/g, (c) => `\\${c}`);

/** One record in the posture's format, stamped with the device clock `atMs`. */
export function formatAuditRecord(e: AuditEvent, posture: AuditPosture, hostname: string, atMs: number): string {
  const user = posture.includeUser === false ? undefined : e.user;
  const pri = `<${AUTHPRIV * 8 + SEVERITY[e.category]}>`;
  if (posture.format === '3164') {
    const d = new Date(atMs);
    const stamp = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return `${pri}${stamp} ${hostname} ${e.service}: ${auditText(e, user)}`;
  }
  const params: [string, string | undefined][] = [['category', e.category.startsWith('audit-log') ? 'audit-log' : 'access-control'], ['event', e.category], ['result', RESULT[e.category]], ['user', user], ['src', e.source], ['service', e.service]];
  const sd = params.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}="${sdValue(v!)}"`).join(' ');
  return `${pri}1 ${rfc3339(atMs)} ${hostname} ${e.service} - ${MSGID[e.category]} [audit@32473 ${sd}] ${auditText(e, user)}`;
}

/** Whether the posture logs this event at all (its categories and services); the device keeps and sends only these. */
export function isLogged(posture: AuditPosture, e: AuditEvent): boolean {
  return (posture.categories ?? AUDIT_CATEGORIES).includes(e.category) && (!posture.services || posture.services.includes(e.service));
}

/** A log that drops everything: the device has no collector configured. */
export const NO_AUDIT_LOG: DeviceAuditLog = { event: () => undefined, flush: async () => undefined, clockOffsetMs: () => 0, now: () => Date.now(), close: async () => undefined };

/** The posture's key as the NTP code takes it; a key that cannot work is a posture error (thrown). */
export function postureNtpKey(posture: AuditPosture): NtpKey | undefined {
  if (!posture.ntpKey) return undefined;
  const key: NtpKey = { id: posture.ntpKey.id, type: posture.ntpKey.type, secret: ntpKeyMaterial(String(posture.ntpKey.secret)) };
  const problem = ntpKeyProblem(key);
  if (problem) throw new Error(`audit.ntpKey: ${problem}`);
  return key;
}

const MAX_QUEUE = 1000;
const NTP_TIMEOUT_MS = 1000;
const NTP_RETRY_MS = 5000;
const DEFAULT_NTP_POLL_S = 2;

/** The CR 2.10 alarm: the collector was unreachable from `sinceMs`; `held` records waited, `dropped` did not fit the queue. */
export function formatAlarmRecord(posture: AuditPosture, hostname: string, atMs: number, outage: { sinceMs: number; held: number; dropped: number }): string {
  const since = new Date(outage.sinceMs).toISOString();
  const seconds = Math.max(0, Math.round((atMs - outage.sinceMs) / 1000));
  const text = `audit collector unreachable since ${since} (${seconds} s): ${outage.held} record(s) held and sent now, ${outage.dropped} dropped`;
  const pri = `<${AUTHPRIV * 8 + 2}>`; // crit: personnel must act
  if (posture.format === '3164') {
    const d = new Date(atMs);
    return `${pri}${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${hostname} audit: AUDIT_FAIL ${text}`;
  }
  return `${pri}1 ${rfc3339(atMs)} ${hostname} audit - AUDIT_FAIL [audit@32473 category="audit-trail" event="collector-unreachable" since="${since}" held="${outage.held}" dropped="${outage.dropped}"] ${text}`;
}

export const capacityText = (fill: { percent: number; count: number; max: number }) => `audit storage ${fill.percent}% full (${fill.count} of ${fill.max} records)`;

/** The CR 2.9 RE(1) warning: the device's log holds `count` of `max` records (`percent` of its capacity). */
export function formatCapacityRecord(posture: AuditPosture, hostname: string, atMs: number, fill: { percent: number; count: number; max: number }): string {
  const text = capacityText(fill);
  const pri = `<${AUTHPRIV * 8 + 4}>`; // warning
  if (posture.format === '3164') {
    const d = new Date(atMs);
    return `${pri}${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${hostname} audit: AUDIT_CAPACITY ${text}`;
  }
  return `${pri}1 ${rfc3339(atMs)} ${hostname} audit - AUDIT_CAPACITY [audit@32473 category="audit-trail" event="storage-threshold" percent="${fill.percent}" records="${fill.count}" capacity="${fill.max}"] ${text}`;
}

/** Starts the device's log sender toward `sink` (connections are opened on the first event). */
export function startAuditLog(posture: AuditPosture, sink: AuditSink, hostname: string, log: (m: string) => void): DeviceAuditLog {
  const controller = new AbortController();
  const transport = posture.transport ?? 'tls';
  const categories = new Set(posture.categories ?? AUDIT_CATEGORIES);
  let offsetMs = 0;
  let lastNtpTry = -Infinity;
  let synced = false;
  const ntpKey = postureNtpKey(posture);
  let chain: Promise<void> = Promise.resolve();
  let queued = 0;
  let dropped = 0;
  const alarm = (sinceMs: number, held: number) => {
    if (posture.alarmOnFailure === false) return undefined;
    const text = formatAlarmRecord(posture, hostname, Date.now() + offsetMs, { sinceMs: sinceMs + offsetMs, held: held + queued, dropped });
    dropped = 0;
    return text;
  };
  // A lost connection with records to send again reconnects at once (in turn with the records waiting).
  const resendLater = () => {
    chain = chain.then(() => stream?.resend()).catch((err: Error) => log(`audit: ${err.message}`));
  };
  const stream = transport === 'udp' ? undefined : streamSender(transport, sink, log, controller.signal, { alarm, resendLater });
  const udp = transport === 'udp' ? dgram.createSocket(net.isIPv6(sink.address) ? 'udp6' : 'udp4') : undefined;
  udp?.on('error', (err) => log(`audit: udp: ${err.message}`));

  // The clock asks the lab NTP server every poll interval; an unreachable server or an answer that fails
  // authentication keeps the last offset. The first record waits for a first answer (bounded by the timeout).
  const following = posture.followNtp !== false && sink.ntpPort !== undefined;
  let inflight: Promise<void> | undefined;
  const askNtp = async () => {
    lastNtpTry = Date.now();
    try {
      const sample = await queryNtp(sink.address, sink.ntpPort!, { timeoutMs: NTP_TIMEOUT_MS, signal: controller.signal, ...(ntpKey ? { key: ntpKey } : {}) });
      if (ntpKey && sample.mac !== 'valid') return log(`audit: ntp: answer ignored (MAC ${sample.mac})`);
      offsetMs = sample.offsetMs;
      synced = true;
    } catch (err) {
      log(`audit: ntp: ${(err as Error).message}`);
    }
  };
  const syncClock = (): Promise<void> => {
    if (!following || controller.signal.aborted) return Promise.resolve();
    return (inflight ??= askNtp().finally(() => { inflight = undefined; }));
  };
  const poll = following ? setInterval(() => void syncClock(), (posture.ntpPollSeconds ?? DEFAULT_NTP_POLL_S) * 1000) : undefined;
  poll?.unref();
  void syncClock();
  const firstSync = async () => {
    if (synced) return;
    if (inflight) await inflight;
    else if (Date.now() - lastNtpTry >= NTP_RETRY_MS) await syncClock();
  };
  const send = async (format: (deviceAtMs: number) => string, atMs: number) => {
    await firstSync();
    const text = format(atMs + offsetMs);
    // UDP: fire and forget; nothing tells the sender that the collector is gone (RFC 5426).
    if (udp && sink.udpPort !== undefined) udp.send(text, sink.udpPort, sink.address);
    else await stream?.write(text);
  };
  const enqueue = (format: (deviceAtMs: number) => string) => {
    if (controller.signal.aborted) return;
    if (queued >= MAX_QUEUE) {
      dropped += 1;
      return;
    }
    const at = Date.now();
    queued += 1;
    chain = chain.then(() => send(format, at)).catch((err: Error) => log(`audit: ${err.message}`)).finally(() => { queued -= 1; });
  };
  return {
    event(e) {
      if (!categories.has(e.category) || (posture.services && !posture.services.includes(e.service))) return;
      enqueue((deviceAtMs) => formatAuditRecord(e, posture, hostname, deviceAtMs));
    },
    notice: enqueue,
    flush: () => chain,
    clockOffsetMs: () => offsetMs,
    now: () => Date.now() + offsetMs,
    async close() {
      clearInterval(poll);
      await Promise.race([chain, new Promise((r) => setTimeout(r, 2000))]);
      controller.abort();
      stream?.close();
      udp?.close();
    },
  };
}

/**
 * What "sent" means on a stream: syslog over TCP/TLS has no acknowledgement, and a write into a connection
 * the collector has just destroyed succeeds locally and is lost. So a record counts as delivered only once it
 * was written on a connection that was still open CONFIRM_MS later (the collector read it meanwhile), or that
 * we closed ourselves. When the peer closes or breaks the connection, the records written on it within the
 * last CONFIRM_MS are sent again, first, on the next connection: at least once (a record may arrive twice),
 * never silently lost.
 */
const CONFIRM_MS = 1000;
/** While the collector refuses connections, retry this often (records wait in order, up to MAX_QUEUE). */
const RECONNECT_MS = 1000;

interface Written { readonly frame: Buffer; readonly at: number }

/**
 * A TCP or TLS connection with octet-counting framing (RFC 6587 / 5425). A record waits until the collector
 * can be reached again; on reconnecting after the collector was unreachable, `alarm` gives a record sent first.
 */
function streamSender(
  transport: 'tcp' | 'tls', sink: AuditSink, log: (m: string) => void, signal: AbortSignal,
  hooks: { alarm: (sinceMs: number, held: number) => string | undefined; resendLater: () => void },
) {
  let socket: net.Socket | undefined;
  /** Per connection: the records written on it that are not confirmed yet (see CONFIRM_MS). */
  const written = new Map<net.Socket, Written[]>();
  let resend: Buffer[] = [];
  /** Connections we ended (the device closing its log), as opposed to lost ones. */
  const endedByUs = new WeakSet<net.Socket>();
  let unreachableSince: number | undefined;
  const port = transport === 'tls' ? sink.tlsPort : sink.tcpPort;
  const frameOf = (text: string) => {
    const frame = Buffer.from(text, 'utf8');
    return Buffer.concat([Buffer.from(`${frame.length} `), frame]);
  };
  const connect = () => new Promise<net.Socket>((resolve, reject) => {
    if (port === undefined) return reject(new Error(`no ${transport} port for the collector`));
    const s = transport === 'tls'
      ? tls.connect({ host: sink.address, port, ca: sink.caPem, servername: net.isIP(sink.address) ? undefined : sink.address, minVersion: 'TLSv1.2', ...(sink.certPem ? { cert: sink.certPem, key: sink.keyPem } : {}) })
      : net.connect({ host: sink.address, port });
    const onAbort = () => s.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('close', () => signal.removeEventListener('abort', onAbort));
    const timer = setTimeout(() => s.destroy(new Error(`the collector ${sink.address}:${port} did not answer within 3 s`)), 3000);
    s.once(transport === 'tls' ? 'secureConnect' : 'connect', () => { clearTimeout(timer); resolve(s); });
    s.once('error', (err) => { clearTimeout(timer); reject(err); });
    s.on('error', (err) => log(`audit: ${transport}: ${err.message}`));
    s.on('close', () => {
      if (socket === s) socket = undefined;
      const mine = written.get(s) ?? [];
      written.delete(s);
      if (endedByUs.has(s)) return;
      // Lost under us: what the collector may not have read goes again, ahead of what waits.
      const now = Date.now();
      const unconfirmed = mine.filter((w) => now - w.at < CONFIRM_MS).map((w) => w.frame);
      if (unconfirmed.length === 0) return;
      resend = [...unconfirmed, ...resend];
      hooks.resendLater();
    });
  });
  const writeFrame = (s: net.Socket, frame: Buffer) => {
    const now = Date.now();
    written.set(s, [...(written.get(s) ?? []).filter((w) => now - w.at < CONFIRM_MS), { frame, at: now }]);
    s.write(frame);
  };
  /** A usable connection, after as many refused attempts as the outage takes (each journaled once per outage). */
  const connection = async (): Promise<net.Socket> => {
    for (;;) {
      if (signal.aborted) throw new Error('the audit log is closed');
      if (socket && !socket.destroyed && socket.writable) return socket;
      try {
        const s = await connect();
        socket = s;
        if (unreachableSince !== undefined) {
          const text = hooks.alarm(unreachableSince, resend.length);
          if (text) writeFrame(s, frameOf(text));
          unreachableSince = undefined;
        }
        const again = resend;
        resend = [];
        for (const frame of again) writeFrame(s, frame);
        return s;
      } catch (err) {
        if (unreachableSince === undefined) log(`audit: the collector cannot be reached (${(err as Error).message}); records wait`);
        unreachableSince ??= Date.now();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, RECONNECT_MS);
          function done() {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            resolve();
          }
          signal.addEventListener('abort', done, { once: true });
        });
      }
    }
  };
  return {
    async write(text: string) {
      writeFrame(await connection(), frameOf(text));
    },
    /** Reconnects when records wait to be sent again (connection() sends them first). */
    async resend() {
      if (resend.length > 0) await connection();
    },
    close() {
      if (socket) endedByUs.add(socket);
      socket?.end();
      socket = undefined;
    },
  };
}
