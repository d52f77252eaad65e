import { randomBytes } from 'node:crypto';
import { ProtocolViolation, TargetTimeout, Transcript } from '../../sdk';
import { withFramed, type FramedConnection, type FramedReply } from '../framed';
import {
  SESSION_FLAGS, SMB1_SECURITY, SMB2_DIALECT_NAMES, STATUS, dialectName, parseNegotiate, parseSessionSetup,
  parseSmb1Negotiate, parseSmb2Header, parseTransport, smb1Negotiate, smb2Logoff, smb2Negotiate, smb2SessionSetup, smb2TreeConnect,
  statusName, type NegotiateAnswer, type SmbMessage, type Smb2Dialect,
} from './frames';
import { ntlmAuthenticate, ntlmNegotiate, parseNtlmChallenge, type LogonKind } from './ntlm';

export interface SmbEndpoint {
  host: string;
  port: number;
}

export interface SmbOptions {
  signal: AbortSignal;
  /** How long one answer may take. */
  waitMs: number;
  connectTimeoutMs?: number;
  transcript?: Transcript;
}

type SmbConnection = FramedConnection<SmbMessage>;

const withSmb = <T>(endpoint: SmbEndpoint, options: SmbOptions, fn: (conn: SmbConnection) => Promise<T>) =>
  withFramed(endpoint, parseTransport, { ...options }, fn);

/** An answer that is an SMB message, or null for a hang-up (the server refuses what was offered); silence and non-SMB throw. */
function expectMessage(reply: FramedReply<SmbMessage>, what: string, waitMs: number): SmbMessage | null {
  if (reply.kind === 'frame') return reply.frame;
  if (reply.kind === 'closed') return null;
  if (reply.kind === 'no-answer') throw new TargetTimeout(`no answer to ${what} within ${waitMs} ms`);
  throw new ProtocolViolation(`the service does not speak SMB over direct TCP (answer to ${what}): ${reply.reason}`);
}

/** How the server answered one offer: accepted (with what it said), refused with an SMB status, or by hanging up. */
export type Offer<T> =
  | { readonly accepted: true; readonly answer: T }
  | { readonly accepted: false; readonly how: string; readonly smb: boolean };

export interface Smb1Answer {
  readonly securityMode: number;
  readonly signingRequired: boolean;
  readonly signingEnabled: boolean;
}

/** SMB_COM_NEGOTIATE with "NT LM 0.12" only: is SMBv1 offered, and with which SecurityMode. */
export async function offerSmb1(endpoint: SmbEndpoint, options: SmbOptions): Promise<Offer<Smb1Answer>> {
  return withSmb(endpoint, options, async (conn) => {
    const message = expectMessage(await conn.exchange(smb1Negotiate(), 'SMB1 NEGOTIATE, dialect "NT LM 0.12" only'), 'an SMB1 NEGOTIATE', options.waitMs);
    if (!message) return { accepted: false, how: 'connection closed', smb: false };
    if (message.version === 2) return { accepted: false, how: 'answered in SMB2 (the server does not speak SMB1)', smb: true };
    const parsed = parseSmb1Negotiate(message.bytes);
    if (typeof parsed === 'string') throw new ProtocolViolation(`SMB1 NEGOTIATE answer: ${parsed}`);
    if (parsed.status !== STATUS.success) return { accepted: false, how: statusName(parsed.status), smb: true };
    if (parsed.dialectIndex !== 0 || parsed.securityMode === undefined) return { accepted: false, how: `dialect index 0x${(parsed.dialectIndex ?? 0xffff).toString(16)}`, smb: true };
    const mode = parsed.securityMode;
    return {
      accepted: true,
      answer: { securityMode: mode, signingEnabled: (mode & SMB1_SECURITY.signaturesEnabled) !== 0, signingRequired: (mode & SMB1_SECURITY.signaturesRequired) !== 0 },
    };
  });
}

function negotiateRequest(dialects: readonly Smb2Dialect[]): Buffer {
  return smb2Negotiate({ dialects, clientGuid: randomBytes(16), salt: randomBytes(32) });
}

async function negotiate(conn: SmbConnection, dialects: readonly Smb2Dialect[], waitMs: number): Promise<Offer<NegotiateAnswer>> {
  const message = expectMessage(await conn.exchange(negotiateRequest(dialects), `SMB2 NEGOTIATE offering ${dialects.join(', ')}`), 'an SMB2 NEGOTIATE', waitMs);
  if (!message) return { accepted: false, how: 'connection closed', smb: false };
  if (message.version !== 2) return { accepted: false, how: 'answered in SMB1 (the server does not speak SMB2)', smb: true };
  const parsed = parseNegotiate(message.bytes);
  if (typeof parsed === 'string') throw new ProtocolViolation(`SMB2 NEGOTIATE answer: ${parsed}`);
  if (parsed.header.status !== STATUS.success) return { accepted: false, how: statusName(parsed.header.status), smb: true };
  const chosen = dialectName(parsed.dialect!);
  if (!dialects.includes(chosen as Smb2Dialect)) throw new ProtocolViolation(`the server chose dialect ${chosen}, which was not offered`);
  return { accepted: true, answer: parsed };
}

/** One SMB2 NEGOTIATE on its own connection. */
export function offerSmb2(endpoint: SmbEndpoint, dialects: readonly Smb2Dialect[], options: SmbOptions): Promise<Offer<NegotiateAnswer>> {
  return withSmb(endpoint, options, (conn) => negotiate(conn, dialects, options.waitMs));
}


export interface LogonResult {
  readonly kind: LogonKind;
  /** The dialect the session was negotiated with. */
  readonly dialect: string;
  /** Final SESSION_SETUP status name; STATUS_SUCCESS when a session was granted. */
  readonly status: string;
  readonly granted: boolean;
  readonly sessionFlags: readonly ('IS_GUEST' | 'IS_NULL' | 'ENCRYPT_DATA')[];
  /** The server's names from the NTLM challenge (what an unauthenticated client learns). */
  readonly serverNames: { readonly domain?: string; readonly computer?: string };
  /** With a granted session: TREE_CONNECT to \\host\IPC$ (the door to share and user enumeration). */
  readonly ipc?: { readonly status: string; readonly connected: boolean };
}

function sessionFlagNames(flags: number): LogonResult['sessionFlags'] {
  const names: LogonResult['sessionFlags'][number][] = [];
  if (flags & SESSION_FLAGS.isGuest) names.push('IS_GUEST');
  if (flags & SESSION_FLAGS.isNull) names.push('IS_NULL');
  if (flags & SESSION_FLAGS.encryptData) names.push('ENCRYPT_DATA');
  return names;
}

async function sessionSetup(conn: SmbConnection, messageId: bigint, sessionId: bigint, blob: Buffer, note: string, waitMs: number) {
  const message = expectMessage(await conn.exchange(smb2SessionSetup(messageId, sessionId, blob), note), 'SESSION_SETUP', waitMs);
  if (!message) return null;
  const parsed = parseSessionSetup(message.bytes);
  if (typeof parsed === 'string') throw new ProtocolViolation(`SESSION_SETUP answer: ${parsed}`);
  return parsed;
}

/**
 * NEGOTIATE, then SESSION_SETUP with NTLMSSP as an anonymous user or as `guestUser` (a name the server should not
 * know): is a session granted, with which SessionFlags, and can it open IPC$. Logs the session off at the end.
 */
export async function tryLogon(endpoint: SmbEndpoint, kind: LogonKind, options: SmbOptions & { guestUser: string }): Promise<LogonResult> {
  return withSmb(endpoint, options, async (conn) => {
    const offer = await negotiate(conn, SMB2_DIALECT_NAMES, options.waitMs);
    if (!offer.accepted) throw new ProtocolViolation(`no SMB2 dialect negotiated before the ${kind} logon (${offer.how})`);
    const dialect = dialectName(offer.answer.dialect!);
    const first = await sessionSetup(conn, 1n, 0n, ntlmNegotiate(), `SESSION_SETUP 1/2 (${kind}): NTLMSSP NEGOTIATE`, options.waitMs);
    const base = { kind, dialect, sessionFlags: [], serverNames: {} } as const;
    if (!first) return { ...base, status: 'connection closed', granted: false };
    if (first.header.status !== STATUS.moreProcessingRequired) return { ...base, status: statusName(first.header.status), granted: false };
    const challenge = parseNtlmChallenge(first.securityBlob);
    if (typeof challenge === 'string') throw new ProtocolViolation(`SESSION_SETUP challenge: ${challenge}`);
    const sessionId = first.header.sessionId;
    const auth = ntlmAuthenticate(kind, challenge, options.guestUser);
    const note = kind === 'anonymous' ? 'SESSION_SETUP 2/2: NTLMSSP AUTHENTICATE, anonymous (no user, no response)' : `SESSION_SETUP 2/2: NTLMSSP AUTHENTICATE as unknown user "${options.guestUser}" with a random response`;
    const second = await sessionSetup(conn, 2n, sessionId, auth, note, options.waitMs);
    const serverNames = { ...(challenge.domain ? { domain: challenge.domain } : {}), ...(challenge.computer ? { computer: challenge.computer } : {}) };
    if (!second) return { ...base, serverNames, status: 'connection closed', granted: false };
    const granted = second.header.status === STATUS.success;
    const result = { ...base, serverNames, status: statusName(second.header.status), granted, sessionFlags: sessionFlagNames(second.sessionFlags) };
    if (!granted) return result;
    const ipc = await treeConnect(conn, sessionId, `\\\\${endpoint.host}\\IPC$`, options.waitMs);
    conn.send(smb2Logoff(4n, sessionId), 'LOGOFF');
    return { ...result, ipc };
  });
}

async function treeConnect(conn: SmbConnection, sessionId: bigint, path: string, waitMs: number): Promise<{ status: string; connected: boolean }> {
  const message = expectMessage(await conn.exchange(smb2TreeConnect(3n, sessionId, path), `TREE_CONNECT ${path}`), 'TREE_CONNECT', waitMs);
  if (!message) return { status: 'connection closed', connected: false };
  const header = parseSmb2Header(message.bytes);
  if (typeof header === 'string') throw new ProtocolViolation(`TREE_CONNECT answer: ${header}`);
  return { status: statusName(header.status), connected: header.status === STATUS.success };
}

/** The inputs every smb.* probe takes: how long one answer and one TCP connect may take. */
export interface SmbInputs {
  waitMs: number;
  connectTimeoutMs: number;
}
export const SMB_INPUT_PROPERTIES = {
  waitMs: { type: 'integer', minimum: 50 },
  connectTimeoutMs: { type: 'integer', minimum: 100 },
} as const;
export const SMB_INPUT_DEFAULTS: SmbInputs = { waitMs: 5000, connectTimeoutMs: 5000 };

/** What one smb.* attempt talks to and with: its service, a transcript saved as `file`, the connection options. */
export function smbAttempt<S extends SmbEndpoint>(
  ctx: { service?: S; signal: AbortSignal; inputs: SmbInputs; evidence: ConstructorParameters<typeof Transcript>[0] }, file: string,
): { service: S; transcript: Transcript; options: SmbOptions } {
  const transcript = new Transcript(ctx.evidence, file);
  return { service: ctx.service!, transcript, options: { signal: ctx.signal, waitMs: ctx.inputs.waitMs, connectTimeoutMs: ctx.inputs.connectTimeoutMs, transcript } };
}

/** Throws unless at least one offer got an SMB answer: a port that hangs up on everything is not SMB. */
export function requireSmbAnswer(offers: readonly Offer<unknown>[], name: string): void {
  if (offers.some((o) => o.accepted || o.smb)) return;
  throw new ProtocolViolation(`${name}: no SMB answer to any NEGOTIATE (${[...new Set(offers.map((o) => (o.accepted ? '' : o.how)))].join(', ')})`);
}
