/**
 * MQTT control packets (OASIS MQTT 3.1.1 and 5.0), built and parsed here so that every byte a probe sends
 * is evidence. Both sides are covered: the client packets a probe sends and the broker packets the
 * emulator answers with. Field layouts: MQTT 5.0 §2 (fixed header, variable byte integer, properties) and §3.
 */

export const PACKET = {
  connect: 1, connack: 2, publish: 3, puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7, subscribe: 8, suback: 9,
  unsubscribe: 10, unsuback: 11, pingreq: 12, pingresp: 13, disconnect: 14, auth: 15,
} as const;

export const PACKET_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PACKET).map(([name, type]) => [type, name.toUpperCase()]));

/** Protocol level byte of CONNECT: 3 = MQTT 3.1 ("MQIsdp"), 4 = 3.1.1, 5 = 5.0. */
export type ProtocolLevel = 3 | 4 | 5;

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const CONNACK_V4: Record<number, string> = {
  0: 'connection accepted', 1: 'unacceptable protocol version', 2: 'identifier rejected', 3: 'server unavailable',
  4: 'bad user name or password', 5: 'not authorized',
};

/** MQTT 5.0 reason codes (§2.4) used in CONNACK, SUBACK, PUBACK and DISCONNECT. */
export const REASON_V5: Record<number, string> = {
  0x00: 'success', 0x01: 'granted QoS 1', 0x02: 'granted QoS 2', 0x04: 'disconnect with will message', 0x10: 'no matching subscribers',
  0x80: 'unspecified error', 0x81: 'malformed packet', 0x82: 'protocol error', 0x83: 'implementation specific error',
  0x84: 'unsupported protocol version', 0x85: 'client identifier not valid', 0x86: 'bad user name or password', 0x87: 'not authorized',
  0x88: 'server unavailable', 0x89: 'server busy', 0x8a: 'banned', 0x8b: 'server shutting down', 0x8c: 'bad authentication method',
  0x8d: 'keep alive timeout', 0x8e: 'session taken over', 0x8f: 'topic filter invalid', 0x90: 'topic name invalid',
  0x91: 'packet identifier in use', 0x93: 'receive maximum exceeded', 0x95: 'packet too large', 0x97: 'quota exceeded',
  0x99: 'payload format invalid', 0x9a: 'retain not supported', 0x9b: 'QoS not supported', 0x9c: 'use another server',
  0x9d: 'server moved', 0x9f: 'connection rate exceeded',
};

/** A SUBACK entry below 0x80 grants that QoS; 0x80 and above refuse the filter (both versions). */
export const SUBACK_FAILURE = 0x80;

// Property identifiers (MQTT 5.0 §2.2.2.2) by the type of their value.
const PROPERTY_TYPES: Record<number, 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair'> = {
  0x01: 'byte', 0x02: 'u32', 0x03: 'string', 0x08: 'string', 0x09: 'binary', 0x0b: 'varint', 0x11: 'u32', 0x12: 'string',
  0x13: 'u16', 0x15: 'string', 0x16: 'binary', 0x17: 'byte', 0x18: 'u32', 0x19: 'byte', 0x1a: 'string', 0x1c: 'string',
  0x1f: 'string', 0x21: 'u16', 0x22: 'u16', 0x23: 'u16', 0x24: 'byte', 0x25: 'byte', 0x26: 'pair', 0x27: 'u32', 0x28: 'byte',
  0x29: 'byte', 0x2a: 'byte',
};
export const PROPERTY = { reasonString: 0x1f, assignedClientIdentifier: 0x12, maximumQos: 0x24, serverReference: 0x1c } as const;

export type Properties = Map<number, number | string | Buffer | [string, string]>;

/** Thrown by the parsers on bytes that break the packet's layout. */
export class MalformedPacket extends Error {}

export function encodeVarint(n: number): Buffer {
  if (n < 0 || n > 268_435_455) throw new RangeError(`variable byte integer out of range: ${n}`);
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** A varint at `offset`: its value and length, or undefined when more bytes are needed. */
export function decodeVarint(buf: Buffer, offset: number): { value: number; length: number } | undefined {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    if (offset + i >= buf.length) return undefined;
    const byte = buf[offset + i];
    value += (byte & 0x7f) * 128 ** i;
    if ((byte & 0x80) === 0) return { value, length: i + 1 };
  }
  throw new MalformedPacket('variable byte integer longer than 4 bytes');
}

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  if (b.length > 0xffff) throw new RangeError('string longer than 65535 bytes');
  return Buffer.concat([u16(b.length), b]);
};

export function encodeProperties(props: Properties = new Map()): Buffer {
  const parts: Buffer[] = [];
  for (const [id, value] of props) {
    const type = PROPERTY_TYPES[id];
    parts.push(encodeVarint(id));
    if (type === 'byte') parts.push(Buffer.from([value as number]));
    else if (type === 'u16') parts.push(u16(value as number));
    else if (type === 'u32') parts.push(Buffer.from([0, 0, 0, 0].map((_, i) => ((value as number) >>> (24 - 8 * i)) & 0xff)));
    else if (type === 'varint') parts.push(encodeVarint(value as number));
    else if (type === 'pair') parts.push(str((value as [string, string])[0]), str((value as [string, string])[1]));
    else parts.push(str(value as string | Buffer));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([encodeVarint(body.length), body]);
}

/** A whole packet: fixed header (type, flags, remaining length) and body. */
export function packet(type: number, flags: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(type << 4) | (flags & 0x0f)]), encodeVarint(body.length), body]);
}

export interface ConnectSpec {
  level: ProtocolLevel;
  clientId: string;
  cleanStart?: boolean;
  keepAliveSeconds?: number;
  username?: string;
  password?: string;
  properties?: Properties;
}

export function encodeConnect(spec: ConnectSpec): Buffer {
  const flags = (spec.username !== undefined ? 0x80 : 0) | (spec.password !== undefined ? 0x40 : 0) | (spec.cleanStart !== false ? 0x02 : 0);
  const header = Buffer.concat([
    str(spec.level === 3 ? 'MQIsdp' : 'MQTT'), Buffer.from([spec.level, flags]), u16(spec.keepAliveSeconds ?? 30),
    spec.level === 5 ? encodeProperties(spec.properties) : Buffer.alloc(0),
  ]);
  const payload = [str(spec.clientId)];
  if (spec.username !== undefined) payload.push(str(spec.username));
  if (spec.password !== undefined) payload.push(str(Buffer.from(spec.password, 'utf8')));
  return packet(PACKET.connect, 0, Buffer.concat([header, ...payload]));
}

export interface SubscriptionSpec {
  filter: string;
  qos?: 0 | 1 | 2;
}

export function encodeSubscribe(level: ProtocolLevel, packetId: number, subscriptions: readonly SubscriptionSpec[]): Buffer {
  const parts = [u16(packetId), level === 5 ? encodeProperties() : Buffer.alloc(0)];
  for (const s of subscriptions) parts.push(str(s.filter), Buffer.from([s.qos ?? 0]));
  return packet(PACKET.subscribe, 0x02, Buffer.concat(parts));
}

export interface PublishSpec {
  topic: string;
  payload: Buffer;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  packetId?: number;
  properties?: Properties;
}

export function encodePublish(level: ProtocolLevel, spec: PublishSpec): Buffer {
  const qos = spec.qos ?? 0;
  const parts: Buffer[] = [str(spec.topic)];
  if (qos > 0) parts.push(u16(spec.packetId ?? 1));
  if (level === 5) parts.push(encodeProperties(spec.properties));
  parts.push(spec.payload);
  return packet(PACKET.publish, (qos << 1) | (spec.retain ? 1 : 0), Buffer.concat(parts));
}

export const encodePingreq = (): Buffer => packet(PACKET.pingreq, 0, Buffer.alloc(0));

/** DISCONNECT: empty in 3.1.1; reason code (and empty properties) in 5.0. */
export function encodeDisconnect(level: ProtocolLevel, reason = 0): Buffer {
  return packet(PACKET.disconnect, 0, level === 5 ? Buffer.concat([Buffer.from([reason]), encodeProperties()]) : Buffer.alloc(0));
}

// Broker side (the emulator's answers).

export function encodeConnack(level: ProtocolLevel, sessionPresent: boolean, code: number, properties?: Properties): Buffer {
  return packet(PACKET.connack, 0, Buffer.concat([Buffer.from([sessionPresent ? 1 : 0, code]), level === 5 ? encodeProperties(properties) : Buffer.alloc(0)]));
}

export function encodeSuback(level: ProtocolLevel, packetId: number, codes: readonly number[]): Buffer {
  return packet(PACKET.suback, 0, Buffer.concat([u16(packetId), level === 5 ? encodeProperties() : Buffer.alloc(0), Buffer.from(codes)]));
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK(3.1.1): a packet id, in 5.0 with a reason code when it is not success. */
export function encodeAck(type: number, level: ProtocolLevel, packetId: number, reason = 0): Buffer {
  const flags = type === PACKET.pubrel ? 0x02 : 0;
  const body = level === 5 && reason !== 0 ? Buffer.concat([u16(packetId), Buffer.from([reason]), encodeProperties()]) : u16(packetId);
  return packet(type, flags, body);
}

export function encodeUnsuback(level: ProtocolLevel, packetId: number, count: number): Buffer {
  return level === 5 ? packet(PACKET.unsuback, 0, Buffer.concat([u16(packetId), encodeProperties(), Buffer.alloc(count, 0)])) : encodeAck(PACKET.unsuback, 4, packetId);
}

export const encodePingresp = (): Buffer => packet(PACKET.pingresp, 0, Buffer.alloc(0));

/** One packet cut from the front of a byte stream. */
export interface RawPacket {
  type: number;
  flags: number;
  body: Buffer;
  /** The whole packet as received. */
  bytes: Buffer;
}

export type ReadResult = { kind: 'packet'; packet: RawPacket; length: number } | { kind: 'incomplete' } | { kind: 'invalid'; reason: string };

/**
 * The first packet of `buf`. Type 0 is reserved, and the fixed-header flags of every type but PUBLISH are
 * fixed (§2.1.3): anything else is not MQTT. `maxLength` bounds what a peer can make us buffer.
 */
export function readPacket(buf: Buffer, maxLength = 1 << 20): ReadResult {
  if (buf.length < 2) return { kind: 'incomplete' };
  const type = buf[0] >> 4;
  const flags = buf[0] & 0x0f;
  if (type === 0) return { kind: 'invalid', reason: `reserved packet type 0 (first byte 0x${buf[0].toString(16).padStart(2, '0')})` };
  const wanted = type === PACKET.subscribe || type === PACKET.unsubscribe || type === PACKET.pubrel ? 0x02 : 0;
  if (type !== PACKET.publish && flags !== wanted) return { kind: 'invalid', reason: `${PACKET_NAMES[type]} with fixed-header flags 0x${flags.toString(16)}` };
  let len: ReturnType<typeof decodeVarint>;
  try {
    len = decodeVarint(buf, 1);
  } catch (err) {
    return { kind: 'invalid', reason: (err as Error).message };
  }
  if (!len) return { kind: 'incomplete' };
  if (len.value > maxLength) return { kind: 'invalid', reason: `${PACKET_NAMES[type]} announces ${len.value} bytes` };
  const total = 1 + len.length + len.value;
  if (buf.length < total) return { kind: 'incomplete' };
  return { kind: 'packet', packet: { type, flags, body: buf.subarray(1 + len.length, total), bytes: Buffer.from(buf.subarray(0, total)) }, length: total };
}

/** A cursor over a packet body that throws MalformedPacket when a field runs past its end. */
export class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}
  get remaining(): number {
    return this.buf.length - this.offset;
  }
  byte(): number {
    if (this.remaining < 1) throw new MalformedPacket('packet ends inside a byte field');
    return this.buf[this.offset++];
  }
  u16(): number {
    if (this.remaining < 2) throw new MalformedPacket('packet ends inside a two-byte field');
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(): number {
    if (this.remaining < 4) throw new MalformedPacket('packet ends inside a four-byte field');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  varint(): number {
    const v = decodeVarint(this.buf, this.offset);
    if (!v) throw new MalformedPacket('packet ends inside a variable byte integer');
    this.offset += v.length;
    return v.value;
  }
  binary(): Buffer {
    const n = this.u16();
    if (this.remaining < n) throw new MalformedPacket(`a ${n}-byte field runs past the end of the packet`);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
  string(): string {
    return this.binary().toString('utf8');
  }
  rest(): Buffer {
    const b = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return b;
  }
  properties(): Properties {
    const length = this.varint();
    if (this.remaining < length) throw new MalformedPacket('properties run past the end of the packet');
    const inner = new Reader(this.buf.subarray(this.offset, this.offset + length));
    this.offset += length;
    const props: Properties = new Map();
    while (inner.remaining > 0) {
      const id = inner.varint();
      const type = PROPERTY_TYPES[id];
      if (!type) throw new MalformedPacket(`unknown property identifier 0x${id.toString(16)}`);
      const value = type === 'byte' ? inner.byte() : type === 'u16' ? inner.u16() : type === 'u32' ? inner.u32() : type === 'varint' ? inner.varint()
        : type === 'string' ? inner.string() : type === 'binary' ? Buffer.from(inner.binary()) : [inner.string(), inner.string()] as [string, string];
      props.set(id, value);
    }
    return props;
  }
}

export interface Connack {
  sessionPresent: boolean;
  /** 3.1.1 return code or 5.0 reason code. */
  code: number;
  properties: Properties;
}

export function parseConnack(level: ProtocolLevel, body: Buffer): Connack {
  const r = new Reader(body);
  const ack = r.byte();
  const code = r.byte();
  // A 5.0 CONNACK has properties; a broker that answers a 5.0 CONNECT in 3.1.1 (two bytes) has none.
  const properties = level === 5 && r.remaining > 0 ? r.properties() : new Map();
  return { sessionPresent: (ack & 1) === 1, code, properties };
}

export function parseSuback(level: ProtocolLevel, body: Buffer): { packetId: number; codes: number[] } {
  const r = new Reader(body);
  const packetId = r.u16();
  if (level === 5) r.properties();
  const codes = [...r.rest()];
  if (codes.length === 0) throw new MalformedPacket('SUBACK without return codes');
  return { packetId, codes };
}

export interface Publish {
  topic: string;
  qos: number;
  retain: boolean;
  dup: boolean;
  packetId?: number;
  payload: Buffer;
}

export function parsePublish(level: ProtocolLevel, flags: number, body: Buffer): Publish {
  const qos = (flags >> 1) & 0x03;
  if (qos === 3) throw new MalformedPacket('PUBLISH with QoS 3');
  const r = new Reader(body);
  const topic = r.string();
  const packetId = qos > 0 ? r.u16() : undefined;
  if (level === 5) r.properties();
  return { topic, qos, retain: (flags & 1) === 1, dup: (flags & 8) === 8, ...(packetId !== undefined ? { packetId } : {}), payload: Buffer.from(r.rest()) };
}

/** PUBACK and friends: packet id, and in 5.0 an optional reason code (absent = success). */
export function parseAck(level: ProtocolLevel, body: Buffer): { packetId: number; reason: number } {
  const r = new Reader(body);
  const packetId = r.u16();
  return { packetId, reason: level === 5 && r.remaining > 0 ? r.byte() : 0 };
}

/** DISCONNECT from the broker: 5.0 carries a reason code (absent = normal disconnection). */
export function parseDisconnect(level: ProtocolLevel, body: Buffer): { reason: number; properties: Properties } {
  if (level !== 5 || body.length === 0) return { reason: 0, properties: new Map() };
  const r = new Reader(body);
  const reason = r.byte();
  return { reason, properties: r.remaining > 0 ? r.properties() : new Map() };
}

export interface Connect {
  level: ProtocolLevel;
  clientId: string;
  cleanStart: boolean;
  keepAliveSeconds: number;
  username?: string;
  password?: Buffer;
  will?: { topic: string; payload: Buffer; qos: number; retain: boolean };
}

/** CONNECT as a broker reads it; an unknown protocol name or level is reported as such, not thrown. */
export function parseConnect(body: Buffer): Connect | { unsupportedLevel: number } {
  const r = new Reader(body);
  const name = r.string();
  const level = r.byte();
  if (!((name === 'MQTT' && (level === 4 || level === 5)) || (name === 'MQIsdp' && level === 3))) {
    if (name !== 'MQTT' && name !== 'MQIsdp') throw new MalformedPacket(`protocol name "${name.slice(0, 16)}"`);
    return { unsupportedLevel: level };
  }
  const flags = r.byte();
  if (flags & 0x01) throw new MalformedPacket('CONNECT reserved flag set');
  const keepAliveSeconds = r.u16();
  if (level === 5) r.properties();
  const clientId = r.string();
  let will: Connect['will'];
  if (flags & 0x04) {
    if (level === 5) r.properties();
    will = { topic: r.string(), payload: Buffer.from(r.binary()), qos: (flags >> 3) & 0x03, retain: (flags & 0x20) !== 0 };
  }
  const username = flags & 0x80 ? r.string() : undefined;
  const password = flags & 0x40 ? Buffer.from(r.binary()) : undefined;
  return {
    level: level as ProtocolLevel, clientId, cleanStart: (flags & 0x02) !== 0, keepAliveSeconds,
    ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}), ...(will ? { will } : {}),
  };
}

export function parseSubscribe(level: ProtocolLevel, body: Buffer): { packetId: number; subscriptions: { filter: string; qos: number }[] } {
  const r = new Reader(body);
  const packetId = r.u16();
  if (level === 5) r.properties();
  const subscriptions: { filter: string; qos: number }[] = [];
  while (r.remaining > 0) subscriptions.push({ filter: r.string(), qos: r.byte() & 0x03 });
  if (subscriptions.length === 0) throw new MalformedPacket('SUBSCRIBE without a topic filter');
  return { packetId, subscriptions };
}

export function parseUnsubscribe(level: ProtocolLevel, body: Buffer): { packetId: number; filters: string[] } {
  const r = new Reader(body);
  const packetId = r.u16();
  if (level === 5) r.properties();
  const filters: string[] = [];
  while (r.remaining > 0) filters.push(r.string());
  return { packetId, filters };
}

/** Whether a topic filter (with + and # wildcards) matches a topic name; $-topics only match filters that name them (§4.7.2). */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && !filter.startsWith('$')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The text of a CONNACK code in the protocol version it was given in. */
export function connackText(level: ProtocolLevel, code: number): string {
  const table = level === 5 ? REASON_V5 : CONNACK_V4;
  return `0x${code.toString(16).padStart(2, '0')} ${table[code] ?? 'unknown code'}`;
}

export function reasonText(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')} ${REASON_V5[code] ?? 'unknown code'}`;
}
