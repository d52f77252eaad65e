import { CPF, readShortString, shortString, u16, u32, type CpfItem } from './frames';

/**
 * The items of the list commands: CIP Identity (0x0C) and CIP Security Information (0x86) in a
 * ListIdentity reply, the Communications service (0x100) in a ListServices reply. The emulator encodes
 * them with the same functions; nmap's enip-info and tshark's enip dissector check both sides in the tests.
 */

/** The facts nmap's enip-info reports, plus the encapsulation version and the socket address. */
export interface CipIdentity {
  encapsulationVersion: number;
  /** sockaddr_in the device reports for itself (network byte order on the wire). */
  socketAddress: { family: number; port: number; address: string };
  vendorId: number;
  deviceType: number;
  productCode: number;
  revision: { major: number; minor: number };
  /** Identity object status word. */
  status: number;
  serialNumber: number;
  productName: string;
  /** Identity object state (3 = operational); absent when the device leaves it out. */
  state?: number;
}

export function encodeIdentityItem(id: CipIdentity): CpfItem {
  const sock = Buffer.alloc(16);
  sock.writeUInt16BE(id.socketAddress.family, 0);
  sock.writeUInt16BE(id.socketAddress.port, 2);
  id.socketAddress.address.split('.').forEach((octet, i) => sock.writeUInt8(Number(octet) & 0xff, 4 + i));
  const data = Buffer.concat([
    u16(id.encapsulationVersion), sock, u16(id.vendorId), u16(id.deviceType), u16(id.productCode),
    Buffer.from([id.revision.major, id.revision.minor]), u16(id.status), u32(id.serialNumber), shortString(id.productName),
    Buffer.from(id.state === undefined ? [] : [id.state]),
  ]);
  return { typeId: CPF.cipIdentity, data };
}

/** The CIP Identity item, or why these bytes are not one. */
export function parseIdentityItem(data: Buffer): CipIdentity | { error: string } {
  if (data.length < 33) return { error: `CIP Identity item of ${data.length} bytes (at least 33 expected)` };
  const name = readShortString(data, 32);
  if (!name) return { error: `product name length ${data[32]} runs past the ${data.length}-byte item` };
  if (data.length > name.next + 1) return { error: `${data.length - name.next - 1} bytes after the state byte` };
  return {
    encapsulationVersion: data.readUInt16LE(0),
    socketAddress: { family: data.readUInt16BE(2), port: data.readUInt16BE(4), address: [...data.subarray(6, 10)].join('.') },
    vendorId: data.readUInt16LE(18),
    deviceType: data.readUInt16LE(20),
    productCode: data.readUInt16LE(22),
    revision: { major: data[24], minor: data[25] },
    status: data.readUInt16LE(26),
    serialNumber: data.readUInt32LE(28),
    productName: name.text,
    ...(data.length > name.next ? { state: data[name.next] } : {}),
  };
}

/** Security profile bits of the CIP Security Information item and the CIP Security object. */
export const SECURITY_PROFILES: Readonly<Record<number, string>> = {
  0x01: 'EtherNet/IP Integrity',
  0x02: 'EtherNet/IP Confidentiality',
  0x04: 'CIP Authorization',
  0x08: 'CIP User Authentication',
  0x10: 'Resource-Constrained CIP Security',
};

/** States of the CIP Security and EtherNet/IP Security objects (0-3 are common to both). */
export const SECURITY_STATES: Readonly<Record<number, string>> = {
  0: 'factory default configuration',
  1: 'configuration in progress',
  2: 'configured',
  3: 'incomplete configuration',
};
export const SECURITY_STATE_CONFIGURED = 2;

/** IANA port state flags: which EtherNet/IP ports the device has open. */
export const IANA_PORT_FLAGS: Readonly<Record<number, string>> = {
  0x01: '44818/tcp',
  0x02: '44818/udp',
  0x04: '2222/udp',
  0x08: '2221/tcp',
  0x10: '2221/udp',
};

export interface CipSecurityInfo {
  /** Security profiles the device supports, by name. */
  profiles: string[];
  profileBits: number;
  cipSecurityState: number;
  enipSecurityState: number;
  /** Ports the device reports open. */
  openPorts: string[];
  portFlags: number;
}

export function encodeSecurityItem(info: { profileBits: number; cipSecurityState: number; enipSecurityState: number; portFlags: number }): CpfItem {
  return { typeId: CPF.cipSecurity, data: Buffer.concat([u16(info.profileBits), Buffer.from([info.cipSecurityState, info.enipSecurityState, info.portFlags])]) };
}

export function parseSecurityItem(data: Buffer): CipSecurityInfo | { error: string } {
  if (data.length < 5) return { error: `CIP Security Information item of ${data.length} bytes (5 expected)` };
  const profileBits = data.readUInt16LE(0);
  const portFlags = data[4];
  return {
    profiles: bitNames(profileBits, SECURITY_PROFILES), profileBits, cipSecurityState: data[2], enipSecurityState: data[3],
    openPorts: bitNames(portFlags, IANA_PORT_FLAGS), portFlags,
  };
}

export function bitNames(bits: number, names: Readonly<Record<number, string>>): string[] {
  const out: string[] = [];
  for (let bit = 1; bit <= 0x8000; bit <<= 1) if (bits & bit) out.push(names[bit] ?? `bit 0x${bit.toString(16)}`);
  return out;
}

export function securityStateName(state: number): string {
  return SECURITY_STATES[state] ?? `state ${state}`;
}

/** Capability flags of the Communications service. */
export const SERVICE_CAPABILITIES = { tcp: 0x0020, udpClass01: 0x0100 } as const;

export interface EnipService {
  typeId: number;
  version: number;
  capabilityFlags: number;
  /** CIP encapsulation over TCP (explicit messaging). */
  tcp: boolean;
  /** Class 0/1 connections over UDP (I/O). */
  udpClass01: boolean;
  name: string;
}

export function encodeServiceItem(service: { version: number; capabilityFlags: number; name: string }): CpfItem {
  const name = Buffer.alloc(16);
  Buffer.from(service.name, 'latin1').copy(name, 0, 0, 15);
  return { typeId: CPF.listServices, data: Buffer.concat([u16(service.version), u16(service.capabilityFlags), name]) };
}

export function parseServiceItem(item: CpfItem): EnipService | { error: string } {
  if (item.data.length !== 20) return { error: `service item of ${item.data.length} bytes (20 expected)` };
  const flags = item.data.readUInt16LE(2);
  const raw = item.data.subarray(4, 20);
  const end = raw.indexOf(0);
  return {
    typeId: item.typeId, version: item.data.readUInt16LE(0), capabilityFlags: flags,
    tcp: (flags & SERVICE_CAPABILITIES.tcp) !== 0, udpClass01: (flags & SERVICE_CAPABILITIES.udpClass01) !== 0,
    name: raw.subarray(0, end === -1 ? 16 : end).toString('latin1'),
  };
}

/** A few CIP device profile numbers, for readable observations (the number is always kept). */
export const DEVICE_TYPES: Readonly<Record<number, string>> = {
  0x00: 'Generic Device (deprecated)',
  0x02: 'AC Drive',
  0x07: 'General Purpose Discrete I/O',
  0x0c: 'Communications Adapter',
  0x0e: 'Programmable Logic Controller',
  0x18: 'Human-Machine Interface',
  0x2b: 'Generic Device (keyable)',
  0x2c: 'Managed Ethernet Switch',
};
