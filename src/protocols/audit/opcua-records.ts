/**
 * OPC UA audit events (Part 5 §6.4) as records the correlation can match. An OPC UA event has no source
 * address: it belongs to the subscription it came through, so its `peer` is `opcua://host:port`, which can
 * never equal a syslog sender's address, and it matches only opcua actions on that host and port. Its kind
 * comes from the event type and Status (data below), not from wording; its user is the ClientUserId.
 */
import type { ActionKind, OpcuaAuditEvent, SyslogTimestamp } from '../../sdk';

export interface OpcuaAuditRecord {
  readonly transport: 'opcua';
  /** The subscriber's journal seq (its own numbering, apart from the syslog collector's). */
  readonly seq: number;
  readonly receivedAt: number;
  /** `opcua://host:port` of the subscription. */
  readonly peer: string;
  readonly host: string;
  readonly port: number;
  /** The decoded event as JSON (correlation.json shows it as the record's text). */
  readonly raw: Buffer;
  readonly event: OpcuaAuditEvent;
  /** The action kinds this event reports. */
  readonly kinds: readonly ActionKind[];
  /**
   * The user the server names for the event: its ClientUserId; an event with an empty ClientUserId
   * (CreateSession comes before the identity, CloseSession) takes the ClientUserId of its session's
   * successful ActivateSession (Part 5 §6.4.7: SessionId ties a session's events together).
   */
  readonly attributedUser: string | null;
  readonly message: { readonly timestamp?: SyslogTimestamp; readonly message: string };
}

/** Closing a session: AuditSessionEventType SourceName values (Part 5 §6.4.7). */
const SESSION_END = /^Session\/(CloseSession|Timeout|Terminated)$/;

/** A failed activation or creation whose Message says why: the kinds it also reports. */
const REASON_KINDS: readonly (readonly [ActionKind, RegExp])[] = [
  ['lockout-expected', /\b(lock(ed|out)?|blocked|too many failed)\b/i],
  ['session-limit-hit', /\b(session limit|too many sessions|max(imum)? sessions|BadTooManySessions)\b/i],
];

/** The kinds an event reports (event type, Status, and for failures the reason in its Message). */
export function kindsOf(e: OpcuaAuditEvent): ActionKind[] {
  const reasons = () => REASON_KINDS.filter(([, re]) => re.test(e.message ?? '')).map(([k]) => k);
  switch (e.eventType) {
    case 'AuditActivateSessionEventType':
      if (e.status === true) return ['login-succeeded'];
      if (e.status === false) return ['login-failed', ...reasons()];
      return [];
    case 'AuditCreateSessionEventType':
      if (e.status === true) return ['session-opened'];
      return e.status === false ? reasons().filter((k) => k === 'session-limit-hit') : [];
    case 'AuditSessionEventType':
      return e.status !== false && SESSION_END.test(e.sourceName ?? '') ? ['session-closed'] : [];
    default:
      return [];
  }
}

function timestampOf(ms: number | null): SyslogTimestamp | undefined {
  if (ms === null) return undefined;
  // OPC UA DateTime is UTC by definition, with year and 100 ns resolution.
  return { text: new Date(ms).toISOString(), epochMs: ms, hasYear: true, hasZone: true, yearAssumed: false, fractionDigits: 3 };
}

/** The correlation view of the subscriber's events; the subscriber's own session is left out. */
export function opcuaAuditRecords(events: readonly OpcuaAuditEvent[]): OpcuaAuditRecord[] {
  const sessionUser = new Map<string, string>();
  for (const e of events) {
    if (e.eventType === 'AuditActivateSessionEventType' && e.status === true && e.sessionId && e.clientUserId) sessionUser.set(e.sessionId, e.clientUserId);
  }
  return events.filter((e) => !e.own).map((e) => ({
    transport: 'opcua', seq: e.seq, receivedAt: e.receivedAt, peer: `opcua://${e.host}:${e.port}`, host: e.host, port: e.port,
    raw: Buffer.from(JSON.stringify(e)), event: e, kinds: kindsOf(e),
    attributedUser: e.clientUserId || (e.sessionId ? sessionUser.get(e.sessionId) ?? null : null),
    message: { ...(timestampOf(e.time) ? { timestamp: timestampOf(e.time) } : {}), message: e.message ?? '' },
  }));
}
