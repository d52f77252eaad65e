import { ProtocolViolation, TargetTimeout } from '../../sdk';
import {
  CIP_CLASSES, CIP_SERVICES, STATUS, encodeCipRequest, generalStatusName, parseIdentityAttributes, type CipReply, type IdentityAttributes,
} from './cip';
import type { EnipConnection } from './connection';
import { describeAnswer, registerSession, sendRRData, type EnipAnswer } from './requests';

/**
 * What the plain port does with an unauthenticated peer that asks for explicit messaging, shared by
 * enip.access and enip.security. Only the protocol's own refusals count as evidence of a refusal.
 */
export type ExplicitAccess =
  | { result: 'served'; session: number; identity: IdentityAttributes | null; via: string }
  /** RegisterSession refused with an encapsulation status that means "not on this port" (0x0001, 0x006A). */
  | { result: 'session-refused'; encapStatus: number; statusName: string }
  /** A session, but the Identity object refused with privilege violation (0x0F). */
  | { result: 'message-refused'; session: number; generalStatus: number; statusName: string }
  /** An answer that proves nothing either way (another status, a malformed reply). */
  | { result: 'unclear'; session?: number; reason: string };

/** Encapsulation statuses that refuse explicit messaging as such (not a resource shortage or a bad request). */
export const SESSION_REFUSALS: ReadonlySet<number> = new Set([0x0001, 0x006a]);

/** Throws the typed error for an answer that is no answer at all: silence, a hang-up, another protocol. */
export function expectEnip<T>(answer: EnipAnswer<T>, what: string): Exclude<EnipAnswer<T>, { status: 'no-answer' | 'closed' | 'not-enip' }> {
  if (answer.status === 'no-answer') throw new TargetTimeout(`${what}: no answer`);
  if (answer.status === 'closed') throw new ProtocolViolation(`${what}: the device ${answer.reset ? 'reset' : 'closed'} the connection`);
  if (answer.status === 'not-enip') throw new ProtocolViolation(`the service does not speak EtherNet/IP: ${answer.reason}`);
  return answer;
}

/** Identity object, instance 1: Get_Attributes_All, and Get_Attribute_Single of the product name when that service is missing. */
export async function readIdentityObject(conn: EnipConnection, session: number, waitMs: number): Promise<{ reply: CipReply; identity: IdentityAttributes | null; via: string } | { unclear: string }> {
  const all = expectEnip(await sendRRData(conn, session, encodeCipRequest(CIP_SERVICES.getAttributesAll, { classId: CIP_CLASSES.identity, instance: 1 }), waitMs, 'SendRRData: Get_Attributes_All, Identity instance 1'), 'Get_Attributes_All');
  if (all.status !== 'ok') return { unclear: `Get_Attributes_All: ${describeAnswer(all)}` };
  if (all.value.generalStatus !== STATUS.serviceNotSupported) {
    const parsed = all.value.generalStatus === STATUS.success ? parseIdentityAttributes(all.value.data) : null;
    return { reply: all.value, identity: parsed && !('error' in parsed) ? parsed : null, via: 'Get_Attributes_All' };
  }
  const single = expectEnip(await sendRRData(conn, session, encodeCipRequest(CIP_SERVICES.getAttributeSingle, { classId: CIP_CLASSES.identity, instance: 1, attribute: 7 }), waitMs, 'SendRRData: Get_Attribute_Single, Identity instance 1 attribute 7'), 'Get_Attribute_Single');
  if (single.status !== 'ok') return { unclear: `Get_Attribute_Single: ${describeAnswer(single)}` };
  return { reply: single.value, identity: null, via: 'Get_Attribute_Single (product name)' };
}

/** RegisterSession, then the Identity object: is explicit messaging served to a peer nobody authenticated? */
export async function tryExplicitMessaging(conn: EnipConnection, waitMs: number): Promise<ExplicitAccess> {
  const registered = expectEnip(await registerSession(conn, waitMs), 'RegisterSession');
  if (registered.status === 'refused') {
    return SESSION_REFUSALS.has(registered.encapStatus)
      ? { result: 'session-refused', encapStatus: registered.encapStatus, statusName: registered.statusName }
      : { result: 'unclear', reason: `RegisterSession ${describeAnswer(registered)}` };
  }
  if (registered.status === 'invalid') throw new ProtocolViolation(`RegisterSession: ${registered.reason}`);
  const session = registered.value;
  const read = await readIdentityObject(conn, session, waitMs);
  if ('unclear' in read) return { result: 'unclear', session, reason: read.unclear };
  const status = read.reply.generalStatus;
  if (status === STATUS.success) return { result: 'served', session, identity: read.identity, via: read.via };
  if (status === STATUS.privilegeViolation) return { result: 'message-refused', session, generalStatus: status, statusName: generalStatusName(status) };
  return { result: 'unclear', session, reason: `${read.via} answered ${generalStatusName(status)}` };
}
