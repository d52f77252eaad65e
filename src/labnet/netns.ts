import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILTIN_POSTURES, loadPosture, type ServiceEndpoint } from '../emulator';
import { packageRoot } from '../paths';
import {
  LabnetRefused, checkRoute, findIp, inNs, ip, ipExecutable, ipSync, jsonArray,
} from '../protocols/netns';
import {
  LABNET_POOL, contains, formatCidr, formatIpv4, host, overlaps, parseCidr, parseIpv4, subnetAt, subnetCount, type Cidr,
} from './subnet';

/** For callers that check addresses and subnets before asking for a labnet (the command line). */
export { parseCidr, parseIpv4 } from './subnet';
/** ip(8) and the route check live in src/protocols/netns (the boundary tester uses them too). */
export { IpCommandError, LabnetRefused, checkRoute, findIp, ip, routeGet, type RouteInfo } from '../protocols/netns';

/** An emulated device did not come up (it exited, printed something else, or said nothing in time). */
export class DeviceStartError extends Error {
  override name = 'DeviceStartError';
}

/**
 * Labnet, a lab network for rehearsals: emulated devices in network namespaces of their own, with their own
 * addresses, joined by a software switch, so port scans and scope rules meet a device as on a real bench
 * network — and traffic to those addresses never leaves the machine.
 *
 * Layout of one labnet (id = "<pid>-<n>", n counts labnets in this process, base 36):
 *
 *   iacsp-<id>-sw        switch namespace: bridge br0, no IP address, no route
 *   iacsp-<id>-d<i>      one namespace per device: lo + eth0 (address in the labnet subnet), no default route
 *   scanner side         topology "namespace": namespace iacsp-<id>-scanner with eth0 = first host address
 *                        topology "root": a veth iacsp<pid>-<n> in the root namespace carrying that address
 *
 * Every veth runs from the scanner or a device into the switch namespace. Nothing adds a route other
 * than the connected route of the labnet subnet, nothing enables forwarding. Before any device starts,
 * `ip route get <device>` in the scanner's namespace must show the labnet link without a gateway;
 * otherwise the labnet is torn down and LabnetRefused is thrown.
 *
 * The owner's pid is part of every name, so a sweeper (run at start and at close) removes what a
 * crashed run left behind; an exit hook, and SIGINT/SIGTERM/SIGHUP handlers while a labnet is up, remove
 * this process's labnets synchronously.
 */

// Unchanged by the rename from "bench network" (issue 25): the sweeper still recognises what older runs left.
/** Prefix of every namespace ("iacsp-<pid>-...") and root-namespace link ("iacsp<pid>-...") the helper makes. */
export const NAME_PREFIX = 'iacsp';
const NETNS_RE = /^iacsp-(\d+)-/;
const LINK_RE = /^iacsp(\d+)-/;
const SCANNER_IF = 'eth0';
const DEVICE_IF = 'eth0';
const BRIDGE = 'br0';

export type Topology = 'namespace' | 'root';

export interface LabnetDeviceSpec {
  /** Display name (default "device<i>"). */
  name?: string;
  /** Built-in posture name ("weak", "hardened") or a posture file. */
  posture: string;
  /** Address inside the labnet subnet; default: the next free host. */
  address?: string;
  /** OS-chosen ports instead of the posture's fixed ones (a namespace has its own ports, so fixed is fine). */
  ephemeralPorts?: boolean;
}

export interface DeviceCommandInput {
  posture: string;
  host: string;
  ephemeralPorts: boolean;
}

export interface LabnetOptions {
  /** Where the scanner runs: a namespace of its own (default, cleanest) or the root namespace. */
  topology?: Topology;
  /** Labnet subnet (CIDR, /8../29). Default: a /24 of 198.18.0.0/15 that the machine does not route yet. */
  subnet?: string;
  /** The scanner's address in the labnet subnet (default: its first host). */
  scannerAddress?: string;
  devices?: readonly LabnetDeviceSpec[];
  /** How long one device may take to print its services line (default 30 s). */
  startTimeoutMs?: number;
  /**
   * The argv that runs one emulated device and prints `{"services":[...]}` when up (it runs inside the
   * device namespace). Default: node + src/labnet/device-entry; `iacs-probe emulate` fits as well.
   */
  deviceCommand?: (input: DeviceCommandInput) => string[];
  /** Aborts the set-up: createLabnet() removes what it made and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface LabnetDevice {
  readonly name: string;
  readonly namespace: string;
  readonly address: string;
  readonly services: readonly ServiceEndpoint[];
  readonly pid: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Labnet {
  readonly id: string;
  readonly topology: Topology;
  readonly subnet: string;
  /** Where scans come from: its namespace (null = the root namespace), interface and address. */
  readonly scanner: { readonly namespace: string | null; readonly interface: string; readonly address: string };
  readonly devices: readonly LabnetDevice[];
  /** Things the operator should know (e.g. forwarding enabled on the machine in topology "root"). */
  readonly warnings: readonly string[];
  /** Every namespace and root-namespace link this labnet owns. */
  readonly owned: { readonly namespaces: readonly string[]; readonly links: readonly string[] };
  /** Re-checks with `ip route get` that every device address (or the one given) routes over the labnet link. */
  verifyRoutes(address?: string): Promise<void>;
  /** Starts a command on the scanner side (inside the scanner namespace in topology "namespace"), after verifyRoutes(). */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): Promise<ChildProcess>;
  /** spawn() and collect the output; the command is killed after timeoutMs (default 60 s). */
  run(command: string, args: readonly string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** Stops the devices and scanner-side commands and removes every namespace and link. Idempotent. */
  close(): Promise<void>;
}

/** IPv4 routes of the root namespace (all tables) other than default routes, as CIDRs with a label. */
async function rootRoutes(): Promise<{ cidr: Cidr; label: string }[]> {
  const routes = jsonArray(await ip(['-j', '-4', 'route', 'show', 'table', 'all']));
  const out: { cidr: Cidr; label: string }[] = [];
  for (const r of routes) {
    const dst = String(r.dst ?? '');
    if (dst === '' || dst === 'default' || dst === '0.0.0.0/0') continue;
    try {
      out.push({ cidr: parseCidr(dst, true), label: `${r.type ? `${String(r.type)} ` : ''}${dst} dev ${String(r.dev ?? '?')}` });
    } catch {
      // not an IPv4 destination we can read (should not happen with -4); it cannot collide with ours
    }
  }
  return out;
}

/**
 * Picks the labnet subnet. In topology "root" the subnet must not overlap anything the root namespace
 * routes already (other than the default route): an explicit subnet that does is refused. Automatic
 * choice (both topologies) takes the first free /24 of 198.18.0.0/15 from a per-run starting point.
 */
async function chooseSubnet(explicit: string | undefined, topology: Topology, seed: number): Promise<Cidr> {
  const taken = await rootRoutes();
  const clash = (c: Cidr) => taken.find((t) => overlaps(t.cidr, c));
  if (explicit !== undefined) {
    const c = parseCidr(explicit);
    if (c.prefix < 8 || c.prefix > 29) throw new LabnetRefused(`subnet ${explicit}: use a prefix between /8 and /29`);
    const hit = topology === 'root' ? clash(c) : undefined;
    if (hit) {
      throw new LabnetRefused(`subnet ${explicit} is already routed on this machine (${hit.label}); in topology "root" the labnet needs a subnet of its own`);
    }
    return c;
  }
  const pool = parseCidr(LABNET_POOL);
  const count = subnetCount(pool, 24);
  for (let i = 0; i < count; i++) {
    const c = subnetAt(pool, 24, seed + i);
    if (!clash(c)) return c;
  }
  throw new LabnetRefused(`every /24 of ${LABNET_POOL} is already routed on this machine; pass a subnet of your own`);
}

// ---------------------------------------------------------------------------------------------------
// Ownership, sweeping, teardown

/** True if a process with this pid runs (EPERM: it exists but is someone else's); a zombie counts as dead. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..." — comm may contain spaces and parentheses, so split at the last ")".
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

export async function listNamespaces(): Promise<string[]> {
  return jsonArray(await ip(['-j', 'netns', 'list'])).map((n) => String(n.name));
}

export async function listRootLinks(): Promise<string[]> {
  return jsonArray(await ip(['-j', 'link', 'show'])).map((l) => String(l.ifname));
}

async function namespacePids(netns: string): Promise<number[]> {
  try {
    return (await ip(['netns', 'pids', netns])).split(/\s+/).filter(Boolean).map(Number).filter((n) => n > 0);
  } catch {
    return [];
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Removes a namespace of ours: kills what still runs inside (our own children, by construction), then deletes it.
 * False if it could not be deleted (e.g. without root).
 */
async function removeNamespace(netns: string): Promise<boolean> {
  for (const pid of await namespacePids(netns)) if (pid !== process.pid) killQuietly(pid, 'SIGKILL');
  return ip(['netns', 'delete', netns]).then(() => true, () => false);
}

/** What a sweep removed, and the stale names it could not remove (still there after the attempt). */
export interface SweepResult {
  namespaces: string[];
  links: string[];
  failed: string[];
}

/**
 * Removes namespaces ("iacsp-<pid>-...") and root-namespace links ("iacsp<pid>-...") whose owning pid is
 * dead: what a crashed or killed run left behind. Objects of live owners are never touched.
 */
export async function sweepStaleLabnets(isAlive: (pid: number) => boolean = pidAlive): Promise<SweepResult> {
  const result: SweepResult = { namespaces: [], links: [], failed: [] };
  const stale = (name: string, re: RegExp) => {
    const m = re.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !isAlive(Number(m[1]));
  };
  for (const netns of await listNamespaces()) {
    if (!stale(netns, NETNS_RE)) continue;
    // A parallel sweeper may have deleted it first: only one that is still there counts as not removed.
    if (await removeNamespace(netns) || !(await listNamespaces()).includes(netns)) result.namespaces.push(netns);
    else result.failed.push(netns);
  }
  for (const link of await listRootLinks()) {
    if (!stale(link, LINK_RE)) continue;
    const deleted = await ip(['link', 'delete', link]).then(() => true, () => false); // one veth end removes the pair
    if (deleted || !(await listRootLinks()).includes(link)) result.links.push(link);
    else result.failed.push(link);
  }
  return result;
}

interface LabnetState {
  namespaces: string[];
  links: string[];
  children: Set<ChildProcess>;
}

const live = new Set<LabnetState>();
let exitHookInstalled = false;
const TEARDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Removes every live labnet of this process synchronously (the last thing that runs before the process ends). */
function teardownAllSync(): void {
  for (const state of live) {
    for (const child of state.children) if (child.pid !== undefined && child.exitCode === null) killQuietly(child.pid, 'SIGKILL');
    for (const link of state.links) ipSync(['link', 'delete', link]);
    for (const netns of state.namespaces) ipSync(['netns', 'delete', netns]);
  }
  live.clear();
}

/**
 * A fatal signal while no one else handles it: remove the labnets, then let the signal do what it would
 * have done (end the process with that signal). A program with its own handlers (the `iacs-probe labnet` command)
 * keeps control of its shutdown; the exit hook still covers its process.exit().
 */
function onFatalSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  teardownAllSync();
  disarmSignals();
  process.kill(process.pid, signal);
}

function armCleanup(): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', teardownAllSync); // normal end and process.exit()
  }
  if (live.size === 1) for (const s of TEARDOWN_SIGNALS) process.on(s, onFatalSignal);
}

/** Signal handlers are there only while a labnet is up, so the process's signal behaviour is otherwise untouched. */
function disarmSignals(): void {
  for (const s of TEARDOWN_SIGNALS) process.off(s, onFatalSignal);
}

async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
  clearTimeout(timer);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}

async function teardown(state: LabnetState): Promise<void> {
  await Promise.all([...state.children].map((c) => stopChild(c)));
  for (const link of state.links) await ip(['link', 'delete', link]).catch(() => undefined);
  for (const netns of [...state.namespaces].reverse()) await removeNamespace(netns);
  live.delete(state);
  if (live.size === 0) disarmSignals();
}

// ---------------------------------------------------------------------------------------------------
// Devices

/** Runs src/labnet/device-entry (the same file, .ts from source or .js when built) with node. */
export function defaultDeviceCommand(input: DeviceCommandInput): string[] {
  const ext = path.extname(__filename);
  const entry = path.join(__dirname, `device-entry${ext}`);
  return [
    process.execPath,
    ...(ext === '.ts' ? ['--import', 'tsx'] : []),
    entry, '--posture', input.posture, '--host', input.host, ...(input.ephemeralPorts ? ['--ephemeral-ports'] : []),
  ];
}

/** Waits for the first stdout line `{"services":[...]}`; kills the device and throws if it does not come. */
function awaitServices(child: ChildProcess, label: string, timeoutMs: number, signal?: AbortSignal): Promise<ServiceEndpoint[]> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    const finish = (err: Error | undefined, services?: ServiceEndpoint[]) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else {
        resolve(services ?? []);
      }
    };
    const onAbort = () => finish(signal?.reason instanceof Error ? signal.reason : new Error(`${label}: start aborted`));
    const timer = setTimeout(() => finish(new DeviceStartError(`${label}: no services line within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (d: Buffer) => {
      if (done) return;
      stdout += d.toString();
      let nl: number;
      while (!done && (nl = stdout.indexOf('\n')) !== -1) {
        const line = stdout.slice(0, nl).trim();
        stdout = stdout.slice(nl + 1);
        // Only a JSON object counts: a device may print other lines first.
        if (!line.startsWith('{')) {
          stderr = (stderr + line + '\n').slice(-8000);
          continue;
        }
        try {
          const parsed = JSON.parse(line) as { services?: ServiceEndpoint[] };
          if (!Array.isArray(parsed.services)) throw new Error('no "services" array');
          finish(undefined, parsed.services);
        } catch (err) {
          finish(new DeviceStartError(`${label}: unexpected line ${JSON.stringify(line)}: ${(err as Error).message}`));
        }
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8000);
    });
    child.once('error', (err) => finish(new DeviceStartError(`${label}: ${err.message}`)));
    child.once('exit', (code, exitSignal) => finish(new DeviceStartError(`${label}: exited (${code ?? exitSignal}) before it was up; stderr: ${stderr.slice(-2000)}`)));
  });
}

function resolvePosture(posture: string): string {
  return (BUILTIN_POSTURES as readonly string[]).includes(posture) ? posture : path.resolve(posture);
}

// ---------------------------------------------------------------------------------------------------
// The labnet

let labnetCounter = 0;

/**
 * Creates a labnet and starts its devices. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and
 * iproute2. On any failure everything created so far is removed before the error propagates.
 */
export async function createLabnet(options: LabnetOptions = {}): Promise<Labnet> {
  // With the default device command a posture that does not load (PostureError) fails before anything is made.
  if (!options.deviceCommand) for (const spec of options.devices ?? []) loadPosture(resolvePosture(spec.posture));
  const topology = options.topology ?? 'namespace';
  const seq = labnetCounter++;
  if (seq >= 36 * 36) throw new Error('too many labnets in one process');
  const id = `${process.pid}-${seq.toString(36)}`;
  const names: LabnetNames = {
    switch: `${NAME_PREFIX}-${id}-sw`,
    scanner: `${NAME_PREFIX}-${id}-scanner`,
    rootLink: `${NAME_PREFIX}${id}`, // at most 15 characters: "iacsp" + 7-digit pid + "-" + 2
    device: (i: number) => `${NAME_PREFIX}-${id}-d${i}`,
  };
  const abortPoint = () => options.signal?.throwIfAborted();
  abortPoint();
  await sweepStaleLabnets();
  const subnet = await chooseSubnet(options.subnet, topology, process.pid * 7 + seq);
  abortPoint();
  const { scannerAddress, specs } = assignAddresses(subnet, options, names);

  const state: LabnetState = { namespaces: [], links: [], children: new Set() };
  live.add(state);
  armCleanup();
  let wired: Wiring;
  const devices: LabnetDevice[] = [];
  try {
    wired = await wire(state, names, topology, subnet, scannerAddress, specs, abortPoint);
    // The safety check, before anything starts: each device address must route over the labnet link.
    for (const spec of specs) await checkRoute(spec.address, { dev: wired.scannerIf, netns: wired.scannerNs });
    abortPoint();
    devices.push(...await startDevices(state, specs, options));
    abortPoint();
  } catch (err) {
    await teardown(state);
    throw err;
  }
  return handleOf(id, topology, subnet, scannerAddress, wired, devices, state);
}

interface LabnetNames {
  switch: string;
  scanner: string;
  rootLink: string;
  device(i: number): string;
}

type PlannedDevice = LabnetDeviceSpec & { name: string; address: string; namespace: string; posture: string };

/** The scanner's and every device's address: given ones checked against the subnet, the others assigned in order. */
function assignAddresses(subnet: Cidr, options: LabnetOptions, names: LabnetNames): { scannerAddress: string; specs: PlannedDevice[] } {
  const checkHost = (address: string, what: string) => {
    const value = parseIpv4(address);
    if (!contains(subnet, value) || value === subnet.network || value === subnet.network + 2 ** (32 - subnet.prefix) - 1) {
      throw new LabnetRefused(`${what} ${address} is not a host address of the labnet subnet ${formatCidr(subnet)}`);
    }
    return formatIpv4(value);
  };
  const scannerAddress = options.scannerAddress !== undefined ? checkHost(options.scannerAddress, 'scanner address') : formatIpv4(host(subnet, 1));
  const used = new Set([scannerAddress]);
  let next = 1;
  const specs = (options.devices ?? []).map((spec, i) => {
    let address = spec.address;
    if (address !== undefined) {
      address = checkHost(address, 'device address');
    } else {
      while (used.has(formatIpv4(host(subnet, next))) || (options.devices ?? []).some((d) => d.address === formatIpv4(host(subnet, next)))) next++;
      address = formatIpv4(host(subnet, next));
    }
    if (used.has(address)) throw new LabnetRefused(`address ${address} is used twice`);
    used.add(address);
    return { ...spec, name: spec.name ?? `device${i}`, address, namespace: names.device(i), posture: resolvePosture(spec.posture) };
  });
  return { scannerAddress, specs };
}

interface Wiring {
  scannerNs: string | null;
  scannerIf: string;
  warnings: string[];
}

/** The switch (a bridge with no address in a namespace with no route), the scanner side and the devices' links. */
async function wire(
  state: LabnetState, names: LabnetNames, topology: Topology, subnet: Cidr, scannerAddress: string, specs: readonly PlannedDevice[], abortPoint: () => void,
): Promise<Wiring> {
  const prefix = subnet.prefix;
  const scannerNs = topology === 'namespace' ? names.scanner : null;
  const scannerIf = topology === 'namespace' ? SCANNER_IF : names.rootLink;
  const warnings: string[] = [];
  const addNs = async (netns: string) => {
    abortPoint();
    state.namespaces.push(netns); // recorded first: a half-made namespace is still removed
    await ip(['netns', 'add', netns]);
    await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
  };
  await addNs(names.switch);
  await ip(['-n', names.switch, 'link', 'add', BRIDGE, 'type', 'bridge']);
  await ip(['-n', names.switch, 'link', 'set', BRIDGE, 'up']);
  const plug = async (port: string) => {
    await ip(['-n', names.switch, 'link', 'set', port, 'master', BRIDGE]);
    await ip(['-n', names.switch, 'link', 'set', port, 'up']);
  };

  if (scannerNs) {
    await addNs(scannerNs);
    await ip(['link', 'add', 'name', SCANNER_IF, 'netns', scannerNs, 'type', 'veth', 'peer', 'name', 'scanner', 'netns', names.switch]);
  } else {
    state.links.push(names.rootLink);
    await ip(['link', 'add', 'name', names.rootLink, 'type', 'veth', 'peer', 'name', 'scanner', 'netns', names.switch]);
    if (fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1') {
      warnings.push(`IPv4 forwarding is enabled on this machine (not by this helper). The labnet devices have no route beyond ${formatCidr(subnet)}, so they cannot reach out, but a host that routes ${formatCidr(subnet)} to this machine could reach them; topology "namespace" avoids that.`);
    }
  }
  await plug('scanner');
  await ip(inNs(scannerNs, ['addr', 'add', `${scannerAddress}/${prefix}`, 'dev', scannerIf]));
  await ip(inNs(scannerNs, ['link', 'set', scannerIf, 'up']));

  for (const [i, spec] of specs.entries()) {
    await addNs(spec.namespace);
    await ip(['link', 'add', 'name', `d${i}`, 'netns', names.switch, 'type', 'veth', 'peer', 'name', DEVICE_IF, 'netns', spec.namespace]);
    await plug(`d${i}`);
    await ip(['-n', spec.namespace, 'addr', 'add', `${spec.address}/${prefix}`, 'dev', DEVICE_IF]);
    await ip(['-n', spec.namespace, 'link', 'set', DEVICE_IF, 'up']);
  }
  return { scannerNs, scannerIf, warnings };
}

/** The devices, each in its namespace. Their stdin is a pipe from us: when we die, they see EOF and stop. */
async function startDevices(state: LabnetState, specs: readonly PlannedDevice[], options: LabnetOptions): Promise<LabnetDevice[]> {
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const command = options.deviceCommand ?? defaultDeviceCommand;
  // One listener on the caller's signal however many devices start (Node warns past 10 on one signal);
  // the devices wait on a signal of our own, which may carry one listener per device.
  const starting = new AbortController();
  setMaxListeners(specs.length + 1, starting.signal);
  const onAbort = () => starting.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.all(specs.map(async (spec): Promise<LabnetDevice> => {
      const argv = command({ posture: spec.posture, host: spec.address, ephemeralPorts: spec.ephemeralPorts ?? false });
      const child = spawn(ipExecutable(), ['netns', 'exec', spec.namespace, ...argv], { cwd: packageRoot(), stdio: ['pipe', 'pipe', 'pipe'] });
      state.children.add(child);
      const services = await awaitServices(child, `device ${spec.name} (${spec.address})`, startTimeoutMs, starting.signal);
      return { name: spec.name, namespace: spec.namespace, address: spec.address, services, pid: child.pid ?? -1 };
    }));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** What the caller gets: the labnet's facts, the scanner side to run commands in, and close(). */
function handleOf(
  id: string, topology: Topology, subnet: Cidr, scannerAddress: string, wired: Wiring, devices: LabnetDevice[], state: LabnetState,
): Labnet {
  const { scannerNs, scannerIf } = wired;
  let closing: Promise<void> | undefined;
  const verifyRoutes = async (address?: string) => {
    for (const a of address !== undefined ? [address] : devices.map((d) => d.address)) {
      if (address !== undefined && !contains(subnet, parseIpv4(a))) {
        throw new LabnetRefused(`${a} is not in the labnet subnet ${formatCidr(subnet)}; refusing`);
      }
      await checkRoute(a, { dev: scannerIf, netns: scannerNs });
    }
  };
  const spawnScanner = async (command: string, args: readonly string[], spawnOptions: SpawnOptions = {}) => {
    if (closing) throw new Error(`labnet ${id} is closed`);
    await verifyRoutes();
    const child = scannerNs
      ? spawn(ipExecutable(), ['netns', 'exec', scannerNs, command, ...args], spawnOptions)
      : spawn(command, [...args], spawnOptions);
    state.children.add(child);
    child.once('exit', () => state.children.delete(child));
    return child;
  };
  return {
    id,
    topology,
    subnet: formatCidr(subnet),
    scanner: { namespace: scannerNs, interface: scannerIf, address: scannerAddress },
    devices,
    warnings: wired.warnings,
    owned: { namespaces: [...state.namespaces], links: [...state.links] },
    verifyRoutes,
    spawn: spawnScanner,
    async run(command, args, runOptions = {}) {
      const child = await spawnScanner(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: runOptions.env ?? process.env });
      return new Promise<RunResult>((resolve, reject) => {
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), runOptions.timeoutMs ?? 60_000);
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
    close: () => (closing ??= teardown(state).then(() => sweepStaleLabnets()).then(() => undefined)),
  };
}

// ---------------------------------------------------------------------------------------------------
// Can this machine do it?

/**
 * Whether namespaces can be made here: Linux, root, iproute2, and `ip netns add` works (a container
 * without CAP_SYS_ADMIN fails there). Creates and removes one probe namespace.
 */
export async function labnetAvailability(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root (CAP_NET_ADMIN, CAP_SYS_ADMIN)' };
  if (!findIp()) return { ok: false, reason: 'the `ip` command (iproute2) is not installed' };
  const probe = `${NAME_PREFIX}-${process.pid}-probe`;
  try {
    await ip(['netns', 'add', probe]);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `ip netns add fails here: ${(err as Error).message}` };
  } finally {
    await ip(['netns', 'delete', probe]).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------
// Namespaces for other layouts (the two-sided boundary bench)

/** Namespaces and processes a helper owns: named, swept and torn down exactly like a labnet's. */
export interface OwnedNetworks {
  /** "<pid>-<n>", unique in this process; part of every name, so the sweeper knows the owner. */
  readonly id: string;
  /** "iacsp-<id>-<suffix>" */
  namespaceName(suffix: string): string;
  /** Creates the namespace with its loopback up (recorded first: a half-made one is still removed). */
  addNamespace(suffix: string): Promise<string>;
  /** A process to stop (SIGTERM, then SIGKILL) before the namespaces go. */
  track(child: ChildProcess): void;
  readonly namespaces: readonly string[];
  /** Stops the processes, deletes the namespaces, then sweeps stale ones. Idempotent. */
  close(): Promise<void>;
}

/** Starts owning namespaces the labnet way (sweeping stale ones first); the exit hook covers them until close(). */
export async function ownNetworks(): Promise<OwnedNetworks> {
  await sweepStaleLabnets();
  const seq = labnetCounter++;
  const id = `${process.pid}-${seq.toString(36)}`;
  const state: LabnetState = { namespaces: [], links: [], children: new Set() };
  live.add(state);
  armCleanup();
  let closing: Promise<void> | undefined;
  const namespaceName = (suffix: string) => `${NAME_PREFIX}-${id}-${suffix}`;
  return {
    id,
    namespaceName,
    namespaces: state.namespaces,
    async addNamespace(suffix) {
      const netns = namespaceName(suffix);
      state.namespaces.push(netns);
      await ip(['netns', 'add', netns]);
      await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
      return netns;
    },
    track(child) {
      state.children.add(child);
      child.once('exit', () => state.children.delete(child));
    },
    close: () => (closing ??= teardown(state).then(() => sweepStaleLabnets()).then(() => undefined)),
  };
}
