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
  /** The profile's `boundaryHooks` (island mode, fail close), when it has them. */
  readonly hooks?: BoundaryHooks;
}

/** The default display name of a conduit. */
export function conduitLabel(c: Omit<Conduit, 'name'>): string {
  const what = c.protocol === 'icmp' ? `icmp/type ${c.icmpType ?? '?'}` : `${c.protocol}/${c.ports.join(',')}`;
  return `${c.from}${c.direction === 'both' ? '<->' : '->'}${c.to} ${what}`;
}

/**
 * A command the lab machine runs to act on the device (profile `boundaryHooks`): an SSH command to the device,
 * a script, a power switch. Always an argv array run without a shell; nothing from the device goes into it.
 */
export interface HookCommand {
  readonly argv: readonly string[];
  /** Killed (its process group) after this long; the run counts it as failed. */
  readonly timeoutMs: number;
}

/** How to put the device into island mode and out of it again (NDR 5.2 RE(2)). */
export interface IslandModeHooks {
  readonly enter: HookCommand;
  readonly leave: HookCommand;
  /** Wait after a hook returns before testing (the device applies the mode). */
  readonly settleMs: number;
}

/** How to stop the filtering function (or cut power) and bring it back (NDR 5.2 RE(3)). */
export interface FailCloseHooks {
  /** Stops the filtering function or cuts the power. */
  readonly stop: HookCommand;
  /** Restarts the filtering function or restores the power; always run, even after Ctrl-C. */
  readonly start: HookCommand;
  /** How long the filter stays down (between the end of stop and the start of start). */
  readonly outageMs: number;
  /** After start: how long the device may take until a declared conduit passes again. */
  readonly recoverTimeoutMs: number;
  /** After stop returns: the grace during which the still-running filter may pass declared flows. */
  readonly settleMs: number;
}

export interface BoundaryHooks {
  readonly islandMode?: IslandModeHooks;
  readonly failClose?: FailCloseHooks;
}
