/**
 * EtherNet/IP encapsulation (CIP Volume 2, chapter 2) and the CIP message router frames it carries
 * (Volume 1, chapters 2-4), built here: a security probe keeps every request's bytes as evidence and must
 * also read answers that break the rules. All multi-byte fields are little-endian except the socket
 * address of the ListIdentity item, which is in network order like a sockaddr_in.
 */

export const ENIP_PORT = 44818;
/** IANA port of EtherNet/IP over TLS (TCP) and DTLS (UDP): CIP Security. */
export const ENIP_SECURE_PORT = 2221;

export const COMMANDS = {
  nop: 0x0000,
  listServices: 0x0004,
  listIdentity: 0x0063,
  listInterfaces: 0x0064,
  registerSession: 0x0065,
  unregisterSession: 0x0066,
  sendRRData: 0x006f,
  sendUnitData: 0x0070,
} as const;

export const COMMAND_NAMES: Readonly<Record<number, string>> = {
  0x0000: 'NOP', 0x0004: 'ListServices', 0x0063: 'ListIdentity', 0x0064: 'ListInterfaces', 0x0065: 'RegisterSession',
  0x0066: 'UnRegisterSession', 0x006f: 'SendRRData', 0x0070: 'SendUnitData',
};

/** Encapsulation status codes (the header's status field). */
export const ENCAP_STATUS: Readonly<Record<number, string>> = {
  0x0000: 'success',
  0x0001: 'invalid or unsupported encapsulation command',
  0x0002: 'insufficient memory resources',
  0x0003: 'incorrect data',
  0x0064: 'invalid session handle',
  0x0065: 'invalid length',
  0x0069: 'unsupported encapsulation protocol revision',
  0x006a: 'encapsulated CIP service not allowed on this port',
};

export function encapStatusName(status: number): string {
  return ENCAP_STATUS[status] ?? `status 0x${status.toString(16).padStart(4, '0')}`;
}

export const ENCAP_HEADER_BYTES = 24;
/** Largest command-specific data an encapsulation message may carry. */
export const MAX_ENCAP_DATA = 65511;
export const PROTOCOL_VERSION = 1;

export interface EncapHeader {
  command: number;
  /** Bytes of command-specific data after the header. */
  length: number;
  session: number;
  status: number;
  /** 8 bytes the target echoes unchanged. */
  context: Buffer;
  options: number;
}

export interface EncapSpec {
  command: number;
  session?: number;
  status?: number;
  context?: Uint8Array;
  options?: number;
  data?: Uint8Array;
}

export function encodeEncap(spec: EncapSpec): Buffer {
  const data = Buffer.from(spec.data ?? []);
  const header = Buffer.alloc(ENCAP_HEADER_BYTES);
  header.writeUInt16LE(spec.command, 0);
  header.writeUInt16LE(data.length, 2);
  header.writeUInt32LE(spec.session ?? 0, 4);
  header.writeUInt32LE(spec.status ?? 0, 8);
  Buffer.from(spec.context ?? Buffer.alloc(8)).copy(header, 12, 0, 8);
  header.writeUInt32LE(spec.options ?? 0, 20);
  return Buffer.concat([header, data]);
}

export type EncapParse =
  | { kind: 'frame'; header: EncapHeader; data: Buffer; bytes: number }
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string };

/**
 * Reads one encapsulation message from the start of `buf`. A reply echoes the request's command, so with
 * `expected` given, a first word that is none of them (a text banner, garbage) is `invalid` at once instead
 * of waited for; so is a length beyond what the protocol allows.
 */
export function parseEncap(buf: Buffer, expected?: readonly number[]): EncapParse {
  if (buf.length >= 2 && expected && !expected.includes(buf.readUInt16LE(0))) {
    return { kind: 'invalid', reason: `command 0x${buf.readUInt16LE(0).toString(16).padStart(4, '0')} where ${expected.map((c) => COMMAND_NAMES[c] ?? c).join('/')} was expected` };
  }
  if (buf.length >= 4 && buf.readUInt16LE(2) > MAX_ENCAP_DATA) return { kind: 'invalid', reason: `length ${buf.readUInt16LE(2)} exceeds ${MAX_ENCAP_DATA}` };
  if (buf.length < ENCAP_HEADER_BYTES) return { kind: 'incomplete' };
  const header: EncapHeader = {
    command: buf.readUInt16LE(0), length: buf.readUInt16LE(2), session: buf.readUInt32LE(4), status: buf.readUInt32LE(8),
    context: Buffer.from(buf.subarray(12, 20)), options: buf.readUInt32LE(20),
  };
  const bytes = ENCAP_HEADER_BYTES + header.length;
  if (buf.length < bytes) return { kind: 'incomplete' };
  return { kind: 'frame', header, data: Buffer.from(buf.subarray(ENCAP_HEADER_BYTES, bytes)), bytes };
}

/** Common packet format item type ids. */
export const CPF = {
  nullAddress: 0x0000,
  cipIdentity: 0x000c,
  cipSecurity: 0x0086,
  unconnectedData: 0x00b2,
  listServices: 0x0100,
} as const;

export interface CpfItem {
  typeId: number;
  data: Buffer;
}

export function encodeCpf(items: readonly CpfItem[]): Buffer {
  const parts = [u16(items.length)];
  for (const item of items) parts.push(u16(item.typeId), u16(item.data.length), item.data);
  return Buffer.concat(parts);
}

/** Items of a common-packet-format list, or why the bytes are not one. Trailing bytes are an error. */
export function parseCpf(data: Buffer): { items: CpfItem[] } | { error: string } {
  if (data.length < 2) return { error: `${data.length} bytes where an item count was expected` };
  const count = data.readUInt16LE(0);
  const items: CpfItem[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return { error: `item ${i + 1} of ${count}: header cut short` };
    const typeId = data.readUInt16LE(at);
    const length = data.readUInt16LE(at + 2);
    if (at + 4 + length > data.length) return { error: `item ${i + 1} (type 0x${typeId.toString(16)}): length ${length} runs past the message` };
    items.push({ typeId, data: Buffer.from(data.subarray(at + 4, at + 4 + length)) });
    at += 4 + length;
  }
  if (at !== data.length) return { error: `${data.length - at} bytes after the last of ${count} items` };
  return { items };
}

export function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value & 0xffff);
  return b;
}

export function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}

/** A SHORT_STRING: one length byte, then that many Latin-1 characters. */
export function shortString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1').subarray(0, 255);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** Reads a SHORT_STRING at `at`; undefined when it runs past the buffer. */
export function readShortString(buf: Buffer, at: number): { text: string; next: number } | undefined {
  if (at >= buf.length || at + 1 + buf[at] > buf.length) return undefined;
  return { text: buf.subarray(at + 1, at + 1 + buf[at]).toString('latin1'), next: at + 1 + buf[at] };
}
