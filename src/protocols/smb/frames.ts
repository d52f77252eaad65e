/**
 * SMB frames built here (no maintained npm SMB2 library exposes the NEGOTIATE facts or speaks SMB1): the direct-TCP
 * transport header (MS-SMB2 §2.1: a zero byte and a 24-bit length), the SMB1 NEGOTIATE of "NT LM 0.12" (MS-CIFS
 * §2.2.4.52, MS-SMB §2.2.4.5), and the SMB2 NEGOTIATE (§2.2.3/§2.2.4, with the 3.1.1 negotiate contexts),
 * SESSION_SETUP (§2.2.5/§2.2.6) and TREE_CONNECT (§2.2.9/§2.2.10) messages. Every frame is kept in a transcript.
 */
import type { FrameParse } from '../framed';

export const SMB2_MAGIC = 0xfe534d42; // "\xFESMB"
export const SMB1_MAGIC = 0xff534d42; // "\xFFSMB"
export const SMB2_HEADER_BYTES = 64;
/** The transport length field is 24 bits; no NEGOTIATE or SESSION_SETUP answer comes near it. */
const MAX_MESSAGE_BYTES = 0xffffff;

export const SMB2_COMMAND = { negotiate: 0x0000, sessionSetup: 0x0001, logoff: 0x0002, treeConnect: 0x0003 } as const;

/** Dialect revisions by our names (MS-SMB2 §2.2.3). */
export const SMB2_DIALECTS = { '2.0.2': 0x0202, '2.1': 0x0210, '3.0': 0x0300, '3.0.2': 0x0302, '3.1.1': 0x0311 } as const;
export type Smb2Dialect = keyof typeof SMB2_DIALECTS;
export const SMB2_DIALECT_NAMES = Object.keys(SMB2_DIALECTS) as Smb2Dialect[];
export const dialectName = (revision: number): string =>
  SMB2_DIALECT_NAMES.find((d) => SMB2_DIALECTS[d] === revision) ?? `0x${revision.toString(16).padStart(4, '0')}`;

/** SecurityMode bits of an SMB2 NEGOTIATE (§2.2.4) and of an SMB1 NEGOTIATE response (MS-CIFS §2.2.4.52.2). */
export const SMB2_SIGNING_ENABLED = 0x01;
export const SMB2_SIGNING_REQUIRED = 0x02;
export const SMB1_SECURITY = { userLevel: 0x01, encryptPasswords: 0x02, signaturesEnabled: 0x04, signaturesRequired: 0x08 } as const;

/** SMB2 global capabilities (§2.2.4). */
export const SMB2_CAPABILITIES: Readonly<Record<string, number>> = {
  DFS: 0x01, LEASING: 0x02, LARGE_MTU: 0x04, MULTI_CHANNEL: 0x08, PERSISTENT_HANDLES: 0x10, DIRECTORY_LEASING: 0x20, ENCRYPTION: 0x40,
};

/** SMB 3.1.1 negotiate context types and the cipher / signing algorithm ids (§2.2.3.1). */
export const CONTEXT = { preauth: 0x0001, encryption: 0x0002, signing: 0x0008 } as const;
export const CIPHERS: Readonly<Record<number, string>> = { 1: 'AES-128-CCM', 2: 'AES-128-GCM', 3: 'AES-256-CCM', 4: 'AES-256-GCM' };
export const SIGNING_ALGORITHMS: Readonly<Record<number, string>> = { 0: 'HMAC-SHA256', 1: 'AES-CMAC', 2: 'AES-GMAC' };

/** SessionFlags of a SESSION_SETUP response (§2.2.6). */
export const SESSION_FLAGS = { isGuest: 0x0001, isNull: 0x0002, encryptData: 0x0004 } as const;

export const STATUS = {
  success: 0x00000000,
  moreProcessingRequired: 0xc0000016,
  accessDenied: 0xc0000022,
  logonFailure: 0xc000006d,
  notSupported: 0xc00000bb,
} as const;

const STATUS_NAMES: Readonly<Record<number, string>> = {
  0x00000000: 'STATUS_SUCCESS', 0xc0000016: 'STATUS_MORE_PROCESSING_REQUIRED', 0xc0000022: 'STATUS_ACCESS_DENIED',
  0xc000006d: 'STATUS_LOGON_FAILURE', 0xc00000bb: 'STATUS_NOT_SUPPORTED', 0xc000000d: 'STATUS_INVALID_PARAMETER',
  0xc0000203: 'STATUS_USER_SESSION_DELETED', 0xc000015b: 'STATUS_LOGON_TYPE_NOT_GRANTED', 0xc0000072: 'STATUS_ACCOUNT_DISABLED',
  0xc00000cc: 'STATUS_BAD_NETWORK_NAME', 0xc0000064: 'STATUS_NO_SUCH_USER',
};
export const statusName = (status: number): string => STATUS_NAMES[status] ?? `0x${status.toString(16).padStart(8, '0')}`;

// ---------------------------------------------------------------------------------------------- transport

export function encodeTransport(message: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(message.length & MAX_MESSAGE_BYTES, 0);
  return Buffer.concat([header, message]);
}

/** One SMB message as received: its protocol (by magic) and the bytes after the transport header. */
export interface SmbMessage {
  readonly version: 1 | 2;
  readonly bytes: Buffer;
}

/** Reads one direct-TCP message; anything whose first byte is not 0, or whose body is no SMB, is not SMB. */
export function parseTransport(buf: Buffer): FrameParse<SmbMessage> {
  if (buf.length >= 1 && buf[0] !== 0) return { kind: 'invalid', reason: `first byte 0x${buf[0].toString(16).padStart(2, '0')} is not a direct-TCP SMB header` };
  if (buf.length < 8) return { kind: 'incomplete' };
  const length = buf.readUInt32BE(0) & MAX_MESSAGE_BYTES;
  const magic = buf.readUInt32BE(4);
  if (magic !== SMB2_MAGIC && magic !== SMB1_MAGIC) return { kind: 'invalid', reason: `protocol id 0x${magic.toString(16).padStart(8, '0')} is neither SMB1 nor SMB2` };
  if (buf.length < 4 + length) return { kind: 'incomplete' };
  return { kind: 'frame', frame: { version: magic === SMB2_MAGIC ? 2 : 1, bytes: Buffer.from(buf.subarray(4, 4 + length)) }, bytes: 4 + length };
}

// ---------------------------------------------------------------------------------------------- SMB1

/** SMB_COM_NEGOTIATE offering only "NT LM 0.12", with extended security, as nmap's smb-protocols does. */
export function smb1Negotiate(): Buffer {
  const header = Buffer.alloc(32);
  header.writeUInt32BE(SMB1_MAGIC, 0);
  header.writeUInt8(0x72, 4); // SMB_COM_NEGOTIATE
  header.writeUInt8(0x18, 9); // case-insensitive, canonicalised paths
  header.writeUInt16LE(0xc801, 10); // unicode, NT status, extended security, long names
  header.writeUInt16LE(0xfeff, 26); // process id
  const dialects = Buffer.from('\x02NT LM 0.12\x00', 'latin1');
  const body = Buffer.alloc(3);
  body.writeUInt8(0, 0); // WordCount
  body.writeUInt16LE(dialects.length, 1);
  return encodeTransport(Buffer.concat([header, body, dialects]));
}

export interface Smb1NegotiateAnswer {
  readonly status: number;
  /** 0 = "NT LM 0.12" accepted; 0xffff = none of the offered dialects. */
  readonly dialectIndex?: number;
  readonly securityMode?: number;
}

export function parseSmb1Negotiate(message: Buffer): Smb1NegotiateAnswer | string {
  if (message.length < 35) return `SMB1 message of ${message.length} bytes`;
  if (message[4] !== 0x72) return `SMB1 command 0x${message[4].toString(16)} in answer to NEGOTIATE`;
  const status = message.readUInt32LE(5);
  const wordCount = message[32];
  if (wordCount === 0 || message.length < 33 + 2 * wordCount) return { status };
  const dialectIndex = message.readUInt16LE(33);
  return { status, dialectIndex, ...(wordCount >= 17 ? { securityMode: message[35] } : {}) };
}

// ---------------------------------------------------------------------------------------------- SMB2 header

export interface Smb2Header {
  readonly command: number;
  readonly status: number;
  readonly flags: number;
  readonly messageId: bigint;
  readonly sessionId: bigint;
}

function smb2Header(command: number, messageId: bigint, sessionId = 0n, treeId = 0): Buffer {
  const h = Buffer.alloc(SMB2_HEADER_BYTES);
  h.writeUInt32BE(SMB2_MAGIC, 0);
  h.writeUInt16LE(SMB2_HEADER_BYTES, 4);
  h.writeUInt16LE(command, 12);
  h.writeUInt16LE(31, 14); // credits requested, as Windows clients ask
  h.writeBigUInt64LE(messageId, 24);
  h.writeUInt32LE(0xfeff, 32); // process id
  h.writeUInt32LE(treeId, 36);
  h.writeBigUInt64LE(sessionId, 40);
  return h;
}

export function parseSmb2Header(message: Buffer): Smb2Header | string {
  if (message.length < SMB2_HEADER_BYTES) return `SMB2 message of ${message.length} bytes is shorter than its header`;
  if (message.readUInt16LE(4) !== SMB2_HEADER_BYTES) return `SMB2 header StructureSize ${message.readUInt16LE(4)}`;
  return {
    command: message.readUInt16LE(12), status: message.readUInt32LE(8), flags: message.readUInt32LE(16),
    messageId: message.readBigUInt64LE(24), sessionId: message.readBigUInt64LE(40),
  };
}

// ---------------------------------------------------------------------------------------------- NEGOTIATE

const pad8 = (n: number) => (8 - (n % 8)) % 8;

function negotiateContext(type: number, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(type, 0);
  head.writeUInt16LE(data.length, 2);
  return Buffer.concat([head, data]);
}

/** The 3.1.1 contexts a client must send: SHA-512 pre-auth integrity with a salt, every cipher, every signing algorithm. */
function negotiateContexts(salt: Buffer): Buffer[] {
  const preauth = Buffer.alloc(6);
  preauth.writeUInt16LE(1, 0); // one hash algorithm
  preauth.writeUInt16LE(salt.length, 2);
  preauth.writeUInt16LE(0x0001, 4); // SHA-512
  const ciphers = [2, 1, 4, 3];
  const encryption = Buffer.alloc(2 + 2 * ciphers.length);
  encryption.writeUInt16LE(ciphers.length, 0);
  ciphers.forEach((c, i) => encryption.writeUInt16LE(c, 2 + 2 * i));
  const signing = Buffer.from([3, 0, 2, 0, 1, 0, 0, 0]); // AES-GMAC, AES-CMAC, HMAC-SHA256
  return [
    negotiateContext(CONTEXT.preauth, Buffer.concat([preauth, salt])),
    negotiateContext(CONTEXT.encryption, encryption),
    negotiateContext(CONTEXT.signing, signing),
  ];
}

export interface NegotiateRequest {
  readonly dialects: readonly Smb2Dialect[];
  readonly clientGuid: Buffer;
  /** 32 random bytes for the 3.1.1 pre-auth integrity context. */
  readonly salt: Buffer;
}

/** SMB2 NEGOTIATE (message id 0) offering `dialects`, with negotiate contexts when 3.1.1 is among them. */
export function smb2Negotiate(req: NegotiateRequest): Buffer {
  const with311 = req.dialects.includes('3.1.1');
  const body = Buffer.alloc(36);
  body.writeUInt16LE(36, 0);
  body.writeUInt16LE(req.dialects.length, 2);
  body.writeUInt16LE(SMB2_SIGNING_ENABLED, 4);
  body.writeUInt32LE(with311 || req.dialects.some((d) => d.startsWith('3')) ? SMB2_CAPABILITIES.ENCRYPTION | SMB2_CAPABILITIES.LARGE_MTU : 0, 8);
  req.clientGuid.copy(body, 12, 0, 16);
  const dialects = Buffer.alloc(2 * req.dialects.length);
  req.dialects.forEach((d, i) => dialects.writeUInt16LE(SMB2_DIALECTS[d], 2 * i));
  const parts = [smb2Header(SMB2_COMMAND.negotiate, 0n), body, dialects];
  if (with311) {
    const offset = SMB2_HEADER_BYTES + body.length + dialects.length;
    const contexts = negotiateContexts(req.salt);
    body.writeUInt32LE(offset + pad8(offset), 28);
    body.writeUInt16LE(contexts.length, 32);
    parts.push(Buffer.alloc(pad8(offset)));
    contexts.forEach((c, i) => parts.push(c, Buffer.alloc(i < contexts.length - 1 ? pad8(c.length) : 0)));
  }
  return encodeTransport(Buffer.concat(parts));
}

export interface NegotiateAnswer {
  readonly header: Smb2Header;
  /** Present when the status is success. */
  readonly dialect?: number;
  readonly securityMode?: number;
  readonly capabilities?: number;
  readonly serverGuid?: string;
  /** 3.1.1: the cipher and signing algorithm the server chose from our lists (names). */
  readonly cipher?: string;
  readonly signingAlgorithm?: string;
  readonly securityBlobBytes?: number;
}

export function parseNegotiate(message: Buffer): NegotiateAnswer | string {
  const header = parseSmb2Header(message);
  if (typeof header === 'string') return header;
  if (header.command !== SMB2_COMMAND.negotiate) return `SMB2 command ${header.command} in answer to NEGOTIATE`;
  if (header.status !== STATUS.success) return { header };
  const body = message.subarray(SMB2_HEADER_BYTES);
  if (body.length < 64 || body.readUInt16LE(0) !== 65) return `NEGOTIATE response body of ${body.length} bytes (StructureSize ${body.length >= 2 ? body.readUInt16LE(0) : '?'})`;
  const dialect = body.readUInt16LE(4);
  const answer: NegotiateAnswer = {
    header, dialect, securityMode: body.readUInt16LE(2), capabilities: body.readUInt32LE(24),
    serverGuid: body.subarray(8, 24).toString('hex'), securityBlobBytes: body.readUInt16LE(58),
  };
  if (dialect !== SMB2_DIALECTS['3.1.1']) return answer;
  return { ...answer, ...readContexts(message, body.readUInt32LE(60), body.readUInt16LE(6)) };
}

function readContexts(message: Buffer, offset: number, count: number): { cipher?: string; signingAlgorithm?: string } {
  const out: { cipher?: string; signingAlgorithm?: string } = {};
  let at = offset;
  for (let i = 0; i < count && at + 8 <= message.length; i++) {
    const type = message.readUInt16LE(at);
    const length = message.readUInt16LE(at + 2);
    const data = message.subarray(at + 8, at + 8 + length);
    if (type === CONTEXT.encryption && data.length >= 4) out.cipher = CIPHERS[data.readUInt16LE(2)] ?? `cipher ${data.readUInt16LE(2)}`;
    if (type === CONTEXT.signing && data.length >= 4) out.signingAlgorithm = SIGNING_ALGORITHMS[data.readUInt16LE(2)] ?? `algorithm ${data.readUInt16LE(2)}`;
    at += 8 + length + pad8(length);
  }
  return out;
}

export const capabilityNames = (caps: number): string[] => Object.entries(SMB2_CAPABILITIES).filter(([, bit]) => (caps & bit) !== 0).map(([name]) => name);

// ---------------------------------------------------------------------------------------------- SESSION_SETUP, TREE_CONNECT

export function smb2SessionSetup(messageId: bigint, sessionId: bigint, securityBlob: Buffer): Buffer {
  const body = Buffer.alloc(24);
  body.writeUInt16LE(25, 0);
  body.writeUInt8(SMB2_SIGNING_ENABLED, 3);
  body.writeUInt16LE(SMB2_HEADER_BYTES + body.length, 12);
  body.writeUInt16LE(securityBlob.length, 14);
  return encodeTransport(Buffer.concat([smb2Header(SMB2_COMMAND.sessionSetup, messageId, sessionId), body, securityBlob]));
}

export interface SessionSetupAnswer {
  readonly header: Smb2Header;
  readonly sessionFlags: number;
  readonly securityBlob: Buffer;
}

export function parseSessionSetup(message: Buffer): SessionSetupAnswer | string {
  const header = parseSmb2Header(message);
  if (typeof header === 'string') return header;
  if (header.command !== SMB2_COMMAND.sessionSetup) return `SMB2 command ${header.command} in answer to SESSION_SETUP`;
  const body = message.subarray(SMB2_HEADER_BYTES);
  // Other statuses carry the error body (§2.2.2, also StructureSize 9); only these two carry a setup body.
  const setupBody = header.status === STATUS.success || header.status === STATUS.moreProcessingRequired;
  if (!setupBody) return { header, sessionFlags: 0, securityBlob: Buffer.alloc(0) };
  if (body.length < 8 || body.readUInt16LE(0) !== 9) return `SESSION_SETUP response body of ${body.length} bytes`;
  const offset = body.readUInt16LE(4);
  const length = body.readUInt16LE(6);
  return { header, sessionFlags: body.readUInt16LE(2), securityBlob: Buffer.from(message.subarray(offset, offset + length)) };
}

export function smb2TreeConnect(messageId: bigint, sessionId: bigint, path: string): Buffer {
  const name = Buffer.from(path, 'utf16le');
  const body = Buffer.alloc(8);
  body.writeUInt16LE(9, 0);
  body.writeUInt16LE(SMB2_HEADER_BYTES + body.length, 4);
  body.writeUInt16LE(name.length, 6);
  return encodeTransport(Buffer.concat([smb2Header(SMB2_COMMAND.treeConnect, messageId, sessionId), body, name]));
}

export function smb2Logoff(messageId: bigint, sessionId: bigint): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt16LE(4, 0);
  return encodeTransport(Buffer.concat([smb2Header(SMB2_COMMAND.logoff, messageId, sessionId), body]));
}
