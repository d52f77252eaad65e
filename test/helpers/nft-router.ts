import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BoundaryBench } from '../../src/labnet/boundary-bench';
import type { BoundaryHooks, Conduit } from '../../src/sdk';

/**
 * The device under test of the boundary tests: the bench's router namespace configured with Debian's nftables.
 * - weak: forward policy accept, a TCP management service (port 22) reachable on every side;
 * - hardened: forward policy drop, exactly the declared conduits allowed (new flows from the declared side,
 *   replies as established/related), management only from the trusted side; anti-spoofing as a real firewall
 *   has it (strict reverse-path filter, rp_filter=1, and nftables' `fib saddr . iif oif missing drop`), IP
 *   options dropped, and fragments reassembled by conntrack before the rules see them (so a fragmented SYN
 *   meets the same port rules); the weak router has rp_filter=0 and no conntrack.
 */
export type RouterPosture = 'weak' | 'hardened';
export const MANAGEMENT_PORT = 22;

function conduitRules(bench: BoundaryBench, conduits: readonly Conduit[]): string[] {
  const iface = (zone: string) => (zone === bench.zones[0].name ? bench.router.trustedInterface : bench.router.untrustedInterface);
  const match = (c: Conduit) => (c.protocol === 'icmp' ? `icmp type ${c.icmpType}` : `${c.protocol} dport { ${c.ports.join(', ')} }`);
  return conduits.flatMap((c) => {
    const ways = c.direction === 'both' ? [[c.from, c.to], [c.to, c.from]] : [[c.from, c.to]];
    return ways.map(([from, to]) => `iifname "${iface(from)}" oifname "${iface(to)}" ${match(c)} ct state new accept`);
  });
}

export function ruleset(bench: BoundaryBench, posture: RouterPosture, conduits: readonly Conduit[]): string {
  if (posture === 'weak') {
    return `table inet iacs_boundary {
  chain forward { type filter hook forward priority 0; policy accept; }
  chain input { type filter hook input priority 0; policy accept; }
}
`;
  }
  return `table inet iacs_boundary {
  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    fib saddr . iif oif missing drop
    ip option rr exists drop
    ip option lsrr exists drop
    ip option ssrr exists drop
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
${conduitRules(bench, conduits).map((r) => `    ${r}`).join('\n')}
  }
  chain input {
    type filter hook input priority 0; policy drop;
    iif "lo" accept
    ct state established,related accept
    iifname "${bench.router.trustedInterface}" tcp dport ${MANAGEMENT_PORT} accept
    iifname "${bench.router.trustedInterface}" icmp type echo-request accept
  }
}
`;
}

/** Loads the rule set into the router (replacing any earlier one) and starts the management listener once. */
export async function configureRouter(bench: BoundaryBench, posture: RouterPosture, conduits: readonly Conduit[]): Promise<void> {
  const flush = await bench.run(bench.router.namespace, ['nft', 'flush', 'ruleset']);
  if (flush.code !== 0) throw new Error(`nft flush ruleset: ${flush.stderr}`);
  const load = await bench.run(bench.router.namespace, ['nft', '-f', '-'], { input: ruleset(bench, posture, conduits) });
  if (load.code !== 0) throw new Error(`nft -f: ${load.stderr}`);
  // The effective reverse-path mode of an interface is the maximum of `all` and its own setting.
  const rpFilter = posture === 'hardened' ? 1 : 0;
  const keys = ['all', 'default', bench.router.trustedInterface, bench.router.untrustedInterface].map((k) => `net.ipv4.conf.${k}.rp_filter=${rpFilter}`);
  const sysctl = await bench.run(bench.router.namespace, ['sysctl', '-q', '-w', ...keys]);
  if (sysctl.code !== 0) throw new Error(`sysctl rp_filter: ${sysctl.stderr}`);
}

const managementListeners = new WeakMap<BoundaryBench, ChildProcess>();

/** A TCP management service on every address of the router (as sshd's default ListenAddress 0.0.0.0). */
export async function startManagementService(bench: BoundaryBench): Promise<void> {
  if (managementListeners.has(bench)) return;
  // A client that resets at once must not kill the listener (an unhandled socket error would).
  const script = `require('net').createServer((s) => { s.on('error', () => {}); s.end('SSH-2.0-bench\\r\\n'); }).listen(${MANAGEMENT_PORT}, '0.0.0.0', () => console.log('up'))`;
  const child = bench.spawn(bench.router.namespace, [process.execPath, '-e', script]);
  managementListeners.set(bench, child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`management listener exited (${code})`)));
  });
}

/**
 * The router's island-mode and fail-close hooks (profile boundaryHooks), run on the lab machine inside the router
 * namespace (`ip netns exec`), with their rule files in `dir`. The running rule set is the hardened one in both
 * postures, so the verdicts tell only how the router behaves in island mode and when its filter stops:
 * - hardened: island = forward policy drop, no conduit (management from the trusted side stays); stopping the
 *   filter leaves a drop-all table (the nft file replaces the ruleset atomically);
 * - weak: the island trigger does nothing; stopping the filter is `nft flush ruleset` with forwarding on (fail open).
 */
export function routerHooks(bench: BoundaryBench, posture: RouterPosture, conduits: readonly Conduit[], dir: string, timing: { outageMs?: number; settleMs?: number } = {}): BoundaryHooks {
  const file = (name: string, text: string) => {
    const at = path.join(dir, name);
    fs.writeFileSync(at, `flush ruleset\n${text}`);
    return at;
  };
  const inRouter = (...argv: string[]) => ({ argv: ['ip', 'netns', 'exec', bench.router.namespace, ...argv], timeoutMs: 10_000 });
  const running = inRouter('nft', '-f', file('running.nft', ruleset(bench, 'hardened', conduits)));
  const island = posture === 'hardened' ? inRouter('nft', '-f', file('island.nft', ruleset(bench, 'hardened', []))) : inRouter('true');
  const dropAll = 'table inet iacs_boundary {\n  chain forward { type filter hook forward priority 0; policy drop; }\n}\n';
  const stop = posture === 'hardened' ? inRouter('nft', '-f', file('stopped.nft', dropAll)) : inRouter('nft', 'flush', 'ruleset');
  return {
    islandMode: { enter: island, leave: running, settleMs: timing.settleMs ?? 200 },
    failClose: { stop, start: running, outageMs: timing.outageMs ?? 1000, recoverTimeoutMs: 10_000, settleMs: timing.settleMs ?? 200 },
  };
}

/** Waits until the router's ruleset satisfies `holds` (a hook has run); throws after timeoutMs. */
export async function untilRuleset(bench: BoundaryBench, holds: (ruleset: string) => boolean, timeoutMs = 10_000): Promise<void> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    if (holds((await bench.run(bench.router.namespace, ['nft', 'list', 'ruleset'])).stdout)) return;
  }
  throw new Error(`the router's ruleset did not change as expected within ${timeoutMs} ms`);
}
