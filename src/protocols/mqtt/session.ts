import { randomBytes } from 'node:crypto';
import { ProtocolViolation, TargetTimeout, type Transcript } from '../../sdk';
import { MqttConnection, type MqttEndpoint, type MqttEvent } from './connection';
import {
  PACKET, PACKET_NAMES, PROPERTY, SUBACK_FAILURE, MalformedPacket, connackText, encodeConnect, encodeDisconnect, encodePingreq,
  encodePublish, encodeSubscribe, parseConnack, parseDisconnect, parsePublish, parseSuback, reasonText,
  type ProtocolLevel, type Publish, type RawPacket,
} from './frames';

export interface SessionOptions {
  signal: AbortSignal;
  /** Longest wait for one answer (CONNACK, SUBACK, PINGRESP). */
  waitMs: number;
  transcript?: Transcript;
  connectTimeoutMs?: number;
}

export interface Credentials {
  username: string;
  password: string;
}

/**
 * How a broker answered CONNECT. `refusal` sorts a refused CONNACK by what it says: `authentication`
 * (3.1.1 codes 4/5, 5.0 0x86/0x87: the broker's own authentication or authorization verdict) or `other`
 * (server busy, quota, identifier rejected ...: no verdict on who connected).
 */
export type ConnectAnswer =
  | { status: 'accepted'; level: ProtocolLevel; code: number; text: string; session: MqttSession }
  | { status: 'refused'; level: ProtocolLevel; code: number; text: string; refusal: 'authentication' | 'other'; reasonString?: string }
  /** The broker ended the connection without a CONNACK. */
  | { status: 'closed'; level: ProtocolLevel; reset: boolean };

const AUTH_REFUSALS: Record<number, ReadonlySet<number>> = { 3: new Set([4, 5]), 4: new Set([4, 5]), 5: new Set([0x86, 0x87]) };

/** Random hex for test topics and markers. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** A client identifier no real client uses: "iacs-probe-" and 8 random hex digits (23 characters at most, §3.1.3.1). */
export function probeClientId(): string {
  return `iacs-probe-${randomBytes(4).toString('hex')}`;
}

/** Bytes shown in the transcript instead of a password (the real bytes are only sent). */
const REDACTED = '********';

/**
 * Sends CONNECT (anonymous or with a user name and password) and reads the first packet back. With
 * level 'auto' it tries MQTT 5.0 and falls back to 3.1.1 when the broker says it does not speak 5.0
 * (CONNACK 0x01 or 0x84) or hangs up on it. A peer that sends no MQTT is a ProtocolViolation, silence a
 * TargetTimeout.
 */
export async function connectSession(
  endpoint: MqttEndpoint, options: SessionOptions & { clientId: string; credentials?: Credentials; level?: ProtocolLevel | 'auto'; label?: string },
): Promise<ConnectAnswer> {
  const levels: ProtocolLevel[] = options.level === undefined || options.level === 'auto' ? [5, 4] : [options.level];
  let answer: ConnectAnswer | undefined;
  for (const level of levels) {
    answer = await connectOnce(endpoint, level, options);
    const unsupportedLevel = answer.status === 'closed' || (answer.status === 'refused' && (answer.code === 0x01 || answer.code === 0x84));
    if (!(unsupportedLevel && level === 5 && levels.length > 1)) return answer;
    options.transcript?.note(`the broker does not take MQTT 5.0 (${answer.status === 'closed' ? 'hang-up' : answer.text}): trying 3.1.1`);
  }
  return answer!;
}

async function connectOnce(endpoint: MqttEndpoint, level: ProtocolLevel, options: SessionOptions & { clientId: string; credentials?: Credentials; label?: string }): Promise<ConnectAnswer> {
  const conn = await MqttConnection.open(endpoint, { signal: options.signal, transcript: options.transcript, connectTimeoutMs: options.connectTimeoutMs, label: options.label });
  let keep = false;
  try {
    const spec = { level, clientId: options.clientId, keepAliveSeconds: 60, cleanStart: true };
    const c = options.credentials;
    const who = c ? `user "${c.username}" with a password` : 'anonymous';
    const bytes = encodeConnect(c ? { ...spec, username: c.username, password: c.password } : spec);
    const shown = c ? encodeConnect({ ...spec, username: c.username, password: REDACTED }) : undefined;
    conn.send(bytes, `CONNECT MQTT ${level === 5 ? '5.0' : '3.1.1'}, client id ${options.clientId}, ${who}${c ? ' (password shown as ********)' : ''}`, shown);
    const event = await conn.next(options.waitMs);
    if (event.kind === 'closed') return { status: 'closed', level, reset: event.reset };
    const packet = expectPacket(event, PACKET.connack, 'CONNECT', options.waitMs);
    const connack = guarded(() => parseConnack(level, packet.body));
    const text = connackText(level, connack.code);
    if (connack.code === 0) {
      keep = true;
      return { status: 'accepted', level, code: 0, text, session: new MqttSession(conn, level, options) };
    }
    const reasonString = connack.properties.get(PROPERTY.reasonString);
    return {
      status: 'refused', level, code: connack.code, text, refusal: AUTH_REFUSALS[level].has(connack.code) ? 'authentication' : 'other',
      ...(typeof reasonString === 'string' ? { reasonString } : {}),
    };
  } finally {
    if (!keep) conn.close();
  }
}

function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MalformedPacket) throw new ProtocolViolation(`malformed MQTT packet: ${err.message}`);
    throw err;
  }
}

/** The packet an answer must be; anything else means the peer is no MQTT broker (or broke the protocol). */
function expectPacket(event: MqttEvent, type: number, after: string, waitMs: number): RawPacket {
  if (event.kind === 'no-answer') throw new TargetTimeout(`no answer to ${after} within ${waitMs} ms`);
  if (event.kind === 'invalid') throw new ProtocolViolation(`the peer answered ${after} with something that is not MQTT: ${event.reason}`);
  if (event.kind === 'closed') throw new ProtocolViolation(`the peer ${event.reset ? 'reset' : 'closed'} the connection after ${after}`);
  if (event.packet.type !== type) throw new ProtocolViolation(`the peer answered ${after} with ${PACKET_NAMES[event.packet.type] ?? `packet type ${event.packet.type}`}, not ${PACKET_NAMES[type]}`);
  return event.packet;
}

/** A topic seen in a subscription window: never its payload, only its size and first bytes. */
export interface SeenTopic {
  topic: string;
  messages: number;
  retained: boolean;
  payloadBytes: number;
  /** The first bytes of the first payload, hex (at most `previewBytes`). */
  preview: string;
}

export interface SubscribeOutcome {
  filter: string;
  /** SUBACK code: a QoS below 0x80, a refusal at 0x80 and above. */
  code: number;
  granted: boolean;
  text: string;
}

/** How the broker ended a session, when it did: DISCONNECT (5.0, with a reason) or a hang-up. */
export interface SessionEnd {
  how: 'disconnect' | 'closed';
  reason?: string;
  afterMs: number;
}

/**
 * An accepted MQTT session: subscribes, publishes, collects what the broker delivers. PUBLISH packets that
 * arrive while waiting for something else are kept for `collect()`.
 */
export class MqttSession {
  private packetId = 0;
  private readonly delivered: Publish[] = [];
  private ended: SessionEnd | undefined;
  private readonly openedAt = Date.now();

  constructor(private readonly conn: MqttConnection, readonly level: ProtocolLevel, private readonly options: SessionOptions) {}

  get end(): SessionEnd | undefined {
    return this.ended;
  }

  /** One SUBSCRIBE per filter (so that one refused filter cannot hide another's answer). */
  async subscribe(filters: readonly string[]): Promise<SubscribeOutcome[]> {
    const out: SubscribeOutcome[] = [];
    for (const filter of filters) {
      const id = this.nextId();
      this.conn.send(encodeSubscribe(this.level, id, [{ filter, qos: 0 }]), `SUBSCRIBE ${filter} (QoS 0, packet id ${id})`);
      const ack = await this.until(PACKET.suback, `SUBSCRIBE ${filter}`);
      const { codes } = guarded(() => parseSuback(this.level, ack.body));
      const code = codes[0];
      out.push({ filter, code, granted: code < SUBACK_FAILURE, text: code < SUBACK_FAILURE ? `granted QoS ${code}` : this.level === 5 ? `refused: ${reasonText(code)}` : `refused: 0x${code.toString(16)} failure` });
    }
    return out;
  }

  /** PUBLISH at QoS 0, retain off (nothing stays on the broker). */
  publish(topic: string, payload: Buffer): void {
    this.conn.send(encodePublish(this.level, { topic, payload, qos: 0, retain: false }), `PUBLISH ${topic} (QoS 0, retain off, ${payload.length} bytes)`);
  }

  /** Reads deliveries for `ms` (or until the session ends); returns every PUBLISH received so far and clears the list. */
  async collect(ms: number): Promise<Publish[]> {
    const until = Date.now() + ms;
    while (!this.ended && Date.now() < until) await this.step(until - Date.now());
    return this.delivered.splice(0);
  }

  /** PINGREQ and its PINGRESP: shows the session is alive (false when the broker ended it). */
  async ping(): Promise<boolean> {
    if (this.ended) return false;
    this.conn.send(encodePingreq(), 'PINGREQ');
    const until = Date.now() + this.options.waitMs;
    while (!this.ended && Date.now() < until) {
      const p = await this.step(until - Date.now());
      if (p?.type === PACKET.pingresp) return true;
    }
    if (this.ended) return false;
    throw new TargetTimeout(`no PINGRESP within ${this.options.waitMs} ms`);
  }

  /** Waits up to `ms` for the broker to end the session. */
  async endedWithin(ms: number): Promise<SessionEnd | undefined> {
    const until = Date.now() + ms;
    while (!this.ended && Date.now() < until) await this.step(until - Date.now());
    return this.ended;
  }

  /** Sends DISCONNECT and closes the connection. Never throws. */
  close(): void {
    if (!this.ended && !this.conn.isClosed) this.conn.send(encodeDisconnect(this.level), 'DISCONNECT');
    this.conn.close();
  }

  private nextId(): number {
    this.packetId = (this.packetId % 0xffff) + 1;
    return this.packetId;
  }

  private async until(type: number, after: string): Promise<RawPacket> {
    const until = Date.now() + this.options.waitMs;
    for (;;) {
      if (this.ended) throw new ProtocolViolation(`the broker ended the session after ${after} (${this.ended.reason ?? this.ended.how})`);
      const remaining = until - Date.now();
      if (remaining <= 0) throw new TargetTimeout(`no ${PACKET_NAMES[type]} for ${after} within ${this.options.waitMs} ms`);
      const p = await this.step(remaining);
      if (p?.type === type) return p;
    }
  }

  /** One event: a PUBLISH is kept, a DISCONNECT or hang-up ends the session, bytes that are no MQTT are a violation. */
  private async step(waitMs: number): Promise<RawPacket | undefined> {
    const event = await this.conn.next(waitMs);
    if (event.kind === 'no-answer') return undefined;
    if (event.kind === 'closed') {
      this.ended ??= { how: 'closed', afterMs: Date.now() - this.openedAt };
      return undefined;
    }
    if (event.kind === 'invalid') throw new ProtocolViolation(`the broker sent bytes that are not MQTT: ${event.reason}`);
    const p = event.packet;
    if (p.type === PACKET.publish) this.delivered.push(guarded(() => parsePublish(this.level, p.flags, p.body)));
    if (p.type === PACKET.disconnect) {
      const { reason } = guarded(() => parseDisconnect(this.level, p.body));
      this.ended = { how: 'disconnect', reason: this.level === 5 ? reasonText(reason) : 'DISCONNECT', afterMs: Date.now() - this.openedAt };
      this.conn.close();
    }
    return p;
  }
}

/** Topics seen in deliveries, each once with its message count, size and the first bytes of its first payload. */
export function summariseTopics(messages: readonly Publish[], maxTopics: number, previewBytes: number): { topics: SeenTopic[]; messages: number; truncated: boolean } {
  const byTopic = new Map<string, SeenTopic>();
  for (const m of messages) {
    const seen = byTopic.get(m.topic);
    if (seen) seen.messages += 1;
    else if (byTopic.size < maxTopics) {
      byTopic.set(m.topic, { topic: m.topic, messages: 1, retained: m.retain, payloadBytes: m.payload.length, preview: m.payload.subarray(0, previewBytes).toString('hex') });
    }
  }
  const distinct = new Set(messages.map((m) => m.topic)).size;
  return { topics: [...byTopic.values()], messages: messages.length, truncated: distinct > byTopic.size };
}
