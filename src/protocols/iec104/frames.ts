/**
 * IEC 60870-5-104 frames, built here: the APCI (start 0x68, length, four control octets in I, S or U format)
 * and the ASDU of IEC 60870-5-101/104 with the 104 field sizes (cause of transmission 2 octets with the
 * originator address, common address 2 octets, information object address 3 octets, all little-endian).
 * Layouts follow IEC 60870-5-104 clause 5 and -101 clause 7 (as lib60870 and Wireshark's dissectors read them);
 * a security probe keeps every request's bytes as evidence and must also read answers that break the rules.
 */

export const IEC104_PORT = 2404;
/** IANA port of IEC 60870-5-104 over TLS (IEC 62351-3). */
export const IEC104_SECURE_PORT = 19998;
export const START_BYTE = 0x68;
/** Largest APDU length field (control octets + ASDU). */
export const MAX_APDU_LENGTH = 253;
/** The broadcast (global) common address, as nmap's iec-identify sends it. */
export const BROADCAST_CA = 0xffff;

/** U-format functions: the first control octet (the others are zero). */
export const U_FUNCTIONS = {
  startdtAct: 0x07, startdtCon: 0x0b, stopdtAct: 0x13, stopdtCon: 0x23, testfrAct: 0x43, testfrCon: 0x83,
} as const;
export type UFunction = keyof typeof U_FUNCTIONS;
const U_NAMES: Readonly<Record<number, UFunction>> = Object.fromEntries(Object.entries(U_FUNCTIONS).map(([k, v]) => [v, k as UFunction]));

/** Type identifications used here (IEC 60870-5-101 7.2.1.1 / 104 Table 8). */
export const TYPE_IDS = {
  M_SP_NA_1: 1, M_DP_NA_1: 3, M_ME_NA_1: 9, M_ME_NB_1: 11, M_ME_NC_1: 13, M_SP_TB_1: 30,
  C_SC_NA_1: 45, M_EI_NA_1: 70, C_IC_NA_1: 100, C_CS_NA_1: 103,
} as const;
export const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(TYPE_IDS).map(([k, v]) => [v, k]));

/** Bytes of one information element (after the IOA) per type, for the types this module reads. */
const ELEMENT_BYTES: Readonly<Record<number, number>> = {
  1: 1, 3: 1, 9: 3, 11: 3, 13: 5, 30: 8, 45: 1, 70: 1, 100: 1, 103: 7,
};

/** Causes of transmission (6 bits). */
export const COT = {
  spontaneous: 3, initialised: 4, request: 5, activation: 6, activationCon: 7, deactivation: 8, deactivationCon: 9,
  activationTerm: 10, returnRemote: 11, interrogatedByStation: 20, unknownType: 44, unknownCause: 45, unknownCommonAddress: 46,
  unknownIoa: 47,
} as const;
const COT_NAMES: Readonly<Record<number, string>> = {
  1: 'per/cyc', 2: 'back', 3: 'spont', 4: 'init', 5: 'req', 6: 'act', 7: 'actcon', 8: 'deact', 9: 'deactcon', 10: 'actterm',
  11: 'retrem', 12: 'retloc', 20: 'inrogen', 44: 'unknown type', 45: 'unknown cause', 46: 'unknown common address', 47: 'unknown IOA',
};
export const cotName = (cause: number) => COT_NAMES[cause] ?? (cause >= 21 && cause <= 36 ? `inro${cause - 20}` : `cause ${cause}`);

/** Qualifier of interrogation: station (global) interrogation. */
export const QOI_STATION = 20;

export type Apdu =
  | { format: 'I'; sendSeq: number; recvSeq: number; asdu: Buffer }
  | { format: 'S'; recvSeq: number }
  | { format: 'U'; fn: UFunction | `0x${string}` };

export function encodeU(fn: UFunction): Buffer {
  return Buffer.from([START_BYTE, 4, U_FUNCTIONS[fn], 0, 0, 0]);
}

export function encodeS(recvSeq: number): Buffer {
  const b = Buffer.from([START_BYTE, 4, 0x01, 0, 0, 0]);
  b.writeUInt16LE((recvSeq << 1) & 0xfffe, 4);
  return b;
}

/** An I-format APDU: N(S) and N(R) are 15-bit counters, sent shifted left by one (bit 0 of octet 1 is 0). */
export function encodeI(sendSeq: number, recvSeq: number, asdu: Buffer): Buffer {
  if (asdu.length > MAX_APDU_LENGTH - 4) throw new RangeError(`ASDU of ${asdu.length} bytes exceeds the APDU limit`);
  const head = Buffer.alloc(6);
  head[0] = START_BYTE;
  head[1] = 4 + asdu.length;
  head.writeUInt16LE((sendSeq << 1) & 0xfffe, 2);
  head.writeUInt16LE((recvSeq << 1) & 0xfffe, 4);
  return Buffer.concat([head, asdu]);
}

export type ApduParse =
  | { kind: 'apdu'; apdu: Apdu; bytes: number }
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string };

/** The first APDU in `buf`: a start byte other than 0x68 or a length below 4 cannot be resynchronised. */
export function parseApdu(buf: Buffer): ApduParse {
  if (buf.length < 1) return { kind: 'incomplete' };
  if (buf[0] !== START_BYTE) return { kind: 'invalid', reason: `start byte 0x${buf[0].toString(16).padStart(2, '0')} is not 0x68` };
  if (buf.length < 2) return { kind: 'incomplete' };
  const length = buf[1];
  if (length < 4) return { kind: 'invalid', reason: `APDU length ${length} is below the 4 control octets` };
  if (buf.length < 2 + length) return { kind: 'incomplete' };
  const c = buf.subarray(2, 6);
  const bytes = 2 + length;
  if ((c[0] & 0x01) === 0) {
    return { kind: 'apdu', bytes, apdu: { format: 'I', sendSeq: c.readUInt16LE(0) >> 1, recvSeq: c.readUInt16LE(2) >> 1, asdu: Buffer.from(buf.subarray(6, bytes)) } };
  }
  if (length !== 4) return { kind: 'invalid', reason: `an S or U frame with length ${length} (must be 4)` };
  if ((c[0] & 0x03) === 0x01) return { kind: 'apdu', bytes, apdu: { format: 'S', recvSeq: c.readUInt16LE(2) >> 1 } };
  return { kind: 'apdu', bytes, apdu: { format: 'U', fn: U_NAMES[c[0]] ?? `0x${c[0].toString(16).padStart(2, '0')}` } };
}

export interface InformationObject {
  ioa: number;
  /** The information element and its time tag, as sent. */
  element: Buffer;
}

export interface Asdu {
  typeId: number;
  /** SQ bit: the objects are a sequence from one IOA (only the first IOA is sent). */
  sequence: boolean;
  cause: number;
  negative: boolean;
  test: boolean;
  originator: number;
  commonAddress: number;
  objects: InformationObject[];
}

export function encodeAsdu(a: Omit<Asdu, 'sequence' | 'negative' | 'test' | 'originator'> & Partial<Pick<Asdu, 'sequence' | 'negative' | 'test' | 'originator'>>): Buffer {
  const sequence = a.sequence === true && a.objects.length > 1;
  const parts: Buffer[] = [Buffer.from([
    a.typeId, (sequence ? 0x80 : 0) | a.objects.length, (a.test ? 0x80 : 0) | (a.negative ? 0x40 : 0) | (a.cause & 0x3f),
    a.originator ?? 0, a.commonAddress & 0xff, (a.commonAddress >> 8) & 0xff,
  ])];
  a.objects.forEach((o, i) => {
    if (!sequence || i === 0) parts.push(ioaBytes(o.ioa));
    parts.push(o.element);
  });
  return Buffer.concat(parts);
}

const ioaBytes = (ioa: number) => Buffer.from([ioa & 0xff, (ioa >> 8) & 0xff, (ioa >> 16) & 0xff]);

/** An ASDU, or why it cannot be read (an unknown type's objects cannot be split: they come back as one). */
export function parseAsdu(buf: Buffer): Asdu | string {
  if (buf.length < 6) return `ASDU of ${buf.length} bytes is shorter than its 6-byte header`;
  const count = buf[1] & 0x7f;
  const head = {
    typeId: buf[0], sequence: (buf[1] & 0x80) !== 0, cause: buf[2] & 0x3f, negative: (buf[2] & 0x40) !== 0, test: (buf[2] & 0x80) !== 0,
    originator: buf[3], commonAddress: buf.readUInt16LE(4),
  };
  const size = ELEMENT_BYTES[head.typeId];
  const body = buf.subarray(6);
  if (size === undefined) {
    return { ...head, objects: body.length >= 3 ? [{ ioa: body.readUIntLE(0, 3), element: Buffer.from(body.subarray(3)) }] : [] };
  }
  const expected = head.sequence ? 3 + count * size : count * (3 + size);
  if (body.length !== expected) return `type ${head.typeId} with ${count} objects needs ${expected} bytes after the header, got ${body.length}`;
  const objects: InformationObject[] = [];
  const first = count > 0 ? body.readUIntLE(0, 3) : 0;
  for (let i = 0, at = 0; i < count; i++) {
    const ioa = head.sequence ? first + i : body.readUIntLE(at, 3);
    if (!head.sequence || i === 0) at += 3;
    objects.push({ ioa, element: Buffer.from(body.subarray(at, at + size)) });
    at += size;
  }
  return { ...head, objects };
}

/** General interrogation (C_IC_NA_1, activation, QOI 20), the request of nmap's iec-identify apart from addresses. */
export function interrogationAsdu(commonAddress: number, cause: number = COT.activation): Buffer {
  return encodeAsdu({ typeId: TYPE_IDS.C_IC_NA_1, cause, commonAddress, objects: [{ ioa: 0, element: Buffer.from([QOI_STATION]) }] });
}

/** Single command (C_SC_NA_1), direct execute (S/E 0), no additional definition (QU 0). */
export function singleCommandAsdu(commonAddress: number, ioa: number, on: boolean, cause: number = COT.activation): Buffer {
  return encodeAsdu({ typeId: TYPE_IDS.C_SC_NA_1, cause, commonAddress, objects: [{ ioa, element: Buffer.from([on ? 0x01 : 0x00]) }] });
}

/** Clock synchronisation (C_CS_NA_1) to IOA 0 with the given time. */
export function clockSyncAsdu(commonAddress: number, time: Date, cause: number = COT.activation): Buffer {
  return encodeAsdu({ typeId: TYPE_IDS.C_CS_NA_1, cause, commonAddress, objects: [{ ioa: 0, element: encodeCp56(time) }] });
}

/** CP56Time2a in UTC: milliseconds (2 octets), minutes, hours, day of month with day of week, month, year - 2000. */
export function encodeCp56(t: Date): Buffer {
  const b = Buffer.alloc(7);
  b.writeUInt16LE(t.getUTCSeconds() * 1000 + t.getUTCMilliseconds(), 0);
  b[2] = t.getUTCMinutes();
  b[3] = t.getUTCHours();
  b[4] = t.getUTCDate() | ((t.getUTCDay() === 0 ? 7 : t.getUTCDay()) << 5);
  b[5] = t.getUTCMonth() + 1;
  b[6] = t.getUTCFullYear() % 100;
  return b;
}

/** CP56Time2a as a date (taken as UTC, century 2000), or undefined when the invalid bit is set or a field is out of range. */
export function decodeCp56(b: Buffer): Date | undefined {
  if (b.length < 7 || (b[2] & 0x80) !== 0) return undefined;
  const ms = b.readUInt16LE(0);
  const [minute, hour, day, month, year] = [b[2] & 0x3f, b[3] & 0x1f, b[4] & 0x1f, b[5] & 0x0f, b[6] & 0x7f];
  if (ms > 59_999 || minute > 59 || hour > 23 || day < 1 || month < 1 || month > 12) return undefined;
  return new Date(Date.UTC(2000 + year, month - 1, day, hour, minute, Math.floor(ms / 1000), ms % 1000));
}

/** The value of a monitored object in a form for evidence: single/double point state, measured value. */
export function elementValue(typeId: number, element: Buffer): string | number | boolean | undefined {
  switch (typeId) {
    case TYPE_IDS.M_SP_NA_1: case TYPE_IDS.M_SP_TB_1: return (element[0] & 0x01) === 1;
    case TYPE_IDS.M_DP_NA_1: return ['indeterminate', 'off', 'on', 'indeterminate'][element[0] & 0x03];
    case TYPE_IDS.M_ME_NA_1: return element.readInt16LE(0) / 32768;
    case TYPE_IDS.M_ME_NB_1: return element.readInt16LE(0);
    case TYPE_IDS.M_ME_NC_1: return Math.round(element.readFloatLE(0) * 1000) / 1000;
    default: return undefined;
  }
}

export function describeApdu(a: Apdu): string {
  if (a.format === 'U') return `U ${a.fn}`;
  if (a.format === 'S') return `S N(R)=${a.recvSeq}`;
  const asdu = parseAsdu(a.asdu);
  const what = typeof asdu === 'string' ? `unreadable ASDU (${asdu})` : describeAsdu(asdu);
  return `I N(S)=${a.sendSeq} N(R)=${a.recvSeq} ${what}`;
}

export function describeAsdu(a: Asdu): string {
  return `${TYPE_NAMES[a.typeId] ?? `type ${a.typeId}`} ${cotName(a.cause)}${a.negative ? ' negative' : ''} CA ${a.commonAddress}, ${a.objects.length} object(s)`;
}
