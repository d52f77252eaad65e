/**
 * Modbus/TCP framing (MBAP header + PDU) as the Modbus Application Protocol Specification V1.1b3 and
 * the Modbus Messaging on TCP/IP Implementation Guide V1.0b define it. Used by the raw-frame client,
 * which must also build frames that break these rules on purpose.
 */

export const FUNCTION_CODES = {
  readCoils: 0x01,
  readDiscreteInputs: 0x02,
  readHoldingRegisters: 0x03,
  readInputRegisters: 0x04,
  writeSingleCoil: 0x05,
  writeSingleRegister: 0x06,
  writeMultipleCoils: 0x0f,
  writeMultipleRegisters: 0x10,
  encapsulatedInterface: 0x2b,
} as const;

/** MEI type of Read Device Identification inside function 43. */
export const MEI_READ_DEVICE_ID = 0x0e;

/** Exception codes (spec §7). */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  0x01: 'ILLEGAL FUNCTION',
  0x02: 'ILLEGAL DATA ADDRESS',
  0x03: 'ILLEGAL DATA VALUE',
  0x04: 'SERVER DEVICE FAILURE',
  0x05: 'ACKNOWLEDGE',
  0x06: 'SERVER DEVICE BUSY',
  0x08: 'MEMORY PARITY ERROR',
  0x0a: 'GATEWAY PATH UNAVAILABLE',
  0x0b: 'GATEWAY TARGET DEVICE FAILED TO RESPOND',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? `UNKNOWN EXCEPTION 0x${code.toString(16).padStart(2, '0')}`;
}

/** Protocol limits (spec §6): quantities per request and the largest PDU. */
export const LIMITS = {
  readRegisters: 125,
  readBits: 2000,
  writeRegisters: 123,
  writeCoils: 1968,
  /** Largest PDU (function code + data) on any Modbus transport. */
  pduBytes: 253,
  /** Largest MBAP length field: unit identifier + PDU. */
  mbapLength: 254,
} as const;

export const MBAP_HEADER_BYTES = 7;

export interface MbapFrame {
  transactionId: number;
  protocolId: number;
  /** The length field as sent: unit identifier + PDU bytes. */
  length: number;
  unitId: number;
  pdu: Buffer;
}

export interface FrameSpec {
  transactionId: number;
  unitId: number;
  pdu: Uint8Array;
  /** 0 for Modbus; anything else is a malformed frame. */
  protocolId?: number;
  /** Overrides the length field (default: 1 + pdu length) to build length mismatches. */
  length?: number;
}

export function encodeFrame(spec: FrameSpec): Buffer {
  const header = Buffer.alloc(MBAP_HEADER_BYTES);
  header.writeUInt16BE(spec.transactionId & 0xffff, 0);
  header.writeUInt16BE((spec.protocolId ?? 0) & 0xffff, 2);
  header.writeUInt16BE((spec.length ?? spec.pdu.length + 1) & 0xffff, 4);
  header.writeUInt8(spec.unitId & 0xff, 6);
  return Buffer.concat([header, Buffer.from(spec.pdu)]);
}

/** PDU of a read request (functions 1-4): function, start address, quantity. */
export function readRequestPdu(functionCode: number, address: number, quantity: number): Buffer {
  const pdu = Buffer.alloc(5);
  pdu.writeUInt8(functionCode, 0);
  pdu.writeUInt16BE(address & 0xffff, 1);
  pdu.writeUInt16BE(quantity & 0xffff, 3);
  return pdu;
}

export type FrameParse =
  | { kind: 'frame'; frame: MbapFrame; bytes: number }
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string };

/**
 * Reads one Modbus/TCP frame from the start of `buf`. A header whose protocol id is not 0 or whose
 * length field is outside 2..254 cannot be Modbus/TCP (a text banner or garbage), so it is `invalid`
 * at once rather than waited for. `protocolIds` widens what is accepted, for a device that echoes the
 * wrong protocol id of a malformed request.
 */
export function parseFrame(buf: Buffer, protocolIds: readonly number[] = [0]): FrameParse {
  if (buf.length >= 4 && !protocolIds.includes(buf.readUInt16BE(2))) {
    return { kind: 'invalid', reason: `protocol identifier 0x${buf.readUInt16BE(2).toString(16).padStart(4, '0')} is not 0 (Modbus)` };
  }
  if (buf.length >= 6) {
    const length = buf.readUInt16BE(4);
    if (length < 2 || length > LIMITS.mbapLength) return { kind: 'invalid', reason: `MBAP length ${length} is outside 2..${LIMITS.mbapLength}` };
    if (buf.length >= 6 + length) {
      return {
        kind: 'frame',
        bytes: 6 + length,
        frame: {
          transactionId: buf.readUInt16BE(0), protocolId: buf.readUInt16BE(2), length, unitId: buf.readUInt8(6),
          pdu: Buffer.from(buf.subarray(MBAP_HEADER_BYTES, 6 + length)),
        },
      };
    }
  }
  return { kind: 'incomplete' };
}

/** What a response PDU says: a normal answer to `functionCode`, or an exception with its code. */
export type PduMeaning =
  | { kind: 'normal'; functionCode: number }
  | { kind: 'exception'; functionCode: number; code: number; name: string }
  | { kind: 'other'; functionCode: number };

/**
 * Whether a normal answer to a read (FC 01-04) has the read response's shape: a byte count equal to the data
 * bytes that follow (even for register reads). An echoed request has the right function code but not this shape.
 * Other function codes are not checked here.
 */
export function hasReadResponseShape(pdu: Buffer): boolean {
  const fc = pdu.length > 0 ? pdu.readUInt8(0) : -1;
  if (fc < 1 || fc > 4) return true;
  const registers = fc === FUNCTION_CODES.readHoldingRegisters || fc === FUNCTION_CODES.readInputRegisters;
  return pdu.length >= 3 && pdu[1] === pdu.length - 2 && (!registers || pdu[1] % 2 === 0);
}

export function interpretResponse(pdu: Buffer, requestFunction: number): PduMeaning {
  const fc = pdu.length > 0 ? pdu.readUInt8(0) : -1;
  if (fc === (requestFunction | 0x80) && pdu.length >= 2) {
    const code = pdu.readUInt8(1);
    return { kind: 'exception', functionCode: requestFunction, code, name: exceptionName(code) };
  }
  if (fc === requestFunction) return { kind: 'normal', functionCode: fc };
  return { kind: 'other', functionCode: fc };
}
