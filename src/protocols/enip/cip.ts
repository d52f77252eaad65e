import { readShortString } from './frames';

/** CIP message router requests and replies (Volume 1, 2-4) and the Identity object's attributes. */

export const CIP_SERVICES = {
  getAttributesAll: 0x01,
  reset: 0x05,
  getAttributeSingle: 0x0e,
  setAttributeSingle: 0x10,
} as const;

export const CIP_SERVICE_NAMES: Readonly<Record<number, string>> = {
  0x01: 'Get_Attributes_All', 0x05: 'Reset', 0x0e: 'Get_Attribute_Single', 0x10: 'Set_Attribute_Single',
};

export const CIP_CLASSES = {
  identity: 0x01,
  assembly: 0x04,
  cipSecurity: 0x5d,
  enipSecurity: 0x5e,
} as const;

/** General status codes (Volume 1, Appendix B) a security probe meets. */
export const GENERAL_STATUS: Readonly<Record<number, string>> = {
  0x00: 'success',
  0x02: 'resource unavailable',
  0x03: 'invalid parameter value',
  0x04: 'path segment error',
  0x05: 'path destination unknown',
  0x08: 'service not supported',
  0x09: 'invalid attribute value',
  0x0c: 'object state conflict',
  0x0e: 'attribute not settable',
  0x0f: 'privilege violation',
  0x10: 'device state conflict',
  0x13: 'not enough data',
  0x14: 'attribute not supported',
  0x15: 'too much data',
  0x16: 'object does not exist',
  0x20: 'invalid parameter',
};

export function generalStatusName(status: number): string {
  return GENERAL_STATUS[status] ?? `general status 0x${status.toString(16).padStart(2, '0')}`;
}

export const STATUS = { success: 0x00, pathUnknown: 0x05, serviceNotSupported: 0x08, notSettable: 0x0e, privilegeViolation: 0x0f, attributeNotSupported: 0x14, objectDoesNotExist: 0x16, invalidParameter: 0x20, notEnoughData: 0x13, tooMuchData: 0x15 } as const;

export interface CipPath {
  classId: number;
  instance: number;
  attribute?: number;
}

/** Padded EPATH of logical segments: 8-bit forms below 256, else the 16-bit forms with a pad byte. */
export function encodePath(path: CipPath): Buffer {
  const segment = (type: number, value: number) => (value < 0x100
    ? Buffer.from([type, value])
    : Buffer.from([type | 0x01, 0x00, value & 0xff, (value >> 8) & 0xff]));
  return Buffer.concat([
    segment(0x20, path.classId), segment(0x24, path.instance),
    ...(path.attribute === undefined ? [] : [segment(0x30, path.attribute)]),
  ]);
}

/** Reads a padded EPATH of 8/16-bit class, instance and attribute segments; undefined for anything else. */
export function decodePath(path: Buffer): CipPath | undefined {
  const out: Partial<CipPath> = {};
  const keys: Record<number, keyof CipPath> = { 0x20: 'classId', 0x24: 'instance', 0x30: 'attribute' };
  let at = 0;
  while (at < path.length) {
    const type = path[at];
    const key = keys[type & 0xfe];
    if (!key) return undefined;
    if ((type & 0x01) === 0 && at + 2 <= path.length) {
      out[key] = path[at + 1];
      at += 2;
    } else if ((type & 0x01) === 1 && at + 4 <= path.length) {
      out[key] = path.readUInt16LE(at + 2);
      at += 4;
    } else {
      return undefined;
    }
  }
  return out.classId === undefined || out.instance === undefined ? undefined : (out as CipPath);
}

export function encodeCipRequest(service: number, path: CipPath, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const epath = encodePath(path);
  return Buffer.concat([Buffer.from([service, epath.length / 2]), epath, Buffer.from(data)]);
}

export interface CipRequest {
  service: number;
  path: Buffer;
  data: Buffer;
}

export function parseCipRequest(buf: Buffer): CipRequest | undefined {
  if (buf.length < 2 || buf.length < 2 + buf[1] * 2) return undefined;
  return { service: buf[0], path: Buffer.from(buf.subarray(2, 2 + buf[1] * 2)), data: Buffer.from(buf.subarray(2 + buf[1] * 2)) };
}

export interface CipReply {
  /** The request's service with the reply bit 0x80. */
  service: number;
  generalStatus: number;
  additionalStatus: number[];
  data: Buffer;
}

export function encodeCipReply(service: number, generalStatus: number, data: Uint8Array = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([service | 0x80, 0x00, generalStatus, 0x00]), Buffer.from(data)]);
}

export function parseCipReply(buf: Buffer): CipReply | { error: string } {
  if (buf.length < 4) return { error: `${buf.length}-byte CIP reply (at least 4 expected)` };
  if ((buf[0] & 0x80) === 0) return { error: `service 0x${buf[0].toString(16)} lacks the reply bit` };
  const extra = buf[3];
  if (buf.length < 4 + extra * 2) return { error: `additional status of ${extra} words runs past the reply` };
  const additionalStatus = Array.from({ length: extra }, (_, i) => buf.readUInt16LE(4 + i * 2));
  return { service: buf[0], generalStatus: buf[2], additionalStatus, data: Buffer.from(buf.subarray(4 + extra * 2)) };
}

/** Identity object instance attributes 1-7, as Get_Attributes_All returns them (in order). */
export interface IdentityAttributes {
  vendorId: number;
  deviceType: number;
  productCode: number;
  revision: { major: number; minor: number };
  status: number;
  serialNumber: number;
  productName: string;
}

export function encodeIdentityAttributes(id: IdentityAttributes): Buffer {
  const fixed = Buffer.alloc(14);
  fixed.writeUInt16LE(id.vendorId, 0);
  fixed.writeUInt16LE(id.deviceType, 2);
  fixed.writeUInt16LE(id.productCode, 4);
  fixed.writeUInt8(id.revision.major, 6);
  fixed.writeUInt8(id.revision.minor, 7);
  fixed.writeUInt16LE(id.status, 8);
  fixed.writeUInt32LE(id.serialNumber >>> 0, 10);
  const name = Buffer.from(id.productName, 'latin1').subarray(0, 255);
  return Buffer.concat([fixed, Buffer.from([name.length]), name]);
}

/** Attributes 1-7 from a Get_Attributes_All reply (devices may append more; those are left alone). */
export function parseIdentityAttributes(data: Buffer): IdentityAttributes | { error: string } {
  if (data.length < 15) return { error: `Get_Attributes_All data of ${data.length} bytes (at least 15 expected)` };
  const name = readShortString(data, 14);
  if (!name) return { error: `product name length ${data[14]} runs past the ${data.length}-byte reply` };
  return {
    vendorId: data.readUInt16LE(0), deviceType: data.readUInt16LE(2), productCode: data.readUInt16LE(4),
    revision: { major: data[6], minor: data[7] }, status: data.readUInt16LE(8), serialNumber: data.readUInt32LE(10), productName: name.text,
  };
}

/** Reset service types of the Identity object. */
export const RESET_TYPES: Readonly<Record<number, string>> = {
  0: 'emulate a power cycle',
  1: 'return to factory defaults, then power cycle',
  2: 'return to factory defaults except communication parameters, then power cycle',
};

export function describePath(path: CipPath): string {
  return `class 0x${path.classId.toString(16)} instance ${path.instance}${path.attribute === undefined ? '' : ` attribute ${path.attribute}`}`;
}
