import { spawn } from 'node:child_process';
import type { BoundaryZone } from '../sdk';
import { checkRoute, ip, netnsArgv } from '../protocols/netns';
import { formatIpv4, host, parseCidr } from './subnet';
import { ownNetworks, type OwnedNetworks, type RunResult } from './netns';

/**
 * The two-sided bench: a device under test between two zones, everything in network namespaces of its own.
 *
 *   iacsp-<id>-za  (trusted endpoint)   eth0 <trusted>.10/24   route <untrusted subnet> via <trusted>.1
 *        │ veth
 *   iacsp-<id>-r   (the router)         a0 <trusted>.1/24, b0 <untrusted>.1/24, forwarding on (here only)
 *        │ veth
 *   iacsp-<id>-zb  (untrusted endpoint) eth0 <untrusted>.10/24 route <trusted subnet> via <untrusted>.1
 *
 * No namespace has a default route; the endpoints reach each other only through the router. Names carry the
 * owner's pid, so the labnet sweeper removes what a crashed run left (docs/boundary.md).
 */

export interface BoundaryBenchOptions {
  /** Default 198.19.1.0/24 (RFC 2544 benchmarking space; nothing here can leave the namespaces anyway). */
  trustedSubnet?: string;
  /** Default 198.19.2.0/24. */
  untrustedSubnet?: string;
}

export interface BoundaryBench {
  readonly id: string;
  /** The router namespace and its two interfaces (the device under test in tests). */
  readonly router: { namespace: string; trustedInterface: string; untrustedInterface: string; trustedAddress: string; untrustedAddress: string };
  /** The zones as a profile declares them: `trusted` (endpoint A) and `untrusted` (endpoint B). */
  readonly zones: readonly [BoundaryZone, BoundaryZone];
  /** Runs a command inside one of the bench's namespaces (killed after timeoutMs, default 30 s); `input` goes to stdin. */
  run(namespace: string, argv: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** Starts a long-lived process inside a namespace; it is stopped by close(). */
  spawn(namespace: string, argv: readonly string[]): ReturnType<typeof spawn>;
  readonly namespaces: readonly string[];
  close(): Promise<void>;
}

const ENDPOINT_IF = 'eth0';
const ROUTER_TRUSTED_IF = 'a0';
const ROUTER_UNTRUSTED_IF = 'b0';

export async function createBoundaryBench(options: BoundaryBenchOptions = {}): Promise<BoundaryBench> {
  const owned = await ownNetworks();
  try {
    return await wireBench(owned, options);
  } catch (err) {
    await owned.close();
    throw err;
  }
}

async function wireBench(owned: OwnedNetworks, options: BoundaryBenchOptions): Promise<BoundaryBench> {
  const subnets = [parseCidr(options.trustedSubnet ?? '198.19.1.0/24'), parseCidr(options.untrustedSubnet ?? '198.19.2.0/24')];
  const routerNs = await owned.addNamespace('r');
  const sides = [
    { name: 'trusted', trusted: true, ns: await owned.addNamespace('za'), routerIf: ROUTER_TRUSTED_IF, subnet: subnets[0] },
    { name: 'untrusted', trusted: false, ns: await owned.addNamespace('zb'), routerIf: ROUTER_UNTRUSTED_IF, subnet: subnets[1] },
  ].map((s) => ({ ...s, gateway: formatIpv4(host(s.subnet, 1)), address: formatIpv4(host(s.subnet, 10)), cidr: `${formatIpv4(s.subnet.network)}/${s.subnet.prefix}` }));
  for (const side of sides) {
    await ip(['link', 'add', 'name', ENDPOINT_IF, 'netns', side.ns, 'type', 'veth', 'peer', 'name', side.routerIf, 'netns', routerNs]);
    await ip(['-n', side.ns, 'addr', 'add', `${side.address}/${side.subnet.prefix}`, 'dev', ENDPOINT_IF]);
    await ip(['-n', routerNs, 'addr', 'add', `${side.gateway}/${side.subnet.prefix}`, 'dev', side.routerIf]);
    await ip(['-n', side.ns, 'link', 'set', ENDPOINT_IF, 'up']);
    await ip(['-n', routerNs, 'link', 'set', side.routerIf, 'up']);
  }
  for (const [i, side] of sides.entries()) {
    const other = sides[1 - i];
    await ip(['-n', side.ns, 'route', 'add', other.cidr, 'via', side.gateway, 'dev', ENDPOINT_IF]);
  }
  const bench = handleOf(owned, routerNs, sides);
  const forwarding = await bench.run(routerNs, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  if (forwarding.code !== 0) throw new Error(`sysctl in ${routerNs}: ${forwarding.stderr}`);
  // The bench's own safety check: each endpoint reaches the other only through the router.
  for (const [i, side] of sides.entries()) {
    await checkRoute(sides[1 - i].address, { netns: side.ns, dev: ENDPOINT_IF, gateway: side.gateway, what: 'bench link' });
  }
  return bench;
}

type Side = { name: string; trusted: boolean; ns: string; routerIf: string; gateway: string; address: string; cidr: string };

function handleOf(owned: OwnedNetworks, routerNs: string, sides: Side[]): BoundaryBench {
  const zoneOf = (s: Side): BoundaryZone => ({
    name: s.name, trusted: s.trusted, subnet: s.cidr,
    endpoint: { namespace: s.ns, interface: ENDPOINT_IF, address: s.address, gateway: s.gateway },
  });
  return {
    id: owned.id,
    router: {
      namespace: routerNs, trustedInterface: ROUTER_TRUSTED_IF, untrustedInterface: ROUTER_UNTRUSTED_IF,
      trustedAddress: sides[0].gateway, untrustedAddress: sides[1].gateway,
    },
    zones: [zoneOf(sides[0]), zoneOf(sides[1])],
    namespaces: owned.namespaces,
    ...benchProcesses(owned),
    close: () => owned.close(),
  };
}

/** Running commands inside a bench's own namespaces (never another's): tracked, so close() stops them. */
export function benchProcesses(owned: OwnedNetworks): Pick<BoundaryBench, 'run' | 'spawn'> {
  const spawnIn = (namespace: string, argv: readonly string[]) => {
    if (!owned.namespaces.includes(namespace)) throw new Error(`${namespace} is not a namespace of bench ${owned.id}`);
    const [exe, args] = netnsArgv(namespace, argv);
    const child = spawn(exe, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    owned.track(child);
    return child;
  };
  return {
    spawn: spawnIn,
    run(namespace, argv, runOptions = {}) {
      const child = spawnIn(namespace, argv);
      return new Promise<RunResult>((resolve, reject) => {
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdin.on('error', () => undefined); // a command that exits before reading its input (EPIPE)
        child.stdin.end(runOptions.input ?? '');
        const timer = setTimeout(() => child.kill('SIGKILL'), runOptions.timeoutMs ?? 30_000);
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, stdout, stderr });
        });
      });
    },
  };
}
