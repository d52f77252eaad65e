import { execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import { findTool } from './tools';

/**
 * ip(8) and the `ip route get` safety check, shared by the labnet (src/labnet: emulated devices in namespaces)
 * and the boundary tester (src/protocols/boundary: endpoints on both sides of a network component). Moved
 * here from src/labnet/netns.ts so that probes reach it through src/protocols; the labnet re-exports it.
 */

const IP_TIMEOUT_MS = 10_000;

/** A network set-up cannot be used safely (a route check said no); nothing was sent. */
export class LabnetRefused extends Error {
  override name = 'LabnetRefused';
}

/** An `ip` command failed. */
export class IpCommandError extends Error {
  override name = 'IpCommandError';
  constructor(readonly args: readonly string[], readonly stderr: string) {
    super(`ip ${args.join(' ')}: ${stderr.trim() || 'failed'}`);
  }
}

let ipPath: string | undefined;

/** The `ip` executable (iproute2), or undefined where there is none. */
export function findIp(): string | undefined {
  return (ipPath ??= findTool('ip', ['/usr/sbin', '/sbin', '/usr/bin', '/bin']));
}

export function ipExecutable(): string {
  const found = findIp();
  if (!found) throw new LabnetRefused('the `ip` command (iproute2) is not installed');
  return found;
}

/** Runs `ip <args>` and returns its stdout; throws IpCommandError with ip's message. */
export function ip(args: readonly string[]): Promise<string> {
  const exe = ipExecutable();
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: IP_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new IpCommandError(args, err.message)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new IpCommandError(args, stderr || `exit ${code ?? signal}`));
    });
  });
}

/** `ip <args>` synchronously, best effort: used only on the way out (exit hooks). */
export function ipSync(args: readonly string[]): void {
  const exe = findIp();
  if (!exe) return;
  try {
    execFileSync(exe, args, { stdio: 'ignore', timeout: IP_TIMEOUT_MS });
  } catch {
    // best effort: used only on the way out
  }
}

export function jsonArray(text: string): Record<string, unknown>[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const parsed = JSON.parse(trimmed) as unknown;
  return Array.isArray(parsed) ? (parsed as Record<string, unknown>[]) : [];
}

export const inNs = (netns: string | null | undefined, args: string[]): string[] => (netns ? ['-n', netns, ...args] : args);

/** The argv that runs `argv` inside namespace `netns` (`ip netns exec`). */
export function netnsArgv(netns: string, argv: readonly string[]): [string, string[]] {
  return [ipExecutable(), ['netns', 'exec', netns, ...argv]];
}

/** What `ip -j route get <address>` answers (the fields the check uses). */
export interface RouteInfo {
  dst: string;
  dev?: string;
  gateway?: string;
  prefsrc?: string;
  /** Absent for ordinary unicast routes; "local", "blackhole", "unreachable", ... otherwise. */
  type?: string;
}

/**
 * Asks the kernel which way `address` would go from `netns` (root namespace when absent). `ip route get`
 * only looks the route up; it sends nothing. A destination the kernel cannot reach is a LabnetRefused.
 */
export async function routeGet(address: string, netns?: string | null): Promise<RouteInfo> {
  if (net.isIPv4(address) === false) throw new Error(`not an IPv4 address: ${JSON.stringify(address)}`);
  let out: string;
  try {
    out = await ip(inNs(netns, ['-j', '-4', 'route', 'get', address]));
  } catch (err) {
    if (err instanceof IpCommandError) throw new LabnetRefused(`${address}: no route (${err.stderr.trim()}); refusing to use it`);
    throw err;
  }
  const [route] = jsonArray(out);
  if (!route) throw new LabnetRefused(`${address}: ip route get gave no answer; refusing to use it`);
  return route as unknown as RouteInfo;
}

/** Where a checked address must go: over `dev`, directly (no `gateway`) or through exactly that gateway. */
export interface ExpectedRoute {
  dev: string;
  netns?: string | null;
  /** The next hop the route must use (a boundary endpoint's router); absent: no gateway at all. */
  gateway?: string;
  /** Names the link in messages (default "labnet link"). */
  what?: string;
}

/**
 * Accepts `address` only if, seen from `netns`, it routes as expected: ordinary unicast over the interface
 * `dev`, with no gateway (the labnet) or through exactly `gateway` (a boundary endpoint's router). Anything
 * else (the default route, another gateway or interface, a local address, no route at all) throws
 * LabnetRefused before a single packet is sent.
 */
export async function checkRoute(address: string, expected: ExpectedRoute): Promise<RouteInfo> {
  const route = await routeGet(address, expected.netns);
  const where = expected.netns ? ` in namespace ${expected.netns}` : ' in the root namespace';
  const link = `${expected.what ?? 'labnet link'} ${expected.dev}${expected.gateway ? ` via ${expected.gateway}` : ''}`;
  const via = `dev ${route.dev ?? '?'}${route.gateway ? ` via gateway ${route.gateway}` : ''}${route.type ? ` (type ${route.type})` : ''}`;
  if (route.type !== undefined && route.type !== 'unicast') {
    throw new LabnetRefused(`${address} is a ${route.type} destination${where} (${via}), not reached over ${link}; refusing`);
  }
  if (route.gateway !== expected.gateway) {
    const what = route.gateway === undefined ? 'directly' : 'through a gateway';
    throw new LabnetRefused(`${address} would leave ${what}${where} (${via}), not over ${link}; refusing to send anything to it`);
  }
  if (route.dev !== expected.dev) {
    throw new LabnetRefused(`${address} routes over ${via}${where}, not over ${link}; refusing to send anything to it`);
  }
  return route;
}
