import * as net from 'node:net';
import { LOAD_CEILINGS, OutOfScope } from '../../sdk';

/**
 * Argument builders for the raw-packet generators (Debian's hping3, nmap's nping). Raw sockets bypass the run's
 * scope guard (which sees only Node's net/tls/dgram), so these builders are the guard for them: they accept
 * only an IPv4 literal that is one of the profile host's resolved addresses, an integer port, a rate and a
 * packet count within the harness's ceilings, and nothing else. They never ask for a flood mode (`--flood`), a
 * spoofed or random source (`-a`, `--rand-source`), a random destination or a broadcast.
 */

export type StormKind = 'syn' | 'udp' | 'udp-closed' | 'icmp' | 'arp';

export interface StormPacketPlan {
  kind: StormKind;
  /** The destination: must be one of `scope`. */
  address: string;
  /** TCP or UDP destination port (syn, udp, udp-closed). */
  port?: number;
  /** Packets per second (sets the interval between packets). */
  rate: number;
  /** Packets in all (the generator stops after them). */
  count: number;
  /** ARP: the interface toward the target (a directly connected link). */
  interface?: string;
}

/** An argument a builder refuses (an address outside the profile, a port or a rate out of range). */
export class StormArgumentRefused extends OutOfScope {}

const IFACE_RE = /^[A-Za-z0-9_.-]{1,15}$/;

/** The address, checked: an IPv4 unicast literal that is one of the profile host's addresses. */
export function scopedAddress(address: string, scope: readonly string[]): string {
  if (!net.isIPv4(address)) throw new StormArgumentRefused(`storm destination ${JSON.stringify(address)} is not an IPv4 address literal; refusing`);
  if (!scope.includes(address)) throw new StormArgumentRefused(`storm destination ${address} is not an address of the host under test (${scope.join(', ') || 'none'}); refusing`);
  const [a, , , d] = address.split('.').map(Number);
  if (a === 0 || a >= 224 || d === 255) throw new StormArgumentRefused(`storm destination ${address} is not a unicast host address; refusing`);
  return address;
}

function integerIn(value: number | undefined, min: number, max: number, what: string): number {
  if (value === undefined || !Number.isInteger(value) || value < min || value > max) throw new StormArgumentRefused(`${what} ${String(value)} is not an integer from ${min} to ${max}; refusing`);
  return value;
}

/** Microseconds between two packets at `rate` packets/s (at least 1). */
export const intervalMicros = (rate: number): number => Math.max(1, Math.round(1_000_000 / rate));

function checked(plan: StormPacketPlan, scope: readonly string[]): { address: string; rate: number; count: number } {
  return {
    address: scopedAddress(plan.address, scope),
    rate: integerIn(plan.rate, 1, LOAD_CEILINGS.maxRate, 'storm rate'),
    count: integerIn(plan.count, 1, LOAD_CEILINGS.maxTotal, 'packet count'),
  };
}

/** hping3's argv for a SYN, UDP or ICMP echo storm: `-i u<µs>` paces it, `-c` ends it, `-q` keeps replies quiet. */
export function hping3Args(plan: StormPacketPlan, scope: readonly string[]): string[] {
  const { address, rate, count } = checked(plan, scope);
  const pacing = ['-i', `u${intervalMicros(rate)}`, '-c', String(count)];
  switch (plan.kind) {
    case 'syn': return ['-q', '-n', '-S', '-p', String(integerIn(plan.port, 1, 65535, 'TCP port')), ...pacing, address];
    case 'udp':
    case 'udp-closed': return ['-q', '-n', '--udp', '-p', String(integerIn(plan.port, 1, 65535, 'UDP port')), ...pacing, address];
    case 'icmp': return ['-q', '-n', '--icmp', ...pacing, address];
    default: throw new StormArgumentRefused(`hping3 does not send ${plan.kind} storms here`);
  }
}

/** The slowest pace nping keeps: below 1 ms between packets it sends one burst at full speed (measured). */
export const NPING_MAX_RATE = 1000;

/** nping's argv for an ARP request storm on `interface` (a directly connected link), at most 1000/s. */
export function npingArpArgs(plan: StormPacketPlan, scope: readonly string[]): string[] {
  const { address, rate, count } = checked(plan, scope);
  if (plan.kind !== 'arp') throw new StormArgumentRefused(`nping sends only ARP storms here, not ${plan.kind}`);
  if (!plan.interface || !IFACE_RE.test(plan.interface)) throw new StormArgumentRefused(`interface ${JSON.stringify(plan.interface)} is not an interface name; refusing`);
  integerIn(rate, 1, NPING_MAX_RATE, 'nping ARP rate');
  return ['--arp', '--arp-type', 'ARP', '--delay', `${1000 / rate}ms`, '-c', String(count), '-e', plan.interface, '-q1', address];
}
