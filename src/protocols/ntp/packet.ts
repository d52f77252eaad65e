/**
 * NTPv4 packets (RFC 5905 §7.3): the 48-byte header, without extension fields or MACs (a symmetric-key or
 * NTS request is recognised by its length, not verified).
 */

/** Seconds from the NTP era 0 (1900-01-01) to the Unix epoch. */
export const NTP_UNIX_OFFSET_S = 2_208_988_800;
export const NTP_HEADER_BYTES = 48;

export type NtpMode = 'reserved' | 'symmetric-active' | 'symmetric-passive' | 'client' | 'server' | 'broadcast' | 'control' | 'private';
const MODES: readonly NtpMode[] = ['reserved', 'symmetric-active', 'symmetric-passive', 'client', 'server', 'broadcast', 'control', 'private'];

export interface NtpHeader {
  readonly leap: number;
  readonly version: number;
  readonly mode: NtpMode;
  readonly stratum: number;
  readonly poll: number;
  readonly precision: number;
  readonly rootDelay: number;
  readonly rootDispersion: number;
  /** Reference id: four ASCII characters at stratum 1 (or a kiss code at 0), else an IPv4 address / hash. */
  readonly refId: Buffer;
  /** Timestamps as epoch milliseconds (fractional); 0 stands for "not set". */
  readonly referenceMs: number;
  readonly originMs: number;
  readonly receiveMs: number;
  readonly transmitMs: number;
  /** Bytes after the header: extension fields, a MAC (symmetric key) or NTS fields. */
  readonly trailerBytes: number;
}

/** Reads a 64-bit NTP timestamp as epoch ms (0 stays 0). Era 0 only (until 2036). */
export function readTimestamp(buf: Buffer, offset: number): number {
  const seconds = buf.readUInt32BE(offset);
  const fraction = buf.readUInt32BE(offset + 4);
  if (seconds === 0 && fraction === 0) return 0;
  return (seconds - NTP_UNIX_OFFSET_S) * 1000 + (fraction / 2 ** 32) * 1000;
}

export function writeTimestamp(buf: Buffer, offset: number, epochMs: number): void {
  if (epochMs === 0) {
    buf.writeBigUInt64BE(0n, offset);
    return;
  }
  const total = epochMs / 1000 + NTP_UNIX_OFFSET_S;
  const seconds = Math.floor(total);
  buf.writeUInt32BE(seconds >>> 0, offset);
  buf.writeUInt32BE(Math.min(2 ** 32 - 1, Math.floor((total - seconds) * 2 ** 32)), offset + 4);
}

/** NTP short format (16.16 seconds) as seconds. */
function readShort(buf: Buffer, offset: number): number {
  return buf.readUInt16BE(offset) + buf.readUInt16BE(offset + 2) / 65536;
}

function writeShort(buf: Buffer, offset: number, seconds: number): void {
  buf.writeUInt16BE(Math.floor(seconds), offset);
  buf.writeUInt16BE(Math.floor((seconds % 1) * 65536), offset + 2);
}

/** Parses the header; undefined when the datagram is shorter than one. */
export function parseNtp(buf: Buffer): NtpHeader | undefined {
  if (buf.length < NTP_HEADER_BYTES) return undefined;
  const first = buf[0];
  return {
    leap: first >> 6, version: (first >> 3) & 7, mode: MODES[first & 7], stratum: buf[1], poll: buf.readInt8(2),
    precision: buf.readInt8(3), rootDelay: readShort(buf, 4), rootDispersion: readShort(buf, 8), refId: Buffer.from(buf.subarray(12, 16)),
    referenceMs: readTimestamp(buf, 16), originMs: readTimestamp(buf, 24), receiveMs: readTimestamp(buf, 32),
    transmitMs: readTimestamp(buf, 40), trailerBytes: buf.length - NTP_HEADER_BYTES,
  };
}

export interface NtpHeaderInput {
  leap?: number;
  version: number;
  mode: NtpMode;
  stratum: number;
  poll: number;
  precision: number;
  rootDelay?: number;
  rootDispersion?: number;
  refId: Buffer | string;
  referenceMs: number;
  /** For a server reply: the request's transmit timestamp, copied bit for bit (see `originRaw`). */
  originMs: number;
  receiveMs: number;
  transmitMs: number;
  /** The request's transmit timestamp bytes: clients match replies on them exactly (RFC 5905 §8). */
  originRaw?: Buffer;
}

export function buildNtp(h: NtpHeaderInput): Buffer {
  const buf = Buffer.alloc(NTP_HEADER_BYTES);
  buf[0] = ((h.leap ?? 0) << 6) | ((h.version & 7) << 3) | MODES.indexOf(h.mode);
  buf[1] = h.stratum;
  buf.writeInt8(h.poll, 2);
  buf.writeInt8(h.precision, 3);
  writeShort(buf, 4, h.rootDelay ?? 0);
  writeShort(buf, 8, h.rootDispersion ?? 0);
  const ref = typeof h.refId === 'string' ? Buffer.from(h.refId.padEnd(4, '\0').slice(0, 4), 'latin1') : h.refId;
  ref.copy(buf, 12, 0, 4);
  writeTimestamp(buf, 16, h.referenceMs);
  if (h.originRaw) h.originRaw.copy(buf, 24, 0, 8);
  else writeTimestamp(buf, 24, h.originMs);
  writeTimestamp(buf, 32, h.receiveMs);
  writeTimestamp(buf, 40, h.transmitMs);
  return buf;
}

/** Clock offset θ and round-trip delay δ of one exchange (RFC 5905 §8), in ms: θ > 0 means the server is ahead. */
export function offsetAndDelay(t1: number, t2: number, t3: number, t4: number): { offsetMs: number; delayMs: number } {
  return { offsetMs: ((t2 - t1) + (t3 - t4)) / 2, delayMs: (t4 - t1) - (t3 - t2) };
}
