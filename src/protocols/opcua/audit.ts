/**
 * OPC UA audit subscriber (Part 4 §5.12 event monitored items, Part 5 §6.4 AuditEventType): one session on a
 * declared opcua service with the lab's authorised account, a monitored item on the Server object
 * (i=2253) whose EventFilter selects AuditEventType and its subtypes. Every notification is journaled raw
 * before it is decoded; the subscriber's own session is marked so that its events never count as evidence.
 * What the server does not offer (no usable endpoint, account refused, auditing off) is a state with its
 * reason, never a thrown error: it is an observation about the device.
 */
import * as fs from 'node:fs';
import type * as NodeOpcua from 'node-opcua';
import type { ClientMonitoredItem, ClientSession, ClientSubscription, Variant } from 'node-opcua';
import type { OpcuaAuditEvent, OpcuaAuditSubscription } from '../../sdk';
import { discoverEndpoints, endpointPath, targetUrl, type DiscoveredEndpoint, type OpcuaTarget } from './client';
import { clientForEndpoint, usableSecureEndpoints } from './endpoints';
import type { ClientIdentity } from './identity';
import { loadOpcua } from './logging';

/** The fields each audit event is asked for, in this order (BaseEventType, AuditEventType, subtypes). */
export const AUDIT_EVENT_FIELDS = [
  'EventType', 'Time', 'ReceiveTime', 'SourceName', 'Message', 'Severity',
  'Status', 'ClientUserId', 'ActionTimeStamp', 'ServerId', 'ClientAuditEntryId', 'SessionId', 'UserIdentityToken',
] as const;

const SERVER_OBJECT = 'i=2253';
const SERVER_AUDITING = 'i=2994';
const DEFAULT_OPERATION_MS = 10_000;

export interface OpcuaAuditOptions {
  readonly target: OpcuaTarget;
  /** The account the subscriber logs in with (UserName token on a secure endpoint). */
  readonly credential?: { readonly username: string; readonly password: string };
  readonly identity: ClientIdentity;
  /** Every notification is appended here (NDJSON) before it is decoded. */
  readonly journalFile: string;
  /** Run-wide event numbering (several subscriptions share one journal). */
  readonly nextSeq: () => number;
  readonly signal: AbortSignal;
  readonly timeoutMs?: number;
}

export interface OpcuaAuditSubscriber {
  readonly subscription: OpcuaAuditSubscription;
  readonly events: readonly OpcuaAuditEvent[];
  close(): Promise<void>;
}

/** Settles with `work` or rejects after `ms` or when the signal aborts. */
function bounded<T>(work: Promise<T>, ms: number, what: string, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    onAbort = () => reject(new Error(`${what}: aborted`));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, stop]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The endpoint the subscriber logs in on: the strongest secure endpoint offering UserName, or why there is none. */
function chooseEndpoint(endpoints: readonly DiscoveredEndpoint[]): DiscoveredEndpoint | string {
  const offering = endpoints.filter((e) => e.userTokens.includes('UserName'));
  const { usable, untestable } = usableSecureEndpoints(offering);
  if (usable.length > 0) return usable[0];
  if (offering.length === 0) return 'no endpoint offers the UserName token';
  return untestable.length > 0
    ? `the UserName token is offered only on endpoints this process cannot open: ${untestable.map((u) => u.reason).join('; ')}`
    : 'the UserName token is offered only on unsecured endpoints; the harness does not send passwords there';
}

/** Names of the standard audit event types by numeric id (namespace 0). */
function auditTypeNames(lib: typeof NodeOpcua): Map<string, string> {
  return new Map(Object.entries(lib.ObjectTypeIds).filter(([name]) => name.startsWith('Audit')).map(([name, id]) => [`ns=0;i=${id}`, name]));
}

const asText = (v: Variant | undefined): string | null => {
  const value: unknown = v?.value;
  if (value === null || value === undefined) return null;
  if (typeof value === 'object' && 'text' in value) return (value as { text?: string | null }).text ?? null; // LocalizedText
  return String(value);
};
const asTime = (v: Variant | undefined): number | null => (v?.value instanceof Date && !Number.isNaN(v.value.getTime()) ? v.value.getTime() : null);
const asBool = (v: Variant | undefined): boolean | null => (typeof v?.value === 'boolean' ? v.value : null);
const asNumber = (v: Variant | undefined): number | null => (typeof v?.value === 'number' ? v.value : null);

/** A value as JSON-safe data; a password a token should not carry is never copied. */
function plain(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value !== null && typeof value === 'object' && 'userName' in value) {
    const { password: _p, ...rest } = value as Record<string, unknown>;
    return JSON.parse(JSON.stringify(rest, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v))) as unknown;
  }
  if (value !== null && typeof value === 'object' && 'text' in value) return { text: (value as { text?: unknown }).text ?? null, locale: (value as { locale?: unknown }).locale ?? null };
  if (value !== null && typeof value === 'object') return String(value);
  return value ?? null;
}

/** The raw notification (what the journal keeps): each field's data type and value. */
function rawFields(lib: typeof NodeOpcua, fields: readonly Variant[]): Record<string, unknown> {
  return Object.fromEntries(AUDIT_EVENT_FIELDS.map((name, i) => {
    const v = fields[i];
    return [name, { dataType: v ? lib.DataType[v.dataType] ?? String(v.dataType) : null, value: plain(v?.value) }];
  }));
}

function decode(fields: readonly Variant[], names: Map<string, string>, base: Omit<OpcuaAuditEvent, 'eventType' | 'eventTypeId' | 'time' | 'receiveTime' | 'actionTimeStamp' | 'sourceName' | 'message' | 'severity' | 'status' | 'clientUserId' | 'serverId' | 'clientAuditEntryId' | 'sessionId' | 'tokenUserName' | 'own'>, ownSession: string | undefined): OpcuaAuditEvent {
  const f = (name: (typeof AUDIT_EVENT_FIELDS)[number]) => fields[AUDIT_EVENT_FIELDS.indexOf(name)];
  const typeId = asText(f('EventType')) ?? '';
  const token: unknown = f('UserIdentityToken')?.value;
  const tokenUserName = token !== null && typeof token === 'object' && 'userName' in token ? String((token as { userName?: unknown }).userName ?? '') || null : null;
  const sessionId = asText(f('SessionId'));
  return {
    ...base,
    eventType: names.get(typeId) ?? typeId, eventTypeId: typeId,
    time: asTime(f('Time')), receiveTime: asTime(f('ReceiveTime')), actionTimeStamp: asTime(f('ActionTimeStamp')),
    sourceName: asText(f('SourceName')), message: asText(f('Message')), severity: asNumber(f('Severity')),
    status: asBool(f('Status')), clientUserId: asText(f('ClientUserId')), serverId: asText(f('ServerId')),
    clientAuditEntryId: asText(f('ClientAuditEntryId')), sessionId, tokenUserName,
    own: ownSession !== undefined && sessionId === ownSession,
  };
}

/**
 * Subscribes to the audit events of one declared OPC UA service. Resolves once the monitored item is
 * created (events from then on are received) or with state `unavailable` and the reason.
 */
export async function subscribeOpcuaAudit(options: OpcuaAuditOptions): Promise<OpcuaAuditSubscriber> {
  const { target, signal } = options;
  const ms = options.timeoutMs ?? DEFAULT_OPERATION_MS;
  const events: OpcuaAuditEvent[] = [];
  const journal = (entry: Record<string, unknown>) => fs.appendFileSync(options.journalFile, `${JSON.stringify({ at: new Date().toISOString(), host: target.host, port: target.port, ...entry })}\n`);
  let subscription: OpcuaAuditSubscription = { host: target.host, port: target.port, state: 'unavailable', serverAuditing: null };
  const unavailable = (reason: string, extra: Partial<OpcuaAuditSubscription> = {}): OpcuaAuditSubscriber => {
    subscription = { ...subscription, ...extra, state: 'unavailable', reason };
    journal({ type: 'unavailable', reason });
    return { subscription, events, close: async () => undefined };
  };
  if (!options.credential) return unavailable('no account for the audit subscription (credentials audit.opcua or opcua)');
  let endpoints: DiscoveredEndpoint[];
  try {
    endpoints = await discoverEndpoints(target, { signal, timeoutMs: ms });
  } catch (err) {
    return unavailable(`GetEndpoints failed: ${message(err)}`);
  }
  const endpoint = chooseEndpoint(endpoints);
  if (typeof endpoint === 'string') return unavailable(endpoint);
  const where = `${endpoint.securityMode}/${endpoint.securityPolicy}`;
  const lib = await loadOpcua();
  // The audit endpoints are secure ones (usableSecureEndpoints): the client opens a secure channel.
  const client = clientForEndpoint(lib, endpoint, options.identity, ms, 120_000);
  const onAbort = () => void client.disconnect().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  const closeClient = async (session?: ClientSession, sub?: ClientSubscription) => {
    signal.removeEventListener('abort', onAbort);
    const quiet = new AbortController().signal;
    if (sub) await bounded(sub.terminate(), ms, 'terminate', quiet).catch(() => undefined);
    if (session) await bounded(session.close(), ms, 'CloseSession', quiet).catch(() => undefined);
    await bounded(client.disconnect(), ms, 'disconnect', quiet).catch(() => undefined);
  };
  let session: ClientSession | undefined;
  try {
    await bounded(client.connect(targetUrl(target, endpointPath(endpoint.endpointUrl))), ms, 'connect', signal);
    session = await bounded(client.createSession({ type: lib.UserTokenType.UserName, userName: options.credential.username, password: options.credential.password }), ms, 'CreateSession/ActivateSession', signal);
  } catch (err) {
    await closeClient(session);
    return unavailable(`the audit account could not log in on ${where}: ${message(err)}`, { endpoint: where, account: options.credential.username });
  }
  const ownSession = session.sessionId.toString();
  subscription = { ...subscription, endpoint: where, account: options.credential.username, sessionId: ownSession };
  try {
    const auditing = await bounded(session.read({ nodeId: SERVER_AUDITING, attributeId: lib.AttributeIds.Value }), ms, 'read Server_Auditing', signal);
    subscription = { ...subscription, serverAuditing: typeof auditing.value?.value === 'boolean' ? auditing.value.value : null };
  } catch {
    // Server_Auditing unreadable: events may still arrive.
  }
  let sub: ClientSubscription | undefined;
  try {
    // The keep-alive must come well within the session timeout the server granted (a device may grant 1 s).
    const publishing = Math.max(20, Math.min(200, Math.floor(session.timeout / 5)));
    const keepAlive = Math.max(3, Math.min(10, Math.floor((session.timeout * 0.6) / publishing)));
    sub = await bounded(session.createSubscription2({
      requestedPublishingInterval: publishing, requestedLifetimeCount: keepAlive * 10, requestedMaxKeepAliveCount: keepAlive,
      maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 1,
    }), ms, 'CreateSubscription', signal);
    const names = auditTypeNames(lib);
    const item: ClientMonitoredItem = await bounded(sub.monitor(
      { nodeId: SERVER_OBJECT, attributeId: lib.AttributeIds.EventNotifier },
      { samplingInterval: 0, queueSize: 1000, discardOldest: false, filter: lib.constructEventFilter([...AUDIT_EVENT_FIELDS], lib.ofType('AuditEventType')) },
      lib.TimestampsToReturn.Both,
    ), ms, 'CreateMonitoredItems', signal);
    item.on('changed', (fields: unknown) => {
      const variants = fields as Variant[];
      const seq = options.nextSeq();
      const receivedAt = Date.now();
      // Raw before decoding: a notification that cannot be decoded is still in the journal.
      journal({ type: 'event', seq, receivedAt, fields: rawFields(lib, variants) });
      const event = decode(variants, names, { seq, receivedAt, host: target.host, port: target.port }, ownSession);
      journal({ type: 'decoded', seq, eventType: event.eventType, own: event.own });
      events.push(event);
    });
  } catch (err) {
    await closeClient(session, sub);
    return unavailable(`the server refused the audit event subscription: ${message(err)}`, {});
  }
  subscription = { ...subscription, state: 'subscribed' };
  journal({ type: 'subscribed', endpoint: where, account: options.credential.username, serverAuditing: subscription.serverAuditing, ownSession });
  let closing: Promise<void> | undefined;
  const liveSession = session;
  return {
    get subscription() { return subscription; },
    events,
    close: () => (closing ??= (async () => {
      await closeClient(liveSession, sub);
      journal({ type: 'closed', events: events.length });
    })()),
  };
}
