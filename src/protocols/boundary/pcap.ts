/** Reads the classic pcap files dumpcap writes with -P (Ethernet or Linux cooked captures), IPv4 only (behind 802.1Q/802.1ad tags too). */

export interface CapturedPacket {
  src: string;
  dst: string;
  protocol: 'tcp' | 'udp' | 'icmp' | 'other';
  /** TCP/UDP destination port. */
  dport?: number;
  /** TCP flags byte (SYN = 0x02, ACK = 0x10). */
  tcpFlags?: number;
  icmpType?: number;
  /** When it was captured (epoch milliseconds, fractional). */
  time?: number;
  /** The IP header's identification and whether this is a fragment (MF set or an offset). */
  ipId?: number;
  fragment?: boolean;
  /** The IP header carries options (its length is above 20 bytes). */
  ipOptions?: boolean;
  /** The frame's 802.1Q / 802.1ad VLAN ids, outermost first (absent: untagged). */
  vlans?: number[];
}

const IPV4 = 0x0800;
const VLAN_TPIDS = new Set([0x8100, 0x88a8]);
const linkHeader: Record<number, { length: number; etherTypeAt: number }> = {
  1: { length: 14, etherTypeAt: 12 }, // Ethernet
  113: { length: 16, etherTypeAt: 14 }, // Linux cooked (SLL)
};

const ipv4 = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

/** Steps over the VLAN tags after the link header: their ids and where the IPv4 header starts, if it is one. */
function unwrapTags(frame: Buffer, link: { length: number; etherTypeAt: number }): { ipAt: number; vlans: number[] } | undefined {
  const vlans: number[] = [];
  let typeAt = link.etherTypeAt;
  while (frame.length >= typeAt + 6 && VLAN_TPIDS.has(frame.readUInt16BE(typeAt))) {
    vlans.push(frame.readUInt16BE(typeAt + 2) & 0x0fff);
    typeAt += 4;
  }
  const ipAt = link.length + vlans.length * 4;
  if (frame.length < ipAt + 20 || frame.readUInt16BE(typeAt) !== IPV4) return undefined;
  return { ipAt, vlans };
}

function decode(frame: Buffer, link: { length: number; etherTypeAt: number }): CapturedPacket | undefined {
  const tagged = unwrapTags(frame, link);
  if (!tagged) return undefined;
  const ip = frame.subarray(tagged.ipAt);
  const headerLength = (ip[0] & 0x0f) * 4;
  const fragmentOffset = ip.readUInt16BE(6) & 0x1fff;
  const moreFragments = (ip[6] & 0x20) !== 0;
  const proto = ip[9];
  const l4 = ip.subarray(headerLength);
  const packet: CapturedPacket = {
    src: ipv4(ip, 12), dst: ipv4(ip, 16), protocol: 'other', ipId: ip.readUInt16BE(4),
    ...(moreFragments || fragmentOffset !== 0 ? { fragment: true } : {}), ...(headerLength > 20 ? { ipOptions: true } : {}),
    ...(tagged.vlans.length > 0 ? { vlans: tagged.vlans } : {}),
  };
  if (fragmentOffset !== 0) return packet; // a later fragment carries no transport header
  if (proto === 6 && l4.length >= 14) return { ...packet, protocol: 'tcp', dport: l4.readUInt16BE(2), tcpFlags: l4[13] };
  if (proto === 17 && l4.length >= 4) return { ...packet, protocol: 'udp', dport: l4.readUInt16BE(2) };
  if (proto === 1 && l4.length >= 1) return { ...packet, protocol: 'icmp', icmpType: l4[0] };
  return packet;
}

/** The IPv4 packets of a pcap file (little- or big-endian, micro- or nanosecond), in capture order. */
export function readPcap(file: Buffer): CapturedPacket[] {
  if (file.length < 24) throw new Error('not a pcap file: shorter than its header');
  const magic = file.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && file.readUInt32BE(0) !== 0xa1b2c3d4 && file.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file (pcapng? capture with dumpcap -P)');
  const u32 = (at: number) => (little ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const fractionPerMs = (little ? file.readUInt32LE(0) : file.readUInt32BE(0)) === 0xa1b23c4d ? 1e6 : 1e3;
  const link = linkHeader[u32(20)];
  if (!link) throw new Error(`pcap link type ${u32(20)} is not Ethernet or Linux cooked`);
  const packets: CapturedPacket[] = [];
  for (let at = 24; at + 16 <= file.length;) {
    const captured = u32(at + 8);
    const time = u32(at) * 1000 + u32(at + 4) / fractionPerMs;
    const frame = file.subarray(at + 16, at + 16 + captured);
    at += 16 + captured;
    const packet = decode(frame, link);
    if (packet) packets.push({ ...packet, time });
  }
  return packets;
}
