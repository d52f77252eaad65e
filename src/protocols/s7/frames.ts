/**
 * S7comm framing: TPKT (RFC 1006) carrying ISO 8073 COTP (class 0) carrying S7comm PDUs (protocol id 0x32).
 * Layouts as nmap's s7-info.nse sends them, snap7 (s7_types.h, s7_isotcp.cpp) implements them and Wireshark's
 * s7comm dissector decodes them; the field names follow Siemens' "System Software for S7-300/400 System and
 * Standard Functions" for the SZL records. Every frame here is built by us and kept as evidence.
 */

export const TPKT_VERSION = 3;
export const TPKT_HEADER_BYTES = 4;
export const S7_PROTOCOL_ID = 0x32;
/** S7comm-plus (S7-1200/1500) starts its PDUs with this byte instead of 0x32. */
export const S7PLUS_PROTOCOL_ID = 0x72;

/** COTP TPDU codes (ISO 8073 §13; high nibble for CR/CC, which carry the credit in the low one). */
export const COTP = { CR: 0xe0, CC: 0xd0, DR: 0x80, DT: 0xf0, ER: 0x70 } as const;
export type CotpKind = 'CR' | 'CC' | 'DR' | 'DT' | 'ER' | 'other';

/** TPDU size parameter 0xC0: code 0x0a = 1024 bytes (what nmap and snap7 ask for). */
export const TPDU_SIZE_1024 = 0x0a;

/** S7 message types (ROSCTR). */
export const ROSCTR = { job: 0x01, ack: 0x02, ackData: 0x03, userData: 0x07 } as const;

/** Job functions (first parameter byte). */
export const FUNCTION = { setup: 0xf0, readVar: 0x04, writeVar: 0x05, plcControl: 0x28, plcStop: 0x29 } as const;

/** Memory areas of read/write var (S7 area codes). */
export const AREAS = { i: 0x81, q: 0x82, m: 0x83, db: 0x84 } as const;
export type S7AreaName = keyof typeof AREAS;

/** Return codes of a read/write item (Wireshark s7comm "item return code"). */
export const ITEM_RETURN_CODES: Readonly<Record<number, string>> = {
  0x00: 'reserved',
  0x01: 'hardware error',
  0x03: 'accessing the object not allowed',
  0x05: 'invalid address',
  0x06: 'data type not supported',
  0x07: 'data type inconsistent',
  0x0a: 'object does not exist',
  0xff: 'success',
};

/** Error class/code of an ack-data header or a userdata parameter (the ones a refusal can carry). */
export const ERROR_CODES: Readonly<Record<number, string>> = {
  0x0000: 'no error',
  0x8104: 'context not supported (function not available; on S7-1200/1500: PUT/GET access not permitted)',
  0x8500: 'PDU size exceeded',
  0xd241: 'protection level of the function not sufficient (password needed)',
  0xd401: 'requested SZL id not available',
  0xd402: 'SZL index invalid',
  0xd602: 'invalid password',
  0xd604: 'no password to clear',
  0xd605: 'no password set',
  0xdc01: 'invalid value',
};

export const errorText = (code: number): string => ERROR_CODES[code] ?? `error 0x${code.toString(16).padStart(4, '0')}`;
export const itemReturnText = (code: number): string => ITEM_RETURN_CODES[code] ?? `return code 0x${code.toString(16).padStart(2, '0')}`;

// ---------------------------------------------------------------------------------------------- TPKT / COTP

export function encodeTpkt(tpdu: Uint8Array): Buffer {
  const header = Buffer.from([TPKT_VERSION, 0, 0, 0]);
  header.writeUInt16BE(TPKT_HEADER_BYTES + tpdu.length, 2);
  return Buffer.concat([header, Buffer.from(tpdu)]);
}

/** A TSAP as the CR carries it: two bytes for rack/slot addressing, or a name such as "SIMATIC-ROOT-HMI". */
export type Tsap = number | string;

export function tsapBytes(tsap: Tsap): Buffer {
  if (typeof tsap === 'string') return Buffer.from(tsap, 'latin1');
  return Buffer.from([(tsap >> 8) & 0xff, tsap & 0xff]);
}

/** The remote TSAP of a classic S7 connection: connection type (1 PG, 2 OP, 3 S7 basic) in the high byte,
 * rack × 32 + slot in the low one. */
export function rackSlotTsap(rack: number, slot: number, connectionType = 1): number {
  return ((connectionType & 0xff) << 8) | ((rack & 0x07) << 5) | (slot & 0x1f);
}

export interface ConnectionRequest {
  srcTsap: Tsap;
  dstTsap: Tsap;
  /** Source reference; snap7 and S7CommPlusDriver use a non-zero one because some devices need it. */
  srcRef?: number;
  tpduSizeCode?: number;
}

/** COTP Connection Request (class 0) with TPDU size, calling and called TSAP, wrapped in TPKT. */
export function encodeConnectionRequest(cr: ConnectionRequest): Buffer {
  const src = tsapBytes(cr.srcTsap);
  const dst = tsapBytes(cr.dstTsap);
  const params = Buffer.concat([
    Buffer.from([0xc0, 1, cr.tpduSizeCode ?? TPDU_SIZE_1024]),
    Buffer.from([0xc1, src.length]), src,
    Buffer.from([0xc2, dst.length]), dst,
  ]);
  const fixed = Buffer.alloc(6);
  fixed.writeUInt8(COTP.CR, 0);
  fixed.writeUInt16BE(0, 1); // destination reference: unknown before CC
  fixed.writeUInt16BE(cr.srcRef ?? 0x0001, 3);
  fixed.writeUInt8(0x00, 5); // class 0, no options
  const li = fixed.length + params.length;
  return encodeTpkt(Buffer.concat([Buffer.from([li]), fixed, params]));
}

/** COTP Data TPDU; `eot` false marks a fragment that more DT TPDUs continue. */
export function encodeDataTpdu(payload: Uint8Array, eot = true): Buffer {
  return encodeTpkt(Buffer.concat([Buffer.from([0x02, COTP.DT, eot ? 0x80 : 0x00]), Buffer.from(payload)]));
}

export type TpktParse =
  | { kind: 'frame'; tpdu: Buffer; bytes: number }
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string };

/** Reads one TPKT frame from the start of `buf`; a version other than 3 or an impossible length is not TPKT. */
export function parseTpkt(buf: Buffer): TpktParse {
  if (buf.length >= 1 && buf[0] !== TPKT_VERSION) return { kind: 'invalid', reason: `first byte 0x${buf[0].toString(16).padStart(2, '0')} is not TPKT version 3` };
  if (buf.length < TPKT_HEADER_BYTES) return { kind: 'incomplete' };
  const length = buf.readUInt16BE(2);
  if (length < TPKT_HEADER_BYTES + 3) return { kind: 'invalid', reason: `TPKT length ${length} is shorter than a COTP header` };
  if (buf.length < length) return { kind: 'incomplete' };
  return { kind: 'frame', tpdu: Buffer.from(buf.subarray(TPKT_HEADER_BYTES, length)), bytes: length };
}

export interface CotpTpdu {
  kind: CotpKind;
  code: number;
  /** CR/CC/DR: references; DR: reason; parameters by code (0xC0 TPDU size, 0xC1/0xC2 TSAPs). */
  dstRef?: number;
  srcRef?: number;
  reason?: number;
  params: Map<number, Buffer>;
  /** DT: end of TSDU (the last fragment) and the user data. */
  eot?: boolean;
  payload: Buffer;
}

export function parseCotp(tpdu: Buffer): CotpTpdu | string {
  if (tpdu.length < 2) return `COTP TPDU of ${tpdu.length} bytes`;
  const li = tpdu[0];
  if (li + 1 > tpdu.length) return `COTP length indicator ${li} beyond the ${tpdu.length}-byte TPDU`;
  const code = tpdu[1];
  const type = code === COTP.DT ? COTP.DT : code & 0xf0;
  const kind: CotpKind = ({ [COTP.CR]: 'CR', [COTP.CC]: 'CC', [COTP.DR]: 'DR', [COTP.DT]: 'DT', [COTP.ER]: 'ER' } as Record<number, CotpKind>)[type] ?? 'other';
  const params = new Map<number, Buffer>();
  const result: CotpTpdu = { kind, code, params, payload: Buffer.from(tpdu.subarray(li + 1)) };
  if (kind === 'DT') {
    if (li < 2) return `COTP DT with length indicator ${li}`;
    result.eot = (tpdu[2] & 0x80) !== 0;
    return result;
  }
  if (kind === 'CR' || kind === 'CC' || kind === 'DR') {
    if (li < 6) return `COTP ${kind} with length indicator ${li}`;
    result.dstRef = tpdu.readUInt16BE(2);
    result.srcRef = tpdu.readUInt16BE(4);
    if (kind === 'DR') result.reason = tpdu[6];
    for (let at = 7; at + 2 <= li + 1;) {
      const len = tpdu[at + 1];
      if (at + 2 + len > li + 1) return `COTP parameter 0x${tpdu[at].toString(16)} runs past the header`;
      params.set(tpdu[at], Buffer.from(tpdu.subarray(at + 2, at + 2 + len)));
      at += 2 + len;
    }
  }
  return result;
}

/** A TSAP parameter for display: its name when it is printable text, else hex. */
export function tsapText(bytes: Buffer | undefined): string | undefined {
  if (!bytes) return undefined;
  return bytes.length > 2 && /^[\x20-\x7e]+$/.test(bytes.toString('latin1')) ? bytes.toString('latin1') : bytes.toString('hex');
}

// ---------------------------------------------------------------------------------------------- S7 PDU

export interface S7Pdu {
  rosctr: number;
  pduRef: number;
  /** Ack-data only: error class × 256 + error code of the header. */
  error?: number;
  param: Buffer;
  data: Buffer;
}

export function encodeS7(pdu: S7Pdu): Buffer {
  const withError = pdu.rosctr === ROSCTR.ack || pdu.rosctr === ROSCTR.ackData;
  const header = Buffer.alloc(withError ? 12 : 10);
  header.writeUInt8(S7_PROTOCOL_ID, 0);
  header.writeUInt8(pdu.rosctr, 1);
  header.writeUInt16BE(0, 2);
  header.writeUInt16BE(pdu.pduRef & 0xffff, 4);
  header.writeUInt16BE(pdu.param.length, 6);
  header.writeUInt16BE(pdu.data.length, 8);
  if (withError) header.writeUInt16BE(pdu.error ?? 0, 10);
  return Buffer.concat([header, pdu.param, pdu.data]);
}

export function parseS7(payload: Buffer): S7Pdu | string {
  if (payload.length < 10) return `S7 PDU of ${payload.length} bytes is shorter than its header`;
  if (payload[0] !== S7_PROTOCOL_ID) return `protocol id 0x${payload[0].toString(16).padStart(2, '0')} is not S7comm (0x32)`;
  const rosctr = payload[1];
  const withError = rosctr === ROSCTR.ack || rosctr === ROSCTR.ackData;
  const headerBytes = withError ? 12 : 10;
  if (payload.length < headerBytes) return `S7 ack header of ${payload.length} bytes`;
  const paramLength = payload.readUInt16BE(6);
  const dataLength = payload.readUInt16BE(8);
  if (headerBytes + paramLength + dataLength > payload.length) {
    return `S7 header announces ${paramLength} parameter and ${dataLength} data bytes, ${payload.length - headerBytes} present`;
  }
  return {
    rosctr, pduRef: payload.readUInt16BE(4), ...(withError ? { error: payload.readUInt16BE(10) } : {}),
    param: Buffer.from(payload.subarray(headerBytes, headerBytes + paramLength)),
    data: Buffer.from(payload.subarray(headerBytes + paramLength, headerBytes + paramLength + dataLength)),
  };
}

/** Setup communication: one parallel job each way, the PDU size we ask for. */
export function setupCommunicationParam(pduSize = 480): Buffer {
  const p = Buffer.from([FUNCTION.setup, 0, 0, 1, 0, 1, 0, 0]);
  p.writeUInt16BE(pduSize, 6);
  return p;
}

// ---------------------------------------------------------------------------------------------- SZL (userdata)

/** Userdata parameter of a first SZL request: CPU functions group (4), subfunction read SZL (1). */
export function szlRequestParam(sequence = 0): Buffer {
  return Buffer.from([0x00, 0x01, 0x12, 0x04, 0x11, 0x44, 0x01, sequence & 0xff]);
}

export function szlRequestData(szlId: number, index: number): Buffer {
  const d = Buffer.from([0xff, 0x09, 0x00, 0x04, 0, 0, 0, 0]);
  d.writeUInt16BE(szlId, 4);
  d.writeUInt16BE(index, 6);
  return d;
}

/** Follow-up request for the next fragment of a long SZL answer (data unit reference of the answer). */
export function szlFollowUpParam(sequence: number, dataUnitRef: number): Buffer {
  return Buffer.from([0x00, 0x01, 0x12, 0x08, 0x12, 0x44, 0x01, sequence & 0xff, dataUnitRef & 0xff, 0x00, 0x00, 0x00]);
}
export const SZL_FOLLOW_UP_DATA = Buffer.from([0x0a, 0x00, 0x00, 0x00]);

export interface UserDataParam {
  /** 0x11 request, 0x12 response/follow-up. */
  method: number;
  typeGroup: number;
  subfunction: number;
  sequence: number;
  dataUnitRef: number;
  lastDataUnit: boolean;
  error: number;
}

export function parseUserDataParam(param: Buffer): UserDataParam | string {
  if (param.length < 8 || param[0] !== 0x00 || param[1] !== 0x01 || param[2] !== 0x12) return `userdata parameter ${param.toString('hex')} has no 00 01 12 head`;
  const long = param[3] >= 8 && param.length >= 12;
  return {
    method: param[4], typeGroup: param[5], subfunction: param[6], sequence: param[7],
    dataUnitRef: long ? param[8] : 0, lastDataUnit: long ? param[9] === 0x00 : true, error: long ? param.readUInt16BE(10) : 0,
  };
}

// ---------------------------------------------------------------------------------------------- read / write var

export interface AreaAddress {
  area: S7AreaName;
  /** Data block number (area db only). */
  db?: number;
  /** Byte offset inside the area. */
  offset: number;
  /** Number of bytes. */
  length: number;
}

/** One ANY-pointer item (syntax id 0x10), transport size BYTE, bit address = byte offset × 8. */
function varItem(a: AreaAddress): Buffer {
  const item = Buffer.from([0x12, 0x0a, 0x10, 0x02, 0, 0, 0, 0, AREAS[a.area], 0, 0, 0]);
  item.writeUInt16BE(a.length, 4);
  item.writeUInt16BE(a.area === 'db' ? a.db ?? 0 : 0, 6);
  const bit = a.offset * 8;
  item.writeUInt8((bit >> 16) & 0xff, 9);
  item.writeUInt16BE(bit & 0xffff, 10);
  return item;
}

export function readVarParam(items: readonly AreaAddress[]): Buffer {
  return Buffer.concat([Buffer.from([FUNCTION.readVar, items.length]), ...items.map(varItem)]);
}

export function writeVarParam(items: readonly AreaAddress[]): Buffer {
  return Buffer.concat([Buffer.from([FUNCTION.writeVar, items.length]), ...items.map(varItem)]);
}

/** Data part of write var: per item return code 0, transport size 0x04 (length in bits), the bytes, pad to even. */
export function writeVarData(values: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  values.forEach((v, i) => {
    const head = Buffer.from([0x00, 0x04, 0, 0]);
    head.writeUInt16BE(v.length * 8, 2);
    parts.push(head, Buffer.from(v));
    if (v.length % 2 === 1 && i < values.length - 1) parts.push(Buffer.alloc(1));
  });
  return Buffer.concat(parts);
}

export interface ReadItemResult {
  returnCode: number;
  data?: Buffer;
}

/** Splits the data part of a read-var answer into its items (lengths in bits for transport sizes 3, 4, 5). */
export function parseReadVarData(data: Buffer, count: number): ReadItemResult[] | string {
  const items: ReadItemResult[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return `read-var answer holds ${i} of ${count} items`;
    const returnCode = data[at];
    const transportSize = data[at + 1];
    const rawLength = data.readUInt16BE(at + 2);
    const length = transportSize === 0x03 || transportSize === 0x04 || transportSize === 0x05 ? Math.ceil(rawLength / 8) : rawLength;
    if (returnCode !== 0xff) {
      items.push({ returnCode });
      at += 4;
      continue;
    }
    if (at + 4 + length > data.length) return `item ${i + 1} announces ${length} bytes beyond the answer`;
    items.push({ returnCode, data: Buffer.from(data.subarray(at + 4, at + 4 + length)) });
    at += 4 + length + (length % 2 === 1 && i < count - 1 ? 1 : 0);
  }
  return items;
}

// ---------------------------------------------------------------------------------------------- CPU control

const P_PROGRAM = Buffer.from('P_PROGRAM', 'latin1');

/** PLC STOP (function 0x29) with the program invocation name "P_PROGRAM". */
export function plcStopParam(): Buffer {
  return Buffer.concat([Buffer.from([FUNCTION.plcStop, 0, 0, 0, 0, 0, P_PROGRAM.length]), P_PROGRAM]);
}

/** PLC control (0x28) without argument block: hot (warm) restart of "P_PROGRAM", as snap7's Cli_PlcHotStart sends it. */
export function plcHotStartParam(): Buffer {
  return Buffer.concat([Buffer.from([FUNCTION.plcControl, 0, 0, 0, 0, 0, 0, 0xfd, 0x00, 0x00, P_PROGRAM.length]), P_PROGRAM]);
}
