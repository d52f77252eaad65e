import { ProtocolViolation } from '../../sdk';
import { expectPdu, type S7Session } from './connection';
import {
  ROSCTR, SZL_FOLLOW_UP_DATA, errorText, parseUserDataParam, szlFollowUpParam, szlRequestData, szlRequestParam,
} from './frames';

/**
 * Reading the system status list (SZL, "System Software for S7-300/400 System and Standard Functions",
 * chapter "System Status Lists"): userdata, CPU functions group 4, subfunction 1. A long list comes in
 * fragments; the follow-up request carries the answer's data unit reference.
 */

export const SZL_IDS = {
  moduleIdentification: 0x0011,
  componentIdentification: 0x001c,
  protection: 0x0232,
  cpuStatus: 0x0424,
} as const;

export type SzlRead =
  | { status: 'ok'; szlId: number; index: number; recordLength: number; records: Buffer[]; fragments: number }
  /** The device answered the request with an error (in the parameter) or a return code other than 0xFF. */
  | { status: 'refused'; error: number; errorText: string; returnCode: number };

const MAX_FRAGMENTS = 16;

export async function readSzl(session: S7Session, szlId: number, index: number): Promise<SzlRead> {
  const what = `SZL 0x${szlId.toString(16).padStart(4, '0')} index 0x${index.toString(16).padStart(4, '0')}`;
  const wait = session.iso.options.waitMs;
  let pdu = expectPdu(await session.request(ROSCTR.userData, szlRequestParam(), szlRequestData(szlId, index), `read ${what}`), `read ${what}`, wait);
  const chunks: Buffer[] = [];
  for (let fragment = 1; ; fragment++) {
    if (pdu.rosctr !== ROSCTR.userData) throw new ProtocolViolation(`read ${what} answered with ROSCTR ${pdu.rosctr}`);
    const param = parseUserDataParam(pdu.param);
    if (typeof param === 'string') throw new ProtocolViolation(`read ${what}: ${param}`);
    const returnCode = pdu.data.length > 0 ? pdu.data[0] : 0;
    if (param.error !== 0 || returnCode !== 0xff) return { status: 'refused', error: param.error, errorText: errorText(param.error), returnCode };
    if (pdu.data.length < 4) throw new ProtocolViolation(`read ${what}: ${pdu.data.length}-byte data part`);
    chunks.push(pdu.data.subarray(4, 4 + pdu.data.readUInt16BE(2)));
    if (param.lastDataUnit) return parseSzlList(Buffer.concat(chunks), what, fragment);
    if (fragment >= MAX_FRAGMENTS) throw new ProtocolViolation(`read ${what}: still "more data" after ${MAX_FRAGMENTS} fragments`);
    const next = await session.request(ROSCTR.userData, szlFollowUpParam(param.sequence, param.dataUnitRef), SZL_FOLLOW_UP_DATA, `read ${what}, fragment ${fragment + 1}`);
    pdu = expectPdu(next, `read ${what} (follow-up)`, wait);
  }
}

function parseSzlList(list: Buffer, what: string, fragments: number): SzlRead {
  if (list.length < 8) throw new ProtocolViolation(`read ${what}: a ${list.length}-byte list has no SZL header`);
  const recordLength = list.readUInt16BE(4);
  const count = list.readUInt16BE(6);
  if (recordLength === 0 && count > 0) throw new ProtocolViolation(`read ${what}: ${count} records of length 0`);
  const records: Buffer[] = [];
  // Devices answer fewer records than the count when the PDU is full; what is there is kept.
  for (let i = 0, at = 8; i < count && at + recordLength <= list.length; i++, at += recordLength) {
    records.push(Buffer.from(list.subarray(at, at + recordLength)));
  }
  return { status: 'ok', szlId: list.readUInt16BE(0), index: list.readUInt16BE(2), recordLength, records, fragments };
}

const text = (b: Buffer) => b.toString('latin1').replace(/\0.*$/s, '').trim();

/** SZL 0x0011 record (28 bytes): index, order number (MLFB, 20 chars), module type, version fields. */
export interface ModuleIdentification {
  /** Index 1: the module's order number. */
  module?: string;
  /** Index 6: the basic hardware's order number. */
  basicHardware?: string;
  /** Index 7: basic firmware version, e.g. "V3.2.6" (nmap prints it without the "V"). */
  firmware?: string;
  /** Index 0x81: boot loader version. */
  bootLoader?: string;
}

export function parseModuleIdentification(records: readonly Buffer[]): ModuleIdentification {
  const out: ModuleIdentification = {};
  for (const r of records) {
    if (r.length < 28) continue;
    const index = r.readUInt16BE(0);
    const version = () => `${String.fromCharCode(r[24])}${r[25]}.${r[26]}.${r[27]}`;
    if (index === 0x0001) out.module = text(r.subarray(2, 22));
    else if (index === 0x0006) out.basicHardware = text(r.subarray(2, 22));
    else if (index === 0x0007) out.firmware = version();
    else if (index === 0x0081) out.bootLoader = version();
  }
  return out;
}

/** SZL 0x001C records (34 bytes): index + 32 characters. */
export const COMPONENT_NAMES: Readonly<Record<number, string>> = {
  0x0001: 'systemName',
  0x0002: 'moduleName',
  0x0003: 'plantId',
  0x0004: 'copyright',
  0x0005: 'serial',
  0x0007: 'moduleTypeName',
  0x0008: 'memoryCardSerial',
  0x000b: 'location',
};

export function parseComponentIdentification(records: readonly Buffer[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of records) {
    if (r.length < 4) continue;
    const name = COMPONENT_NAMES[r.readUInt16BE(0)];
    if (name) out[name] = text(r.subarray(2, 2 + 32));
  }
  return out;
}

/** SZL 0x0232 index 4: protection levels and switch positions (words sch_schal, sch_par, sch_rel, bart_sch, anl_sch). */
export interface Protection {
  /** Protection level set with the mode selector (1 none, 2 write, 3 read/write). */
  schSchal: number;
  /** Protection level set in the parameters (0 no password set, 1..3). */
  schPar: number;
  /** The CPU's valid protection level (1 none, 2 write-protected, 3 read/write-protected). */
  schRel: number;
  /** Mode selector position: 1 RUN, 2 RUN-P, 3 STOP, 4 MRES, 0 undefined or no selector. */
  bartSch: number;
  /** Startup switch: 1 CRST, 2 WRST, 0 undefined. */
  anlSch: number;
}

export const PROTECTION_LEVELS: Readonly<Record<number, string>> = {
  0: 'none set', 1: 'no protection', 2: 'write protection', 3: 'read/write protection',
};
export const MODE_SELECTOR: Readonly<Record<number, string>> = { 0: 'undefined', 1: 'RUN', 2: 'RUN-P', 3: 'STOP', 4: 'MRES' };

export function parseProtection(records: readonly Buffer[]): Protection | undefined {
  const r = records.find((x) => x.length >= 12 && x.readUInt16BE(0) === 0x0004) ?? records.find((x) => x.length >= 12);
  if (!r) return undefined;
  return { schSchal: r.readUInt16BE(2), schPar: r.readUInt16BE(4), schRel: r.readUInt16BE(6), bartSch: r.readUInt16BE(8), anlSch: r.readUInt16BE(10) };
}

/** SZL 0x0424 record: the low nibble of byte 3 (bzu-id) is the CPU's operating mode. */
export const CPU_MODES: Readonly<Record<number, string>> = {
  0x01: 'STOP', 0x02: 'STOP', 0x03: 'STOP', 0x04: 'STOP', 0x05: 'STARTUP', 0x06: 'STARTUP', 0x07: 'STARTUP',
  0x08: 'RUN', 0x0a: 'HOLD', 0x0d: 'DEFECT',
};

export function parseCpuMode(records: readonly Buffer[]): string | undefined {
  const r = records.find((x) => x.length >= 4);
  return r ? CPU_MODES[r[3] & 0x0f] ?? `unknown (0x${r[3].toString(16)})` : undefined;
}
