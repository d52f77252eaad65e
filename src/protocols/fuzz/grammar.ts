import { SeededRandom } from './random';

/**
 * A frame grammar for mutation: a valid frame plus where its fields are and what they mean. Mutations are
 * field-aware (a length gets the values that break length handling, a count the values around its
 * protocol maximum), so a few hundred cases reach the corners a random byte flipper needs millions for.
 */
export type FieldKind = 'length' | 'count' | 'code' | 'address' | 'value' | 'id';

export interface FieldSpec {
  /** "mbap.length", "pdu.quantity", ... (recorded with each case). */
  name: string;
  offset: number;
  /** Bytes: 3 is TLS's uint24, 4 SSH's uint32 and OPC UA's UInt32/Int32. */
  size: 1 | 2 | 3 | 4;
  /** Byte order of multi-byte fields: network order unless set (OPC UA's binary encoding is little-endian). */
  littleEndian?: boolean;
  kind: FieldKind;
  /** The range the protocol allows (boundaries are tried on both sides). */
  min?: number;
  max?: number;
  /** More values worth trying (e.g. unassigned function codes). */
  extra?: readonly number[];
}

export interface FrameTemplate {
  /** Names the valid request the cases start from, e.g. "fc16-write-registers". */
  name: string;
  bytes: Buffer;
  fields: readonly FieldSpec[];
  /** Where the payload a length field counts starts (e.g. 6 for the MBAP unit id + PDU). */
  lengthCovers?: { field: string; from: number };
  /**
   * Mutations the grammar writes out itself, for fields that are not fixed-width integers (text lines,
   * nested BER lengths): each is one systematic case, before the field-aware ones.
   */
  cases?: readonly TemplateCase[];
}

/** A hand-written mutation of a template: which field, what was done, the bytes. */
export interface TemplateCase {
  field: string;
  mutation: string;
  bytes: Buffer;
}

/** One generated case: the bytes and how they differ from the valid template. */
export interface FuzzCase {
  /** Position in the campaign (0-based); the case id is built from it. */
  index: number;
  template: string;
  /** The field mutated, or "frame" for structural mutations (truncation, extension, byte flips). */
  field: string;
  /** What was done, e.g. "pdu.quantity = 0 (min-1)", "truncated to 9 of 17 bytes". */
  mutation: string;
  bytes: Buffer;
}

type Draft = Omit<FuzzCase, 'index'>;

const fieldMax = (f: FieldSpec) => 2 ** (8 * f.size) - 1;

function read(b: Buffer, f: FieldSpec): number {
  return f.littleEndian ? b.readUIntLE(f.offset, f.size) : b.readUIntBE(f.offset, f.size);
}

function write(b: Buffer, f: FieldSpec, v: number): void {
  const value = v % (fieldMax(f) + 1);
  if (f.littleEndian) b.writeUIntLE(value, f.offset, f.size);
  else b.writeUIntBE(value, f.offset, f.size);
}

/** The values that break handling of a field of this kind, each with why it is there. */
export function boundaryValues(f: FieldSpec): { value: number; why: string }[] {
  const top = fieldMax(f);
  const out: { value: number; why: string }[] = [
    { value: 0, why: 'zero' }, { value: 1, why: 'one' }, { value: top, why: 'all ones' }, { value: top - 1, why: 'all ones - 1' },
    { value: (top + 1) / 2, why: 'sign bit' }, { value: (top + 1) / 2 - 1, why: 'largest signed' },
  ];
  if (f.min !== undefined) out.push({ value: f.min, why: 'min' }, { value: f.min - 1, why: 'min-1' });
  if (f.max !== undefined) out.push({ value: f.max, why: 'max' }, { value: f.max + 1, why: 'max+1' });
  for (const v of f.extra ?? []) out.push({ value: v, why: 'listed' });
  const seen = new Set<number>();
  return out.filter(({ value }) => value >= 0 && value <= top && !seen.has(value) && (seen.add(value), true));
}

/** Rewrites the length field so it agrees with the bytes after `from` (a well-formed frame of another size). */
function fixLength(t: FrameTemplate, b: Buffer): void {
  const cover = t.lengthCovers;
  const field = cover && t.fields.find((f) => f.name === cover.field);
  if (cover && field && b.length >= field.offset + field.size) write(b, field, Math.max(0, b.length - cover.from));
}

/** Every field-aware mutation of one template, in a fixed order (the seed only shuffles them). */
export function systematicCases(t: FrameTemplate): Draft[] {
  const out: Draft[] = (t.cases ?? []).map((c) => ({ template: t.name, ...c }));
  for (const f of t.fields) {
    const original = read(t.bytes, f);
    for (const { value, why } of boundaryValues(f)) {
      if (value === original) continue;
      const b = Buffer.from(t.bytes);
      write(b, f, value);
      out.push({ template: t.name, field: f.name, mutation: `${f.name} = ${value} (${why}; valid ${original})`, bytes: b });
    }
  }
  // Truncation at every field boundary and in the middle of each 2-byte field: the length still claims the whole frame.
  const cuts = new Set<number>([1]);
  for (const f of t.fields) {
    cuts.add(f.offset);
    if (f.size === 2) cuts.add(f.offset + 1);
  }
  cuts.add(t.bytes.length - 1);
  for (const n of [...cuts].filter((c) => c > 0 && c < t.bytes.length).sort((a, b) => a - b)) {
    out.push({ template: t.name, field: 'frame', mutation: `truncated to ${n} of ${t.bytes.length} bytes (length field unchanged)`, bytes: Buffer.from(t.bytes.subarray(0, n)) });
  }
  // The payload cut or extended with the length field rewritten to match: well-framed, wrong content. (Without
  // a length field a cut is a truncation, already above.)
  for (let n = t.lengthCovers ? t.lengthCovers.from + 2 : t.bytes.length; n < t.bytes.length; n++) {
    const b = Buffer.from(t.bytes.subarray(0, n));
    fixLength(t, b);
    out.push({ template: t.name, field: 'frame', mutation: `payload cut to ${n} of ${t.bytes.length} bytes (length field consistent)`, bytes: b });
  }
  for (const [extra, fill] of [[1, 0x00], [16, 0xff], [250, 0x41]] as const) {
    const what = `extended by ${extra} bytes of 0x${fill.toString(16).padStart(2, '0')}`;
    const b = Buffer.concat([t.bytes, Buffer.alloc(extra, fill)]);
    if (!t.lengthCovers) {
      out.push({ template: t.name, field: 'frame', mutation: what, bytes: b });
      continue;
    }
    fixLength(t, b);
    out.push({ template: t.name, field: 'frame', mutation: `${what} (length field consistent)`, bytes: b });
    out.push({ template: t.name, field: 'frame', mutation: `${what} (length field unchanged)`, bytes: Buffer.concat([t.bytes, Buffer.alloc(extra, fill)]) });
  }
  return out;
}

/** One random mutation: a random field value, a flipped byte, or random bytes inserted. */
export function randomCase(templates: readonly FrameTemplate[], rng: SeededRandom): Draft {
  const t = rng.pick(templates);
  const b = Buffer.from(t.bytes);
  const choice = rng.below(3);
  if (choice === 0 && t.fields.length > 0) {
    const f = rng.pick(t.fields);
    const value = rng.below(fieldMax(f) + 1);
    write(b, f, value);
    return { template: t.name, field: f.name, mutation: `${f.name} = ${value} (random)`, bytes: b };
  }
  if (choice === 1) {
    const at = rng.below(b.length);
    const mask = 1 + rng.below(255);
    b[at] ^= mask;
    return { template: t.name, field: 'frame', mutation: `byte ${at} xor 0x${mask.toString(16).padStart(2, '0')}`, bytes: b };
  }
  const at = rng.below(b.length + 1);
  const inserted = rng.bytes(1 + rng.below(8));
  const out = Buffer.concat([b.subarray(0, at), inserted, b.subarray(at)]);
  fixLength(t, out);
  return { template: t.name, field: 'frame', mutation: `${inserted.length} random bytes inserted at ${at}${t.lengthCovers ? ' (length field consistent)' : ''}`, bytes: out };
}

/**
 * The cases of a campaign: every systematic mutation of every template plus random ones up to `count`,
 * shuffled by `seed`. The same seed, templates and count give the same cases, byte for byte. When `count`
 * is smaller than the systematic set, a seeded sample of it is taken.
 */
export function generateCases(templates: readonly FrameTemplate[], seed: number, count: number): FuzzCase[] {
  const rng = new SeededRandom(seed);
  const drafts = templates.flatMap(systematicCases);
  while (drafts.length < count) drafts.push(randomCase(templates, rng));
  return rng.shuffle(drafts).slice(0, count).map((d, index) => ({ index, ...d }));
}
