import type { BoundaryDecl, BoundaryZone, ComponentType, Conduit, ConduitProtocol, ZoneEndpoint } from '../sdk';
import { conduitLabel } from '../sdk';
import { contains, formatCidr, overlaps, parseCidr, parseIpv4, size, type Cidr } from '../sdk/ipv4';

/** The profile's `zones:` and `conduits:` as written (after the schema). */
export interface RawZone {
  name: string;
  trusted: boolean;
  subnet: string;
  endpoint: ZoneEndpoint;
}

export interface RawConduit {
  name?: string;
  from: string;
  to: string;
  protocol: ConduitProtocol;
  ports?: number[];
  port?: number;
  icmpType?: number;
  direction?: 'one-way' | 'both';
}

type Issue = (field: (string | number)[], message: string) => void;

/** A host address of `subnet` (not its network or broadcast address), else the reason it is not. */
export function hostProblem(address: string, subnet: Cidr | undefined): string | undefined {
  let value: number;
  try {
    value = parseIpv4(address);
  } catch (err) {
    return (err as Error).message;
  }
  if (!subnet) return undefined;
  if (!contains(subnet, value)) return `${address} is not in the zone's subnet ${formatCidr(subnet)}`;
  if (subnet.prefix < 31 && (value === subnet.network || value === subnet.network + size(subnet) - 1)) {
    return `${address} is the network or broadcast address of ${formatCidr(subnet)}`;
  }
  return undefined;
}

function zoneOf(z: RawZone, i: number, issue: Issue): BoundaryZone & { cidr?: Cidr } {
  let cidr: Cidr | undefined;
  try {
    cidr = parseCidr(z.subnet);
  } catch (err) {
    issue(['zones', i, 'subnet'], (err as Error).message);
  }
  for (const field of ['address', 'gateway'] as const) {
    const problem = hostProblem(z.endpoint[field], cidr);
    if (problem) issue(['zones', i, 'endpoint', field], problem);
  }
  if (z.endpoint.address === z.endpoint.gateway) issue(['zones', i, 'endpoint', 'gateway'], 'is the endpoint\'s own address: the gateway is the device\'s address in this zone');
  return { ...z, ...(cidr ? { cidr } : {}) };
}

function conduitOf(c: RawConduit, i: number, zoneNames: ReadonlySet<string>, issue: Issue): Conduit {
  const at = (field: string) => ['conduits', i, field];
  for (const side of ['from', 'to'] as const) if (!zoneNames.has(c[side])) issue(at(side), `no zone named "${c[side]}" (zones: ${[...zoneNames].join(', ')})`);
  if (c.from === c.to) issue(at('to'), 'a conduit joins two different zones');
  const ports = [...(c.ports ?? []), ...(c.port !== undefined ? [c.port] : [])];
  if (c.protocol === 'icmp') {
    if (c.icmpType === undefined) issue(at('icmpType'), 'an icmp conduit names its ICMP type (8 = echo request)');
    if (ports.length > 0) issue(at(c.ports ? 'ports' : 'port'), 'an icmp conduit has no ports');
  } else {
    if (ports.length === 0) issue(at('ports'), `a ${c.protocol} conduit names its destination port(s)`);
    if (c.icmpType !== undefined) issue(at('icmpType'), `only icmp conduits have an ICMP type, not ${c.protocol}`);
    if (new Set(ports).size !== ports.length) issue(at('ports'), 'a port is listed twice');
  }
  const base = { from: c.from, to: c.to, protocol: c.protocol, ports, ...(c.icmpType !== undefined ? { icmpType: c.icmpType } : {}), direction: c.direction ?? 'one-way' } as const;
  return { name: c.name ?? conduitLabel(base), ...base };
}

/**
 * The zones and conduits checked beyond the schema: a network component, unique zone names, subnets that do
 * not overlap, endpoint and gateway addresses inside their zone, one trusted and one untrusted zone at least,
 * conduits between declared zones with ports (tcp/udp) or an ICMP type (icmp). Where the endpoints route is
 * checked when the probes run (`ip route get` in each endpoint's namespace), not here.
 */
export function boundaryOf(
  zones: readonly RawZone[] | undefined, conduits: readonly RawConduit[] | undefined, types: readonly ComponentType[], issue: Issue,
): BoundaryDecl | undefined {
  if (zones === undefined) {
    if (conduits !== undefined) issue(['conduits'], 'conduits need zones: declare the zones they join');
    return undefined;
  }
  if (!types.includes('network')) issue(['zones'], 'zones and conduits are for network components: add network to component.types');
  const checked = zones.map((z, i) => zoneOf(z, i, issue));
  checked.forEach((z, i) => {
    const first = checked.findIndex((o) => o.name === z.name);
    if (first !== i) issue(['zones', i, 'name'], `zone ${z.name} is declared twice (also zones[${first}])`);
    const clash = checked.findIndex((o, j) => j < i && o.cidr && z.cidr && overlaps(o.cidr, z.cidr));
    if (clash !== -1) issue(['zones', i, 'subnet'], `${z.subnet} overlaps zone ${checked[clash].name} (${checked[clash].subnet}): zones are separate networks`);
    const namespaceTwice = checked.findIndex((o) => o.endpoint.namespace === z.endpoint.namespace);
    if (namespaceTwice !== i) issue(['zones', i, 'endpoint', 'namespace'], `zone ${checked[namespaceTwice].name} uses namespace ${z.endpoint.namespace} too: each side needs an endpoint of its own`);
  });
  if (!zones.some((z) => z.trusted) || zones.every((z) => z.trusted)) {
    issue(['zones'], 'declare at least one trusted and one untrusted zone (the sweep runs from untrusted to trusted)');
  }
  const names = new Set(zones.map((z) => z.name));
  return {
    zones: checked.map(({ cidr: _c, ...z }) => z),
    conduits: (conduits ?? []).map((c, i) => conduitOf(c, i, names, issue)),
  };
}
