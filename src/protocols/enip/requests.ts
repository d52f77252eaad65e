import { parseCipReply, type CipReply } from './cip';
import type { EnipConnection, EnipReply } from './connection';
import { COMMANDS, CPF, PROTOCOL_VERSION, encapStatusName, encodeCpf, parseCpf, u16, u32 } from './frames';
import { parseIdentityItem, parseSecurityItem, parseServiceItem, type CipIdentity, type CipSecurityInfo, type EnipService } from './items';

/**
 * The encapsulation commands a probe sends, and what their replies mean. Every outcome is an answer the
 * probe judges; only the probe decides which of them are errors.
 */
export type EnipAnswer<T> =
  | { status: 'ok'; value: T }
  /** The device answered with a non-zero encapsulation status: its own refusal. */
  | { status: 'refused'; encapStatus: number; statusName: string }
  | { status: 'no-answer' }
  | { status: 'closed'; reset: boolean }
  /** Bytes that are not EtherNet/IP at all (a banner, garbage). */
  | { status: 'not-enip'; reason: string }
  /** An EtherNet/IP reply whose command-specific data does not parse. */
  | { status: 'invalid'; reason: string };

export interface IdentityReply {
  identity: CipIdentity;
  /** The CIP Security Information item, when the device sends one. */
  security?: CipSecurityInfo;
  /** Type ids of items the reply carried besides these two. */
  otherItems: number[];
}

type Failure = Exclude<EnipAnswer<never>, { status: 'ok' }>;

/** The non-ok answer a reply amounts to, or the frame's data when it is a successful reply. */
function unwrap(reply: EnipReply): { data: Buffer; session: number } | Failure {
  switch (reply.kind) {
    case 'no-answer': return { status: 'no-answer' };
    case 'closed': return { status: 'closed', reset: reply.reset };
    case 'invalid': return { status: 'not-enip', reason: reply.reason };
    case 'frame':
      if (reply.header.status !== 0) return { status: 'refused', encapStatus: reply.header.status, statusName: encapStatusName(reply.header.status) };
      return { data: reply.data, session: reply.header.session };
  }
}

const failed = (x: object): x is Failure => 'status' in x;

export function decodeListIdentity(reply: EnipReply): EnipAnswer<IdentityReply> {
  const body = unwrap(reply);
  if (failed(body)) return body;
  const cpf = parseCpf(body.data);
  if ('error' in cpf) return { status: 'invalid', reason: `ListIdentity reply: ${cpf.error}` };
  const identityItem = cpf.items.find((i) => i.typeId === CPF.cipIdentity);
  if (!identityItem) return { status: 'invalid', reason: `ListIdentity reply without a CIP Identity item (${cpf.items.length} items)` };
  const identity = parseIdentityItem(identityItem.data);
  if ('error' in identity) return { status: 'invalid', reason: identity.error };
  const securityItem = cpf.items.find((i) => i.typeId === CPF.cipSecurity);
  const security = securityItem ? parseSecurityItem(securityItem.data) : undefined;
  if (security && 'error' in security) return { status: 'invalid', reason: security.error };
  const otherItems = cpf.items.filter((i) => i !== identityItem && i !== securityItem).map((i) => i.typeId);
  return { status: 'ok', value: { identity, ...(security ? { security } : {}), otherItems } };
}

export function decodeListServices(reply: EnipReply): EnipAnswer<EnipService[]> {
  const body = unwrap(reply);
  if (failed(body)) return body;
  const cpf = parseCpf(body.data);
  if ('error' in cpf) return { status: 'invalid', reason: `ListServices reply: ${cpf.error}` };
  const services: EnipService[] = [];
  for (const item of cpf.items) {
    const service = parseServiceItem(item);
    if ('error' in service) return { status: 'invalid', reason: `ListServices reply: ${service.error}` };
    services.push(service);
  }
  return { status: 'ok', value: services };
}

export function decodeListInterfaces(reply: EnipReply): EnipAnswer<number[]> {
  const body = unwrap(reply);
  if (failed(body)) return body;
  const cpf = parseCpf(body.data);
  if ('error' in cpf) return { status: 'invalid', reason: `ListInterfaces reply: ${cpf.error}` };
  return { status: 'ok', value: cpf.items.map((i) => i.typeId) };
}

export async function listIdentity(conn: EnipConnection, waitMs: number): Promise<EnipAnswer<IdentityReply>> {
  return decodeListIdentity(await conn.exchange({ command: COMMANDS.listIdentity }, waitMs, 'ListIdentity'));
}

export async function listServices(conn: EnipConnection, waitMs: number): Promise<EnipAnswer<EnipService[]>> {
  return decodeListServices(await conn.exchange({ command: COMMANDS.listServices }, waitMs, 'ListServices'));
}

export async function listInterfaces(conn: EnipConnection, waitMs: number): Promise<EnipAnswer<number[]>> {
  return decodeListInterfaces(await conn.exchange({ command: COMMANDS.listInterfaces }, waitMs, 'ListInterfaces'));
}

/** RegisterSession, protocol version 1, no options: a session handle, or the device's answer instead. */
export async function registerSession(conn: EnipConnection, waitMs: number): Promise<EnipAnswer<number>> {
  const reply = await conn.exchange({ command: COMMANDS.registerSession, data: Buffer.concat([u16(PROTOCOL_VERSION), u16(0)]) }, waitMs, 'RegisterSession (protocol version 1, options 0)');
  const body = unwrap(reply);
  if (failed(body)) return body;
  if (body.session === 0) return { status: 'invalid', reason: 'RegisterSession succeeded with session handle 0' };
  return { status: 'ok', value: body.session };
}

export function unregisterSession(conn: EnipConnection, session: number): void {
  conn.send({ command: COMMANDS.unregisterSession, session }, `UnRegisterSession (session 0x${session.toString(16)})`);
}

/** SendRRData data: interface handle 0 (CIP), a timeout, and the null address + unconnected data items. */
export function sendRRDataPayload(cipRequest: Uint8Array, timeoutSeconds = 10): Buffer {
  return Buffer.concat([u32(0), u16(timeoutSeconds), encodeCpf([{ typeId: CPF.nullAddress, data: Buffer.alloc(0) }, { typeId: CPF.unconnectedData, data: Buffer.from(cipRequest) }])]);
}

/** The CIP request inside a SendRRData payload (the emulator's side), or why there is none. */
export function cipFromSendRRData(data: Buffer): Buffer | { error: string } {
  if (data.length < 6) return { error: `SendRRData data of ${data.length} bytes` };
  const cpf = parseCpf(data.subarray(6));
  if ('error' in cpf) return cpf;
  const item = cpf.items.find((i) => i.typeId === CPF.unconnectedData);
  return item ? item.data : { error: 'no unconnected data item' };
}

/** One unconnected explicit message (UCMM) in the session: the CIP reply, or the device's answer instead. */
export async function sendRRData(conn: EnipConnection, session: number, cipRequest: Uint8Array, waitMs: number, note: string): Promise<EnipAnswer<CipReply>> {
  const reply = await conn.exchange({ command: COMMANDS.sendRRData, session, data: sendRRDataPayload(cipRequest) }, waitMs, note);
  const body = unwrap(reply);
  if (failed(body)) return body;
  const cip = cipFromSendRRData(body.data);
  if ('error' in cip) return { status: 'invalid', reason: `SendRRData reply: ${cip.error}` };
  const parsed = parseCipReply(cip);
  if ('error' in parsed) return { status: 'invalid', reason: `SendRRData reply: ${parsed.error}` };
  return { status: 'ok', value: parsed };
}

/** One line for observations and notes. */
export function describeAnswer(answer: EnipAnswer<unknown>): string {
  switch (answer.status) {
    case 'ok': return 'answered';
    case 'refused': return `refused with encapsulation status 0x${answer.encapStatus.toString(16).padStart(4, '0')} (${answer.statusName})`;
    case 'no-answer': return 'no answer';
    case 'closed': return answer.reset ? 'connection reset' : 'connection closed';
    case 'not-enip': return `not EtherNet/IP: ${answer.reason}`;
    case 'invalid': return `malformed reply: ${answer.reason}`;
  }
}
