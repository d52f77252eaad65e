import { createHash, randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import {
  CIP_CLASSES, CIP_SERVICES, COMMANDS, ENCAP_HEADER_BYTES, MAX_ENCAP_DATA, PROTOCOL_VERSION, SECURITY_STATE_CONFIGURED, STATUS,
  cipFromSendRRData, decodePath, encodeCipReply, encodeCpf, encodeEncap, encodeIdentityAttributes, encodeIdentityItem,
  encodeSecurityItem, encodeServiceItem, parseCipRequest, sendRRDataPayload, u16, u32, type CipPath, type EncapHeader,
} from '../../protocols/enip';
import type { DeviceIdentity } from '../types';

/** The knobs of the emulated EtherNet/IP adapter (posture section `services.enip`); each defaults to the secure choice. */
export interface EnipDeviceConfig {
  vendorId?: number;
  deviceType?: number;
  productCode?: number;
  productName?: string;
  serialNumber?: number;
  statusWord?: number;
  /** What the plain TCP port serves: every command, or ListIdentity only (default). */
  plainCommands?: 'all' | 'list-identity';
  /** Encapsulation status of a refused command on the plain port (default 0x006A). */
  refusalStatus?: number;
  /** SendRRData only on a session registered on that connection (default true). */
  checkSession?: boolean;
  /** The Identity object accepts Reset (default false: privilege violation). */
  resettable?: boolean;
  /** How long a reset device stays silent (default 1000 ms). */
  resetDowntimeMs?: number;
  /** The output assembly (class 4, instance 150, attribute 3) accepts Set_Attribute_Single (default false). */
  writable?: boolean;
}

/** Where a message came from: the plain port, or the CIP Security (TLS) port. */
export type Channel = 'plain' | 'secure';

export const INPUT_ASSEMBLY = 100;
export const OUTPUT_ASSEMBLY = 150;
const OUTPUT_DEFAULT = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
const STATE_OPERATIONAL = 3;

interface Connection {
  sessions: Set<number>;
  socket: Duplex;
}

/**
 * The adapter's objects and encapsulation handling, apart from the transports so that the plain TCP port,
 * UDP and the TLS port serve one device: Identity (class 1), an input assembly with a counter (100) and an
 * output assembly (150), and the CIP Security object (0x5D) when CIP Security is on.
 */
export class EmulatedEnipDevice {
  readonly output = Buffer.from(OUTPUT_DEFAULT);
  private counter = 0;
  private counterTimer: NodeJS.Timeout | undefined;
  private readonly connections = new Set<Connection>();
  private downUntil = 0;
  /** The socket address the device reports in ListIdentity (its plain TCP port and IPv4 address). */
  reportedPort = 0;
  reportedAddress = '0.0.0.0';
  private readonly identity: { vendorId: number; deviceType: number; productCode: number; revision: { major: number; minor: number }; status: number; serialNumber: number; productName: string };

  constructor(private readonly config: EnipDeviceConfig, device: DeviceIdentity, private readonly security: { ports: number; profiles: number } | null, private readonly log: (m: string) => void) {
    const [major, minor] = device.firmware.split('.').map((n) => Number.parseInt(n, 10) || 0);
    this.identity = {
      vendorId: config.vendorId ?? 0, deviceType: config.deviceType ?? 0x0e, productCode: config.productCode ?? 1,
      revision: { major: major ?? 1, minor: minor ?? 0 }, status: config.statusWord ?? 0x0030,
      serialNumber: config.serialNumber ?? createHash('sha256').update(device.serial).digest().readUInt32LE(0),
      productName: (config.productName ?? `${device.vendor} ${device.model}`).slice(0, 32),
    };
    this.counterTimer = setInterval(() => { this.counter = (this.counter + 1) >>> 0; }, 1000);
  }

  get isDown(): boolean {
    return Date.now() < this.downUntil;
  }

  close(): void {
    if (this.counterTimer) clearInterval(this.counterTimer);
    this.counterTimer = undefined;
  }

  /** Serves one TCP or TLS connection. */
  attach(socket: Duplex, channel: Channel): void {
    if (this.isDown) {
      socket.destroy();
      return;
    }
    const conn: Connection = { sessions: new Set(), socket };
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= ENCAP_HEADER_BYTES) {
        const length = buf.readUInt16LE(2);
        if (length > MAX_ENCAP_DATA) {
          socket.destroy();
          return;
        }
        if (buf.length < ENCAP_HEADER_BYTES + length) return;
        const header = readHeader(buf);
        const data = Buffer.from(buf.subarray(ENCAP_HEADER_BYTES, ENCAP_HEADER_BYTES + length));
        buf = buf.subarray(ENCAP_HEADER_BYTES + length);
        const reply = this.handle(header, data, channel, conn);
        if (reply === 'close') {
          socket.end();
          return;
        }
        if (reply) socket.write(reply);
      }
    });
  }

  /** One UDP datagram: the list commands only, as the encapsulation spec allows on UDP. */
  handleDatagram(msg: Buffer, port: number): Buffer | null {
    if (this.isDown || msg.length < ENCAP_HEADER_BYTES || msg.length !== ENCAP_HEADER_BYTES + msg.readUInt16LE(2)) return null;
    const header = readHeader(msg);
    if (header.command === COMMANDS.listIdentity) return this.reply(header, 0, this.listIdentityData(port));
    if (header.command === COMMANDS.listServices) return this.reply(header, 0, this.listServicesData());
    return null;
  }

  private listIdentityData(port: number): Buffer {
    const items = [encodeIdentityItem({
      encapsulationVersion: PROTOCOL_VERSION, socketAddress: { family: 2, port: port || this.reportedPort, address: this.reportedAddress },
      ...this.identity, state: STATE_OPERATIONAL,
    })];
    if (this.security) {
      items.push(encodeSecurityItem({ profileBits: this.security.profiles, cipSecurityState: SECURITY_STATE_CONFIGURED, enipSecurityState: SECURITY_STATE_CONFIGURED, portFlags: this.security.ports }));
    }
    return encodeCpf(items);
  }

  private listServicesData(): Buffer {
    return encodeCpf([encodeServiceItem({ version: PROTOCOL_VERSION, capabilityFlags: 0x0120, name: 'Communications' })]);
  }

  private reply(request: EncapHeader, status: number, data: Buffer = Buffer.alloc(0), session = request.session): Buffer {
    return encodeEncap({ command: request.command, session, status, context: request.context, options: request.options, data });
  }

  private handle(header: EncapHeader, data: Buffer, channel: Channel, conn: Connection): Buffer | null | 'close' {
    if (header.command === COMMANDS.nop) return null;
    if (header.command === COMMANDS.listIdentity) return this.reply(header, 0, this.listIdentityData(0));
    if (channel === 'plain' && (this.config.plainCommands ?? 'list-identity') === 'list-identity') {
      return this.reply(header, this.config.refusalStatus ?? 0x006a);
    }
    switch (header.command) {
      case COMMANDS.listServices: return this.reply(header, 0, this.listServicesData());
      case COMMANDS.listInterfaces: return this.reply(header, 0, encodeCpf([]));
      case COMMANDS.registerSession: return this.registerSession(header, data, conn);
      case COMMANDS.unregisterSession: return 'close';
      case COMMANDS.sendRRData: return this.sendRRData(header, data, conn);
      default: return this.reply(header, 0x0001);
    }
  }

  private registerSession(header: EncapHeader, data: Buffer, conn: Connection): Buffer {
    if (data.length !== 4) return this.reply(header, 0x0065, data);
    if (data.readUInt16LE(0) !== PROTOCOL_VERSION) return this.reply(header, 0x0069, data);
    const session = randomInt(1, 0x7fffffff);
    conn.sessions.add(session);
    return this.reply(header, 0, data, session);
  }

  private sendRRData(header: EncapHeader, data: Buffer, conn: Connection): Buffer {
    if ((this.config.checkSession ?? true) && !conn.sessions.has(header.session)) return this.reply(header, 0x0064);
    const request = cipFromSendRRData(data);
    if (!Buffer.isBuffer(request)) return this.reply(header, 0x0003);
    const response = this.cip(request);
    return this.reply(header, 0, sendRRDataPayload(response, data.length >= 6 ? data.readUInt16LE(4) : 0));
  }

  /** One message router request to its reply. */
  cip(bytes: Buffer): Buffer {
    const request = parseCipRequest(bytes);
    if (!request) return encodeCipReply(bytes[0] ?? 0, STATUS.notEnoughData);
    const path = decodePath(request.path);
    if (!path) return encodeCipReply(request.service, 0x04);
    switch (path.classId) {
      case CIP_CLASSES.identity: return this.identityObject(request.service, path, request.data);
      case CIP_CLASSES.assembly: return this.assemblyObject(request.service, path, request.data);
      case CIP_CLASSES.cipSecurity: return this.security ? this.securityObject(request.service, path) : encodeCipReply(request.service, STATUS.pathUnknown);
      default: return encodeCipReply(request.service, STATUS.pathUnknown);
    }
  }

  private identityObject(service: number, path: CipPath, data: Buffer): Buffer {
    if (path.instance !== 1) return encodeCipReply(service, STATUS.pathUnknown);
    const attributes: Record<number, Buffer> = {
      1: u16(this.identity.vendorId), 2: u16(this.identity.deviceType), 3: u16(this.identity.productCode),
      4: Buffer.from([this.identity.revision.major, this.identity.revision.minor]), 5: u16(this.identity.status),
      6: u32(this.identity.serialNumber), 7: Buffer.concat([Buffer.from([this.identity.productName.length]), Buffer.from(this.identity.productName, 'latin1')]),
      8: Buffer.from([STATE_OPERATIONAL]),
    };
    switch (service) {
      case CIP_SERVICES.getAttributesAll: return encodeCipReply(service, 0, encodeIdentityAttributes(this.identity));
      case CIP_SERVICES.getAttributeSingle:
        return path.attribute !== undefined && attributes[path.attribute] ? encodeCipReply(service, 0, attributes[path.attribute]) : encodeCipReply(service, STATUS.attributeNotSupported);
      case CIP_SERVICES.setAttributeSingle:
        return encodeCipReply(service, path.attribute !== undefined && attributes[path.attribute] ? STATUS.notSettable : STATUS.attributeNotSupported);
      case CIP_SERVICES.reset: return this.reset(data);
      default: return encodeCipReply(service, STATUS.serviceNotSupported);
    }
  }

  private assemblyObject(service: number, path: CipPath, data: Buffer): Buffer {
    const instance = path.instance === INPUT_ASSEMBLY ? 'input' : path.instance === OUTPUT_ASSEMBLY ? 'output' : undefined;
    if (!instance) return encodeCipReply(service, STATUS.pathUnknown);
    if (path.attribute !== 3) return encodeCipReply(service, service === CIP_SERVICES.getAttributeSingle || service === CIP_SERVICES.setAttributeSingle ? STATUS.attributeNotSupported : STATUS.serviceNotSupported);
    if (service === CIP_SERVICES.getAttributeSingle) return encodeCipReply(service, 0, instance === 'input' ? u32(this.counter) : this.output);
    if (service !== CIP_SERVICES.setAttributeSingle) return encodeCipReply(service, STATUS.serviceNotSupported);
    if (instance === 'input') return encodeCipReply(service, STATUS.notSettable);
    if (!this.config.writable) return encodeCipReply(service, STATUS.privilegeViolation);
    if (data.length < this.output.length) return encodeCipReply(service, STATUS.notEnoughData);
    if (data.length > this.output.length) return encodeCipReply(service, STATUS.tooMuchData);
    data.copy(this.output);
    this.log(`enip: output assembly written: ${data.toString('hex')}`);
    return encodeCipReply(service, 0);
  }

  private securityObject(service: number, path: CipPath): Buffer {
    if (path.instance !== 1 && path.instance !== 0) return encodeCipReply(service, STATUS.pathUnknown);
    if (service !== CIP_SERVICES.getAttributeSingle) return encodeCipReply(service, STATUS.serviceNotSupported);
    if (path.attribute === 1) return encodeCipReply(service, 0, Buffer.from([SECURITY_STATE_CONFIGURED]));
    if (path.attribute === 2) return encodeCipReply(service, 0, u16(this.security?.profiles ?? 0));
    return encodeCipReply(service, STATUS.attributeNotSupported);
  }

  /** Reset: answered first, then the device "reboots": connections drop and it stays silent for a while. */
  private reset(data: Buffer): Buffer {
    const type = data.length > 0 ? data[0] : 0;
    if (!this.config.resettable) return encodeCipReply(CIP_SERVICES.reset, STATUS.privilegeViolation);
    if (type > 1) return encodeCipReply(CIP_SERVICES.reset, STATUS.invalidParameter);
    setTimeout(() => this.reboot(type), 50).unref();
    return encodeCipReply(CIP_SERVICES.reset, 0);
  }

  private reboot(type: number): void {
    this.log(`enip: reset type ${type}: dropping ${this.connections.size} connections for ${this.config.resetDowntimeMs ?? 1000} ms`);
    this.downUntil = Date.now() + (this.config.resetDowntimeMs ?? 1000);
    for (const c of this.connections) c.socket.destroy();
    this.connections.clear();
    this.counter = 0;
    // Both types restart the application; the output image comes back at its configured start value.
    OUTPUT_DEFAULT.copy(this.output);
  }
}

function readHeader(buf: Buffer): EncapHeader {
  return {
    command: buf.readUInt16LE(0), length: buf.readUInt16LE(2), session: buf.readUInt32LE(4), status: buf.readUInt32LE(8),
    context: Buffer.from(buf.subarray(12, 20)), options: buf.readUInt32LE(20),
  };
}
