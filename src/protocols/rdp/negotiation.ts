/**
 * The RDP security negotiation ([MS-RDPBCGR] §2.2.1.1 and §2.2.1.2): a TPKT-wrapped X.224 Connection Request
 * carrying a routing cookie and an RDP_NEG_REQ with the requestedProtocols, answered by an X.224 Connection
 * Confirm with an RDP_NEG_RSP (selectedProtocol) or an RDP_NEG_FAILURE (failureCode). TPKT framing is the
 * S7 code's (RFC 1006). After a TLS or CredSSP selection the same socket carries the TLS handshake (§5.4.5).
 */
import * as tls from 'node:tls';
import { ProtocolViolation, TargetTimeout, type Transcript } from '../../sdk';
import { withFramed, type FrameParse } from '../framed';
import { COTP, encodeTpkt, parseTpkt } from '../s7/frames';
import { fullHandshake, type FullHandshakeResult } from '../tls';

/** requestedProtocols / selectedProtocol flags (§2.2.1.1.1). */
export const RDP_PROTOCOL = { rdp: 0x0, ssl: 0x1, hybrid: 0x2, rdstls: 0x4, hybridEx: 0x8 } as const;

export const protocolName = (value: number): string => {
  if (value === 0) return 'RDP';
  const names = [[0x1, 'SSL'], [0x2, 'HYBRID'], [0x4, 'RDSTLS'], [0x8, 'HYBRID_EX']].filter(([bit]) => (value & (bit as number)) !== 0).map(([, n]) => n);
  return names.length > 0 ? names.join('|') : `0x${value.toString(16)}`;
};

/** failureCode of an RDP_NEG_FAILURE (§2.2.1.2.2). */
export const FAILURE_CODES: Readonly<Record<number, string>> = {
  1: 'SSL_REQUIRED_BY_SERVER', 2: 'SSL_NOT_ALLOWED_BY_SERVER', 3: 'SSL_CERT_NOT_ON_SERVER', 4: 'INCONSISTENT_FLAGS',
  5: 'HYBRID_REQUIRED_BY_SERVER', 6: 'SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER',
};

/** The requests we send, one connection each: the values nmap's rdp-enum-encryption sends, so the two compare. */
export const NEGOTIATION_REQUESTS = [
  { name: 'rdp', requested: RDP_PROTOCOL.rdp },
  { name: 'tls', requested: RDP_PROTOCOL.ssl },
  { name: 'nla', requested: RDP_PROTOCOL.ssl | RDP_PROTOCOL.hybrid },
  { name: 'nla-ex', requested: RDP_PROTOCOL.hybridEx },
] as const;
export type NegotiationRequestName = (typeof NEGOTIATION_REQUESTS)[number]['name'];

/** X.224 CR with "Cookie: mstshash=<user>" and an RDP_NEG_REQ. */
export function connectionRequest(requestedProtocols: number, cookieUser = 'iacs-probe'): Buffer {
  const cookie = Buffer.from(`Cookie: mstshash=${cookieUser}\r\n`, 'latin1');
  const neg = Buffer.alloc(8);
  neg.writeUInt8(0x01, 0); // TYPE_RDP_NEG_REQ
  neg.writeUInt16LE(8, 2);
  neg.writeUInt32LE(requestedProtocols >>> 0, 4);
  const fixed = Buffer.from([COTP.CR, 0, 0, 0, 0, 0]); // dst-ref 0, src-ref 0, class 0
  return encodeTpkt(Buffer.concat([Buffer.from([fixed.length + cookie.length + neg.length]), fixed, cookie, neg]));
}

/** How the server answered one request. */
export type NegotiationAnswer =
  | { readonly kind: 'selected'; readonly selected: number; readonly flags: number }
  | { readonly kind: 'failure'; readonly code: number; readonly name: string }
  /** A Connection Confirm without negotiation data: a server older than RDP 5.2, standard RDP security only. */
  | { readonly kind: 'legacy' }
  /** A disconnect request, or a hang-up, instead of a Connection Confirm. */
  | { readonly kind: 'refused'; readonly how: string };

/** Reads the Connection Confirm of one TPKT frame. */
export function parseConfirm(tpdu: Buffer): NegotiationAnswer | string {
  if (tpdu.length < 7) return `X.224 TPDU of ${tpdu.length} bytes`;
  const li = tpdu[0];
  const code = tpdu[1] & 0xf0;
  if (code === COTP.DR) return { kind: 'refused', how: 'X.224 disconnect request' };
  if (code !== COTP.CC) return `X.224 TPDU code 0x${tpdu[1].toString(16)} in answer to a connection request`;
  if (li + 1 > tpdu.length) return `X.224 length indicator ${li} beyond the ${tpdu.length}-byte TPDU`;
  const neg = tpdu.subarray(7, li + 1);
  if (neg.length === 0) return { kind: 'legacy' };
  if (neg.length < 8 || neg.readUInt16LE(2) !== 8) return `negotiation data of ${neg.length} bytes after the Connection Confirm`;
  const value = neg.readUInt32LE(4);
  if (neg[0] === 0x02) return { kind: 'selected', selected: value, flags: neg[1] };
  if (neg[0] === 0x03) return { kind: 'failure', code: value, name: FAILURE_CODES[value] ?? `failure ${value}` };
  return `negotiation data type 0x${neg[0].toString(16)} (neither RDP_NEG_RSP nor RDP_NEG_FAILURE)`;
}

const parseTpktFrame = (buf: Buffer): FrameParse<Buffer> => {
  const parsed = parseTpkt(buf);
  return parsed.kind === 'frame' ? { kind: 'frame', frame: parsed.tpdu, bytes: parsed.bytes } : parsed;
};

export interface RdpOptions {
  signal: AbortSignal;
  waitMs: number;
  connectTimeoutMs?: number;
  transcript?: Transcript;
}

/**
 * Sends one Connection Request and reads the Confirm. With `tls` and a TLS/CredSSP selection, continues with
 * a TLS handshake on the same socket (its result is returned too); CredSSP itself is never started.
 */
export async function negotiate(
  endpoint: { host: string; port: number }, requested: number, options: RdpOptions & { tls?: { minVersion: tls.SecureVersion; maxVersion: tls.SecureVersion; timeoutMs: number } },
): Promise<{ answer: NegotiationAnswer; handshake?: FullHandshakeResult }> {
  return withFramed(endpoint, parseTpktFrame, options, async (conn) => {
    const reply = await conn.exchange(connectionRequest(requested), `X.224 Connection Request, requestedProtocols ${protocolName(requested)} (0x${requested.toString(16)})`);
    if (reply.kind === 'no-answer') throw new TargetTimeout(`no answer to an X.224 Connection Request within ${options.waitMs} ms`);
    if (reply.kind === 'invalid') throw new ProtocolViolation(`the service does not speak RDP (TPKT/X.224): ${reply.reason}`);
    if (reply.kind === 'closed') return { answer: { kind: 'refused', how: reply.reset ? 'connection reset' : 'connection closed' } };
    const answer = parseConfirm(reply.frame);
    if (typeof answer === 'string') throw new ProtocolViolation(`X.224 Connection Confirm: ${answer}`);
    options.transcript?.note(`answer: ${describeAnswer(answer)}`);
    const wantsTls = answer.kind === 'selected' && (answer.selected & (RDP_PROTOCOL.ssl | RDP_PROTOCOL.hybrid | RDP_PROTOCOL.hybridEx)) !== 0;
    if (!options.tls || !wantsTls) return { answer };
    options.transcript?.note(`TLS handshake on the same connection, ${options.tls.minVersion} to ${options.tls.maxVersion} (bytes not transcribed)`);
    const handshake = await fullHandshake({ host: endpoint.host, port: endpoint.port }, {
      signal: options.signal, timeoutMs: options.tls.timeoutMs, minVersion: options.tls.minVersion, maxVersion: options.tls.maxVersion, socket: conn.detach(),
    });
    options.transcript?.note(handshake.ok ? `TLS: ${handshake.protocol} ${handshake.cipher}` : `TLS refused: ${handshake.alert ?? handshake.message}`);
    return { answer, handshake };
  });
}

export function describeAnswer(answer: NegotiationAnswer): string {
  switch (answer.kind) {
    case 'selected': return `RDP_NEG_RSP selectedProtocol ${protocolName(answer.selected)}`;
    case 'failure': return `RDP_NEG_FAILURE ${answer.name}`;
    case 'legacy': return 'Connection Confirm without negotiation data (standard RDP security only)';
    default: return `refused: ${answer.how}`;
  }
}
