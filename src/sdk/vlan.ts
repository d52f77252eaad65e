/**
 * The VLANs of a switch (profile `vlans:`): where the bench's endpoints sit on the switch's access ports and,
 * when the bench has one, its trunk port. What boundary.vlan-isolation (CR 5.1) tests. Validated by the loader.
 */

/** A bench NIC on a port of the switch: an interface in a network namespace, with one address of `subnet`. */
export interface VlanPoint {
  readonly name: string;
  /** An existing network namespace holding the interface (the bench helper's, or one the lab made). */
  readonly namespace: string;
  /** The interface cabled to the switch port; default: found by the address. */
  readonly interface?: string;
  /** Its address: the source (and destination) of every datagram the probe sends on this port. */
  readonly address: string;
}

/** An endpoint on an access port: its frames belong to `vlan` untagged. */
export interface VlanAccessPoint extends VlanPoint {
  readonly vlan: number;
}

/** The endpoint on a trunk port: frames of `vlans` tagged, except the native VLAN's, which travel untagged. */
export interface VlanTrunkPoint extends VlanPoint {
  readonly vlans: readonly number[];
  readonly nativeVlan?: number;
}

export interface VlanDecl {
  /** The one IP subnet of every endpoint: only the switch separates them (no router between the VLANs). */
  readonly subnet: string;
  readonly access: readonly VlanAccessPoint[];
  readonly trunk?: VlanTrunkPoint;
}
