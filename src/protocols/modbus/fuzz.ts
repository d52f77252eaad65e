import { hex, isAbort } from '../../sdk';
import type { FieldSpec, FrameTemplate } from '../fuzz/grammar';
import { param, type DeviceReaction, type FuzzTargetFactory } from '../fuzz/target';
import type { ModbusEndpoint } from './connect';
import { FUNCTION_CODES as FC, LIMITS, encodeFrame, hasReadResponseShape, interpretResponse, readRequestPdu } from './frames';
import { RawModbusConnection, type RawReply } from './raw';

/**
 * The Modbus/TCP grammar of the fuzzer: valid requests built with the frame encoders, and where their
 * MBAP and PDU fields are. Field limits are the spec's (Application Protocol V1.1b3 §6, Messaging on
 * TCP/IP V1.0b §3.1.3), so boundary mutations land on both sides of each.
 */
export interface ModbusGrammarOptions {
  unitId: number;
  /** The holding register the read templates read (the essential function's, so reads are normal). */
  readAddress: number;
  /** The holding register the write templates (FC06, FC16) write: choose a scratch register. */
  writeAddress: number;
}

const MBAP_FIELDS: readonly FieldSpec[] = [
  { name: 'mbap.protocol-id', offset: 2, size: 2, kind: 'id', min: 0, max: 0 },
  { name: 'mbap.length', offset: 4, size: 2, kind: 'length', min: 2, max: LIMITS.mbapLength },
  { name: 'mbap.unit-id', offset: 6, size: 1, kind: 'id', extra: [0, 0xf7, 0xff] },
  // Unassigned public codes, the exception bit, user-defined and reserved ranges (spec §5).
  { name: 'pdu.function', offset: 7, size: 1, kind: 'code', min: 1, max: 0x7f, extra: [0x00, 0x08, 0x2b, 0x37, 0x41, 0x64, 0x83] },
];

const field = (name: string, offset: number, size: 1 | 2, kind: FieldSpec['kind'], min?: number, max?: number): FieldSpec =>
  ({ name, offset, size, kind, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) });

/** MBAP length counts the unit identifier and the PDU: the bytes from offset 6. */
const LENGTH_COVERS = { field: 'mbap.length', from: 6 } as const;

export function modbusTemplates(o: ModbusGrammarOptions): FrameTemplate[] {
  const frame = (pdu: Buffer) => encodeFrame({ transactionId: 1, unitId: o.unitId, pdu });
  const readFields = (max: number) => [...MBAP_FIELDS, field('pdu.address', 8, 2, 'address'), field('pdu.quantity', 10, 2, 'count', 1, max)];
  const writeSingle = Buffer.alloc(5);
  writeSingle.writeUInt8(FC.writeSingleRegister, 0);
  writeSingle.writeUInt16BE(o.writeAddress, 1);
  writeSingle.writeUInt16BE(0x0001, 3);
  const writeMultiple = Buffer.alloc(10);
  writeMultiple.writeUInt8(FC.writeMultipleRegisters, 0);
  writeMultiple.writeUInt16BE(o.writeAddress, 1);
  writeMultiple.writeUInt16BE(2, 3);
  writeMultiple.writeUInt8(4, 5);
  writeMultiple.writeUInt16BE(0x0001, 6);
  writeMultiple.writeUInt16BE(0x0002, 8);
  return [
    { name: 'fc03-read-holding', bytes: frame(readRequestPdu(FC.readHoldingRegisters, o.readAddress, 1)), fields: readFields(LIMITS.readRegisters), lengthCovers: LENGTH_COVERS },
    { name: 'fc01-read-coils', bytes: frame(readRequestPdu(FC.readCoils, 0, 8)), fields: readFields(LIMITS.readBits), lengthCovers: LENGTH_COVERS },
    {
      name: 'fc06-write-register', bytes: frame(writeSingle), lengthCovers: LENGTH_COVERS,
      fields: [...MBAP_FIELDS, field('pdu.address', 8, 2, 'address'), field('pdu.value', 10, 2, 'value')],
    },
    {
      name: 'fc16-write-registers', bytes: frame(writeMultiple), lengthCovers: LENGTH_COVERS,
      fields: [
        ...MBAP_FIELDS, field('pdu.address', 8, 2, 'address'), field('pdu.quantity', 10, 2, 'count', 1, LIMITS.writeRegisters),
        field('pdu.byte-count', 12, 1, 'length', 2, LIMITS.writeRegisters * 2),
      ],
    },
    {
      name: 'fc43-device-identification', bytes: frame(Buffer.from([FC.encapsulatedInterface, 0x0e, 0x01, 0x00])), lengthCovers: LENGTH_COVERS,
      fields: [...MBAP_FIELDS, field('pdu.mei-type', 8, 1, 'code', 0x0d, 0x0e), field('pdu.read-code', 9, 1, 'code', 1, 4), field('pdu.object-id', 10, 1, 'id')],
    },
  ];
}

/** The normal request after each case (and after a replay): a read of one holding register. */
export function modbusCheckRequest(unitId: number, address: number): Buffer {
  return encodeFrame({ transactionId: 0x7fff, unitId, pdu: readRequestPdu(FC.readHoldingRegisters, address, 1) });
}

export type { DeviceReaction } from '../fuzz/target';

/** The reaction to `request`, from what came back. */
export function modbusReaction(request: Buffer, reply: RawReply): DeviceReaction {
  const base = { hex: hex(reply.bytes), elapsedMs: reply.elapsedMs };
  switch (reply.kind) {
    case 'no-answer': return { kind: 'timeout', ...base, detail: `no complete answer within ${reply.elapsedMs} ms` };
    case 'closed': return { kind: reply.reset ? 'reset' : 'close', ...base, detail: `connection ${reply.reset ? 'reset' : 'closed'} by the device` };
    case 'invalid': return { kind: 'invalid', ...base, detail: reply.reason };
    case 'frame': {
      const fc = request.length > 7 ? request[7] : -1;
      const meaning = interpretResponse(reply.frame.pdu, fc);
      if (meaning.kind === 'exception') return { kind: 'exception', ...base, detail: `exception ${meaning.code} (${meaning.name})` };
      if (meaning.kind === 'normal' && !hasReadResponseShape(reply.frame.pdu)) {
        return { kind: 'invalid', ...base, detail: 'a read answer whose byte count does not match its data (an echoed request?)' };
      }
      return { kind: 'reply', ...base, detail: meaning.kind === 'normal' ? 'normal response' : `response with function code 0x${meaning.functionCode.toString(16)}` };
    }
  }
}

/**
 * Sends one case on a connection of its own (a malformed length desynchronises the stream for whatever
 * follows) and waits up to `waitMs` for the reaction. A connection the device refuses is a reaction too:
 * the previous case may have killed it. An abort of `signal` rejects with its reason.
 */
export async function sendModbusCase(endpoint: ModbusEndpoint, bytes: Buffer, waitMs: number, signal: AbortSignal, connectErrors: 'reaction' | 'throw' = 'reaction'): Promise<DeviceReaction> {
  let conn: RawModbusConnection;
  const started = Date.now();
  try {
    conn = await RawModbusConnection.open(endpoint, { signal, connectTimeoutMs: Math.max(waitMs, 1000) });
  } catch (err) {
    if (connectErrors === 'throw' || signal.aborted || isAbort(err, signal)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    return { kind: 'connect-failed', hex: '', detail: err instanceof Error ? err.message : String(err), elapsedMs: Date.now() - started, ...(code ? { code } : {}), notSent: 'no connection' };
  }
  try {
    // A device may echo a mutated protocol identifier: accept it so the answer is read as a frame.
    const protocolIds = bytes.length >= 4 ? [0, bytes.readUInt16BE(2)] : [0];
    return modbusReaction(bytes, await conn.exchange(bytes, waitMs, protocolIds));
  } finally {
    conn.close();
  }
}

/** Whether the device answers `check` (a normal read) with a normal response, on a new connection. With
 * connectErrors 'throw' a failed connect rejects with Node's error (for the runner to classify). */
export async function modbusAnswersNormally(endpoint: ModbusEndpoint, check: Buffer, waitMs: number, signal: AbortSignal, connectErrors: 'reaction' | 'throw' = 'reaction'): Promise<DeviceReaction & { ok: boolean }> {
  const reaction = await sendModbusCase(endpoint, check, waitMs, signal, connectErrors);
  return { ...reaction, ok: reaction.kind === 'reply' && reaction.detail === 'normal response' };
}

/**
 * The fuzz core's Modbus/TCP target (params: unitId, readAddress, writeAddress). The normal request is a
 * read of one holding register at readAddress.
 */
export const modbusFuzzTarget: FuzzTargetFactory = (endpoint, params) => {
  const options: ModbusGrammarOptions = {
    unitId: param(params, 'unitId', 1), readAddress: param(params, 'readAddress', 0), writeAddress: param(params, 'writeAddress', 100),
  };
  const check = modbusCheckRequest(options.unitId, options.readAddress);
  return {
    protocol: 'modbus',
    transport: 'tcp',
    params: { ...options },
    templates: modbusTemplates(options),
    checkDescription: hex(check),
    sendCase: (c, waitMs, signal) => sendModbusCase(endpoint, c.bytes, waitMs, signal),
    answersNormally: (waitMs, signal) => modbusAnswersNormally(endpoint, check, waitMs, signal),
  };
};
