import type { FieldSpec, FrameTemplate, TemplateCase } from './fuzz/grammar';
import { param, type FuzzTargetFactory } from './fuzz/target';
import { sendDatagramCase, type Classification } from './fuzz/transport';

/**
 * The SNMPv1/v2c grammar of the fuzzer (RFC 1157, RFC 3416, BER per X.690): GetRequest, GetNextRequest and
 * GetBulkRequest messages built from a small BER model that knows where each tag, length and value lies.
 * Fixed-width fields (tags, short lengths, version, error fields, request-id) go to the engine's boundary
 * mutations; the mutations that change sizes (long-form and indefinite lengths, big integers, long
 * communities, odd OIDs, deep nesting) are re-encoded here with every enclosing length kept consistent.
 */

const TAG = { integer: 0x02, octetString: 0x04, null: 0x05, oid: 0x06, sequence: 0x30, get: 0xa0, getNext: 0xa1, response: 0xa2, getBulk: 0xa5, report: 0xa8 } as const;

type BerNode = { name: string; tag: number; value: Buffer; rawLength?: Buffer } | { name: string; tag: number; children: BerNode[]; rawLength?: Buffer };

/** Where one encoded TLV lies in the message. */
interface Located { name: string; tagAt: number; lengthAt: number; lengthSize: number; valueAt: number; valueLength: number }

export function berLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Minimal two's-complement INTEGER content. */
export function berInteger(v: bigint): Buffer {
  const bytes: number[] = [];
  let x = v;
  for (;;) {
    bytes.unshift(Number(BigInt.asUintN(8, x)));
    x >>= 8n;
    const sign = bytes[0] & 0x80;
    if ((x === 0n && !sign) || (x === -1n && sign)) break;
  }
  return Buffer.from(bytes);
}

/** OID content: the first two arcs in one byte, then base-128 sub-identifiers. */
export function berOid(oid: string): Buffer {
  const arcs = oid.split('.').map((a) => BigInt(a));
  const subids = [arcs[0] * 40n + arcs[1], ...arcs.slice(2)];
  return Buffer.concat(subids.map(base128));
}

function base128(v: bigint): Buffer {
  const out = [Number(v & 0x7fn)];
  for (let x = v >> 7n; x > 0n; x >>= 7n) out.unshift(Number(x & 0x7fn) | 0x80);
  return Buffer.from(out);
}

function encode(node: BerNode, at: number, out: Located[]): Buffer {
  const tag = Buffer.from([node.tag]);
  const valueAt = (length: Buffer) => at + 1 + length.length;
  if ('value' in node) {
    const length = node.rawLength ?? berLength(node.value.length);
    out.push({ name: node.name, tagAt: at, lengthAt: at + 1, lengthSize: length.length, valueAt: valueAt(length), valueLength: node.value.length });
    return Buffer.concat([tag, length, node.value]);
  }
  // The children's size decides the length's size, which moves the children: encode once to measure.
  const size = node.children.reduce((n, c) => n + encode(c, 0, []).length, 0);
  const length = node.rawLength ?? berLength(size);
  const slot = out.length;
  const parts: Buffer[] = [];
  let offset = valueAt(length);
  for (const c of node.children) {
    const b = encode(c, offset, out);
    parts.push(b);
    offset += b.length;
  }
  out.splice(slot, 0, { name: node.name, tagAt: at, lengthAt: at + 1, lengthSize: length.length, valueAt: valueAt(length), valueLength: size });
  return Buffer.concat([tag, length, ...parts]);
}

export type SnmpVersion = 'v1' | 'v2c';

interface MessageSpec {
  version: SnmpVersion;
  community: string;
  pdu: number;
  requestId: bigint;
  /** error-status, error-index (non-repeaters, max-repetitions in a GetBulk). */
  errorFields: [bigint, bigint];
  varbinds: BerNode[];
}

const int = (name: string, v: bigint): BerNode => ({ name, tag: TAG.integer, value: berInteger(v) });
const varbind = (oid: string, value: BerNode = { name: 'varbind.value', tag: TAG.null, value: Buffer.alloc(0) }): BerNode =>
  ({ name: 'varbind', tag: TAG.sequence, children: [{ name: 'varbind.oid', tag: TAG.oid, value: berOid(oid) }, value] });

function messageTree(m: MessageSpec): BerNode {
  const bulk = m.pdu === TAG.getBulk;
  return {
    name: 'message', tag: TAG.sequence, children: [
      int('version', m.version === 'v1' ? 0n : 1n),
      { name: 'community', tag: TAG.octetString, value: Buffer.from(m.community, 'latin1') },
      {
        name: 'pdu', tag: m.pdu, children: [
          int('request-id', m.requestId),
          int(bulk ? 'non-repeaters' : 'error-status', m.errorFields[0]),
          int(bulk ? 'max-repetitions' : 'error-index', m.errorFields[1]),
          { name: 'varbinds', tag: TAG.sequence, children: m.varbinds },
        ],
      },
    ],
  };
}

export function encodeMessage(tree: BerNode): { bytes: Buffer; located: Located[] } {
  const located: Located[] = [];
  return { bytes: encode(tree, 0, located), located };
}

/** Fixed-width fields of an encoded message for the engine's boundary mutations. */
function fieldsOf(located: readonly Located[]): FieldSpec[] {
  const out: FieldSpec[] = [];
  const seen = new Set<string>();
  for (const l of located) {
    if (seen.has(l.name)) continue;
    seen.add(l.name);
    out.push({ name: `${l.name}.tag`, offset: l.tagAt, size: 1, kind: 'code', ...(l.name === 'pdu' ? { min: TAG.get, max: TAG.report, extra: [0xa3, 0xa4, 0xa6, 0xa7, 0xbf, 0x30] } : {}) });
    if (l.lengthSize === 1) out.push({ name: `${l.name}.length`, offset: l.lengthAt, size: 1, kind: 'length', min: l.valueLength, max: l.valueLength });
    const value = (kind: FieldSpec['kind'], min?: number, max?: number, extra?: number[]): FieldSpec =>
      ({ name: `${l.name}.value`, offset: l.valueAt, size: 1, kind, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}), ...(extra ? { extra } : {}) });
    if (l.name === 'version') out.push(value('id', 0, 1, [3]));
    if (l.name === 'error-status') out.push(value('code', 0, 18));
    if (l.name === 'error-index' || l.name === 'non-repeaters') out.push(value('count', 0, 1));
    if (l.name === 'max-repetitions') out.push(value('count', 0, 0x7f));
    if (l.name === 'request-id' && l.valueLength >= 2) out.push({ name: 'request-id.value', offset: l.valueAt, size: 2, kind: 'id' });
    if (l.name === 'varbind.oid') out.push(value('value', undefined, undefined, [0x00, 0x28, 0x50, 0x80]));
  }
  return out;
}

type Change = (m: MessageSpec, tree: BerNode) => void;

const child = (tree: BerNode, ...path: string[]): BerNode => {
  let node = tree;
  for (const name of path) {
    if (!('children' in node)) throw new Error(`${node.name} has no children`);
    node = node.children.find((c) => c.name === name)!;
  }
  return node;
};
const setValue = (node: BerNode, value: Buffer) => Object.assign(node, { value });
const nested = (depth: number): BerNode => (depth === 0 ? { name: 'nested', tag: TAG.null, value: Buffer.alloc(0) } : { name: 'nested', tag: TAG.sequence, children: [nested(depth - 1)] });

/** Size-changing mutations of the GetRequest template, each re-encoded with consistent enclosing lengths. */
const RESIZING: [field: string, mutation: string, change: Change][] = [
  ['community', 'community empty', (m) => { m.community = ''; }],
  ['community', 'community of 255 bytes (long-form length)', (m) => { m.community = 'c'.repeat(255); }],
  ['community', 'community of 1300 bytes', (m) => { m.community = 'c'.repeat(1300); }],
  ['community', 'community with NUL and 0xff bytes', (m) => { m.community = `${m.community}\x00\xff`; }],
  ['community', 'another community (not the profile\'s)', (m) => { m.community = 'iacs-probe-wrong'; }],
  ...([[2n, '2'], [3n, '3 (v3 number, v2c body)'], [-1n, '-1'], [256n, '256'], [2n ** 31n, '2^31'], [2n ** 63n, '2^63 (9 bytes)']] as const).map(([v, why]): [string, string, Change] =>
    ['version', `version = ${why}`, (_m, t) => { setValue(child(t, 'version'), berInteger(v)); }]),
  ['version', 'version INTEGER of length 0', (_m, t) => { setValue(child(t, 'version'), Buffer.alloc(0)); }],
  ...([[0n, '0'], [-1n, '-1'], [2n ** 31n - 1n, '2^31-1'], [2n ** 31n, '2^31 (5 bytes)'], [-(2n ** 31n) - 1n, '-2^31-1'], [2n ** 71n, '2^71 (10 bytes)']] as const).map(([v, why]): [string, string, Change] =>
    ['request-id', `request-id = ${why}`, (m) => { m.requestId = v; }]),
  ['request-id', 'request-id INTEGER of length 0', (_m, t) => { setValue(child(t, 'pdu', 'request-id'), Buffer.alloc(0)); }],
  ['request-id', 'request-id with a non-minimal leading 0x00 (BER, not DER)', (_m, t) => { setValue(child(t, 'pdu', 'request-id'), Buffer.concat([Buffer.from([0]), berInteger(0x1a2b3c4dn)])); }],
  ['message.length', 'message length in long form 0x81 nn (non-minimal)', (_m, t) => { t.rawLength = Buffer.from([0x81, encode(t, 0, []).length - 2]); }],
  ['message.length', 'message length in long form 0x84 00 00 00 nn (non-minimal)', (_m, t) => { t.rawLength = Buffer.from([0x84, 0, 0, 0, encode(t, 0, []).length - 2]); }],
  ['message.length', 'message length 0x84 ff ff ff ff (4 GiB)', (_m, t) => { t.rawLength = Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]); }],
  ['message.length', 'message length with 9 length bytes', (_m, t) => { t.rawLength = Buffer.from([0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0x40]); }],
  ['message.length', 'indefinite length 0x80 (forbidden in SNMP) with end-of-contents', (_m, t) => { t.rawLength = Buffer.from([0x80]); }],
  ['pdu.length', 'PDU length 0x84 ff ff ff ff', (_m, t) => { child(t, 'pdu').rawLength = Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]); }],
  ['varbinds.length', 'varbind list length 0x82 ff ff', (_m, t) => { child(t, 'pdu', 'varbinds').rawLength = Buffer.from([0x82, 0xff, 0xff]); }],
  ['varbind.oid', 'OID empty', (_m, t) => { setValue(child(t, 'pdu', 'varbinds', 'varbind', 'varbind.oid'), Buffer.alloc(0)); }],
  ['varbind.oid', 'OID of one byte (1.3)', (_m, t) => { setValue(child(t, 'pdu', 'varbinds', 'varbind', 'varbind.oid'), Buffer.from([0x2b])); }],
  ['varbind.oid', 'OID sub-identifier 2^32', (m) => { m.varbinds = [varbind(`1.3.6.1.2.1.1.3.${2n ** 32n}`)]; }],
  ['varbind.oid', 'OID sub-identifier 2^64 (10 bytes)', (m) => { m.varbinds = [varbind(`1.3.6.1.2.1.1.3.${2n ** 64n}`)]; }],
  ['varbind.oid', 'OID sub-identifier with a non-minimal 0x80 padding byte', (_m, t) => { const o = child(t, 'pdu', 'varbinds', 'varbind', 'varbind.oid'); setValue(o, Buffer.concat([(o as { value: Buffer }).value.subarray(0, -1), Buffer.from([0x80, 0x00])])); }],
  ['varbind.oid', 'OID ending inside a sub-identifier (continuation bit set)', (_m, t) => { const o = child(t, 'pdu', 'varbinds', 'varbind', 'varbind.oid'); setValue(o, Buffer.concat([(o as { value: Buffer }).value, Buffer.from([0x81])])); }],
  ['varbind.oid', 'OID of 128 sub-identifiers (the SMI maximum)', (m) => { m.varbinds = [varbind(`1.3${'.1'.repeat(126)}`)]; }],
  ['varbind.oid', 'OID of 1000 sub-identifiers', (m) => { m.varbinds = [varbind(`1.3${'.1'.repeat(998)}`)]; }],
  ['varbind.value', 'value INTEGER 5 instead of NULL', (m) => { m.varbinds = [varbind('1.3.6.1.2.1.1.3.0', int('varbind.value', 5n))]; }],
  ['varbind.value', 'value OCTET STRING of 1000 bytes', (m) => { m.varbinds = [varbind('1.3.6.1.2.1.1.3.0', { name: 'varbind.value', tag: TAG.octetString, value: Buffer.alloc(1000, 0x41) })]; }],
  ['varbind.value', 'value Counter64 of 9 bytes', (m) => { m.varbinds = [varbind('1.3.6.1.2.1.1.3.0', { name: 'varbind.value', tag: 0x46, value: Buffer.alloc(9, 0xff) })]; }],
  ['varbind.value', 'value with a multi-byte tag (0x9f 0x78)', (m) => { m.varbinds = [varbind('1.3.6.1.2.1.1.3.0', { name: 'varbind.value', tag: 0x9f, value: Buffer.from([0x78, 0x00]) })]; }],
  ['varbind.value', 'value nested 60 SEQUENCEs deep', (m) => { m.varbinds = [varbind('1.3.6.1.2.1.1.3.0', nested(60))]; }],
  ['varbinds', 'empty varbind list', (m) => { m.varbinds = []; }],
  ['varbinds', '100 varbinds', (m) => { m.varbinds = Array.from({ length: 100 }, () => varbind('1.3.6.1.2.1.1.3.0')); }],
  ['varbinds', 'varbind without a value', (m) => { m.varbinds = [{ name: 'varbind', tag: TAG.sequence, children: [{ name: 'varbind.oid', tag: TAG.oid, value: berOid('1.3.6.1.2.1.1.3.0') }] }]; }],
];

function resizedCases(base: MessageSpec): TemplateCase[] {
  return RESIZING.map(([field, mutation, change]) => {
    const m: MessageSpec = { ...base, varbinds: [...base.varbinds] };
    const tree = messageTree(m);
    change(m, tree);
    // A change edits either the spec (community, request-id, varbinds: re-encoded) or the tree (kept as edited).
    const specChanged = m.community !== base.community || m.requestId !== base.requestId
      || m.varbinds.length !== base.varbinds.length || m.varbinds.some((v, i) => v !== base.varbinds[i]);
    const final = specChanged ? messageTree(m) : tree;
    const bytes = encodeMessage(final).bytes;
    // An indefinite length ends with the end-of-contents octets.
    return { field, mutation, bytes: final.rawLength?.[0] === 0x80 ? Buffer.concat([bytes, Buffer.from([0, 0])]) : bytes };
  });
}

const SYS_UPTIME = '1.3.6.1.2.1.1.3.0';
const SYSTEM = '1.3.6.1.2.1.1';

export interface SnmpGrammarOptions {
  version: SnmpVersion;
  community: string;
}

export function snmpTemplates(o: SnmpGrammarOptions): FrameTemplate[] {
  const spec = (pdu: number, oid: string, errorFields: [bigint, bigint] = [0n, 0n], version = o.version): MessageSpec =>
    ({ version, community: o.community, pdu, requestId: 0x1a2b3c4dn, errorFields, varbinds: [varbind(oid)] });
  const template = (name: string, m: MessageSpec, cases: TemplateCase[] = []): FrameTemplate => {
    const { bytes, located } = encodeMessage(messageTree(m));
    return { name, bytes, fields: fieldsOf(located), cases };
  };
  const get = spec(TAG.get, SYS_UPTIME);
  return [
    template(`snmp-${o.version}-get-sysuptime`, get, resizedCases(get)),
    template(`snmp-${o.version === 'v1' ? 'v2c' : 'v1'}-get-sysuptime`, spec(TAG.get, SYS_UPTIME, [0n, 0n], o.version === 'v1' ? 'v2c' : 'v1')),
    template(`snmp-${o.version}-getnext-system`, spec(TAG.getNext, SYSTEM)),
    template('snmp-v2c-getbulk-system', spec(TAG.getBulk, SYSTEM, [0n, 10n], 'v2c')),
  ];
}

/** The normal request: a GET of sysUpTime.0 with its own request-id. */
export function snmpCheckRequest(o: SnmpGrammarOptions): Buffer {
  return encodeMessage(messageTree({ version: o.version, community: o.community, pdu: TAG.get, requestId: 0x7fff0001n, errorFields: [0n, 0n], varbinds: [varbind(SYS_UPTIME)] })).bytes;
}

/** One BER TLV: its tag, where its value lies, where it ends; undefined when the bytes do not hold one. */
function readTlv(b: Buffer, at: number): { tag: number; valueAt: number; end: number } | undefined {
  if (at + 2 > b.length) return undefined;
  let length = b[at + 1];
  let valueAt = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || valueAt + n > b.length) return undefined;
    length = b.subarray(valueAt, valueAt + n).reduce((v, x) => v * 256 + x, 0);
    valueAt += n;
  }
  return valueAt + length > b.length ? undefined : { tag: b[at], valueAt, end: valueAt + length };
}

const ERROR_STATUS = ['noError', 'tooBig', 'noSuchName', 'badValue', 'readOnly', 'genErr', 'noAccess', 'wrongType', 'wrongLength', 'wrongEncoding',
  'wrongValue', 'noCreation', 'inconsistentValue', 'resourceUnavailable', 'commitFailed', 'undoFailed', 'authorizationError', 'notWritable', 'inconsistentName'];

/** What an SNMP answer says: a GetResponse without error is a reply, with an error status or a Report a refusal. */
export function decodeSnmpAnswer(b: Buffer): Classification & { requestId?: number } {
  const invalid = (why: string): Classification => ({ kind: 'invalid', detail: `not an SNMP response: ${why}` });
  const message = readTlv(b, 0);
  if (!message || message.tag !== TAG.sequence) return invalid('no outer SEQUENCE');
  const version = readTlv(b, message.valueAt);
  const community = version && readTlv(b, version.end);
  const pdu = community && readTlv(b, community.end);
  if (!version || version.tag !== TAG.integer || !community || community.tag !== TAG.octetString || !pdu) return invalid('no version, community and PDU');
  if (pdu.tag === TAG.report) return { kind: 'exception', detail: 'Report PDU' };
  if (pdu.tag !== TAG.response) return invalid(`PDU type 0x${pdu.tag.toString(16)}`);
  const requestId = readTlv(b, pdu.valueAt);
  const status = requestId && readTlv(b, requestId.end);
  if (!requestId || !status || status.tag !== TAG.integer || status.end - status.valueAt !== 1) return invalid('GetResponse without request-id and error-status');
  const id = b.subarray(requestId.valueAt, requestId.end).reduce((v, x) => v * 256 + x, 0);
  const code = b[status.valueAt];
  if (code === 0) return { kind: 'reply', detail: 'GetResponse noError', requestId: id };
  return { kind: 'exception', detail: `GetResponse error-status ${code} (${ERROR_STATUS[code] ?? 'unknown'})`, requestId: id };
}

/**
 * The fuzz core's SNMP target over UDP (params: version, community). Silence is a normal reaction to a
 * malformed datagram; the normal request is a GET of sysUpTime.0 answered by a GetResponse without error.
 */
export const snmpFuzzTarget: FuzzTargetFactory = (endpoint, params) => {
  const version = param<string>(params, 'version', 'v2c');
  if (version !== 'v1' && version !== 'v2c') throw new TypeError(`snmp fuzz target: version ${version} (v1 or v2c)`);
  const options: SnmpGrammarOptions = { version, community: param(params, 'community', 'public') };
  const check = snmpCheckRequest(options);
  return {
    protocol: 'snmp',
    transport: 'udp',
    params: { version },
    templates: snmpTemplates(options),
    checkDescription: `${version} GetRequest sysUpTime.0`,
    sendCase: (c, waitMs, signal) => sendDatagramCase(endpoint, c.bytes, { waitMs, signal, classify: decodeSnmpAnswer }),
    async answersNormally(waitMs, signal) {
      const r = await sendDatagramCase(endpoint, check, { waitMs, signal, classify: decodeSnmpAnswer });
      const answer = r.kind === 'reply' ? decodeSnmpAnswer(Buffer.from(r.hex.replace(/\s+/g, ''), 'hex')) : undefined;
      return { ok: answer?.requestId === 0x7fff0001, kind: r.kind, detail: r.detail, ...(r.code ? { code: r.code } : {}) };
    },
  };
};
