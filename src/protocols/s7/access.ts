import { ProtocolViolation } from '../../sdk';
import { expectPdu, type S7Session } from './connection';
import {
  FUNCTION, ROSCTR, errorText, itemReturnText, parseReadVarData, plcHotStartParam, plcStopParam, readVarParam,
  writeVarData, writeVarParam, type AreaAddress,
} from './frames';

/** How the device answered a job: with data or success, a refusal of the whole job, or an item error. */
export type JobAnswer =
  | { status: 'data'; bytes: Buffer }
  | { status: 'ok' }
  /** The ack-data header carries an error (e.g. 0x8104 PUT/GET not permitted, 0xD241 password needed). */
  | { status: 'job-refused'; error: number; errorText: string }
  /** The item's return code (0x03 access not allowed, 0x05 invalid address, 0x0A object does not exist, ...). */
  | { status: 'item-error'; returnCode: number; returnText: string };

/** Refusals that an access control gives, as opposed to "no such object" or "bad address". */
export function isAccessRefusal(a: JobAnswer): boolean {
  if (a.status === 'job-refused') return a.error === 0x8104 || (a.error & 0xff00) === 0xd200 || (a.error & 0xff00) === 0xd600;
  return a.status === 'item-error' && a.returnCode === 0x03;
}

export const describeArea = (a: AreaAddress): string =>
  `${a.area === 'db' ? `DB${a.db}` : a.area.toUpperCase()}.${a.offset}+${a.length}`;

export function answerText(a: JobAnswer): string {
  switch (a.status) {
    case 'data': return `data (${a.bytes.length} bytes)`;
    case 'ok': return 'accepted';
    case 'job-refused': return `refused: 0x${a.error.toString(16).padStart(4, '0')} ${a.errorText}`;
    case 'item-error': return `item error 0x${a.returnCode.toString(16).padStart(2, '0')} ${a.returnText}`;
  }
}

function jobRefusal(error: number): JobAnswer {
  return { status: 'job-refused', error, errorText: errorText(error) };
}

/** Read var of one area item. */
export async function readArea(session: S7Session, area: AreaAddress): Promise<JobAnswer> {
  const what = `read var ${describeArea(area)}`;
  const pdu = expectPdu(await session.request(ROSCTR.job, readVarParam([area]), undefined, what), what, session.iso.options.waitMs);
  if (pdu.error) return jobRefusal(pdu.error);
  if (pdu.rosctr !== ROSCTR.ackData || pdu.param[0] !== FUNCTION.readVar) throw new ProtocolViolation(`${what} answered with ROSCTR ${pdu.rosctr}, function 0x${(pdu.param[0] ?? 0).toString(16)}`);
  const items = parseReadVarData(pdu.data, 1);
  if (typeof items === 'string') throw new ProtocolViolation(`${what}: ${items}`);
  const [item] = items;
  if (item.returnCode !== 0xff) return { status: 'item-error', returnCode: item.returnCode, returnText: itemReturnText(item.returnCode) };
  return { status: 'data', bytes: item.data ?? Buffer.alloc(0) };
}

/** Write var of one area item. */
export async function writeArea(session: S7Session, area: AreaAddress, value: Uint8Array): Promise<JobAnswer> {
  const what = `write var ${describeArea(area)}`;
  const reply = await session.request(ROSCTR.job, writeVarParam([area]), writeVarData([value]), what);
  const pdu = expectPdu(reply, what, session.iso.options.waitMs);
  if (pdu.error) return jobRefusal(pdu.error);
  if (pdu.rosctr !== ROSCTR.ackData || pdu.param[0] !== FUNCTION.writeVar || pdu.data.length < 1) throw new ProtocolViolation(`${what} answered with ROSCTR ${pdu.rosctr}`);
  const code = pdu.data[0];
  return code === 0xff ? { status: 'ok' } : { status: 'item-error', returnCode: code, returnText: itemReturnText(code) };
}

/** PLC STOP (0x29) or hot restart (PLC control 0x28); a non-zero header error is the device's refusal. */
export async function plcControl(session: S7Session, action: 'stop' | 'hot-start'): Promise<JobAnswer> {
  const what = action === 'stop' ? 'PLC STOP' : 'PLC hot restart (P_PROGRAM)';
  const param = action === 'stop' ? plcStopParam() : plcHotStartParam();
  const pdu = expectPdu(await session.request(ROSCTR.job, param, undefined, what), what, session.iso.options.waitMs);
  if (pdu.error) return jobRefusal(pdu.error);
  if (pdu.rosctr !== ROSCTR.ackData) throw new ProtocolViolation(`${what} answered with ROSCTR ${pdu.rosctr}`);
  return { status: 'ok' };
}
