/**
 * BACnet/IP frames (ASHRAE 135 Annex J, clauses 6 and 20): the BVLC header, the NPDU and the APDU kinds a
 * probe sends and reads, with the enumerations it judges by. Built here, not by a library: every request's
 * bytes are evidence, and answers that break the rules must still be read.
 */

export const BACNET_PORT = 47808;
export const BVLC_TYPE_BIP = 0x81;

export const BVLC = {
  result: 0x00,
  writeBdt: 0x01,
  readBdt: 0x02,
  readBdtAck: 0x03,
  forwardedNpdu: 0x04,
  registerForeignDevice: 0x05,
  readFdt: 0x06,
  readFdtAck: 0x07,
  deleteFdtEntry: 0x08,
  distributeBroadcast: 0x09,
  originalUnicast: 0x0a,
  originalBroadcast: 0x0b,
} as const;

export const BVLC_NAMES: Readonly<Record<number, string>> = {
  0x00: 'BVLC-Result', 0x01: 'Write-Broadcast-Distribution-Table', 0x02: 'Read-Broadcast-Distribution-Table',
  0x03: 'Read-Broadcast-Distribution-Table-Ack', 0x04: 'Forwarded-NPDU', 0x05: 'Register-Foreign-Device',
  0x06: 'Read-Foreign-Device-Table', 0x07: 'Read-Foreign-Device-Table-Ack', 0x08: 'Delete-Foreign-Device-Table-Entry',
  0x09: 'Distribute-Broadcast-To-Network', 0x0a: 'Original-Unicast-NPDU', 0x0b: 'Original-Broadcast-NPDU',
};

/** BVLC-Result codes (J.2.1.1). */
export const BVLC_RESULT: Readonly<Record<number, string>> = {
  0x0000: 'successful completion', 0x0010: 'Write-Broadcast-Distribution-Table NAK', 0x0020: 'Read-Broadcast-Distribution-Table NAK',
  0x0030: 'Register-Foreign-Device NAK', 0x0040: 'Read-Foreign-Device-Table NAK', 0x0050: 'Delete-Foreign-Device-Table-Entry NAK',
  0x0060: 'Distribute-Broadcast-To-Network NAK',
};

export const bvlcResultName = (code: number): string => BVLC_RESULT[code] ?? `result code 0x${code.toString(16).padStart(4, '0')}`;

export const PDU_TYPE = { confirmed: 0, unconfirmed: 1, simpleAck: 2, complexAck: 3, segmentAck: 4, error: 5, reject: 6, abort: 7 } as const;

export const CONFIRMED_SERVICE = {
  readProperty: 12,
  writeProperty: 15,
  deviceCommunicationControl: 17,
  reinitializeDevice: 20,
} as const;

export const CONFIRMED_SERVICE_NAMES: Readonly<Record<number, string>> = {
  12: 'ReadProperty', 14: 'ReadPropertyMultiple', 15: 'WriteProperty', 17: 'DeviceCommunicationControl', 20: 'ReinitializeDevice',
};

export const UNCONFIRMED_SERVICE = { iAm: 0, whoIs: 8 } as const;

export const OBJECT_TYPE = { analogInput: 0, analogOutput: 1, analogValue: 2, binaryInput: 3, binaryOutput: 4, binaryValue: 5, device: 8, multiStateValue: 19 } as const;

export const OBJECT_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'analog-input', 1: 'analog-output', 2: 'analog-value', 3: 'binary-input', 4: 'binary-output', 5: 'binary-value',
  8: 'device', 13: 'multi-state-input', 14: 'multi-state-output', 19: 'multi-state-value',
};

/** The wildcard device instance: a device answers a ReadProperty of it as if its own instance were named (15.5). */
export const WILDCARD_INSTANCE = 4194303;

export const PROPERTY = {
  applicationSoftwareVersion: 12,
  description: 28,
  firmwareRevision: 44,
  location: 58,
  maxApduLengthAccepted: 62,
  modelName: 70,
  objectIdentifier: 75,
  objectList: 76,
  objectName: 77,
  objectType: 79,
  outOfService: 81,
  presentValue: 85,
  priorityArray: 87,
  protocolVersion: 98,
  relinquishDefault: 104,
  segmentationSupported: 107,
  statusFlags: 111,
  systemStatus: 112,
  units: 117,
  vendorIdentifier: 120,
  vendorName: 121,
  protocolRevision: 139,
  databaseRevision: 155,
  serialNumber: 372,
} as const;

export const PROPERTY_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(PROPERTY).map(([k, v]) => [v, k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)]),
);

export const ERROR_CLASS_NAMES: Readonly<Record<number, string>> = {
  0: 'device', 1: 'object', 2: 'property', 3: 'resources', 4: 'security', 5: 'services', 6: 'vt', 7: 'communication',
};

export const ERROR_CLASS = { device: 0, object: 1, property: 2, resources: 3, security: 4, services: 5 } as const;

export const ERROR_CODE = {
  other: 0, configurationInProgress: 2, deviceBusy: 3, invalidDataType: 9, missingRequiredParameter: 16, passwordFailure: 26,
  serviceRequestDenied: 29, unknownObject: 31, unknownProperty: 32, valueOutOfRange: 37, writeAccessDenied: 40,
  invalidArrayIndex: 42, optionalFunctionalityNotSupported: 45, propertyIsNotAnArray: 50, communicationDisabled: 83,
} as const;

export const ERROR_CODE_NAMES: Readonly<Record<number, string>> = {
  0: 'other', 2: 'configuration-in-progress', 3: 'device-busy', 9: 'invalid-data-type', 16: 'missing-required-parameter',
  25: 'operational-problem', 26: 'password-failure', 27: 'read-access-denied', 29: 'service-request-denied', 31: 'unknown-object',
  32: 'unknown-property', 36: 'unsupported-object-type', 37: 'value-out-of-range', 40: 'write-access-denied', 42: 'invalid-array-index',
  45: 'optional-functionality-not-supported', 50: 'property-is-not-an-array', 83: 'communication-disabled',
};

export const REJECT_REASON_NAMES: Readonly<Record<number, string>> = {
  0: 'other', 1: 'buffer-overflow', 2: 'inconsistent-parameters', 3: 'invalid-parameter-data-type', 4: 'invalid-tag',
  5: 'missing-required-parameter', 6: 'parameter-out-of-range', 7: 'too-many-arguments', 8: 'undefined-enumeration', 9: 'unrecognized-service',
};

export const ABORT_REASON_NAMES: Readonly<Record<number, string>> = {
  0: 'other', 1: 'buffer-overflow', 2: 'invalid-apdu-in-this-state', 3: 'preempted-by-higher-priority-task', 4: 'segmentation-not-supported',
  5: 'security-error', 6: 'insufficient-security', 9: 'out-of-resources', 10: 'tsm-timeout', 11: 'apdu-too-long',
};

export const REINITIALIZED_STATE = {
  coldstart: 0, warmstart: 1, startBackup: 2, endBackup: 3, startRestore: 4, endRestore: 5, abortRestore: 6, activateChanges: 7,
} as const;

export const REINITIALIZED_STATE_NAMES: Readonly<Record<number, string>> = {
  0: 'coldstart', 1: 'warmstart', 2: 'start-backup', 3: 'end-backup', 4: 'start-restore', 5: 'end-restore', 6: 'abort-restore', 7: 'activate-changes',
};

export const ENABLE_DISABLE = { enable: 0, disable: 1, disableInitiation: 2 } as const;

const named = (table: Readonly<Record<number, string>>, n: number, what: string) => table[n] ?? `${what} ${n}`;
export const errorName = (cls: number, code: number): string => `${named(ERROR_CLASS_NAMES, cls, 'class')}/${named(ERROR_CODE_NAMES, code, 'code')}`;
export const objectName = (type: number, instance: number): string => `${named(OBJECT_TYPE_NAMES, type, 'object-type')},${instance}`;
export const propertyName = (id: number): string => named(PROPERTY_NAMES, id, 'property');

// --- BVLC -------------------------------------------------------------------------------------------------

export function encodeBvlc(fn: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const header = Buffer.from([BVLC_TYPE_BIP, fn, 0, 0]);
  header.writeUInt16BE(4 + payload.length, 2);
  return Buffer.concat([header, Buffer.from(payload)]);
}

export type BvlcFrame = { fn: number; payload: Buffer } | { error: string };

/** The BVLC header of a datagram (type 0x81, its length equal to the datagram's). */
export function parseBvlc(bytes: Buffer): BvlcFrame {
  if (bytes.length < 4) return { error: `a ${bytes.length}-byte datagram is shorter than a BVLC header` };
  if (bytes[0] !== BVLC_TYPE_BIP) return { error: `first byte 0x${bytes[0].toString(16).padStart(2, '0')} is not BVLC type 0x81 (BACnet/IP)` };
  const length = bytes.readUInt16BE(2);
  if (length !== bytes.length) return { error: `BVLC length ${length} differs from the ${bytes.length}-byte datagram` };
  return { fn: bytes[1], payload: Buffer.from(bytes.subarray(4)) };
}

/** A B/IP address: IPv4 and UDP port, 6 bytes. */
export interface BipAddress {
  address: string;
  port: number;
}

export function encodeBip(a: BipAddress): Buffer {
  const octets = a.address.split('.').map((n) => Number.parseInt(n, 10));
  if (octets.length !== 4 || octets.some((n) => !(n >= 0 && n <= 255))) throw new RangeError(`not an IPv4 address: ${a.address}`);
  const b = Buffer.from([...octets, 0, 0]);
  b.writeUInt16BE(a.port, 4);
  return b;
}

export const decodeBip = (b: Buffer, at = 0): BipAddress => ({ address: [...b.subarray(at, at + 4)].join('.'), port: b.readUInt16BE(at + 4) });

export interface BdtEntry extends BipAddress { mask: string }
export interface FdtEntry extends BipAddress { ttl: number; remaining: number }

export function encodeBdt(entries: readonly BdtEntry[]): Buffer {
  return Buffer.concat(entries.map((e) => Buffer.concat([encodeBip(e), Buffer.from(e.mask.split('.').map((n) => Number.parseInt(n, 10)))])));
}

export function decodeBdt(payload: Buffer): BdtEntry[] | string {
  if (payload.length % 10 !== 0) return `a ${payload.length}-byte table is not a whole number of 10-byte entries`;
  return Array.from({ length: payload.length / 10 }, (_, i) => ({ ...decodeBip(payload, i * 10), mask: [...payload.subarray(i * 10 + 6, i * 10 + 10)].join('.') }));
}

export function encodeFdt(entries: readonly FdtEntry[]): Buffer {
  return Buffer.concat(entries.map((e) => {
    const tail = Buffer.alloc(4);
    tail.writeUInt16BE(e.ttl, 0);
    tail.writeUInt16BE(Math.min(e.remaining, 0xffff), 2);
    return Buffer.concat([encodeBip(e), tail]);
  }));
}

export function decodeFdt(payload: Buffer): FdtEntry[] | string {
  if (payload.length % 10 !== 0) return `a ${payload.length}-byte table is not a whole number of 10-byte entries`;
  return Array.from({ length: payload.length / 10 }, (_, i) => ({ ...decodeBip(payload, i * 10), ttl: payload.readUInt16BE(i * 10 + 6), remaining: payload.readUInt16BE(i * 10 + 8) }));
}

// --- NPDU -------------------------------------------------------------------------------------------------

/** A local NPDU (no DNET/SNET): version 1, the expecting-reply bit for confirmed requests. */
export function encodeNpdu(apdu: Uint8Array, expectingReply: boolean): Buffer {
  return Buffer.concat([Buffer.from([0x01, expectingReply ? 0x04 : 0x00]), Buffer.from(apdu)]);
}

export type Npdu = { networkMessage: boolean; expectingReply: boolean; apdu: Buffer } | { error: string };

/** Skips the optional destination/source specifiers and the hop count to the APDU (6.2). */
export function parseNpdu(bytes: Buffer): Npdu {
  if (bytes.length < 2) return { error: `a ${bytes.length}-byte NPDU` };
  if (bytes[0] !== 0x01) return { error: `NPDU version ${bytes[0]} (1 expected)` };
  const control = bytes[1];
  let at = 2;
  const hasDnet = (control & 0x20) !== 0;
  if (hasDnet) {
    if (at + 3 > bytes.length) return { error: 'NPDU destination specifier runs past the data' };
    at += 3 + bytes[at + 2];
  }
  if ((control & 0x08) !== 0) {
    if (at + 3 > bytes.length) return { error: 'NPDU source specifier runs past the data' };
    at += 3 + bytes[at + 2];
  }
  if (hasDnet) at += 1;
  const networkMessage = (control & 0x80) !== 0;
  if (at > bytes.length || (!networkMessage && at >= bytes.length)) return { error: 'NPDU without an APDU' };
  return { networkMessage, expectingReply: (control & 0x04) !== 0, apdu: Buffer.from(bytes.subarray(at)) };
}

// --- APDU -------------------------------------------------------------------------------------------------

/** Max segments accepted: unspecified; max APDU: 1476 octets (B/IP). */
const MAX_APDU_1476 = 0x05;

export function encodeConfirmedRequest(invokeId: number, service: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([PDU_TYPE.confirmed << 4, MAX_APDU_1476, invokeId & 0xff, service]), Buffer.from(body)]);
}

export function encodeUnconfirmedRequest(service: number, body: Uint8Array = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([PDU_TYPE.unconfirmed << 4, service]), Buffer.from(body)]);
}

export const encodeSimpleAck = (invokeId: number, service: number): Buffer => Buffer.from([PDU_TYPE.simpleAck << 4, invokeId, service]);
export const encodeComplexAck = (invokeId: number, service: number, body: Uint8Array): Buffer =>
  Buffer.concat([Buffer.from([PDU_TYPE.complexAck << 4, invokeId, service]), Buffer.from(body)]);
export const encodeError = (invokeId: number, service: number, errorClass: number, errorCode: number): Buffer =>
  Buffer.from([PDU_TYPE.error << 4, invokeId, service, 0x91, errorClass, 0x91, errorCode]);
export const encodeReject = (invokeId: number, reason: number): Buffer => Buffer.from([PDU_TYPE.reject << 4, invokeId, reason]);
export const encodeAbort = (invokeId: number, reason: number, server = true): Buffer => Buffer.from([(PDU_TYPE.abort << 4) | (server ? 1 : 0), invokeId, reason]);

/** A whole B/IP datagram around an APDU: Original-Unicast-NPDU, local NPDU. */
export function unicastDatagram(apdu: Uint8Array, expectingReply: boolean): Buffer {
  return encodeBvlc(BVLC.originalUnicast, encodeNpdu(apdu, expectingReply));
}

export type Apdu =
  | { type: 'confirmed'; invokeId: number; service: number; segmented: boolean; body: Buffer }
  | { type: 'unconfirmed'; service: number; body: Buffer }
  | { type: 'simple-ack'; invokeId: number; service: number }
  | { type: 'complex-ack'; invokeId: number; service: number; segmented: boolean; body: Buffer }
  | { type: 'error'; invokeId: number; service: number; errorClass: number; errorCode: number }
  | { type: 'reject'; invokeId: number; reason: number }
  | { type: 'abort'; invokeId: number; reason: number; server: boolean }
  | { type: 'segment-ack'; invokeId: number };

/** The APDU kinds of clause 20.1; the error PDU's class and code as the plain two enumerateds of 20.1.7. */
export function parseApdu(b: Buffer): Apdu | { error: string } {
  if (b.length < 2) return { error: `a ${b.length}-byte APDU` };
  const type = b[0] >> 4;
  const need = (n: number, what: string) => (b.length < n ? { error: `${what} of ${b.length} bytes (at least ${n} expected)` } : undefined);
  switch (type) {
    case PDU_TYPE.confirmed: {
      const segmented = (b[0] & 0x08) !== 0;
      const head = segmented ? 6 : 4;
      return need(head, 'confirmed request') ?? { type: 'confirmed', invokeId: b[2], service: b[head - 1], segmented, body: Buffer.from(b.subarray(head)) };
    }
    case PDU_TYPE.unconfirmed: return { type: 'unconfirmed', service: b[1], body: Buffer.from(b.subarray(2)) };
    case PDU_TYPE.simpleAck: return need(3, 'SimpleACK') ?? { type: 'simple-ack', invokeId: b[1], service: b[2] };
    case PDU_TYPE.complexAck: {
      const segmented = (b[0] & 0x08) !== 0;
      const head = segmented ? 5 : 3;
      return need(head, 'ComplexACK') ?? { type: 'complex-ack', invokeId: b[1], service: b[head - 1], segmented, body: Buffer.from(b.subarray(head)) };
    }
    case PDU_TYPE.segmentAck: return { type: 'segment-ack', invokeId: b[1] };
    case PDU_TYPE.error: {
      if (b.length < 7 || (b[3] & 0xf8) !== 0x90 || (b[3] & 0x07) !== 1) return { error: `Error PDU without its error class and code: ${b.toString('hex')}` };
      const codeAt = 5;
      if ((b[codeAt] & 0xf8) !== 0x90) return { error: `Error PDU without its error code: ${b.toString('hex')}` };
      const codeLength = b[codeAt] & 0x07;
      if (codeLength < 1 || codeLength > 2 || b.length < codeAt + 1 + codeLength) return { error: `Error PDU with a ${codeLength}-byte error code` };
      return { type: 'error', invokeId: b[1], service: b[2], errorClass: b[4], errorCode: b.readUIntBE(codeAt + 1, codeLength) };
    }
    case PDU_TYPE.reject: return need(3, 'Reject') ?? { type: 'reject', invokeId: b[1], reason: b[2] };
    case PDU_TYPE.abort: return need(3, 'Abort') ?? { type: 'abort', invokeId: b[1], reason: b[2], server: (b[0] & 0x01) === 1 };
    default: return { error: `APDU type ${type}` };
  }
}
