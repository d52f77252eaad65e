import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { InvalidInput, OutOfScope, type BoundaryDecl, type BoundaryZone } from '../../sdk';
import { contains, parseCidr, parseIpv4 } from '../../sdk/ipv4';
import { LabnetRefused, checkRoute, ip, jsonArray, netnsArgv, type ExpectedRoute } from '../netns';
import { findTool } from '../tools';
import type { AgentCommand, Received } from './agent-entry';
import { readPcap, type CapturedPacket } from './pcap';

/**
 * One side of the boundary: the zone's endpoint namespace, after the safety checks. Everything the tester
 * sends on this side is sent from inside that namespace, from the endpoint's own address.
 */
export interface Endpoint {
  readonly zone: BoundaryZone;
  readonly namespace: string;
  readonly interface: string;
  readonly address: string;
}

/** The zone an address belongs to, or undefined: the tester never sends to an address outside every zone. */
export function zoneOfAddress(decl: BoundaryDecl, address: string): BoundaryZone | undefined {
  return decl.zones.find((z) => contains(parseCidr(z.subnet), parseIpv4(address)));
}

/**
 * Checks one endpoint before anything is sent: its namespace holds its address (on the named interface), and
 * every other zone's endpoint routes from there through the zone's gateway (the device under test) over
 * that interface, from that address — never through another next hop such as the machine's default route.
 * Throws OutOfScope (nothing was sent) otherwise.
 */
export async function checkEndpoint(decl: BoundaryDecl, zone: BoundaryZone): Promise<Endpoint> {
  const { namespace, address, gateway } = zone.endpoint;
  const iface = await interfaceHolding(`zone ${zone.name}`, namespace, address, zone.endpoint.interface);
  const others = decl.zones.filter((z) => z !== zone).map((z) => z.endpoint.address);
  await checkRoutesFrom(`zone ${zone.name} endpoint`, { netns: namespace, dev: iface, gateway, what: `zone ${zone.name}'s link` }, address, others);
  return { zone, namespace, interface: iface, address };
}

/** The interface of `namespace` that holds `address` (it must be `expected` when given); OutOfScope otherwise. */
export async function interfaceHolding(who: string, namespace: string, address: string, expected?: string): Promise<string> {
  let links: Record<string, unknown>[];
  try {
    links = jsonArray(await ip(['-n', namespace, '-j', '-4', 'addr', 'show']));
  } catch (err) {
    throw new OutOfScope(`${who}: namespace ${namespace} cannot be read (${(err as Error).message}); refusing`);
  }
  const holder = links.find((l) => (l.addr_info as { local?: string }[] | undefined)?.some((a) => a.local === address));
  const iface = expected ?? String(holder?.ifname ?? '');
  if (!holder || holder.ifname !== iface) {
    throw new OutOfScope(`${who}: ${address} is not an address of ${expected ?? 'any interface'} in namespace ${namespace}; refusing`);
  }
  return iface;
}

/** Each of `destinations` routes from the namespace as `expected` says, sent from `address`; OutOfScope otherwise (nothing sent). */
export async function checkRoutesFrom(who: string, expected: ExpectedRoute, address: string, destinations: readonly string[]): Promise<void> {
  for (const destination of destinations) {
    try {
      const route = await checkRoute(destination, expected);
      if (route.prefsrc !== undefined && route.prefsrc !== address) {
        throw new LabnetRefused(`${destination} would be sent from ${route.prefsrc}, not the endpoint address ${address}`);
      }
    } catch (err) {
      if (err instanceof LabnetRefused) throw new OutOfScope(`${who}: ${err.message}`, { cause: err });
      throw err;
    }
  }
}

/** Every zone's endpoint, checked (the run refuses to send anything if one fails). */
export async function checkEndpoints(decl: BoundaryDecl): Promise<Map<string, Endpoint>> {
  const out = new Map<string, Endpoint>();
  for (const zone of decl.zones) out.set(zone.name, await checkEndpoint(decl, zone));
  return out;
}

export function requireTool(name: string): string {
  const found = findTool(name);
  if (!found) throw new InvalidInput(`${name} is not installed (the boundary probes need it; docs/boundary.md)`);
  return found;
}

/** Kills a child on abort and when `stop()` is called; resolves when it has exited. */
export function exitOf(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

// ------------------------------------------------------------------------------------------------
// The agent (agent-entry) inside an endpoint namespace

export interface Agent {
  call<T extends object>(command: AgentCommand): Promise<T>;
  received(): Promise<Received>;
  close(): Promise<void>;
}

function agentArgv(): string[] {
  const ext = path.extname(__filename);
  return [process.execPath, ...(ext === '.ts' ? ['--import', 'tsx'] : []), path.join(__dirname, `agent-entry${ext}`)];
}

/** Starts the agent in the endpoint's namespace and waits for it (aborts with `signal`). */
export async function startAgent(endpoint: Endpoint, signal: AbortSignal): Promise<Agent> {
  const [exe, args] = netnsArgv(endpoint.namespace, agentArgv());
  const child = spawn(exe, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const kill = () => child.kill('SIGKILL');
  signal.addEventListener('abort', kill, { once: true });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const waiting = new Map<number, (answer: Record<string, unknown>) => void>();
  let ready: () => void;
  const up = new Promise<void>((resolve) => (ready = resolve));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const answer = JSON.parse(line) as Record<string, unknown> & { id?: number };
    if (answer.ready) ready();
    else if (answer.id !== undefined) waiting.get(answer.id)?.(answer);
  });
  const gone = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`boundary agent in ${endpoint.namespace} exited (${code}): ${stderr}`))));
  gone.catch(() => undefined);
  let onAbort = () => undefined as void;
  const aborted = new Promise((_, reject) => (onAbort = () => reject(signal.reason)));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([up, gone, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort); // one attempt starts many agents on its signal
  }
  let next = 0;
  const call = <T extends object>(command: AgentCommand): Promise<T> => {
    const id = next++;
    child.stdin!.write(`${JSON.stringify({ id, ...command })}\n`);
    return Promise.race([new Promise<T>((resolve) => waiting.set(id, (a) => resolve(a as T))), gone]);
  };
  return {
    call,
    received: async () => (await call<{ received: Received }>({ op: 'received' })).received,
    async close() {
      signal.removeEventListener('abort', kill);
      child.stdin!.end();
      const timer = setTimeout(kill, 2000);
      await exitOf(child);
      clearTimeout(timer);
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Capture on the far endpoint (dumpcap)

export interface Capture {
  /** Stops the capture; the packets it saw, the pcap file, and what dumpcap says it dropped. */
  stop(): Promise<{ packets: CapturedPacket[]; file: string; dropped: number | undefined }>;
}

/**
 * Captures on the endpoint's interface, inside its namespace, into `file` (classic pcap), with a BPF filter;
 * resolves once dumpcap says it is capturing. The evidence that a flow crossed is what arrives here.
 */
export async function startCapture(endpoint: Pick<Endpoint, 'namespace' | 'interface'>, filter: string, file: string, signal: AbortSignal): Promise<Capture> {
  const [exe, args] = netnsArgv(endpoint.namespace, [requireTool('dumpcap'), '-i', endpoint.interface, '-f', filter, '-P', '-B', '64', '-w', file]);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const kill = () => child.kill('SIGKILL');
  signal.addEventListener('abort', kill, { once: true });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/Capturing on/.test(stderr)) resolve();
    });
    child.once('exit', (code) => reject(new InvalidInput(`dumpcap in ${endpoint.namespace} exited (${code}): ${stderr.trim()}`)));
  });
  return {
    async stop() {
      child.kill('SIGINT');
      const timer = setTimeout(kill, 3000);
      await exitOf(child);
      clearTimeout(timer);
      signal.removeEventListener('abort', kill);
      const m = /received\/dropped on interface [^:]*: (\d+)\/(\d+)/.exec(stderr);
      return { packets: readPcap(fs.readFileSync(file)), file, dropped: m ? Number(m[2]) : undefined };
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Raw senders (hping3) from the near endpoint

/** One hping3 run inside the endpoint's namespace (from its own address: no -a); resolves when it ends. */
export async function hping3(endpoint: Endpoint, argv: readonly string[], signal: AbortSignal): Promise<{ sent: number; code: number | null }> {
  const [exe, args] = netnsArgv(endpoint.namespace, [requireTool('hping3'), '-q', '-I', endpoint.interface, ...argv]);
  const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => child.kill('SIGINT');
  signal.addEventListener('abort', stop, { once: true });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  await exitOf(child);
  signal.removeEventListener('abort', stop);
  const m = /(\d+) packets (?:transmitted|tramitted)/.exec(output);
  return { sent: m ? Number(m[1]) : 0, code: child.exitCode };
}
