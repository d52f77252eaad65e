import { createHash } from 'node:crypto';
import type { FieldSpec, FrameTemplate } from '../fuzz/grammar';
import { failedCheck } from '../fuzz/normal-check';
import { param, type FuzzTarget, type FuzzTargetFactory, type NormalCheck } from '../fuzz/target';
import { plain, sendStreamCase, type Classification } from '../fuzz/transport';
import { fullHandshake } from './handshake';
import { PROTOCOL_VERSION } from './suites';
import {
  AlertDescription, ContentType, ExtensionType, HandshakeType, SIGNATURE_SCHEMES, TlsDecodeError, clientHelloMessage, parseServerHello,
  record, takeRecords,
} from './wire';

/**
 * The TLS grammar of the fuzzer: a TLS 1.2 ClientHello (RFC 5246 §7.4.1.2) and a TLS 1.3 one (RFC 8446 §4.1.2)
 * built with the scanner's own encoder, and where their fields are — record header (§6.2.1 / §5.1), handshake
 * header, client version, random, session id, cipher suites, compression, extensions, and the SNI (RFC 6066 §3),
 * supported_versions (§4.2.1), key_share (§4.2.8) and signature_algorithms (§4.2.3) extensions with their
 * inner lengths. The offsets are read from the built hello, so they follow the encoder.
 */

/** Fixed bytes where a real client puts random ones: the same seed must give the same cases. */
const FIXED_RANDOM = createHash('sha256').update('iacs-probe tls fuzz random').digest();
const FIXED_SESSION_ID = createHash('sha256').update('iacs-probe tls fuzz session').digest();
/** A valid X25519 public key (RFC 7748 §6.1, Alice's), so a TLS 1.3 server can compute a shared secret. */
const X25519_SHARE = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex');

const TLS12_SUITES = [0xc02f, 0xc02b, 0xc030, 0xc02c, 0xcca8, 0xcca9, 0x009e, 0xc013, 0xc014, 0x0033, 0x002f, 0x0035, 0x000a, 0x00ff];
const TLS13_SUITES = [0x1301, 0x1302, 0x1303];
const GROUPS = [29, 23, 24];

/** Extension length fields of the extensions the grammar knows, at the offset of the extension's type. */
function extensionFields(b: Buffer, at: number): FieldSpec[] {
  const type = b.readUInt16BE(at);
  const len = (name: string, offset: number, size: 1 | 2, extra: Partial<FieldSpec> = {}): FieldSpec => ({ name, offset, size, kind: 'length', ...extra });
  const code = (name: string, offset: number, extra: readonly number[]): FieldSpec => ({ name, offset, size: 2, kind: 'code', extra });
  switch (type) {
    case ExtensionType.serverName:
      return [len('sni.length', at + 2, 2), len('sni.list-length', at + 4, 2),
        { name: 'sni.name-type', offset: at + 6, size: 1, kind: 'code', extra: [1, 0xff] }, len('sni.host-name-length', at + 7, 2, { min: 1 })];
    case ExtensionType.supportedVersions:
      return [len('supported-versions.length', at + 2, 2), len('supported-versions.list-length', at + 4, 1, { min: 2, max: 254, extra: [3] }),
        code('supported-versions[0]', at + 5, [0x0300, 0x0302, 0x0305, 0x7f1c, 0x0a0a, 0xfefc])];
    case ExtensionType.keyShare:
      return [len('key-share.length', at + 2, 2), len('key-share.client-shares-length', at + 4, 2),
        code('key-share.group', at + 6, [0, 23, 0x0a0a, 0x11ec, 0xffff]), len('key-share.key-length', at + 8, 2, { min: 32, max: 32 })];
    case ExtensionType.signatureAlgorithms:
      return [len('signature-algorithms.length', at + 2, 2), len('signature-algorithms.list-length', at + 4, 2, { min: 2, max: 0xfffe, extra: [3] }),
        code('signature-algorithms[0]', at + 6, [0x0000, 0x0101, 0x0840, 0xfefe])];
    default:
      return [];
  }
}

/** The fields of a ClientHello record, found by walking it. */
export function clientHelloFields(b: Buffer): FieldSpec[] {
  const fields: FieldSpec[] = [
    { name: 'record.type', offset: 0, size: 1, kind: 'code', extra: [ContentType.changeCipherSpec, ContentType.alert, ContentType.applicationData, 24, 0xff] },
    { name: 'record.version', offset: 1, size: 2, kind: 'code', extra: [0x0200, 0x0300, 0x0303, 0x0304, 0xfefd] },
    // A record carries at most 2^14 bytes of plaintext (RFC 8446 §5.1); 2^14 + 1 must be record_overflow.
    { name: 'record.length', offset: 3, size: 2, kind: 'length', min: 4, max: 16384 },
    { name: 'handshake.type', offset: 5, size: 1, kind: 'code', extra: [0, HandshakeType.serverHello, HandshakeType.certificate, 16, HandshakeType.finished] },
    { name: 'handshake.length', offset: 6, size: 3, kind: 'length', min: 38, max: 16380 },
    { name: 'client-version', offset: 9, size: 2, kind: 'code', extra: [0x0002, 0x0300, 0x0301, 0x0302, 0x0304, 0x7f1c, 0xfefd] },
    { name: 'random', offset: 11, size: 4, kind: 'value' },
  ];
  let p = 43;
  fields.push({ name: 'session-id.length', offset: p, size: 1, kind: 'length', max: 32 });
  p += 1 + b[p];
  const suitesLength = b.readUInt16BE(p);
  // The list holds 2-byte codes: an odd length and one code too many or too few are worth their own cases.
  fields.push({ name: 'cipher-suites.length', offset: p, size: 2, kind: 'length', min: 2, max: 0xfffe, extra: [suitesLength - 1, suitesLength + 2] });
  fields.push({ name: 'cipher-suites[0]', offset: p + 2, size: 2, kind: 'code', extra: [0x0000, 0x00ff, 0x5600, 0x0a0a, 0x1301, 0xc02f] });
  p += 2 + suitesLength;
  fields.push({ name: 'compression.length', offset: p, size: 1, kind: 'length', min: 1 });
  fields.push({ name: 'compression[0]', offset: p + 1, size: 1, kind: 'code', extra: [1, 0x40] });
  p += 1 + b[p];
  const end = p + 2 + b.readUInt16BE(p);
  fields.push({ name: 'extensions.length', offset: p, size: 2, kind: 'length' });
  for (p += 2; p + 4 <= end; p += 4 + b.readUInt16BE(p + 2)) fields.push(...extensionFields(b, p));
  return fields;
}

function helloTemplate(name: string, message: Buffer): FrameTemplate {
  const bytes = record(ContentType.handshake, 0x0301, message);
  return { name, bytes, fields: clientHelloFields(bytes), lengthCovers: { field: 'record.length', from: 5 } };
}

/** The valid ClientHellos the cases start from: one TLS 1.2 hello and one TLS 1.3 hello. */
export function tlsTemplates(serverName: string): FrameTemplate[] {
  const common = { random: FIXED_RANDOM, sessionId: FIXED_SESSION_ID, serverName, groups: GROUPS, signatureSchemes: SIGNATURE_SCHEMES };
  return [
    helloTemplate('tls12-client-hello', clientHelloMessage({ ...common, version: PROTOCOL_VERSION['TLSv1.2'], suites: TLS12_SUITES })),
    helloTemplate('tls13-client-hello', clientHelloMessage({
      ...common, version: PROTOCOL_VERSION['TLSv1.2'], suites: [...TLS13_SUITES, ...TLS12_SUITES],
      supportedVersions: [PROTOCOL_VERSION['TLSv1.3'], PROTOCOL_VERSION['TLSv1.2']], keyShares: [{ group: 29, key: X25519_SHARE }],
    })),
  ];
}

const VERSION_NAMES = new Map(Object.entries(PROTOCOL_VERSION).map(([name, v]) => [v, name]));

/** What the first record the server sent means: a ServerHello, an alert, another message. */
function describeRecord(rec: { type: number; body: Buffer }): { kind: 'reply' | 'exception'; detail: string } {
  if (rec.type === ContentType.alert) {
    const level = rec.body[0] === 2 ? 'fatal' : rec.body[0] === 1 ? 'warning' : `level ${rec.body[0]}`;
    return { kind: 'exception', detail: `${level} alert ${AlertDescription[rec.body[1]] ?? `alert_${rec.body[1]}`}` };
  }
  if (rec.type === ContentType.handshake && rec.body[0] === HandshakeType.serverHello) {
    try {
      const hello = parseServerHello(rec.body.subarray(4));
      const what = hello.helloRetryRequest ? 'HelloRetryRequest' : 'ServerHello';
      return { kind: 'reply', detail: `${what} ${VERSION_NAMES.get(hello.version) ?? `0x${hello.version.toString(16)}`} suite 0x${hello.suite.toString(16).padStart(4, '0')}` };
    } catch {
      return { kind: 'reply', detail: 'ServerHello (split over records)' };
    }
  }
  return { kind: 'reply', detail: `record type ${rec.type}${rec.type === ContentType.handshake ? ` handshake type ${rec.body[0]}` : ''}` };
}

/** The first complete record, or `invalid` when the bytes cannot be TLS; undefined while incomplete. */
function firstRecord(received: Buffer): { type: number; body: Buffer } | 'invalid' | undefined {
  try {
    return takeRecords(received).records[0];
  } catch (err) {
    if (err instanceof TlsDecodeError) return 'invalid';
    throw err;
  }
}

/** What the server's bytes mean: its first record (a ServerHello, an alert), or bytes that are not TLS. */
function classifyTls(received: Buffer): Classification {
  const first = firstRecord(received);
  if (first === 'invalid') return { kind: 'invalid', detail: 'not a TLS record' };
  if (!first) return { kind: 'invalid', detail: `an incomplete TLS record (${received.length} bytes)` };
  return describeRecord(first);
}

/**
 * The TLS fuzz target: ClientHello cases on a connection each; the normal check is a full handshake (node:tls).
 * Params: `serverName`, the SNI host name of the hellos and the handshake (default: "localhost" in the hellos, none
 * in the handshake).
 */
export const tlsFuzzTarget: FuzzTargetFactory = (endpoint, params): FuzzTarget => {
  const serverName = param(params, 'serverName', '') || undefined;
  return {
    protocol: 'tls',
    transport: 'tcp',
    params: serverName ? { serverName } : {},
    templates: tlsTemplates(serverName ?? 'localhost'),
    checkDescription: '(node:tls, TLS 1.0 to 1.3, any certificate)',
    sendCase: (c, waitMs, signal) => sendStreamCase(plain(endpoint), c.bytes, { waitMs, signal, classify: classifyTls, complete: (r) => firstRecord(r) !== undefined }),
    async answersNormally(waitMs, signal): Promise<NormalCheck> {
      try {
        const result = await fullHandshake({ ...endpoint, ...(serverName ? { serverName } : {}) }, { signal, timeoutMs: waitMs });
        if (result.ok) return { ok: true, kind: 'reply', detail: `handshake completed: ${result.protocol} ${result.cipher}` };
        return { ok: false, kind: result.alert ? 'exception' : 'close', detail: `handshake failed: ${result.alert ?? result.message}` };
      } catch (err) {
        return failedCheck(err, signal);
      }
    },
  };
};
