/** Application layer (IEEE 1815-2012 clause 4 and 5): control octet, function codes, IIN, object headers. */

export const APP = { fir: 0x80, fin: 0x40, con: 0x20, uns: 0x10 } as const;

export const FUNCTION = {
  confirm: 0x00,
  read: 0x01,
  write: 0x02,
  select: 0x03,
  operate: 0x04,
  directOperate: 0x05,
  directOperateNoAck: 0x06,
  coldRestart: 0x0d,
  warmRestart: 0x0e,
  enableUnsolicited: 0x14,
  disableUnsolicited: 0x15,
  delayMeasure: 0x17,
  authRequest: 0x20,
  authRequestNoAck: 0x21,
  response: 0x81,
  unsolicitedResponse: 0x82,
  authResponse: 0x83,
} as const;

export const FUNCTION_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(FUNCTION).map(([name, code]) => [code, name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()]),
);

/** Internal indications (IIN1 in the low octet, IIN2 in the high one), as clause 5.2.2 names them. */
export const IIN_BITS: readonly (readonly [bit: number, name: string])[] = [
  [0x0001, 'broadcast'], [0x0002, 'class-1-events'], [0x0004, 'class-2-events'], [0x0008, 'class-3-events'],
  [0x0010, 'need-time'], [0x0020, 'local-control'], [0x0040, 'device-trouble'], [0x0080, 'device-restart'],
  [0x0100, 'no-func-code-support'], [0x0200, 'object-unknown'], [0x0400, 'parameter-error'], [0x0800, 'event-buffer-overflow'],
  [0x1000, 'already-executing'], [0x2000, 'config-corrupt'], [0x4000, 'reserved-2.6'], [0x8000, 'reserved-2.7'],
];
export const IIN = Object.fromEntries(IIN_BITS.map(([bit, name]) => [name, bit])) as Record<string, number>;
/** IIN2 bits that say a request was not processed as asked. */
export const IIN_REQUEST_ERRORS = 0x0100 | 0x0200 | 0x0400;

export const iinNames = (iin: number): string[] => IIN_BITS.filter(([bit]) => iin & bit).map(([, name]) => name);

/** Qualifier codes this module writes or reads (prefix code << 4 | range specifier). */
export const QUALIFIER = {
  startStop8: 0x00,
  startStop16: 0x01,
  all: 0x06,
  count8: 0x07,
  count16: 0x08,
  index8count8: 0x17,
  index16count16: 0x28,
  freeFormat16: 0x5b,
} as const;

export interface AppRequest {
  seq: number;
  fn: number;
  objects: Buffer;
  confirm?: boolean;
}

export const encodeRequest = (r: AppRequest): Buffer =>
  Buffer.concat([Buffer.from([APP.fir | APP.fin | (r.confirm ? APP.con : 0) | (r.seq & 0x0f), r.fn]), r.objects]);

export interface AppResponse {
  control: number;
  seq: number;
  fir: boolean;
  fin: boolean;
  con: boolean;
  uns: boolean;
  fn: number;
  /** IIN1 | IIN2 << 8. */
  iin: number;
  objects: Buffer;
}

/** A response or unsolicited response fragment (function 0x81..0x83), or why it is not one. */
export function parseResponse(fragment: Buffer): AppResponse | string {
  if (fragment.length < 4) return `an application response needs 4 octets, got ${fragment.length}`;
  const fn = fragment[1];
  if (fn < FUNCTION.response || fn > FUNCTION.authResponse) return `function 0x${fn.toString(16)} is not a response`;
  const control = fragment[0];
  return {
    control, seq: control & 0x0f, fir: !!(control & APP.fir), fin: !!(control & APP.fin), con: !!(control & APP.con), uns: !!(control & APP.uns),
    fn, iin: fragment[2] | (fragment[3] << 8), objects: fragment.subarray(4),
  };
}

export interface AppRequestParsed {
  seq: number;
  fn: number;
  con: boolean;
  uns: boolean;
  objects: Buffer;
}

export function parseRequest(fragment: Buffer): AppRequestParsed | string {
  if (fragment.length < 2) return 'an application request needs 2 octets';
  const control = fragment[0];
  if (!(control & APP.fir) || !(control & APP.fin)) return 'multi-fragment requests are not supported';
  return { seq: control & 0x0f, fn: fragment[1], con: !!(control & APP.con), uns: !!(control & APP.uns), objects: fragment.subarray(2) };
}

export const encodeResponse = (r: { seq: number; fn?: number; iin: number; objects?: Buffer; con?: boolean; uns?: boolean }): Buffer =>
  Buffer.concat([
    Buffer.from([APP.fir | APP.fin | (r.con ? APP.con : 0) | (r.uns ? APP.uns : 0) | (r.seq & 0x0f), r.fn ?? FUNCTION.response, r.iin & 0xff, (r.iin >> 8) & 0xff]),
    r.objects ?? Buffer.alloc(0),
  ]);

// ------------------------------------------------------------------------------------------- object headers

export const header = (group: number, variation: number, qualifier: number, range: readonly number[] = []): Buffer =>
  Buffer.from([group, variation, qualifier, ...range]);

const u16 = (n: number) => [n & 0xff, (n >> 8) & 0xff];
const u32le = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};

/** Class 1, 2, 3 then class 0 with qualifier "all objects": the integrity poll of clause 4.4.2. */
export const integrityPollObjects = (): Buffer =>
  Buffer.concat([header(60, 2, QUALIFIER.all), header(60, 3, QUALIFIER.all), header(60, 4, QUALIFIER.all), header(60, 1, QUALIFIER.all)]);

/** Class 0 alone (static data, no events). */
export const class0Objects = (): Buffer => header(60, 1, QUALIFIER.all);

/** Device attributes: the non-specific "all attributes" request, g0v254, of attribute set 0. */
export const allAttributesObjects = (): Buffer => header(0, 254, QUALIFIER.startStop8, [0, 0]);

/** g80v1 index 7 written 0: clears IIN1.7 (device restart), what a master writes after an outstation start. */
export const clearRestartObjects = (): Buffer => Buffer.concat([header(80, 1, QUALIFIER.startStop8, [7, 7]), Buffer.from([0x00])]);

/** SAv5 Session Key Status Request, g120v4, for one user number (count qualifier, as masters send it). */
export const keyStatusRequestObjects = (user: number): Buffer => Buffer.concat([header(120, 4, QUALIFIER.count8, [1]), Buffer.from(u16(user))]);

/** CROB control codes (operation type | trip/close bits) of table 11-16, by the names the profile uses. */
export const CONTROL_CODES = {
  'pulse-on': 0x01,
  'pulse-off': 0x02,
  'latch-on': 0x03,
  'latch-off': 0x04,
  close: 0x41,
  trip: 0x81,
} as const;
export type ControlCode = keyof typeof CONTROL_CODES;

export interface Crob {
  index: number;
  code: number;
  count: number;
  onTimeMs: number;
  offTimeMs: number;
  status?: number;
}

/** One g12v1 (control relay output block) with a 2-octet index prefix and count. */
export function crobObjects(c: Crob): Buffer {
  return Buffer.concat([
    header(12, 1, QUALIFIER.index16count16, [...u16(1), ...u16(c.index)]),
    Buffer.from([c.code, c.count]), u32le(c.onTimeMs), u32le(c.offTimeMs), Buffer.from([c.status ?? 0]),
  ]);
}

/** Command status codes of table 11-14. */
export const COMMAND_STATUS: Readonly<Record<number, string>> = {
  0: 'SUCCESS', 1: 'TIMEOUT', 2: 'NO_SELECT', 3: 'FORMAT_ERROR', 4: 'NOT_SUPPORTED', 5: 'ALREADY_ACTIVE', 6: 'HARDWARE_ERROR',
  7: 'LOCAL', 8: 'TOO_MANY_OBJS', 9: 'NOT_AUTHORIZED', 10: 'AUTOMATION_INHIBIT', 11: 'PROCESSING_LIMITED', 12: 'OUT_OF_RANGE',
  126: 'NON_PARTICIPATING', 127: 'UNDEFINED',
};

// ------------------------------------------------------------------------------------------- object parsing

/** Fixed object sizes in octets by "group.variation"; 'bits' for packed single bits. */
const OBJECT_SIZES: Readonly<Record<string, number | 'bits'>> = {
  '1.1': 'bits', '1.2': 1, '2.1': 1, '2.2': 7, '2.3': 3, '3.1': 'bits', '3.2': 1, '4.1': 1, '4.2': 7, '4.3': 3,
  '10.1': 'bits', '10.2': 1, '11.1': 1, '11.2': 7, '12.1': 11, '13.1': 1, '13.2': 7,
  '20.1': 5, '20.2': 3, '20.5': 4, '20.6': 2, '21.1': 5, '21.2': 3, '21.5': 11, '21.6': 9, '21.9': 4, '21.10': 2,
  '22.1': 5, '22.2': 3, '22.5': 11, '22.6': 9, '23.1': 5, '23.2': 3, '23.5': 11, '23.6': 9,
  '30.1': 5, '30.2': 3, '30.3': 4, '30.4': 2, '30.5': 5, '30.6': 9, '32.1': 5, '32.2': 3, '32.3': 11, '32.4': 9,
  '32.5': 5, '32.6': 9, '32.7': 11, '32.8': 15, '34.1': 2, '34.2': 4, '34.3': 4,
  '40.1': 5, '40.2': 3, '40.3': 5, '40.4': 9, '41.1': 5, '41.2': 3, '41.3': 5, '41.4': 9, '42.1': 5, '42.2': 3,
  '50.1': 6, '50.3': 6, '51.1': 6, '51.2': 6, '52.1': 2, '52.2': 2, '80.1': 'bits', '120.3': 6, '120.4': 2,
};

export interface ObjectBlock {
  group: number;
  variation: number;
  qualifier: number;
  /** Point indexes (start/stop or prefixes) when the qualifier carries them. */
  indexes: number[];
  /** One buffer per object (for packed bits: one octet per point, 0 or 1). */
  values: Buffer[];
}

export interface ParsedObjects {
  blocks: ObjectBlock[];
  /** Why parsing stopped before the end, if it did (an object this table does not size). */
  stopped?: string;
}

function readUInt(b: Buffer, at: number, size: number): number | undefined {
  if (at + size > b.length) return undefined;
  return size === 1 ? b[at] : size === 2 ? b.readUInt16LE(at) : b.readUInt32LE(at);
}

/**
 * Object headers and objects of a response, as far as their sizes are known: fixed-size objects in the
 * table above, device attributes (g0: type, length, value), free-format objects (g120, size prefix).
 * `headersOnly`: the headers of a READ request, which carry ranges but no objects.
 */
export function parseObjects(data: Buffer, headersOnly = false): ParsedObjects {
  const blocks: ObjectBlock[] = [];
  let at = 0;
  while (at < data.length) {
    if (at + 3 > data.length) return { blocks, stopped: `${data.length - at} octets left after the last object` };
    const [group, variation, qualifier] = [data[at], data[at + 1], data[at + 2]];
    const gv = `g${group}v${variation} qualifier 0x${qualifier.toString(16).padStart(2, '0')}`;
    at += 3;
    const prefixCode = (qualifier >> 4) & 0x07;
    const rangeCode = qualifier & 0x0f;
    let count: number;
    let start: number | undefined;
    if (rangeCode <= 2) {
      const size = 1 << rangeCode;
      const s = readUInt(data, at, size);
      const e = readUInt(data, at + size, size);
      if (s === undefined || e === undefined || e < s) return { blocks, stopped: `${gv}: bad start/stop range` };
      [start, count] = [s, e - s + 1];
      at += 2 * size;
    } else if (rangeCode === 6) {
      blocks.push({ group, variation, qualifier, indexes: [], values: [] });
      continue;
    } else if (rangeCode >= 7 && rangeCode <= 9 || rangeCode === 0x0b) {
      const size = rangeCode === 0x0b ? 1 : 1 << (rangeCode - 7);
      const c = readUInt(data, at, size);
      if (c === undefined) return { blocks, stopped: `${gv}: count runs past the end` };
      count = c;
      at += size;
    } else return { blocks, stopped: `${gv}: range specifier ${rangeCode} not handled` };
    const block: ObjectBlock = { group, variation, qualifier, indexes: [], values: [] };
    if (headersOnly) {
      if (start !== undefined) for (let i = 0; i < count; i++) block.indexes.push(start + i);
      blocks.push(block);
      continue;
    }
    const fixed = OBJECT_SIZES[`${group}.${variation}`];
    if (fixed === 'bits' && prefixCode === 0) {
      const bytes = Math.ceil(count / 8);
      if (at + bytes > data.length) return { blocks, stopped: `${gv}: packed bits run past the end` };
      for (let i = 0; i < count; i++) {
        block.indexes.push((start ?? 0) + i);
        block.values.push(Buffer.from([(data[at + (i >> 3)] >> (i & 7)) & 1]));
      }
      at += bytes;
      blocks.push(block);
      continue;
    }
    for (let i = 0; i < count; i++) {
      let index = start !== undefined ? start + i : i;
      let size: number | undefined = typeof fixed === 'number' ? fixed : undefined;
      if (prefixCode >= 1 && prefixCode <= 3) {
        const p = readUInt(data, at, 1 << (prefixCode - 1));
        if (p === undefined) return { blocks, stopped: `${gv}: index prefix runs past the end` };
        index = p;
        at += 1 << (prefixCode - 1);
      } else if (prefixCode >= 4 && prefixCode <= 6) {
        size = readUInt(data, at, 1 << (prefixCode - 4));
        at += 1 << (prefixCode - 4);
      } else if (group === 0 && variation < 254) {
        // Device attribute: data type, length, value.
        size = at + 2 <= data.length ? 2 + data[at + 1] : undefined;
      }
      if (size === undefined) return { blocks: [...blocks, ...(block.values.length ? [block] : [])], stopped: `${gv}: object size unknown here` };
      if (at + size > data.length) return { blocks, stopped: `${gv}: object runs past the end` };
      block.indexes.push(index);
      block.values.push(data.subarray(at, at + size));
      at += size;
    }
    blocks.push(block);
  }
  return { blocks };
}

// ------------------------------------------------------------------------------------------- device attributes

/** Device attribute variations of group 0 that identify a device (table 11-2), by the names we report. */
export const ATTRIBUTES: Readonly<Record<number, string>> = {
  252: 'manufacturer', 250: 'productName', 242: 'softwareVersion', 243: 'hardwareVersion', 248: 'serial',
  247: 'deviceName', 246: 'userAssignedId', 245: 'location', 249: 'subsetLevel', 251: 'managerName', 240: 'maxTxFragment', 241: 'maxRxFragment',
};
export const ATTRIBUTE_TYPE = { vstr: 1, uint: 2 } as const;

/** A device attribute object (data type, length, value) for a visible string or an unsigned integer. */
export function attributeObject(value: string | number): Buffer {
  if (typeof value === 'string') {
    const text = Buffer.from(value.slice(0, 255), 'latin1');
    return Buffer.concat([Buffer.from([ATTRIBUTE_TYPE.vstr, text.length]), text]);
  }
  const v = Buffer.alloc(4);
  v.writeUInt32LE(value >>> 0, 0);
  return Buffer.concat([Buffer.from([ATTRIBUTE_TYPE.uint, 4]), v]);
}

/** The identity attributes in a g0 response, by name (strings and unsigned integers). */
export function readAttributes(blocks: readonly ObjectBlock[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of blocks) {
    if (b.group !== 0 || b.values.length === 0) continue;
    const name = ATTRIBUTES[b.variation] ?? `attribute${b.variation}`;
    const v = b.values[0];
    const [type, length] = [v[0], v[1]];
    const value = v.subarray(2, 2 + length);
    if (type === ATTRIBUTE_TYPE.vstr) out[name] = value.toString('latin1').replace(/\0+$/, '');
    else if (type === ATTRIBUTE_TYPE.uint && length >= 1 && length <= 4) out[name] = String(value.readUIntLE(0, length));
  }
  return out;
}
