import { randomBytes } from 'node:crypto';
import type { Transcript } from '../sdk';
import { withDatagramChannel } from './datagram';
import { AlertDescription, ContentType, ExtensionType, HandshakeType, vec } from './tls/wire';

/**
 * DTLS detection (RFC 6347): one DTLS 1.2 ClientHello datagram and a reading of the first flight back. Node
 * has no DTLS, and detection needs no more: a HelloVerifyRequest (the stateless cookie exchange), a
 * ServerHello or a DTLS alert shows a DTLS server; nothing is negotiated further.
 */

export const DTLS_VERSIONS: Readonly<Record<number, string>> = { 0xfeff: 'DTLS 1.0', 0xfefd: 'DTLS 1.2', 0xfefc: 'DTLS 1.3' };
const HELLO_VERIFY_REQUEST = 3;

/** ECDHE with AES-GCM/CBC, plain and ECDHE PSK suites (the CIP Security profiles use certificates or PSKs). */
const SUITES = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xc023, 0xc027, 0xc037, 0x00a8, 0x00ae, 0x009c, 0x003c];
const GROUPS = [0x001d, 0x0017, 0x0018];
const SIGNATURE_SCHEMES = [0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501];

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), vec(2, body)]);
}

/** A DTLS 1.2 ClientHello record (epoch 0, one fragment); the second one of a handshake repeats the first with the cookie. */
export function dtlsClientHello(random: Buffer = randomBytes(32), cookie: Buffer = Buffer.alloc(0), sequence = 0): Buffer {
  const body = Buffer.concat([
    u16(0xfefd), random, vec(1), vec(1, cookie), vec(2, ...SUITES.map(u16)), vec(1, Buffer.from([0])),
    vec(2,
      extension(ExtensionType.supportedGroups, vec(2, ...GROUPS.map(u16))),
      extension(ExtensionType.ecPointFormats, vec(1, Buffer.from([0]))),
      extension(ExtensionType.signatureAlgorithms, vec(2, ...SIGNATURE_SCHEMES.map(u16))),
      extension(ExtensionType.extendedMasterSecret, Buffer.alloc(0)),
      extension(ExtensionType.renegotiationInfo, vec(1))),
  ]);
  const handshake = Buffer.concat([Buffer.from([HandshakeType.clientHello]), u24(body.length), u16(sequence), u24(0), u24(body.length), body]);
  return dtlsRecord(ContentType.handshake, 0xfeff, sequence, handshake);
}

export function dtlsRecord(type: number, version: number, sequence: number, body: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(version, 1);
  header.writeUInt16BE(0, 3); // epoch
  header.writeUIntBE(sequence, 5, 6);
  header.writeUInt16BE(body.length, 11);
  return Buffer.concat([header, body]);
}

/** What a datagram says about the server: a DTLS first flight (with what it shows), or not DTLS. */
export type DtlsReading =
  | { kind: 'dtls'; message: 'HelloVerifyRequest'; version: string; cookie: Buffer }
  | { kind: 'dtls'; message: 'ServerHello'; version: string; cipherSuite: string }
  | { kind: 'dtls'; message: 'alert'; version: string; level: number; alert: string }
  | { kind: 'not-dtls'; reason: string };

/** Reads the first record of a datagram (a flight may hold more; the first one tells). */
export function readDtlsAnswer(datagram: Buffer): DtlsReading {
  if (datagram.length < 13) return { kind: 'not-dtls', reason: `${datagram.length}-byte datagram, shorter than a DTLS record header` };
  const type = datagram[0];
  const version = DTLS_VERSIONS[datagram.readUInt16BE(1)];
  const length = datagram.readUInt16BE(11);
  if (!version) return { kind: 'not-dtls', reason: `record version 0x${datagram.readUInt16BE(1).toString(16)} is no DTLS version` };
  if (13 + length > datagram.length) return { kind: 'not-dtls', reason: `record length ${length} runs past the ${datagram.length}-byte datagram` };
  const body = datagram.subarray(13, 13 + length);
  if (type === ContentType.alert && body.length === 2) {
    return { kind: 'dtls', message: 'alert', version, level: body[0], alert: AlertDescription[body[1]] ?? `alert ${body[1]}` };
  }
  if (type !== ContentType.handshake || body.length < 12) return { kind: 'not-dtls', reason: `record type ${type} with ${body.length} bytes is no handshake or alert` };
  const message = body.subarray(12);
  if (body[0] === HELLO_VERIFY_REQUEST && message.length >= 3 && message.length >= 3 + message[2]) {
    return { kind: 'dtls', message: 'HelloVerifyRequest', version: DTLS_VERSIONS[message.readUInt16BE(0)] ?? version, cookie: Buffer.from(message.subarray(3, 3 + message[2])) };
  }
  if (body[0] === HandshakeType.serverHello && message.length >= 35 && message.length >= 35 + message[34] + 2) {
    const suite = message.readUInt16BE(35 + message[34]);
    return { kind: 'dtls', message: 'ServerHello', version: DTLS_VERSIONS[message.readUInt16BE(0)] ?? version, cipherSuite: `0x${suite.toString(16).padStart(4, '0')}` };
  }
  return { kind: 'not-dtls', reason: `handshake message type ${body[0]} is neither HelloVerifyRequest nor ServerHello` };
}

/** What a server answered: the first flight, and after a HelloVerifyRequest the answer to the ClientHello with the cookie. */
export type DtlsProbe =
  | { kind: 'dtls'; first: string; version: string; cookieBytes?: number; cipherSuite?: string; alert?: string; afterCookie?: string }
  | { kind: 'not-dtls'; reason: string }
  | { kind: 'no-answer'; tries: number };

function describeReading(r: DtlsReading | { kind: 'no-answer' }): string {
  if (r.kind === 'no-answer') return 'no answer';
  if (r.kind === 'not-dtls') return `not DTLS: ${r.reason}`;
  if (r.message === 'ServerHello') return `ServerHello (${r.version}, suite ${r.cipherSuite})`;
  if (r.message === 'alert') return `alert ${r.alert} (level ${r.level})`;
  return `HelloVerifyRequest (${r.version})`;
}

/**
 * Sends a DTLS 1.2 ClientHello to the declared UDP port and reads the answer; after a HelloVerifyRequest it sends
 * the ClientHello again with the cookie, from the same socket, and reads what follows (a ServerHello, or an alert).
 * ICMP unreachable: TargetUnreachable.
 */
export async function probeDtls(endpoint: { host: string; port: number }, options: { signal: AbortSignal; timeoutMs?: number; retries?: number; transcript?: Transcript }): Promise<DtlsProbe> {
  return withDatagramChannel(endpoint, options.signal, async (channel) => {
    const random = randomBytes(32);
    const answer = await channel.exchange(dtlsClientHello(random), { ...options, what: 'DTLS 1.2 ClientHello' });
    if (answer.kind === 'no-answer') return { kind: 'no-answer', tries: answer.tries };
    const first = readDtlsAnswer(answer.bytes);
    options.transcript?.note(describeReading(first));
    if (first.kind === 'not-dtls') return first;
    const result: DtlsProbe = { kind: 'dtls', first: first.message, version: first.version };
    if (first.message === 'ServerHello') return { ...result, cipherSuite: first.cipherSuite };
    if (first.message === 'alert') return { ...result, alert: first.alert };
    const second = await channel.exchange(dtlsClientHello(random, first.cookie, 1), { ...options, what: 'DTLS 1.2 ClientHello with the cookie' });
    const followUp = second.kind === 'no-answer' ? second : readDtlsAnswer(second.bytes);
    options.transcript?.note(describeReading(followUp));
    const hello = followUp.kind === 'dtls' && followUp.message === 'ServerHello' ? followUp : undefined;
    // The HelloVerifyRequest says DTLS 1.0 whatever is negotiated (RFC 6347 4.2.1): the ServerHello tells.
    return { ...result, cookieBytes: first.cookie.length, afterCookie: describeReading(followUp), ...(hello ? { version: hello.version, cipherSuite: hello.cipherSuite } : {}) };
  });
}
