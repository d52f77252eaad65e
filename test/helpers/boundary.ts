import type { BoundaryBench } from '../../src/labnet/boundary-bench';
import { createBoundaryBench } from '../../src/labnet/boundary-bench';
import { labnetAvailability } from '../../src/labnet/netns';
import type { BoundaryDecl, Conduit } from '../../src/sdk';
import { requirePeer, requireRoot } from './peers';
import { configureRouter, startManagementService, type RouterPosture } from './nft-router';

/** The conduits of the boundary tests: a control zone (trusted) and a field zone (untrusted) around the router. */
export const TEST_CONDUITS: readonly Conduit[] = [
  { name: 'hmi-to-plc', from: 'trusted', to: 'untrusted', protocol: 'tcp', ports: [502], direction: 'one-way' },
  { name: 'historian', from: 'untrusted', to: 'trusted', protocol: 'tcp', ports: [8443], direction: 'one-way' },
  { name: 'syslog', from: 'untrusted', to: 'trusted', protocol: 'udp', ports: [514], direction: 'one-way' },
  { name: 'ping', from: 'trusted', to: 'untrusted', protocol: 'icmp', ports: [], icmpType: 8, direction: 'both' },
];

export function declOf(bench: BoundaryBench, conduits: readonly Conduit[] = TEST_CONDUITS): BoundaryDecl {
  return { zones: bench.zones, conduits };
}

/** Root, namespaces, nft, hping3 and dumpcap, or skip (fail under IACS_REQUIRE_PEERS=1). */
export async function requireBoundaryBench(ctx: Mocha.Context): Promise<void> {
  requireRoot(ctx, 'network namespaces, nftables and captures');
  for (const tool of ['nft', 'hping3', 'dumpcap']) requirePeer(ctx, tool);
  const available = await labnetAvailability();
  if (!available.ok) {
    if (process.env.IACS_REQUIRE_PEERS === '1') throw new Error(`boundary tests must run here: ${available.reason}`);
    ctx.skip();
  }
}

/** A bench whose router has the posture's rule set and a management service on port 22. */
export async function routerBench(posture: RouterPosture, conduits: readonly Conduit[] = TEST_CONDUITS): Promise<BoundaryBench> {
  const bench = await createBoundaryBench();
  try {
    await configureRouter(bench, posture, conduits);
    await startManagementService(bench);
    return bench;
  } catch (err) {
    await bench.close();
    throw err;
  }
}
