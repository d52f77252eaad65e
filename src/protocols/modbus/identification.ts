import { hex } from '../../sdk';
import { FUNCTION_CODES, MEI_READ_DEVICE_ID, encodeFrame, interpretResponse } from './frames';
import type { RawModbusConnection } from './raw';

/**
 * Read Device Identification (function 43, MEI type 14; spec §6.21) over the raw client.
 *
 * Why not modbus-serial's readDeviceIdentification: in 8.0.25 its "more follows" continuation
 * dereferences the result of the follow-up request even when that request failed, so a device that
 * sets MoreFollows and then answers the follow-up with an exception (or not at all) throws an uncaught
 * TypeError from a socket or timer callback and takes the whole harness down. Here the continuation is
 * bounded and every failure is an answer.
 */

/** Standard object ids (basic 0x00-0x02, regular 0x03-0x06). */
export const DEVICE_ID_OBJECTS: Readonly<Record<number, string>> = {
  0x00: 'vendorName',
  0x01: 'productCode',
  0x02: 'majorMinorRevision',
  0x03: 'vendorUrl',
  0x04: 'productName',
  0x05: 'modelName',
  0x06: 'userApplicationName',
};

export const DEVICE_ID_CATEGORIES = { basic: 0x01, regular: 0x02, extended: 0x03 } as const;
export type DeviceIdCategory = keyof typeof DEVICE_ID_CATEGORIES;

export interface DeviceIdObject {
  id: number;
  name: string;
  text: string;
  hex: string;
}

export type DeviceIdReply =
  | { status: 'ok'; conformityLevel: number; objects: DeviceIdObject[]; requests: number }
  | { status: 'exception'; code: number; name: string }
  | { status: 'no-answer' }
  | { status: 'closed'; reset: boolean }
  /** Bytes that are not Modbus/TCP at all (a banner, garbage). */
  | { status: 'not-modbus'; reason: string }
  /** A Modbus answer that is not a well-formed 43/14 response (wrong function, lengths that do not add up). */
  | { status: 'invalid'; reason: string };

/** At most this many requests per category: a device that keeps saying "more follows" is cut off. */
const MAX_CONTINUATIONS = 8;

export async function readDeviceIdentification(
  conn: RawModbusConnection, unitId: number, category: DeviceIdCategory, waitMs: number,
): Promise<DeviceIdReply> {
  const code = DEVICE_ID_CATEGORIES[category];
  const objects: DeviceIdObject[] = [];
  let objectId = 0;
  for (let requests = 1; requests <= MAX_CONTINUATIONS; requests++) {
    const transactionId = conn.nextTransactionId();
    const pdu = Buffer.from([FUNCTION_CODES.encapsulatedInterface, MEI_READ_DEVICE_ID, code, objectId]);
    const reply = await conn.exchange(encodeFrame({ transactionId, unitId, pdu }), waitMs);
    if (reply.kind === 'no-answer') return { status: 'no-answer' };
    if (reply.kind === 'closed') return { status: 'closed', reset: reply.reset };
    if (reply.kind === 'invalid') return { status: 'not-modbus', reason: reply.reason };
    const { frame } = reply;
    if (frame.transactionId !== transactionId) return { status: 'invalid', reason: `transaction id ${frame.transactionId} answers request ${transactionId}` };
    const meaning = interpretResponse(frame.pdu, FUNCTION_CODES.encapsulatedInterface);
    if (meaning.kind === 'exception') return { status: 'exception', code: meaning.code, name: meaning.name };
    if (meaning.kind === 'other') return { status: 'invalid', reason: `function code 0x${meaning.functionCode.toString(16)} in the answer to 0x2b` };
    const parsed = parseDeviceIdPdu(frame.pdu);
    if (typeof parsed === 'string') return { status: 'invalid', reason: parsed };
    objects.push(...parsed.objects);
    if (!parsed.moreFollows) return { status: 'ok', conformityLevel: parsed.conformityLevel, objects, requests };
    if (parsed.nextObjectId <= objectId) return { status: 'invalid', reason: `"more follows" with next object id ${parsed.nextObjectId} after ${objectId}: no progress` };
    objectId = parsed.nextObjectId;
  }
  return { status: 'invalid', reason: `still "more follows" after ${MAX_CONTINUATIONS} requests` };
}

interface DeviceIdPdu {
  conformityLevel: number;
  moreFollows: boolean;
  nextObjectId: number;
  objects: DeviceIdObject[];
}

/** Parses a 43/14 response PDU; returns a reason string when it is malformed. */
export function parseDeviceIdPdu(pdu: Buffer): DeviceIdPdu | string {
  if (pdu.length < 7) return `43/14 response of ${pdu.length} bytes is shorter than its 7-byte header`;
  if (pdu[1] !== MEI_READ_DEVICE_ID) return `MEI type 0x${pdu[1].toString(16)} instead of 0x0e`;
  const moreFollows = pdu[4];
  if (moreFollows !== 0x00 && moreFollows !== 0xff) return `MoreFollows 0x${moreFollows.toString(16)} is neither 0x00 nor 0xff`;
  const count = pdu[6];
  const objects: DeviceIdObject[] = [];
  let at = 7;
  for (let i = 0; i < count; i++) {
    if (at + 2 > pdu.length) return `object ${i + 1} of ${count} is missing`;
    const id = pdu[at];
    const length = pdu[at + 1];
    if (at + 2 + length > pdu.length) return `object 0x${id.toString(16)} claims ${length} bytes beyond the end of the PDU`;
    const value = pdu.subarray(at + 2, at + 2 + length);
    objects.push({ id, name: DEVICE_ID_OBJECTS[id] ?? `object0x${id.toString(16).padStart(2, '0')}`, text: value.toString('latin1'), hex: hex(value) });
    at += 2 + length;
  }
  if (at !== pdu.length) return `${pdu.length - at} bytes after the last object`;
  return { conformityLevel: pdu[3], moreFollows: moreFollows === 0xff, nextObjectId: pdu[5], objects };
}
