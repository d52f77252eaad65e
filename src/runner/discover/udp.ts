import { buildPayloads, udpScan, type PayloadKind, type UdpPayload } from '../../protocols/udp';
import { locateDevice, readProperty, withBacnet, OBJECT_TYPE, PROPERTY } from '../../protocols/bacnet';
import { OIDS, tryAccess } from '../../protocols/snmp';
import { probeDtls } from '../../protocols/dtls';

/** What one UDP port answered. */
export interface UdpIdentity {
  port: number;
  protocol: string;
  /** Only answering ports are listed; silence proves nothing on UDP, so a silent port is never declared. */
  identified: true;
  facts: Record<string, string>;
  options?: Record<string, boolean>;
  note?: string;
}

/** The industrial and management UDP ports checked by default (SNMP, BACnet/IP, EtherNet/IP, TFTP, NTP, DNP3). */
export const COMMON_UDP_PORTS: Readonly<Record<number, PayloadKind>> = { 161: 'snmp', 47808: 'bacnet', 44818: 'enip', 69: 'tftp', 123: 'ntp', 20000: 'dnp3' };

/** Kinds sent to a port given on the command line without a well-known protocol: each answers only its own protocol. */
const ANY_KINDS: readonly PayloadKind[] = ['snmp', 'bacnet', 'enip', 'tftp', 'dnp3'];

/** How each answer's first bytes name the protocol (the payloads' replies: BER, BVLC, encapsulation, TFTP, link frame). */
function protocolOfAnswer(hex: string): string | undefined {
  const b = Buffer.from(hex, 'hex');
  if (b[0] === 0x30) return 'snmp';
  if (b[0] === 0x81 && b.length >= 4) return 'bacnet';
  if (b.length >= 24 && b.readUInt16LE(0) === 0x63) return 'enip';
  if (b[0] === 0x00 && (b[1] === 0x03 || b[1] === 0x05)) return 'tftp';
  if (b[0] === 0x05 && b[1] === 0x64) return 'dnp3';
  if (b.length >= 48 && (b[0] & 0x07) === 4) return 'udp';
  return undefined;
}

/**
 * UDP check: the common ports (and `extraPorts`) get their protocol's request; SNMP gets only the v3 discovery
 * request (no community string) unless `snmpCommunity` allows the v1 "public" GetRequest for sysDescr. An
 * answering BACnet device is asked for its Device object's identity; 2221 and the extra ports that answered
 * nothing get a DTLS ClientHello.
 */
export async function checkUdp(host: string, extraPorts: readonly number[], options: { snmpCommunity: boolean; timeoutMs: number; signal: AbortSignal }): Promise<UdpIdentity[]> {
  const payloads = buildPayloads({ host });
  const allowed = (p: UdpPayload) => options.snmpCommunity || p.name !== 'snmp-v1-get-public';
  const ports = [...new Set([...Object.keys(COMMON_UDP_PORTS).map(Number), ...extraPorts])].sort((a, b) => a - b);
  const targets = ports.map((port) => {
    const kinds = COMMON_UDP_PORTS[port] ? [COMMON_UDP_PORTS[port]] : ANY_KINDS;
    return { port, payloads: kinds.flatMap((k) => payloads[k]).filter(allowed) };
  });
  const result = await udpScan(host, targets, { parallel: 8, responseTimeoutMs: options.timeoutMs, retries: 0, retryIntervalMs: 1000, signal: options.signal });
  const found: UdpIdentity[] = [];
  for (const r of result.ports) {
    if (r.state !== 'open' || !r.answer) continue;
    const protocol = protocolOfAnswer(r.answer.hex) ?? 'udp';
    const read = { host, port: r.port, timeoutMs: options.timeoutMs, signal: options.signal };
    const facts = protocol === 'bacnet' ? await bacnetIdentity(read) : protocol === 'snmp' && options.snmpCommunity ? await snmpIdentity(read) : {};
    found.push({ port: r.port, protocol, identified: true, facts });
  }
  const silent = [...new Set([DTLS_PORT, ...extraPorts])].filter((port) => !found.some((f) => f.port === port));
  for (const port of silent) {
    const dtls = await dtlsIdentity({ host, port, timeoutMs: options.timeoutMs, signal: options.signal });
    if (dtls) found.push(dtls);
  }
  return found.sort((a, b) => a.port - b.port);
}

/** CIP Security's DTLS port; other DTLS services are found on the --udp-ports that answered nothing else. */
const DTLS_PORT = 2221;

/** A DTLS 1.2 ClientHello (no handshake beyond the server's first flight): a DTLS server is declared `tls` over UDP. */
async function dtlsIdentity(read: UdpRead): Promise<UdpIdentity | undefined> {
  const answer = await probeDtls(read, { signal: read.signal, timeoutMs: read.timeoutMs, retries: 0 }).catch((err: unknown) => {
    if (read.signal.aborted) throw err;
    return undefined; // ICMP port unreachable: closed
  });
  if (answer?.kind !== 'dtls') return undefined;
  const facts = { dtls: `${answer.first} (${answer.version})${answer.alert ? `, alert ${answer.alert}` : ''}` };
  // On 2221 a guess from the port: CIP Security's DTLS side.
  return { port: read.port, protocol: 'tls', identified: true, facts, ...(read.port === DTLS_PORT ? { options: { cipSecurity: true }, note: 'guessed CIP Security (DTLS) from the port 2221' } : {}) };
}

interface UdpRead { host: string; port: number; timeoutMs: number; signal: AbortSignal }

/** The BACnet Device object's vendor-name, model-name and firmware-revision (ReadProperty: reads only). */
async function bacnetIdentity(read: UdpRead): Promise<Record<string, string>> {
  const facts: Record<string, string> = {};
  await withBacnet(read, { signal: read.signal, timeoutMs: read.timeoutMs, retries: 0 }, async (client) => {
    const { device } = await locateDevice(client);
    if (!device) return;
    for (const [name, property] of [['vendorName', PROPERTY.vendorName], ['modelName', PROPERTY.modelName], ['firmwareRevision', PROPERTY.firmwareRevision]] as const) {
      const answer = await readProperty(client, { objectType: OBJECT_TYPE.device, instance: device.instance, property });
      const value = answer.status === 'ack' ? answer.value[0] : undefined;
      if (value?.type === 'character-string') facts[`bacnet.${name}`] = value.value;
    }
  }).catch((err: unknown) => {
    if (read.signal.aborted) throw err;
  });
  return facts;
}

/** sysDescr.0 with the v1 community "public" (only with --snmp-community). */
async function snmpIdentity(read: UdpRead): Promise<Record<string, string>> {
  const trial = await tryAccess(read, { version: 'v1', community: 'public' }, { timeoutMs: read.timeoutMs, retries: 0, signal: read.signal }).catch((err: unknown) => {
    if (read.signal.aborted) throw err;
    return undefined;
  });
  const value = trial?.result === 'response' ? trial.response.varbinds.find((v) => v.oid === OIDS.sysDescr)?.value : undefined;
  return typeof value === 'string' && !value.startsWith('0x') ? { 'snmp.sysDescr': value } : {};
}
