/**
 * TLS wire format (RFC 5246, RFC 8446): the records, handshake messages and extensions a scanner needs to
 * build a ClientHello and read what a server answers, without completing a handshake.
 */
import { randomBytes } from 'node:crypto';

export const ContentType = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;

export const HandshakeType = {
  clientHello: 1, serverHello: 2, newSessionTicket: 4, encryptedExtensions: 8, certificate: 11,
  serverKeyExchange: 12, certificateRequest: 13, serverHelloDone: 14, certificateVerify: 15, finished: 20,
  certificateStatus: 22,
} as const;

export const ExtensionType = {
  serverName: 0, statusRequest: 5, supportedGroups: 10, ecPointFormats: 11, signatureAlgorithms: 13, heartbeat: 15,
  alpn: 16, padding: 21, encryptThenMac: 22, extendedMasterSecret: 23, sessionTicket: 35, supportedVersions: 43,
  pskKeyExchangeModes: 45, certificateAuthorities: 47, keyShare: 51, renegotiationInfo: 0xff01,
} as const;

/** Named groups (RFC 8422, RFC 7919, RFC 8446, RFC 8734, draft-ietf-tls-ecdhe-mlkem) with their size in bits. */
export interface NamedGroup {
  readonly id: number;
  readonly name: string;
  /** Field or modulus size: what policies compare against (x25519: 255). */
  readonly bits: number;
  readonly kind: 'ec' | 'ecx' | 'ffdhe' | 'hybrid';
  /** Only meaningful in TLS 1.3 (hybrid post-quantum and brainpool *tls13 code points). */
  readonly tls13Only?: boolean;
}

const sect = (id: number, name: string, bits: number): NamedGroup => ({ id, name, bits, kind: 'ec' });

export const NAMED_GROUPS: readonly NamedGroup[] = [
  sect(1, 'sect163k1', 163), sect(2, 'sect163r1', 163), sect(3, 'sect163r2', 163), sect(4, 'sect193r1', 193),
  sect(5, 'sect193r2', 193), sect(6, 'sect233k1', 233), sect(7, 'sect233r1', 233), sect(8, 'sect239k1', 239),
  sect(9, 'sect283k1', 283), sect(10, 'sect283r1', 283), sect(11, 'sect409k1', 409), sect(12, 'sect409r1', 409),
  sect(13, 'sect571k1', 571), sect(14, 'sect571r1', 571), sect(15, 'secp160k1', 160), sect(16, 'secp160r1', 160),
  sect(17, 'secp160r2', 160), sect(18, 'secp192k1', 192), sect(19, 'secp192r1', 192), sect(20, 'secp224k1', 224),
  sect(21, 'secp224r1', 224), sect(22, 'secp256k1', 256), sect(23, 'secp256r1', 256), sect(24, 'secp384r1', 384),
  sect(25, 'secp521r1', 521), sect(26, 'brainpoolP256r1', 256), sect(27, 'brainpoolP384r1', 384),
  sect(28, 'brainpoolP512r1', 512),
  { id: 29, name: 'x25519', bits: 255, kind: 'ecx' }, { id: 30, name: 'x448', bits: 448, kind: 'ecx' },
  { id: 31, name: 'brainpoolP256r1tls13', bits: 256, kind: 'ec', tls13Only: true },
  { id: 32, name: 'brainpoolP384r1tls13', bits: 384, kind: 'ec', tls13Only: true },
  { id: 33, name: 'brainpoolP512r1tls13', bits: 512, kind: 'ec', tls13Only: true },
  { id: 256, name: 'ffdhe2048', bits: 2048, kind: 'ffdhe' }, { id: 257, name: 'ffdhe3072', bits: 3072, kind: 'ffdhe' },
  { id: 258, name: 'ffdhe4096', bits: 4096, kind: 'ffdhe' }, { id: 259, name: 'ffdhe6144', bits: 6144, kind: 'ffdhe' },
  { id: 260, name: 'ffdhe8192', bits: 8192, kind: 'ffdhe' },
  { id: 0x11eb, name: 'SecP256r1MLKEM768', bits: 256, kind: 'hybrid', tls13Only: true },
  { id: 0x11ec, name: 'X25519MLKEM768', bits: 255, kind: 'hybrid', tls13Only: true },
  { id: 0x11ed, name: 'SecP384r1MLKEM1024', bits: 384, kind: 'hybrid', tls13Only: true },
];

const groupById = new Map(NAMED_GROUPS.map((g) => [g.id, g]));
export function namedGroup(id: number): NamedGroup | undefined {
  return groupById.get(id);
}
const groupByName = new Map(NAMED_GROUPS.map((g) => [g.name, g]));
export function namedGroupByName(name: string): NamedGroup | undefined {
  return groupByName.get(name);
}
export function groupName(id: number): string {
  return groupById.get(id)?.name ?? `0x${id.toString(16).padStart(4, '0')}`;
}

/** SignatureScheme values offered (RFC 8446 4.2.3 plus the legacy SHA-1/MD5/DSA pairs of RFC 5246). */
export const SIGNATURE_SCHEMES: readonly number[] = [
  0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x081a, 0x081b, 0x081c, 0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b,
  0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602, 0x0203, 0x0201, 0x0202, 0x0101,
];

export const AlertDescription: Readonly<Record<number, string>> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 22: 'record_overflow', 40: 'handshake_failure',
  41: 'no_certificate', 42: 'bad_certificate', 43: 'unsupported_certificate', 44: 'certificate_revoked',
  45: 'certificate_expired', 46: 'certificate_unknown', 47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied',
  50: 'decode_error', 51: 'decrypt_error', 70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
  86: 'inappropriate_fallback', 90: 'user_canceled', 109: 'missing_extension', 110: 'unsupported_extension',
  112: 'unrecognized_name', 116: 'certificate_required', 120: 'no_application_protocol',
};

/** SHA-256("HelloRetryRequest"): the ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3). */
export const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');
const DOWNGRADE_TLS12 = Buffer.from('444f574e47524401', 'hex');
const DOWNGRADE_TLS11 = Buffer.from('444f574e47524400', 'hex');

// ---------------------------------------------------------------------------------------------- encoding

function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
/** A length-prefixed vector (prefix of 1, 2 or 3 bytes). */
export function vec(width: 1 | 2 | 3, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const len = width === 1 ? u8(body.length) : width === 2 ? u16(body.length) : u24(body.length);
  return Buffer.concat([len, body]);
}
function u16list(values: readonly number[]): Buffer {
  return Buffer.concat(values.map(u16));
}
function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), vec(2, body)]);
}
export function handshakeMessage(type: number, body: Buffer): Buffer {
  return Buffer.concat([u8(type), vec(3, body)]);
}
export function record(type: number, version: number, body: Buffer): Buffer {
  return Buffer.concat([u8(type), u16(version), vec(2, body)]);
}

export interface KeyShareOffer {
  readonly group: number;
  readonly key: Buffer;
}

export interface ClientHelloOptions {
  /** ClientHello.client_version (legacy_version; 0x0303 for TLS 1.3 hellos). */
  readonly version: number;
  readonly suites: readonly number[];
  /** supported_versions extension (TLS 1.3); omitted when absent. */
  readonly supportedVersions?: readonly number[];
  readonly serverName?: string;
  readonly groups?: readonly number[];
  readonly signatureSchemes?: readonly number[];
  /** key_share entries; an empty array sends an empty list (asks for a HelloRetryRequest). */
  readonly keyShares?: readonly KeyShareOffer[];
  /** Compression methods; [0] unless probing for compression. */
  readonly compression?: readonly number[];
  /** Ask for OCSP stapling (status_request). */
  readonly statusRequest?: boolean;
  /** Record-layer version; 0x0301 by default (0x0300 for SSLv3 hellos). */
  readonly recordVersion?: number;
  readonly random?: Buffer;
  readonly sessionId?: Buffer;
}

/** The ClientHello handshake message (header included, as hashed into the TLS 1.3 transcript). */
export function clientHelloMessage(o: ClientHelloOptions): Buffer {
  const exts: Buffer[] = [];
  if (o.serverName) {
    const name = Buffer.from(o.serverName, 'ascii');
    exts.push(extension(ExtensionType.serverName, vec(2, u8(0), vec(2, name))));
  }
  if (o.statusRequest) exts.push(extension(ExtensionType.statusRequest, Buffer.from([1, 0, 0, 0, 0])));
  if (o.groups && o.groups.length > 0) {
    exts.push(extension(ExtensionType.supportedGroups, vec(2, u16list(o.groups))));
    exts.push(extension(ExtensionType.ecPointFormats, vec(1, u8(0))));
  }
  if (o.signatureSchemes && o.version >= 0x0303) {
    exts.push(extension(ExtensionType.signatureAlgorithms, vec(2, u16list(o.signatureSchemes))));
  }
  exts.push(extension(ExtensionType.sessionTicket, Buffer.alloc(0)));
  exts.push(extension(ExtensionType.encryptThenMac, Buffer.alloc(0)));
  exts.push(extension(ExtensionType.extendedMasterSecret, Buffer.alloc(0)));
  if (o.supportedVersions) {
    exts.push(extension(ExtensionType.supportedVersions, vec(1, u16list(o.supportedVersions))));
    exts.push(extension(ExtensionType.pskKeyExchangeModes, vec(1, u8(1))));
  }
  if (o.keyShares) {
    exts.push(extension(ExtensionType.keyShare, vec(2, ...o.keyShares.map((k) => Buffer.concat([u16(k.group), vec(2, k.key)])))));
  }
  const build = (extra: Buffer[]) => handshakeMessage(HandshakeType.clientHello, Buffer.concat([
    u16(o.version),
    o.random ?? randomBytes(32),
    vec(1, o.sessionId ?? randomBytes(32)),
    vec(2, u16list(o.suites)),
    vec(1, Buffer.from(o.compression ?? [0])),
    vec(2, ...exts, ...extra),
  ]));
  const hello = build([]);
  // Some stacks hang on ClientHellos of 256..511 bytes (RFC 7685 §1): pad those to 512, as OpenSSL does.
  if (hello.length >= 256 && hello.length < 512) {
    const pad = Math.max(1, 512 - hello.length - 4);
    return build([extension(ExtensionType.padding, Buffer.alloc(pad))]);
  }
  return hello;
}

// ---------------------------------------------------------------------------------------------- decoding

/** Thrown when bytes that claim to be TLS do not parse. */
export class TlsDecodeError extends Error {}

export class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new TlsDecodeError(`truncated: need ${n} bytes at ${this.pos} of ${this.buf.length}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  vec(width: 1 | 2 | 3): Buffer {
    const n = width === 1 ? this.u8() : width === 2 ? this.u16() : this.u24();
    return this.bytes(n);
  }
  rest(): Buffer {
    return this.bytes(this.remaining);
  }
}

export interface Extension {
  readonly type: number;
  readonly data: Buffer;
}

function readExtensions(r: Reader): Extension[] {
  if (r.remaining === 0) return [];
  const block = new Reader(r.vec(2));
  const out: Extension[] = [];
  while (block.remaining > 0) out.push({ type: block.u16(), data: block.vec(2) });
  return out;
}

export interface ServerHello {
  /** legacy_version field */
  readonly legacyVersion: number;
  /** Negotiated version: supported_versions when present (TLS 1.3), else legacy_version. */
  readonly version: number;
  readonly random: Buffer;
  readonly sessionId: Buffer;
  readonly suite: number;
  readonly compression: number;
  readonly extensions: readonly Extension[];
  readonly helloRetryRequest: boolean;
  /** Group of the key_share (ServerHello) or the selected_group (HelloRetryRequest). */
  readonly keyShareGroup?: number;
  readonly keyShare?: Buffer;
  /** RFC 8446 4.1.3 downgrade sentinel in the random, when a TLS 1.3 server negotiated an older version. */
  readonly downgradeSentinel?: 'TLSv1.2' | 'TLSv1.1';
}

export function parseServerHello(body: Buffer): ServerHello {
  const r = new Reader(body);
  const legacyVersion = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec(1);
  const suite = r.u16();
  const compression = r.u8();
  const extensions = readExtensions(r);
  const helloRetryRequest = random.equals(HRR_RANDOM);
  let version = legacyVersion;
  let keyShareGroup: number | undefined;
  let keyShare: Buffer | undefined;
  for (const e of extensions) {
    if (e.type === ExtensionType.supportedVersions && e.data.length === 2) version = e.data.readUInt16BE(0);
    if (e.type === ExtensionType.keyShare && e.data.length >= 2) {
      const kr = new Reader(e.data);
      keyShareGroup = kr.u16();
      if (!helloRetryRequest) keyShare = kr.vec(2);
    }
  }
  const tail = random.subarray(24);
  const downgradeSentinel = tail.equals(DOWNGRADE_TLS12) ? 'TLSv1.2' : tail.equals(DOWNGRADE_TLS11) ? 'TLSv1.1' : undefined;
  return { legacyVersion, version, random, sessionId, suite, compression, extensions, helloRetryRequest, keyShareGroup, keyShare, downgradeSentinel };
}

/** Certificate message: TLS 1.2 is a list of DER certificates; TLS 1.3 adds a context and per-entry extensions. */
export function parseCertificateMessage(body: Buffer, tls13: boolean): Buffer[] {
  const r = new Reader(body);
  if (tls13) r.vec(1);
  const list = new Reader(r.vec(3));
  const out: Buffer[] = [];
  while (list.remaining > 0) {
    out.push(Buffer.from(list.vec(3)));
    if (tls13) list.vec(2);
  }
  return out;
}

export type ServerKeyExchange =
  | { readonly kind: 'ecdhe'; readonly group: number; readonly signatureScheme?: number }
  | { readonly kind: 'dhe'; readonly primeBits: number; readonly signatureScheme?: number }
  | { readonly kind: 'rsa'; readonly modulusBits: number };

function bitLength(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]));
}

/** ServerKeyExchange for the suite's key exchange (RFC 4492 5.4, RFC 5246 7.4.3); undefined when unknown. */
export function parseServerKeyExchange(body: Buffer, kex: string, version: number): ServerKeyExchange | undefined {
  const r = new Reader(body);
  const scheme = (): number | undefined => (version >= 0x0303 && r.remaining >= 2 ? r.u16() : undefined);
  if (kex === 'ECDHE' || kex === 'ECDHE_PSK') {
    if (kex === 'ECDHE_PSK') r.vec(2);
    const curveType = r.u8();
    if (curveType !== 3) return undefined;
    const group = r.u16();
    r.vec(1);
    return { kind: 'ecdhe', group, signatureScheme: scheme() };
  }
  if (kex === 'DHE' || kex === 'DHE_PSK') {
    if (kex === 'DHE_PSK') r.vec(2);
    const p = r.vec(2);
    r.vec(2);
    r.vec(2);
    return { kind: 'dhe', primeBits: bitLength(p), signatureScheme: scheme() };
  }
  if (kex === 'RSA') {
    // Export suites: a temporary RSA key (RFC 2246 7.4.3).
    return { kind: 'rsa', modulusBits: bitLength(r.vec(2)) };
  }
  return undefined;
}

export interface CertificateRequest {
  /** TLS 1.2 ClientCertificateType values; empty in TLS 1.3. */
  readonly certificateTypes: readonly number[];
  readonly signatureSchemes: readonly number[];
  /** DER-encoded distinguished names of the acceptable CAs. */
  readonly authorities: readonly Buffer[];
}

function readAuthorities(data: Buffer): Buffer[] {
  const r = new Reader(data);
  const out: Buffer[] = [];
  while (r.remaining > 0) out.push(Buffer.from(r.vec(2)));
  return out;
}

export function parseCertificateRequest(body: Buffer, version: number): CertificateRequest {
  const r = new Reader(body);
  if (version >= 0x0304) {
    r.vec(1);
    let signatureSchemes: number[] = [];
    let authorities: Buffer[] = [];
    for (const e of readExtensions(r)) {
      if (e.type === ExtensionType.signatureAlgorithms) signatureSchemes = u16s(new Reader(e.data).vec(2));
      if (e.type === ExtensionType.certificateAuthorities) authorities = readAuthorities(new Reader(e.data).vec(2));
    }
    return { certificateTypes: [], signatureSchemes, authorities };
  }
  const certificateTypes = [...r.vec(1)];
  const signatureSchemes = version >= 0x0303 ? u16s(r.vec(2)) : [];
  return { certificateTypes, signatureSchemes, authorities: readAuthorities(r.vec(2)) };
}

function u16s(data: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < data.length; i += 2) out.push(data.readUInt16BE(i));
  return out;
}

export interface TlsRecord {
  readonly type: number;
  readonly version: number;
  /** The 5-byte header (the AEAD additional data of TLS 1.3). */
  readonly header: Buffer;
  readonly body: Buffer;
}

/**
 * Splits complete records off the front of `buf`. Returns the records and the unconsumed rest; throws
 * TlsDecodeError when the bytes cannot be TLS (unknown content type, version major not 3, oversized).
 */
export function takeRecords(buf: Buffer): { records: TlsRecord[]; rest: Buffer } {
  const records: TlsRecord[] = [];
  let pos = 0;
  while (buf.length - pos >= 5) {
    const type = buf[pos];
    const version = buf.readUInt16BE(pos + 1);
    const length = buf.readUInt16BE(pos + 3);
    if (type < 20 || type > 24 || buf[pos + 1] !== 3 || length > 18432) {
      throw new TlsDecodeError(`not a TLS record: ${buf.subarray(pos, pos + 8).toString('hex')}`);
    }
    if (buf.length - pos < 5 + length) break;
    records.push({ type, version, header: buf.subarray(pos, pos + 5), body: buf.subarray(pos + 5, pos + 5 + length) });
    pos += 5 + length;
  }
  if (pos === 0 && buf.length >= 1 && (buf[0] < 20 || buf[0] > 24)) {
    throw new TlsDecodeError(`not a TLS record: ${buf.subarray(0, 8).toString('hex')}`);
  }
  return { records, rest: buf.subarray(pos) };
}

/** Reassembles handshake messages that may span or share records. */
export class HandshakeBuffer {
  private pending = Buffer.alloc(0);

  push(data: Buffer): { type: number; body: Buffer; raw: Buffer }[] {
    this.pending = Buffer.concat([this.pending, data]);
    const out: { type: number; body: Buffer; raw: Buffer }[] = [];
    while (this.pending.length >= 4) {
      const len = this.pending.readUIntBE(1, 3);
      if (this.pending.length < 4 + len) break;
      const raw = Buffer.from(this.pending.subarray(0, 4 + len));
      out.push({ type: raw[0], body: raw.subarray(4), raw });
      this.pending = this.pending.subarray(4 + len);
    }
    return out;
  }
}
