import { createHash, randomBytes } from 'node:crypto';
import {
  CONFIRMED_SERVICE, ENABLE_DISABLE, ERROR_CLASS, ERROR_CODE, OBJECT_TYPE, PROPERTY, REINITIALIZED_STATE, WILDCARD_INSTANCE,
  encodeComplexAck, encodeError, encodeReject, encodeSimpleAck, parseDcc, parsePropertyService, parseReinitialize,
  readPropertyAckBody, type BacnetValue, type PropertyRef,
} from '../../protocols/bacnet';
import type { DeviceIdentity } from '../types';

/** The knobs of the emulated BACnet device (posture section `services.bacnet`); each defaults to the secure choice. */
export interface BacnetDeviceConfig {
  /** Device object instance (default: from the serial number). */
  deviceInstance?: number;
  vendorId?: number;
  objectName?: string;
  location?: string;
  description?: string;
  applicationSoftwareVersion?: string;
  /**
   * The password ReinitializeDevice and DeviceCommunicationControl require: a string, or null for none (any
   * request is accepted). Absent: a random one nobody knows.
   */
  password?: string | null;
  /** The analog-value's Present_Value accepts WriteProperty (default false: write-access-denied). */
  writable?: boolean;
  /** How long a warm/cold-started device stays silent (default 1000 ms). */
  restartDowntimeMs?: number;
}

export const SETPOINT = { objectType: OBJECT_TYPE.analogValue, instance: 1 } as const;
export const TEMPERATURE = { objectType: OBJECT_TYPE.analogInput, instance: 1 } as const;
const SETPOINT_DEFAULT = 21.5;
const DEGREES_CELSIUS = 62;

type Reply = Buffer | null;

/**
 * A BACnet device with three objects: the Device object (identity), analog-input 1 (a temperature, read-only)
 * and analog-value 1 (a commandable setpoint with a priority array). Confirmed requests in, APDUs out; the
 * B/IP transport and the BBMD live in bacnet.ts.
 */
export class EmulatedBacnetDevice {
  readonly instance: number;
  private readonly priorityArray: (number | null)[] = new Array<number | null>(16).fill(null);
  private downUntil = 0;
  private communicationDisabledUntil = 0;
  private readonly databaseRevision = 1;
  private readonly password: string | null;

  constructor(private readonly config: BacnetDeviceConfig, private readonly identity: DeviceIdentity, private readonly log: (m: string) => void) {
    this.instance = config.deviceInstance ?? createHash('sha256').update(identity.serial).digest().readUInt32BE(0) % WILDCARD_INSTANCE;
    this.password = config.password === undefined ? randomBytes(12).toString('base64url') : config.password;
  }

  get isDown(): boolean {
    return Date.now() < this.downUntil;
  }

  get vendorId(): number {
    return this.config.vendorId ?? 0;
  }

  /** DCC "disable": the device answers only DCC and ReinitializeDevice (16.1.1.3.1). */
  get communicationDisabled(): boolean {
    return Date.now() < this.communicationDisabledUntil;
  }

  get setpoint(): number {
    return this.priorityArray.find((v) => v !== null) ?? SETPOINT_DEFAULT;
  }

  /** One confirmed request to its answer APDU (null: no answer, as a restarting device gives). */
  confirmed(invokeId: number, service: number, body: Buffer): Reply {
    if (this.communicationDisabled && service !== CONFIRMED_SERVICE.deviceCommunicationControl && service !== CONFIRMED_SERVICE.reinitializeDevice) return null;
    switch (service) {
      case CONFIRMED_SERVICE.readProperty: return this.readProperty(invokeId, body);
      case CONFIRMED_SERVICE.writeProperty: return this.writeProperty(invokeId, body);
      case CONFIRMED_SERVICE.deviceCommunicationControl: return this.dcc(invokeId, body);
      case CONFIRMED_SERVICE.reinitializeDevice: return this.reinitialize(invokeId, body);
      default: return encodeReject(invokeId, 9); // unrecognized-service
    }
  }

  private properties(ref: { objectType: number; instance: number }): Map<number, BacnetValue[]> | undefined {
    const str = (value: string): BacnetValue[] => [{ type: 'character-string', value, charset: 0 }];
    const id = (objectType: number, instance: number): BacnetValue => ({ type: 'object-identifier', objectType, instance });
    const statusFlags: BacnetValue[] = [{ type: 'bit-string', unused: 4, bits: Buffer.from([0x00]) }];
    if (ref.objectType === OBJECT_TYPE.device && (ref.instance === this.instance || ref.instance === WILDCARD_INSTANCE)) {
      return new Map<number, BacnetValue[]>([
        [PROPERTY.objectIdentifier, [id(OBJECT_TYPE.device, this.instance)]],
        [PROPERTY.objectName, str(this.config.objectName ?? `${this.identity.model}-${this.instance}`)],
        [PROPERTY.objectType, [{ type: 'enumerated', value: OBJECT_TYPE.device }]],
        [PROPERTY.systemStatus, [{ type: 'enumerated', value: 0 }]],
        [PROPERTY.vendorName, str(this.identity.vendor)],
        [PROPERTY.vendorIdentifier, [{ type: 'unsigned', value: this.vendorId }]],
        [PROPERTY.modelName, str(this.identity.model)],
        [PROPERTY.firmwareRevision, str(this.identity.firmware)],
        [PROPERTY.applicationSoftwareVersion, str(this.config.applicationSoftwareVersion ?? this.identity.firmware)],
        [PROPERTY.location, str(this.config.location ?? '')],
        [PROPERTY.description, str(this.config.description ?? `${this.identity.vendor} ${this.identity.model} BACnet/IP interface`)],
        [PROPERTY.serialNumber, str(this.identity.serial)],
        [PROPERTY.protocolVersion, [{ type: 'unsigned', value: 1 }]],
        [PROPERTY.protocolRevision, [{ type: 'unsigned', value: 14 }]],
        [PROPERTY.maxApduLengthAccepted, [{ type: 'unsigned', value: 1476 }]],
        [PROPERTY.segmentationSupported, [{ type: 'enumerated', value: 3 }]], // no-segmentation
        [PROPERTY.databaseRevision, [{ type: 'unsigned', value: this.databaseRevision }]],
        [PROPERTY.objectList, [id(OBJECT_TYPE.device, this.instance), id(TEMPERATURE.objectType, TEMPERATURE.instance), id(SETPOINT.objectType, SETPOINT.instance)]],
      ]);
    }
    const common = (name: string, value: number, type: number, instance: number) => new Map<number, BacnetValue[]>([
      [PROPERTY.objectIdentifier, [id(type, instance)]], [PROPERTY.objectName, str(name)], [PROPERTY.objectType, [{ type: 'enumerated', value: type }]],
      [PROPERTY.presentValue, [{ type: 'real', value }]], [PROPERTY.statusFlags, statusFlags], [PROPERTY.outOfService, [{ type: 'boolean', value: false }]],
      [PROPERTY.units, [{ type: 'enumerated', value: DEGREES_CELSIUS }]],
    ]);
    if (ref.objectType === TEMPERATURE.objectType && ref.instance === TEMPERATURE.instance) return common('Room temperature', 20 + (Date.now() % 600) / 100, ref.objectType, ref.instance);
    if (ref.objectType === SETPOINT.objectType && ref.instance === SETPOINT.instance) {
      const map = common('Room setpoint', this.setpoint, ref.objectType, ref.instance);
      map.set(PROPERTY.priorityArray, this.priorityArray.map((v): BacnetValue => (v === null ? { type: 'null' } : { type: 'real', value: v })));
      map.set(PROPERTY.relinquishDefault, [{ type: 'real', value: SETPOINT_DEFAULT }]);
      return map;
    }
    return undefined;
  }

  private readProperty(invokeId: number, body: Buffer): Reply {
    const service = CONFIRMED_SERVICE.readProperty;
    const request = parsePropertyService(body);
    if (typeof request === 'string') return encodeReject(invokeId, 5); // missing-required-parameter
    const props = this.properties(request);
    if (!props) return encodeError(invokeId, service, ERROR_CLASS.object, ERROR_CODE.unknownObject);
    const values = props.get(request.property);
    if (!values) return encodeError(invokeId, service, ERROR_CLASS.property, ERROR_CODE.unknownProperty);
    const isArray = request.property === PROPERTY.objectList || request.property === PROPERTY.priorityArray;
    let out = values;
    if (request.arrayIndex !== undefined) {
      if (!isArray) return encodeError(invokeId, service, ERROR_CLASS.property, ERROR_CODE.propertyIsNotAnArray);
      if (request.arrayIndex === 0) out = [{ type: 'unsigned', value: values.length }];
      else if (request.arrayIndex > values.length) return encodeError(invokeId, service, ERROR_CLASS.property, ERROR_CODE.invalidArrayIndex);
      else out = [values[request.arrayIndex - 1]];
    }
    // The answer names the device by its own instance even when the request used the wildcard.
    const ref: PropertyRef = { ...request, instance: request.objectType === OBJECT_TYPE.device ? this.instance : request.instance };
    return encodeComplexAck(invokeId, service, readPropertyAckBody(ref, out));
  }

  private writeProperty(invokeId: number, body: Buffer): Reply {
    const service = CONFIRMED_SERVICE.writeProperty;
    const request = parsePropertyService(body);
    if (typeof request === 'string' || !request.values || request.values.length !== 1) return encodeReject(invokeId, 5);
    const props = this.properties(request);
    if (!props) return encodeError(invokeId, service, ERROR_CLASS.object, ERROR_CODE.unknownObject);
    if (!props.has(request.property)) return encodeError(invokeId, service, ERROR_CLASS.property, ERROR_CODE.unknownProperty);
    const isSetpointValue = request.objectType === SETPOINT.objectType && request.instance === SETPOINT.instance && request.property === PROPERTY.presentValue;
    if (!this.config.writable || !isSetpointValue) return encodeError(invokeId, service, ERROR_CLASS.property, ERROR_CODE.writeAccessDenied);
    const priority = request.priority ?? 16;
    if (priority < 1 || priority > 16) return encodeError(invokeId, service, ERROR_CLASS.property, ERROR_CODE.valueOutOfRange);
    const [value] = request.values;
    if (value.type === 'null') this.priorityArray[priority - 1] = null;
    else if (value.type === 'real') this.priorityArray[priority - 1] = value.value;
    else return encodeError(invokeId, service, ERROR_CLASS.property, ERROR_CODE.invalidDataType);
    this.log(`bacnet: analog-value,1 priority ${priority} = ${value.type === 'null' ? 'relinquished' : value.value}; present value ${this.setpoint}`);
    return encodeSimpleAck(invokeId, service);
  }

  /** The device's password check: none configured accepts anything; otherwise the exact password is needed. */
  private passwordAccepted(given: string | undefined): boolean {
    return this.password === null || given === this.password;
  }

  private dcc(invokeId: number, body: Buffer): Reply {
    const service = CONFIRMED_SERVICE.deviceCommunicationControl;
    const request = parseDcc(body);
    if (typeof request === 'string') return encodeReject(invokeId, 5);
    if (!this.passwordAccepted(request.password)) return encodeError(invokeId, service, ERROR_CLASS.security, ERROR_CODE.passwordFailure);
    if (request.enableDisable === ENABLE_DISABLE.enable) this.communicationDisabledUntil = 0;
    else if (request.enableDisable === ENABLE_DISABLE.disable) this.communicationDisabledUntil = Date.now() + (request.durationMinutes ?? 1) * 60_000;
    else if (request.enableDisable !== ENABLE_DISABLE.disableInitiation) return encodeReject(invokeId, 8); // undefined-enumeration
    this.log(`bacnet: DeviceCommunicationControl ${request.enableDisable}`);
    return encodeSimpleAck(invokeId, service);
  }

  /**
   * Checks the password first (as bacnet-stack does), then: warm/cold start answer and restart; the end and abort
   * states of backup/restore are accepted with nothing to do (no procedure is in progress); the start states are
   * not supported.
   */
  private reinitialize(invokeId: number, body: Buffer): Reply {
    const service = CONFIRMED_SERVICE.reinitializeDevice;
    const request = parseReinitialize(body);
    if (typeof request === 'string') return encodeReject(invokeId, 5);
    if (!this.passwordAccepted(request.password)) return encodeError(invokeId, service, ERROR_CLASS.security, ERROR_CODE.passwordFailure);
    switch (request.state) {
      case REINITIALIZED_STATE.coldstart:
      case REINITIALIZED_STATE.warmstart:
        setTimeout(() => this.restart(request.state), 50).unref();
        return encodeSimpleAck(invokeId, service);
      case REINITIALIZED_STATE.endBackup:
      case REINITIALIZED_STATE.endRestore:
      case REINITIALIZED_STATE.abortRestore:
        return encodeSimpleAck(invokeId, service);
      case REINITIALIZED_STATE.startBackup:
      case REINITIALIZED_STATE.startRestore:
        return encodeError(invokeId, service, ERROR_CLASS.services, ERROR_CODE.optionalFunctionalityNotSupported);
      default:
        return encodeReject(invokeId, 6); // parameter-out-of-range
    }
  }

  private restart(state: number): void {
    const ms = this.config.restartDowntimeMs ?? 1000;
    this.log(`bacnet: ${state === 0 ? 'cold' : 'warm'} start: silent for ${ms} ms`);
    this.downUntil = Date.now() + ms;
    this.communicationDisabledUntil = 0;
    // A cold start forgets the commands; a warm start keeps the priority array (non-volatile here).
    if (state === REINITIALIZED_STATE.coldstart) this.priorityArray.fill(null);
  }
}
