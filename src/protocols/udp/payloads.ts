import { randomBytes } from 'node:crypto';

/**
 * Protocol payloads for the UDP scan: one request per protocol that a listening service answers (with data,
 * an error or a refusal) and that reads or changes nothing on the device. A service that ignores a datagram
 * it cannot parse looks like a filtered port, so an empty datagram proves little; these give it something to
 * answer. Built here from the protocol specifications (no payload file copied), with fresh random ids per
 * scan so that an answer can be matched to the request.
 */
export type PayloadKind = 'snmp' | 'ntp' | 'tftp' | 'bacnet' | 'enip' | 'dns' | 'mdns' | 'ssdp' | 'ike' | 'dnp3';

export interface UdpPayload {
  /** e.g. "snmp-v1-get-public", "ntp-client"; names the request in the evidence. */
  readonly name: string;
  readonly kind: PayloadKind | 'empty';
  readonly bytes: Buffer;
}

/** The well-known port numbers of each payload's protocol (an undeclared port gets its payload by number). */
export const PAYLOAD_PORTS: Readonly<Record<PayloadKind, readonly number[]>> = {
  snmp: [161], ntp: [123], tftp: [69], bacnet: [47808], enip: [44818], dns: [53], mdns: [5353], ssdp: [1900], ike: [500], dnp3: [20000],
};

/** Declared service protocols whose requests the scan can send (a declared `udp` service goes by its port number). */
export const DECLARED_KINDS: Readonly<Record<string, PayloadKind>> = {
  snmp: 'snmp', tftp: 'tftp', bacnet: 'bacnet', enip: 'enip', dnp3: 'dnp3',
};

// --- BER (SNMP) -------------------------------------------------------------------------------------------

function berLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), berLength(content.length), content]);
}

function berInt(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0] & 0x80) bytes.unshift(0); // keep it positive
  return tlv(0x02, Buffer.from(bytes));
}

const octets = (s: string | Buffer) => tlv(0x04, Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'));
const sequence = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
/** sysDescr.0, 1.3.6.1.2.1.1.1.0, encoded. */
const SYS_DESCR = tlv(0x06, Buffer.from([0x2b, 6, 1, 2, 1, 1, 1, 0]));

/** SNMPv1 GetRequest for sysDescr.0 with community "public" (RFC 1157): answered by a v1/v2c agent that knows it. */
function snmpV1Get(requestId: number): Buffer {
  const pdu = tlv(0xa0, Buffer.concat([berInt(requestId), berInt(0), berInt(0), sequence(sequence(SYS_DESCR, Buffer.from([0x05, 0x00])))]));
  return sequence(berInt(0), octets('public'), pdu);
}

/** SNMPv3 engine discovery (RFC 3414 §4): empty USM parameters, reportable; a v3 agent answers with a Report. */
function snmpV3Discovery(messageId: number): Buffer {
  const globalData = sequence(berInt(messageId), berInt(65507), octets(Buffer.from([0x04])), berInt(3));
  const usm = octets(sequence(octets(''), berInt(0), berInt(0), octets(''), octets(''), octets('')));
  const scopedPdu = sequence(octets(''), octets(''), tlv(0xa0, Buffer.concat([berInt(messageId), berInt(0), berInt(0), sequence()])));
  return sequence(berInt(3), globalData, usm, scopedPdu);
}

// --- The other protocols -----------------------------------------------------------------------------------

/** NTP client request (RFC 5905): version 4, mode 3, a random transmit timestamp the server echoes. */
function ntpClient(transmit: Buffer): Buffer {
  const packet = Buffer.alloc(48);
  packet[0] = (4 << 3) | 3;
  transmit.copy(packet, 40, 0, 8);
  return packet;
}

/** TFTP read request (RFC 1350) for a file name no device has: answered with ERROR 1 (or a file, never written). */
function tftpRead(fileName: string): Buffer {
  return Buffer.concat([Buffer.from([0, 1]), Buffer.from(fileName, 'ascii'), Buffer.from([0]), Buffer.from('octet', 'ascii'), Buffer.from([0])]);
}

/** BACnet/IP Who-Is (ASHRAE 135 clause 16.10), unicast: BVLC Original-Unicast-NPDU, unconfirmed Who-Is. */
const BACNET_WHO_IS = Buffer.from([0x81, 0x0a, 0x00, 0x08, 0x01, 0x00, 0x10, 0x08]);

/**
 * BACnet/IP ReadProperty of the wildcard device (instance 4194303) property object-identifier: a confirmed
 * request, so a device answers the sender directly (an I-Am to Who-Is is often broadcast instead).
 */
function bacnetReadDeviceId(invokeId: number): Buffer {
  const apdu = [0x00, 0x05, invokeId, 0x0c, 0x0c, 0x02, 0x3f, 0xff, 0xff, 0x19, 0x4b];
  const npdu = [0x01, 0x04]; // version 1, expecting reply
  const length = 4 + npdu.length + apdu.length;
  return Buffer.from([0x81, 0x0a, length >> 8, length & 0xff, ...npdu, ...apdu]);
}

/** EtherNet/IP encapsulation ListIdentity (CIP Vol. 2, 2-4.2): 24-byte header, no session, no data. */
function enipListIdentity(senderContext: Buffer): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt16LE(0x0063, 0);
  senderContext.copy(header, 12, 0, 8);
  return header;
}

function dnsName(name: string): Buffer {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  return Buffer.concat([...labels, Buffer.from([0])]);
}

/** A DNS query (RFC 1035) of one question; a server answers even when it refuses (RCODE 5). */
function dnsQuery(id: number, name: string, type: number, qclass: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(1, 4); // QDCOUNT
  const question = Buffer.alloc(4);
  question.writeUInt16BE(type, 0);
  question.writeUInt16BE(qclass, 2);
  return Buffer.concat([header, dnsName(name), question]);
}

/** SSDP M-SEARCH (UPnP Device Architecture 1.1 §1.3.2) sent unicast to the host itself, never to the multicast group. */
function ssdpSearch(host: string): Buffer {
  const target = host.includes(':') ? `[${host}]` : host;
  return Buffer.from(`M-SEARCH * HTTP/1.1\r\nHOST: ${target}:1900\r\nMAN: "ssdp:discover"\r\nST: ssdp:all\r\nUSER-AGENT: iacs-probe UPnP/1.1 scan\r\n\r\n`, 'ascii');
}

/** ISAKMP data attribute in TV form (RFC 2408 §3.3). */
const attribute = (type: number, value: number) => Buffer.from([0x80 | (type >> 8), type & 0xff, value >> 8, value & 0xff]);

/** IKEv1 transform (RFC 2409 Appendix A attributes): encryption, hash, authentication, group, 8 h lifetime. */
function ikeTransform(n: number, last: boolean, [enc, keyBits, hash, auth, group]: readonly number[]): Buffer {
  const attrs = Buffer.concat([
    attribute(1, enc), ...(keyBits ? [attribute(14, keyBits)] : []), attribute(2, hash), attribute(3, auth), attribute(4, group),
    attribute(11, 1), attribute(12, 28800),
  ]);
  const head = Buffer.from([last ? 0 : 3, 0, 0, 0, n, 1, 0, 0]); // transform id 1: KEY_IKE
  head.writeUInt16BE(head.length + attrs.length, 2);
  return Buffer.concat([head, attrs]);
}

/**
 * IKEv1 Main Mode first message (RFC 2409 §5): one ISAKMP proposal of AES-128 and 3DES with SHA-1, pre-shared
 * key or signatures, MODP groups 14 and 2. A responder answers with its choice or a NO-PROPOSAL-CHOSEN notify.
 */
function ikeMainMode(initiatorCookie: Buffer): Buffer {
  const choices = [[7, 128, 2, 1, 14], [7, 128, 2, 3, 14], [5, 0, 2, 1, 2], [5, 0, 2, 3, 2]] as const;
  const transforms = Buffer.concat(choices.map((c, i) => ikeTransform(i + 1, i === choices.length - 1, c)));
  const proposal = Buffer.concat([Buffer.from([0, 0, 0, 0, 1, 1, 0, choices.length]), transforms]);
  proposal.writeUInt16BE(proposal.length, 2);
  const sa = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]), proposal]); // DOI IPsec, SIT_IDENTITY_ONLY
  sa.writeUInt16BE(sa.length, 2);
  const header = Buffer.alloc(28);
  initiatorCookie.copy(header, 0, 0, 8);
  header[16] = 1; // next payload: SA
  header[17] = 0x10; // version 1.0
  header[18] = 2; // exchange: Identity Protection (Main Mode)
  header.writeUInt32BE(28 + sa.length, 24);
  return Buffer.concat([header, sa]);
}

/** CRC-16/DNP (IEEE 1815 link layer): reflected polynomial 0xA6BC, result complemented, little-endian on the wire. */
export function dnp3Crc(data: Buffer): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa6bc : crc >>> 1;
  }
  return ~crc & 0xffff;
}

/** DNP3 link-layer REQUEST_LINK_STATUS (function 9) from master 3 to an outstation address; answered with LINK_STATUS. */
function dnp3LinkStatus(destination: number): Buffer {
  const header = Buffer.from([0x05, 0x64, 0x05, 0xc9, destination & 0xff, destination >> 8, 0x03, 0x00]);
  const crc = Buffer.alloc(2);
  crc.writeUInt16LE(dnp3Crc(header), 0);
  return Buffer.concat([header, crc]);
}

/** What a scan's requests carry that must differ between scans (ids, cookies, file names). */
export interface PayloadSeed {
  readonly host: string;
  /** DNP3 outstation address to ask (a declared dnp3 service's `unitId`, else 1). */
  readonly dnp3Address?: number;
}

/** The requests one scan sends for each protocol, built once so that retries repeat the same bytes. */
export function buildPayloads(seed: PayloadSeed): Readonly<Record<PayloadKind, readonly UdpPayload[]>> {
  const id = randomBytes(16);
  const p = (name: string, kind: PayloadKind, bytes: Buffer): UdpPayload => ({ name, kind, bytes });
  return {
    snmp: [p('snmp-v1-get-public', 'snmp', snmpV1Get(id.readUInt16BE(0))), p('snmp-v3-discovery', 'snmp', snmpV3Discovery(id.readUInt16BE(2)))],
    ntp: [p('ntp-client', 'ntp', ntpClient(id.subarray(8, 16)))],
    tftp: [p('tftp-read-random', 'tftp', tftpRead(`iacs-probe-${id.subarray(0, 6).toString('hex')}.txt`))],
    bacnet: [p('bacnet-who-is', 'bacnet', BACNET_WHO_IS), p('bacnet-read-device-id', 'bacnet', bacnetReadDeviceId(id[4]))],
    enip: [p('enip-list-identity', 'enip', enipListIdentity(id.subarray(8, 16)))],
    dns: [p('dns-root-ns', 'dns', dnsQuery(id.readUInt16BE(5), '', 2, 1))],
    mdns: [p('mdns-services', 'mdns', dnsQuery(id.readUInt16BE(6), '_services._dns-sd._udp.local', 12, 0x8001))],
    ssdp: [p('ssdp-m-search-unicast', 'ssdp', ssdpSearch(seed.host))],
    ike: [p('ike-v1-main-mode', 'ike', ikeMainMode(id.subarray(8, 16)))],
    dnp3: [p('dnp3-link-status', 'dnp3', dnp3LinkStatus(seed.dnp3Address ?? 1))],
  };
}

export const EMPTY_PAYLOAD: UdpPayload = { name: 'empty', kind: 'empty', bytes: Buffer.alloc(0) };

/** The payload kind for a port: the declared service's protocol first, else the port's well-known protocol. */
export function payloadKindFor(port: number, declaredProtocol?: string): PayloadKind | undefined {
  if (declaredProtocol && DECLARED_KINDS[declaredProtocol]) return DECLARED_KINDS[declaredProtocol];
  return (Object.entries(PAYLOAD_PORTS) as [PayloadKind, readonly number[]][]).find(([, ports]) => ports.includes(port))?.[0];
}
