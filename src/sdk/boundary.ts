/**
 * The zones and conduits of a network component (profile `zones:` / `conduits:`): what the boundary probes
 * (probes/boundary) test from both sides of the device. Validated by the profile loader.
 */

/** Where the harness stands in a zone: a network namespace on the bench, with one address of the zone. */
export interface ZoneEndpoint {
  /** An existing network namespace (the bench helper's, or one the lab made with the real NIC in it). */
  readonly namespace: string;
  /** The interface in that namespace that carries `address`; default: found by the address. */
  readonly interface?: string;
  /** The endpoint's own address (in the zone's subnet): every packet the tester sends on this side comes from it. */
  readonly address: string;
  /** The device's address in this zone: the only next hop towards the other zones. */
  readonly gateway: string;
}

export interface BoundaryZone {
  readonly name: string;
  /** The trusted side (e.g. the control zone); the deny-by-default sweep runs from untrusted to trusted zones. */
  readonly trusted: boolean;
  /** The zone's addresses (CIDR); every address the tester uses on this side lies in it. */
  readonly subnet: string;
  readonly endpoint: ZoneEndpoint;
}

export type ConduitProtocol = 'tcp' | 'udp' | 'icmp';

/** An allowed flow through the device. */
export interface Conduit {
  /** Display name (default "<from>-><to> <protocol>/<ports|type>"). */
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly protocol: ConduitProtocol;
  /** TCP/UDP destination ports (in `to`). */
  readonly ports: readonly number[];
  /** ICMP type (8 = echo request) for protocol icmp. */
  readonly icmpType?: number;
  /** one-way: only `from` may open flows; both: either side may. */
  readonly direction: 'one-way' | 'both';
}

export interface BoundaryDecl {
  readonly zones: readonly BoundaryZone[];
  readonly conduits: readonly Conduit[];
}

/** The default display name of a conduit. */
export function conduitLabel(c: Omit<Conduit, 'name'>): string {
  const what = c.protocol === 'icmp' ? `icmp/type ${c.icmpType ?? '?'}` : `${c.protocol}/${c.ports.join(',')}`;
  return `${c.from}${c.direction === 'both' ? '<->' : '->'}${c.to} ${what}`;
}
