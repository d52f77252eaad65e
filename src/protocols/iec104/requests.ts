import {
  COT, TYPE_IDS, clockSyncAsdu, cotName, describeAsdu, elementValue, interrogationAsdu, parseAsdu, singleCommandAsdu,
  type Asdu, type UFunction,
} from './frames';
import type { Iec104Link, LinkReply } from './link';

/** How a U-format request ended: confirmed, or what came instead (a hang-up, silence, foreign bytes, another frame). */
export type UOutcome =
  | { kind: 'confirmed' }
  | Exclude<LinkReply, { kind: 'apdu' }>
  | { kind: 'unexpected'; what: string };

const CONFIRMATION: Readonly<Record<'startdtAct' | 'stopdtAct' | 'testfrAct', UFunction>> = {
  startdtAct: 'startdtCon', stopdtAct: 'stopdtCon', testfrAct: 'testfrCon',
};

/**
 * Sends STARTDT, STOPDT or TESTFR act and waits for its confirmation. I-frames that arrive meanwhile (data
 * of a started link) are read and skipped; another U or S frame ends the wait as unexpected.
 */
export async function uRequest(link: Iec104Link, fn: 'startdtAct' | 'stopdtAct' | 'testfrAct'): Promise<UOutcome> {
  link.sendU(fn);
  for (;;) {
    const reply = await link.receive();
    if (reply.kind !== 'apdu') return reply;
    const { apdu } = reply;
    if (apdu.format === 'U' && apdu.fn === CONFIRMATION[fn]) return { kind: 'confirmed' };
    // A TESTFR act from the outstation is answered as the standard asks; it says nothing about our request.
    if (apdu.format === 'U' && apdu.fn === 'testfrAct') {
      link.sendU('testfrCon');
      continue;
    }
    // Data of a started link and acknowledgements (an outstation acknowledges before STOPDT con) are skipped.
    if (apdu.format === 'I' || apdu.format === 'S') continue;
    return { kind: 'unexpected', what: `U ${apdu.fn}` };
  }
}

export const uOutcomeText = (o: UOutcome): string => {
  switch (o.kind) {
    case 'confirmed': return 'confirmed';
    case 'closed': return o.reset ? 'connection reset' : 'connection closed';
    case 'no-answer': return 'no answer';
    case 'invalid': return `not IEC 104 (${o.reason})`;
    case 'unexpected': return `unexpected ${o.what}`;
  }
};

/** How an activation (interrogation, command, clock sync) ended. */
export type ActivationEnd = 'actterm' | 'negative' | 'no-answer' | 'closed' | 'invalid';

export interface InterrogationResult {
  /** The activation confirmation: positive, negative (P/N set), or none before the end. */
  confirmation: 'positive' | 'negative' | 'none';
  end: ActivationEnd;
  /** ASDUs with a cause "interrogated by station/group" (20..36), as they arrived. */
  responses: Asdu[];
  /** Every common address the outstation answered with (its ActCon, responses and ActTerm). */
  commonAddresses: number[];
  /** Number of information objects in the responses (nmap iec-identify counts the same). */
  objectCount: number;
  /** I-frames whose ASDU could not be read. */
  unreadable: string[];
}

/** The points a general interrogation reported: IOA, type and value. */
export function pointsOf(r: InterrogationResult): { ioa: number; type: string; value?: string | number | boolean }[] {
  return r.responses.flatMap((a) => a.objects.map((o) => {
    const value = elementValue(a.typeId, o.element);
    return { ioa: o.ioa, type: describeType(a.typeId), ...(value === undefined ? {} : { value }) };
  }));
}

const describeType = (typeId: number) => describeAsdu({ typeId, sequence: false, cause: 0, negative: false, test: false, originator: 0, commonAddress: 0, objects: [] }).split(' ')[0];

/**
 * General interrogation (C_IC_NA_1, QOI 20) on a started link: reads until the activation termination, a
 * negative confirmation, silence for `waitMs`, or at most `maxFrames` I-frames.
 */
export async function interrogate(link: Iec104Link, commonAddress: number, maxFrames = 256): Promise<InterrogationResult> {
  link.sendI(interrogationAsdu(commonAddress), `C_IC_NA_1 act, CA ${commonAddress}, QOI 20 (station interrogation)`);
  const result: InterrogationResult = { confirmation: 'none', end: 'no-answer', responses: [], commonAddresses: [], objectCount: 0, unreadable: [] };
  const addresses = new Set<number>();
  for (let frames = 0; frames < maxFrames;) {
    const reply = await link.receive();
    if (reply.kind !== 'apdu') {
      result.end = reply.kind;
      break;
    }
    if (reply.apdu.format !== 'I') continue;
    frames++;
    const asdu = parseAsdu(reply.apdu.asdu);
    if (typeof asdu === 'string') {
      result.unreadable.push(asdu);
      continue;
    }
    if (asdu.typeId === TYPE_IDS.M_EI_NA_1) continue; // end of initialisation: no answer to the interrogation
    addresses.add(asdu.commonAddress);
    if (asdu.typeId === TYPE_IDS.C_IC_NA_1) {
      if (asdu.cause === COT.activationCon) result.confirmation = asdu.negative ? 'negative' : 'positive';
      if (asdu.negative) {
        result.end = 'negative';
        break;
      }
      if (asdu.cause === COT.activationTerm) {
        result.end = 'actterm';
        break;
      }
    } else if (asdu.cause >= COT.interrogatedByStation && asdu.cause <= 36) {
      result.responses.push(asdu);
      result.objectCount += asdu.objects.length;
    }
  }
  link.acknowledge();
  result.commonAddresses = [...addresses].sort((a, b) => a - b);
  return result;
}

export interface CommandResult {
  /** The activation confirmation of this command: positive, negative (P/N set, with its cause), or none. */
  confirmation: 'positive' | 'negative' | 'none';
  /** Cause of the confirmation (actcon, or unknown IOA / type / common address). */
  cause?: string;
  terminated: boolean;
  end: ActivationEnd | 'confirmed';
  /** Other ASDUs that arrived meanwhile (spontaneous return information, ...), described. */
  other: string[];
}

/** Sends one command ASDU and waits for its confirmation (same type), then briefly for its termination. */
async function activation(link: Iec104Link, asdu: Buffer, typeId: number, what: string, termWaitMs: number): Promise<CommandResult> {
  link.sendI(asdu, what);
  const result: CommandResult = { confirmation: 'none', terminated: false, end: 'no-answer', other: [] };
  for (;;) {
    const reply = await link.receive(result.confirmation === 'positive' ? termWaitMs : undefined);
    if (reply.kind !== 'apdu') {
      result.end = result.confirmation === 'positive' && reply.kind === 'no-answer' ? 'confirmed' : reply.kind;
      break;
    }
    if (reply.apdu.format !== 'I') continue;
    const a = parseAsdu(reply.apdu.asdu);
    if (typeof a === 'string') {
      result.other.push(`unreadable: ${a}`);
      continue;
    }
    if (a.typeId !== typeId) {
      result.other.push(describeAsdu(a));
      continue;
    }
    if (a.cause === COT.activationTerm) {
      result.terminated = true;
      result.end = 'actterm';
      break;
    }
    result.confirmation = a.negative ? 'negative' : 'positive';
    result.cause = cotName(a.cause);
    if (a.negative) {
      result.end = 'negative';
      break;
    }
  }
  link.acknowledge();
  return result;
}

/** C_SC_NA_1 direct execute to `ioa`. */
export function singleCommand(link: Iec104Link, commonAddress: number, ioa: number, on: boolean): Promise<CommandResult> {
  return activation(link, singleCommandAsdu(commonAddress, ioa, on), TYPE_IDS.C_SC_NA_1, `C_SC_NA_1 act, CA ${commonAddress}, IOA ${ioa}, ${on ? 'ON' : 'OFF'}, direct execute`, Math.min(link.options.waitMs, 1000));
}

/** C_CS_NA_1 to IOA 0 with `time` (no termination is expected). */
export function clockSync(link: Iec104Link, commonAddress: number, time: Date): Promise<CommandResult> {
  return activation(link, clockSyncAsdu(commonAddress, time), TYPE_IDS.C_CS_NA_1, `C_CS_NA_1 act, CA ${commonAddress}, ${time.toISOString()}`, 0);
}
