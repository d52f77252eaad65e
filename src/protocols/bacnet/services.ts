import {
  closingTag, contextNumber, ctxEnumerated, ctxObjectId, ctxString, ctxUnsigned, decodeElements, encodeApplication, objectIdentifier,
  openingTag, type BacnetValue, type Element,
} from './encoding';
import { PROPERTY, propertyName, objectName } from './frames';

/** Service request bodies (clauses 15, 16) and their acknowledgements, for the client and the emulated device. */

export interface ObjectRef {
  objectType: number;
  instance: number;
}

export interface PropertyRef extends ObjectRef {
  property: number;
  arrayIndex?: number;
}

export const describeProperty = (p: PropertyRef): string =>
  `${objectName(p.objectType, p.instance)} ${propertyName(p.property)}${p.arrayIndex === undefined ? '' : `[${p.arrayIndex}]`}`;

function propertyRefBody(p: PropertyRef): Buffer[] {
  return [ctxObjectId(0, p.objectType, p.instance), ctxEnumerated(1, p.property), ...(p.arrayIndex === undefined ? [] : [ctxUnsigned(2, p.arrayIndex)])];
}

export const readPropertyBody = (p: PropertyRef): Buffer => Buffer.concat(propertyRefBody(p));

/** WriteProperty (15.9): the value(s) inside context tag 3, the priority (1..16) under context tag 4 when given. */
export function writePropertyBody(p: PropertyRef, values: readonly BacnetValue[], priority?: number): Buffer {
  return Buffer.concat([
    ...propertyRefBody(p), openingTag(3), ...values.map(encodeApplication), closingTag(3),
    ...(priority === undefined ? [] : [ctxUnsigned(4, priority)]),
  ]);
}

/** DeviceCommunicationControl (16.1): time duration (minutes) optional, enable-disable, password optional. */
export function dccBody(enableDisable: number, password?: string, durationMinutes?: number): Buffer {
  return Buffer.concat([
    ...(durationMinutes === undefined ? [] : [ctxUnsigned(0, durationMinutes)]), ctxEnumerated(1, enableDisable),
    ...(password === undefined ? [] : [ctxString(2, password)]),
  ]);
}

/** ReinitializeDevice (16.4): the reinitialized state, password optional. */
export function reinitializeBody(state: number, password?: string): Buffer {
  return Buffer.concat([ctxEnumerated(0, state), ...(password === undefined ? [] : [ctxString(1, password)])]);
}

/** ReadProperty-ACK (15.5.1.3): the property reference, then the value list inside context tag 3. */
export function readPropertyAckBody(p: PropertyRef, values: readonly BacnetValue[]): Buffer {
  return Buffer.concat([...propertyRefBody(p), openingTag(3), ...values.map(encodeApplication), closingTag(3)]);
}

export interface ReadPropertyAck extends PropertyRef {
  values: BacnetValue[];
}

function applicationValues(elements: readonly Element[]): BacnetValue[] | string {
  const out: BacnetValue[] = [];
  for (const e of elements) {
    if (e.kind !== 'application') return 'a context-tagged element inside the property value';
    out.push(e.value);
  }
  return out;
}

function objectRefOf(elements: readonly Element[], tag: number): ObjectRef | undefined {
  const e = elements.find((x) => x.kind === 'context' && x.tag === tag);
  if (!e || e.kind !== 'context' || e.content.length !== 4) return undefined;
  const raw = e.content.readUInt32BE(0);
  return { objectType: raw >>> 22, instance: raw & 0x3fffff };
}

/** The request (or ACK) of ReadProperty/WriteProperty: object, property, array index, and the values of tag 3. */
export function parsePropertyService(body: Buffer): (PropertyRef & { values?: BacnetValue[]; priority?: number }) | string {
  const decoded = decodeElements(body);
  if (typeof decoded === 'string') return decoded;
  const { elements } = decoded;
  const object = objectRefOf(elements, 0);
  const property = contextNumber(elements, 1);
  if (!object || property === undefined || Number.isNaN(property)) return 'no object identifier (tag 0) or property identifier (tag 1)';
  const arrayIndex = contextNumber(elements, 2);
  const constructed = elements.find((e) => e.kind === 'constructed' && e.tag === 3);
  const values = constructed && constructed.kind === 'constructed' ? applicationValues(constructed.elements) : undefined;
  if (typeof values === 'string') return values;
  const priority = contextNumber(elements, 4);
  return { ...object, property, ...(arrayIndex === undefined ? {} : { arrayIndex }), ...(values ? { values } : {}), ...(priority === undefined ? {} : { priority }) };
}

export function parseReadPropertyAck(body: Buffer): ReadPropertyAck | string {
  const parsed = parsePropertyService(body);
  if (typeof parsed === 'string') return parsed;
  if (!parsed.values) return 'ReadProperty-ACK without a property value (tag 3)';
  return { ...parsed, values: parsed.values };
}

/** Reads enable-disable/password (DCC) or state/password (ReinitializeDevice); undefined fields were absent. */
export function parseDcc(body: Buffer): { durationMinutes?: number; enableDisable: number; password?: string } | string {
  const decoded = decodeElements(body);
  if (typeof decoded === 'string') return decoded;
  const enableDisable = contextNumber(decoded.elements, 1);
  if (enableDisable === undefined || Number.isNaN(enableDisable)) return 'no enable-disable (tag 1)';
  const durationMinutes = contextNumber(decoded.elements, 0);
  const password = passwordOf(decoded.elements, 2);
  return { enableDisable, ...(durationMinutes === undefined ? {} : { durationMinutes }), ...(password === undefined ? {} : { password }) };
}

export function parseReinitialize(body: Buffer): { state: number; password?: string } | string {
  const decoded = decodeElements(body);
  if (typeof decoded === 'string') return decoded;
  const state = contextNumber(decoded.elements, 0);
  if (state === undefined || Number.isNaN(state)) return 'no reinitialized state (tag 0)';
  const password = passwordOf(decoded.elements, 1);
  return { state, ...(password === undefined ? {} : { password }) };
}

function passwordOf(elements: readonly Element[], tag: number): string | undefined {
  const e = elements.find((x) => x.kind === 'context' && x.tag === tag);
  if (!e || e.kind !== 'context') return undefined;
  // An empty content (no character set byte) is read as the empty password.
  return e.content.length === 0 ? '' : e.content.subarray(1).toString(e.content[0] === 0 ? 'utf8' : 'latin1');
}

export interface IAm {
  device: ObjectRef;
  maxApdu: number;
  segmentation: number;
  vendorId: number;
}

/** I-Am (16.10): device identifier, max APDU, segmentation supported, vendor id, all application-tagged. */
export function iAmBody(i: IAm): Buffer {
  return Buffer.concat([
    encodeApplication({ type: 'object-identifier', objectType: i.device.objectType, instance: i.device.instance }),
    encodeApplication({ type: 'unsigned', value: i.maxApdu }), encodeApplication({ type: 'enumerated', value: i.segmentation }),
    encodeApplication({ type: 'unsigned', value: i.vendorId }),
  ]);
}

export function parseIAm(body: Buffer): IAm | string {
  const decoded = decodeElements(body);
  if (typeof decoded === 'string') return decoded;
  const v = decoded.elements.map((e) => (e.kind === 'application' ? e.value : undefined));
  const [id, max, seg, vendor] = v;
  if (id?.type !== 'object-identifier' || max?.type !== 'unsigned' || seg?.type !== 'enumerated' || vendor?.type !== 'unsigned') {
    return 'I-Am without device identifier, max APDU, segmentation and vendor id';
  }
  return { device: { objectType: id.objectType, instance: id.instance }, maxApdu: max.value, segmentation: seg.value, vendorId: vendor.value };
}

/** Who-Is (16.10) without a range: every device answers. With a range, devices in [low, high]. */
export function whoIsBody(range?: { low: number; high: number }): Buffer {
  return range ? Buffer.concat([ctxUnsigned(0, range.low), ctxUnsigned(1, range.high)]) : Buffer.alloc(0);
}

export function parseWhoIs(body: Buffer): { low: number; high: number } | null | string {
  if (body.length === 0) return null;
  const decoded = decodeElements(body);
  if (typeof decoded === 'string') return decoded;
  const low = contextNumber(decoded.elements, 0);
  const high = contextNumber(decoded.elements, 1);
  if (low === undefined || high === undefined || Number.isNaN(low) || Number.isNaN(high)) return 'Who-Is range without both limits';
  return { low, high };
}

export const deviceIdBytes = (instance: number): Buffer => objectIdentifier(8, instance);

/** The device object properties nmap's bacnet-info asks for, in its order, and the few more we read. */
export const IDENTITY_PROPERTIES = [
  PROPERTY.objectIdentifier, PROPERTY.vendorIdentifier, PROPERTY.vendorName, PROPERTY.firmwareRevision, PROPERTY.applicationSoftwareVersion,
  PROPERTY.objectName, PROPERTY.modelName, PROPERTY.description, PROPERTY.location,
] as const;
