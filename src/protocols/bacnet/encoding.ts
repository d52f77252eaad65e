/**
 * BACnet tagged encoding (ASHRAE 135 clause 20.2): application-tagged primitive values and context-tagged
 * fields, built and read here so that a probe keeps every request's bytes and can read answers that break
 * the rules. Multi-byte numbers are big-endian.
 */

export const APP_TAG = {
  null: 0, boolean: 1, unsigned: 2, signed: 3, real: 4, double: 5, octetString: 6, characterString: 7,
  bitString: 8, enumerated: 9, date: 10, time: 11, objectIdentifier: 12,
} as const;

/** A decoded application-tagged value. Strings are UTF-8 (character set 0) or Latin-1 for the others. */
export type BacnetValue =
  | { type: 'null' }
  | { type: 'boolean'; value: boolean }
  | { type: 'unsigned' | 'signed' | 'enumerated'; value: number }
  | { type: 'real' | 'double'; value: number }
  | { type: 'octet-string'; value: Buffer }
  | { type: 'character-string'; value: string; charset: number }
  | { type: 'bit-string'; unused: number; bits: Buffer }
  | { type: 'date' | 'time'; value: Buffer }
  | { type: 'object-identifier'; objectType: number; instance: number };

/** One tag header: number, class, and either a length or an opening/closing marker. */
export interface Tag {
  number: number;
  context: boolean;
  /** Length of the content; for an application boolean the value itself. */
  length: number;
  opening: boolean;
  closing: boolean;
  /** Bytes of the header itself. */
  headerBytes: number;
}

/** A tag header with its length (extended forms for tag numbers >= 15 and lengths >= 5). */
export function encodeTag(number: number, context: boolean, length: number): Buffer {
  const parts: number[] = [];
  const first = ((number < 15 ? number : 15) << 4) | (context ? 0x08 : 0) | (length < 5 ? length : 5);
  parts.push(first);
  if (number >= 15) parts.push(number);
  if (length >= 5) {
    if (length <= 253) parts.push(length);
    else if (length <= 0xffff) parts.push(254, length >> 8, length & 0xff);
    else parts.push(255, (length >>> 24) & 0xff, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
  }
  return Buffer.from(parts);
}

export const openingTag = (n: number): Buffer => Buffer.from([(n << 4) | 0x0e]);
export const closingTag = (n: number): Buffer => Buffer.from([(n << 4) | 0x0f]);

/** The shortest big-endian bytes of an unsigned integer (at least one). */
export function unsignedBytes(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`unsigned ${value} out of range`);
  const out: number[] = [];
  let v = value;
  do {
    out.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  return Buffer.from(out);
}

function signedBytes(value: number): Buffer {
  for (const n of [1, 2, 3, 4]) {
    const limit = 2 ** (8 * n - 1);
    if (value >= -limit && value < limit) {
      const b = Buffer.alloc(n);
      b.writeIntBE(value, 0, n);
      return b;
    }
  }
  throw new RangeError(`signed ${value} out of range`);
}

export function objectIdentifier(objectType: number, instance: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(((objectType & 0x3ff) << 22 | (instance & 0x3fffff)) >>> 0, 0);
  return b;
}

export function characterStringContent(text: string): Buffer {
  return Buffer.concat([Buffer.from([0]), Buffer.from(text, 'utf8')]);
}

/** Content bytes of a value (what follows its tag). */
function contentOf(v: BacnetValue): Buffer {
  switch (v.type) {
    case 'null': return Buffer.alloc(0);
    case 'boolean': return Buffer.alloc(0);
    case 'unsigned': case 'enumerated': return unsignedBytes(v.value);
    case 'signed': return signedBytes(v.value);
    case 'real': { const b = Buffer.alloc(4); b.writeFloatBE(v.value, 0); return b; }
    case 'double': { const b = Buffer.alloc(8); b.writeDoubleBE(v.value, 0); return b; }
    case 'octet-string': return v.value;
    case 'character-string': return v.charset === 0 ? characterStringContent(v.value) : Buffer.concat([Buffer.from([v.charset]), Buffer.from(v.value, 'latin1')]);
    case 'bit-string': return Buffer.concat([Buffer.from([v.unused]), v.bits]);
    case 'date': case 'time': return v.value;
    case 'object-identifier': return objectIdentifier(v.objectType, v.instance);
  }
}

const TYPE_TAGS: Record<BacnetValue['type'], number> = {
  null: 0, boolean: 1, unsigned: 2, signed: 3, real: 4, double: 5, 'octet-string': 6, 'character-string': 7,
  'bit-string': 8, enumerated: 9, date: 10, time: 11, 'object-identifier': 12,
};

/** An application-tagged value. */
export function encodeApplication(v: BacnetValue): Buffer {
  if (v.type === 'boolean') return encodeTag(APP_TAG.boolean, false, v.value ? 1 : 0);
  const content = contentOf(v);
  return Buffer.concat([encodeTag(TYPE_TAGS[v.type], false, content.length), content]);
}

/** A context-tagged primitive: the value's content under context tag `n` (a boolean has one content byte). */
export function encodeContext(n: number, v: BacnetValue): Buffer {
  const content = v.type === 'boolean' ? Buffer.from([v.value ? 1 : 0]) : contentOf(v);
  return Buffer.concat([encodeTag(n, true, content.length), content]);
}

export const ctxUnsigned = (n: number, value: number): Buffer => encodeContext(n, { type: 'unsigned', value });
export const ctxEnumerated = (n: number, value: number): Buffer => encodeContext(n, { type: 'enumerated', value });
export const ctxObjectId = (n: number, objectType: number, instance: number): Buffer => encodeContext(n, { type: 'object-identifier', objectType, instance });
export const ctxString = (n: number, value: string): Buffer => encodeContext(n, { type: 'character-string', value, charset: 0 });

/** Reads the tag header at `at`; undefined when it runs past the buffer. */
export function readTag(buf: Buffer, at: number): Tag | undefined {
  if (at >= buf.length) return undefined;
  const first = buf[at];
  let pos = at + 1;
  let number = first >> 4;
  if (number === 15) {
    if (pos >= buf.length) return undefined;
    number = buf[pos++];
  }
  const context = (first & 0x08) !== 0;
  const lvt = first & 0x07;
  if (context && lvt === 6) return { number, context, length: 0, opening: true, closing: false, headerBytes: pos - at };
  if (context && lvt === 7) return { number, context, length: 0, opening: false, closing: true, headerBytes: pos - at };
  let length = lvt;
  if (lvt === 5) {
    if (pos >= buf.length) return undefined;
    length = buf[pos++];
    if (length === 254) {
      if (pos + 2 > buf.length) return undefined;
      length = buf.readUInt16BE(pos);
      pos += 2;
    } else if (length === 255) {
      if (pos + 4 > buf.length) return undefined;
      length = buf.readUInt32BE(pos);
      pos += 4;
    }
  }
  // An application boolean carries its value in the length field and has no content.
  const hasContent = context || number !== APP_TAG.boolean;
  if (hasContent && pos + length > buf.length) return undefined;
  return { number, context, length, opening: false, closing: false, headerBytes: pos - at };
}

const readUnsigned = (b: Buffer): number => (b.length === 0 || b.length > 4 ? NaN : b.readUIntBE(0, b.length));

/** The value of an application tag's content; a string for content that breaks the type's rules. */
export function decodeApplication(tag: Tag, content: Buffer): BacnetValue | string {
  switch (tag.number) {
    case APP_TAG.null: return tag.length === 0 ? { type: 'null' } : 'null with content';
    case APP_TAG.boolean: return tag.length <= 1 ? { type: 'boolean', value: tag.length === 1 } : `boolean value ${tag.length}`;
    case APP_TAG.unsigned: case APP_TAG.enumerated: {
      const value = readUnsigned(content);
      if (Number.isNaN(value)) return `${content.length}-byte ${tag.number === APP_TAG.unsigned ? 'unsigned' : 'enumerated'}`;
      return { type: tag.number === APP_TAG.unsigned ? 'unsigned' : 'enumerated', value };
    }
    case APP_TAG.signed: return content.length >= 1 && content.length <= 4 ? { type: 'signed', value: content.readIntBE(0, content.length) } : `${content.length}-byte signed`;
    case APP_TAG.real: return content.length === 4 ? { type: 'real', value: content.readFloatBE(0) } : `${content.length}-byte real`;
    case APP_TAG.double: return content.length === 8 ? { type: 'double', value: content.readDoubleBE(0) } : `${content.length}-byte double`;
    case APP_TAG.octetString: return { type: 'octet-string', value: Buffer.from(content) };
    case APP_TAG.characterString: {
      if (content.length < 1) return 'character string without a character set';
      const charset = content[0];
      return { type: 'character-string', charset, value: content.subarray(1).toString(charset === 0 ? 'utf8' : 'latin1') };
    }
    case APP_TAG.bitString: return content.length >= 1 && content[0] <= 7 ? { type: 'bit-string', unused: content[0], bits: Buffer.from(content.subarray(1)) } : 'bad bit string';
    case APP_TAG.date: case APP_TAG.time: return content.length === 4 ? { type: tag.number === APP_TAG.date ? 'date' : 'time', value: Buffer.from(content) } : `${content.length}-byte date/time`;
    case APP_TAG.objectIdentifier: {
      if (content.length !== 4) return `${content.length}-byte object identifier`;
      const raw = content.readUInt32BE(0);
      return { type: 'object-identifier', objectType: raw >>> 22, instance: raw & 0x3fffff };
    }
    default: return `application tag ${tag.number}`;
  }
}

/** One element of a tagged stream: an application value, a context primitive (raw content), or a constructed context. */
export type Element =
  | { kind: 'application'; value: BacnetValue }
  | { kind: 'context'; tag: number; content: Buffer }
  | { kind: 'constructed'; tag: number; elements: Element[]; bytes: Buffer };

/** Decodes a whole tagged stream (opening/closing tags nest); a string says where it breaks. */
export function decodeElements(buf: Buffer, from = 0, to = buf.length, closeTag?: number): { elements: Element[]; end: number } | string {
  const elements: Element[] = [];
  let at = from;
  while (at < to) {
    const tag = readTag(buf.subarray(0, to), at);
    if (!tag) return `tag at offset ${at} runs past the data`;
    if (tag.closing) {
      if (tag.number !== closeTag) return `closing tag ${tag.number} at offset ${at} without its opening tag`;
      return { elements, end: at + tag.headerBytes };
    }
    if (tag.opening) {
      const inner = decodeElements(buf, at + tag.headerBytes, to, tag.number);
      if (typeof inner === 'string') return inner;
      elements.push({ kind: 'constructed', tag: tag.number, elements: inner.elements, bytes: Buffer.from(buf.subarray(at + tag.headerBytes, inner.end - 1)) });
      at = inner.end;
      continue;
    }
    const contentLength = !tag.context && tag.number === APP_TAG.boolean ? 0 : tag.length;
    const content = buf.subarray(at + tag.headerBytes, at + tag.headerBytes + contentLength);
    if (tag.context) {
      elements.push({ kind: 'context', tag: tag.number, content: Buffer.from(content) });
    } else {
      const value = decodeApplication(tag, content);
      if (typeof value === 'string') return `${value} at offset ${at}`;
      elements.push({ kind: 'application', value });
    }
    at += tag.headerBytes + contentLength;
  }
  if (closeTag !== undefined) return `opening tag ${closeTag} is never closed`;
  return { elements, end: at };
}

/** The context primitive with this tag number among `elements`, read as an unsigned/enumerated number. */
export function contextNumber(elements: readonly Element[], tag: number): number | undefined {
  const e = elements.find((x) => x.kind === 'context' && x.tag === tag);
  return e && e.kind === 'context' ? readUnsigned(e.content) : undefined;
}

export function contextString(elements: readonly Element[], tag: number): string | undefined {
  const e = elements.find((x) => x.kind === 'context' && x.tag === tag);
  if (!e || e.kind !== 'context' || e.content.length < 1) return undefined;
  return e.content.subarray(1).toString(e.content[0] === 0 ? 'utf8' : 'latin1');
}

/** A value as plain JSON for observations and evidence. */
export function plainValue(v: BacnetValue): unknown {
  switch (v.type) {
    case 'null': return null;
    case 'octet-string': return v.value.toString('hex');
    case 'bit-string': return { unused: v.unused, bits: v.bits.toString('hex') };
    case 'date': case 'time': return v.value.toString('hex');
    case 'object-identifier': return { objectType: v.objectType, instance: v.instance };
    case 'character-string': return v.value;
    default: return v.value;
  }
}
