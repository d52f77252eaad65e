import { buildPayloads, udpScan, type PayloadKind, type UdpPayload } from '../../protocols/udp';

/** What one UDP port answered. */
export interface UdpIdentity {
  port: number;
  protocol: string;
  /** Only answering ports are listed; silence proves nothing on UDP, so a silent port is never declared. */
  identified: true;
  facts: Record<string, string>;
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
 * request (no community string) unless `snmpCommunity` allows the v1 "public" GetRequest for sysDescr.
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
    found.push({ port: r.port, protocol, identified: true, facts: {} });
  }
  return found;
}
