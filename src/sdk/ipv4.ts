/**
 * IPv4 arithmetic (no I/O): the labnet's subnets and the boundary profile's zones. Addresses are handled as unsigned 32-bit numbers.
 */

export interface Cidr {
  /** Network address (host bits cleared). */
  readonly network: number;
  readonly prefix: number;
}


export function parseIpv4(text: string): number {
  const parts = text.trim().split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1));
}

/** Parses "a.b.c.d/n" (or a bare address, meaning /32); host bits must be zero unless `loose`. */
export function parseCidr(text: string, loose = false): Cidr {
  const [addr, len, extra] = text.trim().split('/');
  const prefix = len === undefined ? 32 : Number(len);
  if (extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32 || (len !== undefined && !/^\d+$/.test(len))) {
    throw new Error(`not an IPv4 CIDR: ${JSON.stringify(text)}`);
  }
  const value = parseIpv4(addr);
  const network = (value & maskOf(prefix)) >>> 0;
  if (!loose && network !== value) throw new Error(`${text}: host bits are set (did you mean ${formatIpv4(network)}/${prefix}?)`);
  return { network, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, address: number): boolean {
  return address >= c.network && address < c.network + size(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.network < b.network + size(b) && b.network < a.network + size(a);
}

/** The n-th usable host of a subnet (n = 1 is the first after the network address). */
export function host(c: Cidr, n: number): number {
  if (n < 1 || n >= size(c) - 1) throw new Error(`${formatCidr(c)} has no host number ${n}`);
  return c.network + n;
}

/** Splits `pool` into subnets of length `prefix`, returning the i-th (modulo their count). */
export function subnetAt(pool: Cidr, prefix: number, i: number): Cidr {
  if (prefix < pool.prefix) throw new Error(`/${prefix} does not fit in ${formatCidr(pool)}`);
  const count = 2 ** (prefix - pool.prefix);
  return { network: pool.network + (((i % count) + count) % count) * 2 ** (32 - prefix), prefix };
}

export function subnetCount(pool: Cidr, prefix: number): number {
  return 2 ** (prefix - pool.prefix);
}
