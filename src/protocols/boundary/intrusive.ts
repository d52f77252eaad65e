import { OutOfScope, type BoundaryDecl, type BoundaryZone } from '../../sdk';
import { formatIpv4, host, parseCidr, parseIpv4 } from '../../sdk/ipv4';
import { hping3, type Endpoint } from './endpoint';
import { startFarCapture, stopFarCapture, tempCaptureFile } from './flows';
import type { CapturedPacket } from './pcap';

/**
 * Spoofed, fragmented and IP-option traffic from an untrusted endpoint (NDR 5.2, `intrusive`): packets a
 * firewall must not forward even when their ports look like a declared conduit. Each case is a few SYNs sent
 * with hping3 under its own IP identification, so the far endpoint's capture tells the cases apart.
 */
export type IntrusiveKind = 'spoofed-source' | 'fragmented' | 'tiny-fragment' | 'record-route';

export interface IntrusiveCase {
  kind: IntrusiveKind;
  /** The destination (the far endpoint). */
  destination: string;
  port: number;
  /** spoofed-source: the source address written into the packets (an address of another zone). */
  spoofedSource?: string;
  /** First IP identification; the case's packets carry ids from it on. */
  ipId: number;
  count: number;
}

/** Refuses an address outside every declared zone: spoofed and routed packets name only the bench's own addresses. */
function requireZoneAddress(decl: BoundaryDecl, address: string, what: string): BoundaryZone {
  const zone = decl.zones.find((z) => {
    const cidr = parseCidr(z.subnet);
    const a = parseIpv4(address);
    return a > cidr.network && a < cidr.network + 2 ** (32 - cidr.prefix) - 1;
  });
  if (!zone) throw new OutOfScope(`${what} ${address} is not an address of a declared zone; refusing to send`);
  return zone;
}

/** The hping3 arguments of one case (after `-I <interface>`); every address is checked against the zones first. */
export function intrusiveArgs(decl: BoundaryDecl, c: IntrusiveCase): string[] {
  requireZoneAddress(decl, c.destination, 'destination');
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65_535) throw new OutOfScope(`port ${c.port} is not a TCP port`);
  const base = ['-S', '-p', String(c.port), '-c', String(c.count), '-i', 'u20000', '-N', String(c.ipId)];
  switch (c.kind) {
    case 'spoofed-source':
      if (!c.spoofedSource) throw new OutOfScope('a spoofed-source case needs the source address');
      requireZoneAddress(decl, c.spoofedSource, 'spoofed source');
      return [...base, '-a', c.spoofedSource, c.destination];
    case 'fragmented':
      return [...base, '-f', c.destination];
    case 'tiny-fragment':
      // 8-byte fragments: the first carries only the ports and sequence number, the TCP flags come later (RFC 1858).
      return [...base, '-m', '8', c.destination];
    case 'record-route':
      return [...base, '--rroute', c.destination];
  }
}

/** An address of `zone` that is neither its endpoint nor its gateway: the source a spoofer from another zone would forge. */
export function forgeableAddress(zone: BoundaryZone): string {
  const cidr = parseCidr(zone.subnet);
  const taken = new Set([zone.endpoint.address, zone.endpoint.gateway]);
  for (let n = 20; n < 2 ** (32 - cidr.prefix) - 1; n++) {
    const candidate = formatIpv4(host(cidr, n));
    if (!taken.has(candidate)) return candidate;
  }
  return formatIpv4(host(cidr, 2));
}

export interface IntrusiveResult extends IntrusiveCase {
  from: string;
  to: string;
  sent: number;
  /** Packets (fragments count one each) of this case the far endpoint captured. */
  seen: number;
}

/** Sends every case from `near` while `far` captures everything addressed to it; counts each case by its IP ids. */
export async function sendIntrusive(decl: BoundaryDecl, near: Endpoint, far: Endpoint, cases: readonly IntrusiveCase[], signal: AbortSignal): Promise<{ results: IntrusiveResult[]; file: string; packets: CapturedPacket[] }> {
  const argv = cases.map((c) => intrusiveArgs(decl, c)); // all refused before anything is sent
  const file = tempCaptureFile(`intrusive-${near.zone.name}-to-${far.zone.name}`);
  const capture = await startFarCapture(far, `dst host ${far.address}`, file, signal);
  const sent: number[] = [];
  try {
    for (const args of argv) sent.push((await hping3(near, args, signal)).sent);
    await new Promise((r) => setTimeout(r, 300));
  } catch (err) {
    await capture.stop().catch(() => undefined);
    throw err;
  }
  const stopped = await stopFarCapture(capture, far);
  const results = cases.map((c, i) => ({
    ...c, from: near.zone.name, to: far.zone.name, sent: sent[i],
    seen: stopped.packets.filter((p) => p.ipId !== undefined && p.ipId >= c.ipId && p.ipId < c.ipId + c.count + 8).length,
  }));
  return { results, file, packets: stopped.packets };
}
