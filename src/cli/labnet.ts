import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
// Types only (erased): the library and the emulator it loads are required inside the command, so that
// no other command loads them.
import type * as LabnetLibrary from '../labnet/netns';
import type { Labnet, Topology } from '../labnet/netns';
import { EXIT, UsageError, parse, type Io } from './common';

export const LABNET_USAGE = `usage: iacs-probe labnet up|exec|check|sweep|down [options]

  Rehearses a bench on addresses of your own: each emulated device runs in a Linux network namespace with
  its own address, joined to the others by a software switch, and nothing sent to those addresses leaves
  the machine (docs/labnet.md). up, exec and sweep need root and iproute2; check needs iproute2.

  up    [--posture weak|hardened|FILE]... [--address A]... [--topology namespace|root] [--subnet CIDR]
        [--scanner-address A] [--ephemeral]
        starts one emulated device per --posture (default: one weak), prints one JSON line that describes
        the labnet, runs until SIGINT/SIGTERM/SIGHUP, then removes everything
  exec  [the options of up] -- COMMAND [ARGS...]
        the same, but runs COMMAND on the scanner side (inside the scanner namespace in topology
        namespace) with IACS_LABNET (the JSON line) and IACS_LABNET_DEVICES (the device addresses,
        comma-separated) in its environment, and removes everything when it ends
  check ADDRESS --dev IFACE [--netns NS]
        which way ADDRESS routes from NS (ip route get; sends nothing) and whether a labnet would accept it
  sweep (alias: down)
        removes the namespaces and links left behind by labnets whose process is gone

  --posture P          one emulated device per occurrence: a built-in posture or a posture YAML file
  --address A          address of the n-th device, by position (default: the next free host)
  --topology T         namespace (default: the scanner gets a namespace of its own) or root
  --subnet CIDR        the labnet subnet, /8 to /29 (default: a free /24 of 198.18.0.0/15)
  --scanner-address A  the scanner's address in the subnet (default: its first host)
  --ephemeral          OS-chosen ports instead of the posture's fixed ones

Exit codes: 0 done (up: stopped by a signal, everything removed; check: the address would be accepted);
1 check: the address would be refused; 2 the labnet could not be set up or swept (an ip command failed, a
device did not start, a leftover could not be removed) or a signal interrupted it; 3 usage error, or
refused before anything was sent (not root, subnet already routed, an address that would not go over the
labnet link; whatever was made is removed). exec: COMMAND's own exit status once it runs, 127 if it is not
found or cannot be started, 128+N if signal N ended it; messages of labnet itself start "iacs-probe labnet".`;

const VERBS = ['up', 'exec', 'check', 'sweep', 'down'] as const;
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function loadLibrary(): typeof LabnetLibrary {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded by this command only (issue 16)
  return require('../labnet/netns') as typeof LabnetLibrary;
}

export async function labnetCommand(args: string[], io: Io): Promise<number> {
  const split = args.indexOf('--');
  const [verb, ...rest] = split === -1 ? args : args.slice(0, split);
  const command = split === -1 ? undefined : args.slice(split + 1);
  if (verb === undefined) throw new UsageError(`missing command: ${VERBS.join(', ')}`);
  const known = VERBS.find((v) => v === verb);
  if (known === undefined) throw new UsageError(`unknown labnet command "${verb}"`);
  if (command !== undefined && known !== 'exec') throw new UsageError(`${verb} takes no command after --${known === 'up' ? ' (use exec)' : ''}`);
  const lib = loadLibrary();
  try {
    if (known === 'check') return await checkCommand(rest, lib, io);
    if (known === 'sweep' || known === 'down') return await sweepCommand(rest, lib, io);
    return await upOrExec(known, rest, command ?? [], lib, io);
  } catch (err) {
    if (err instanceof lib.LabnetRefused) {
      io.err.write(`iacs-probe labnet ${verb}: refused, nothing was sent: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof lib.IpCommandError || err instanceof lib.DeviceStartError) {
      io.err.write(`iacs-probe labnet ${verb}: ${err.message}\n`);
      return EXIT.incomplete;
    }
    throw err;
  }
}

async function checkCommand(args: string[], lib: typeof LabnetLibrary, io: Io): Promise<number> {
  const { values, positionals } = parse(args, { dev: { type: 'string' }, netns: { type: 'string' } }, { min: 1, max: 1, names: 'ADDRESS' });
  if (values.dev === undefined) throw new UsageError('check needs --dev IFACE (the link the address must route over)');
  asUsage('ADDRESS', () => lib.parseIpv4(positionals[0]));
  try {
    const route = await lib.checkRoute(positionals[0], { dev: values.dev, netns: values.netns });
    io.out.write(`${JSON.stringify({ accepted: true, route })}\n`);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof lib.LabnetRefused)) throw err;
    io.out.write(`${JSON.stringify({ accepted: false, reason: err.message })}\n`);
    return EXIT.failed;
  }
}

async function sweepCommand(args: string[], lib: typeof LabnetLibrary, io: Io): Promise<number> {
  parse(args, {}, { min: 0, max: 0, names: '' });
  const result = await lib.sweepStaleLabnets();
  io.out.write(`${JSON.stringify({ removed: { namespaces: result.namespaces, links: result.links }, failed: result.failed })}\n`);
  if (result.failed.length === 0) return EXIT.ok;
  io.err.write(`iacs-probe labnet: could not remove ${result.failed.join(', ')} (root is needed)\n`);
  return EXIT.incomplete;
}

/** Runs the library's parser on a command-line value: what it rejects is a usage error. */
function asUsage<T>(what: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw new UsageError(`${what}: ${(err as Error).message}`);
  }
}

/** The library's options from the command line; malformed values are usage errors (exit 3, nothing made). */
function labnetOptions(args: string[], lib: typeof LabnetLibrary): LabnetLibrary.LabnetOptions {
  const { values } = parse(args, {
    posture: { type: 'string', multiple: true }, address: { type: 'string', multiple: true },
    topology: { type: 'string' }, subnet: { type: 'string' }, 'scanner-address': { type: 'string' }, ephemeral: { type: 'boolean' },
  }, { min: 0, max: 0, names: '' });
  const topology = values.topology ?? 'namespace';
  if (topology !== 'namespace' && topology !== 'root') throw new UsageError('--topology is namespace or root');
  const postures = values.posture ?? ['weak'];
  const addresses = values.address ?? [];
  if (addresses.length > postures.length) throw new UsageError(`${addresses.length} --address for ${postures.length} device(s): one --posture per device`);
  for (const a of addresses) asUsage('--address', () => lib.parseIpv4(a));
  if (values['scanner-address'] !== undefined) asUsage('--scanner-address', () => lib.parseIpv4(values['scanner-address']!));
  if (values.subnet !== undefined) asUsage('--subnet', () => lib.parseCidr(values.subnet!));
  return {
    topology: topology as Topology,
    subnet: values.subnet,
    scannerAddress: values['scanner-address'],
    devices: postures.map((posture, i) => ({ posture, address: addresses[i], ephemeralPorts: values.ephemeral === true })),
  };
}

/** The JSON line `up` and `exec` print (and exec hands to COMMAND as IACS_LABNET). */
function describe(labnet: Labnet): Record<string, unknown> {
  const { id, topology, subnet, scanner, devices, warnings } = labnet;
  return {
    labnet: { id, topology, subnet, scanner, devices: devices.map(({ name, namespace, address, services }) => ({ name, namespace, address, services })) },
    warnings,
  };
}

async function upOrExec(verb: 'up' | 'exec', args: string[], command: string[], lib: typeof LabnetLibrary, io: Io): Promise<number> {
  const options = labnetOptions(args, lib);
  if (verb === 'exec' && command.length === 0) throw new UsageError('exec needs -- COMMAND [ARGS...]');
  // As a shell would: a command that is not there is 127, and found out before a labnet is made for it.
  if (verb === 'exec' && !isExecutable(command[0])) {
    io.err.write(`iacs-probe labnet exec: ${command[0]}: command not found\n`);
    return 127;
  }
  let labnet: Labnet | undefined;
  let signalled: NodeJS.Signals | undefined;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const setup = new AbortController();
  // With handlers of ours, the library leaves shutdown to us (its exit hook still covers process.exit).
  // A signal during set-up aborts it; createLabnet() then removes what it made.
  const onSignal = (signal: NodeJS.Signals) => {
    signalled ??= signal;
    setup.abort(new Error(`interrupted by ${signal}`));
    stop();
    void labnet?.close();
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    const available = await lib.labnetAvailability();
    if (!available.ok) throw new lib.LabnetRefused(available.reason);
    labnet = await lib.createLabnet({ ...options, signal: setup.signal });
    if (signalled) return interrupted(io, signalled);
    const info = describe(labnet);
    io.out.write(`${JSON.stringify(info)}\n`);
    for (const w of labnet.warnings) io.err.write(`iacs-probe labnet: warning: ${w}\n`);
    if (verb === 'up') return await untilStopped(labnet, stopped, io);
    const status = await execute(labnet, command, info, io);
    return signalled ? interrupted(io, signalled) : status;
  } catch (err) {
    if (signalled) return interrupted(io, signalled);
    throw err;
  } finally {
    await labnet?.close();
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  }
}

/** True if `command` names an executable file, directly (with a slash) or on PATH. */
function isExecutable(command: string): boolean {
  const candidates = command.includes('/') ? [command] : (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, command));
  return candidates.some((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

function interrupted(io: Io, signal: NodeJS.Signals): number {
  io.err.write(`iacs-probe labnet: interrupted by ${signal}; removing everything\n`);
  return EXIT.incomplete;
}

async function untilStopped(labnet: Labnet, stopped: Promise<void>, io: Io): Promise<number> {
  if (labnet.scanner.namespace) io.err.write(`iacs-probe labnet: scan from: ip netns exec ${labnet.scanner.namespace} <command>\n`);
  io.err.write('iacs-probe labnet: up; Ctrl-C (SIGINT) or SIGTERM stops it and removes everything\n');
  const keepAlive = setInterval(() => undefined, 60_000);
  await stopped;
  clearInterval(keepAlive);
  return EXIT.ok;
}

/** Runs COMMAND on the scanner side with the terminal's stdio; its exit status, shell-style. */
async function execute(labnet: Labnet, command: string[], info: Record<string, unknown>, io: Io): Promise<number> {
  const child: ChildProcess = await labnet.spawn(command[0], command.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, IACS_LABNET: JSON.stringify(info), IACS_LABNET_DEVICES: labnet.devices.map((d) => d.address).join(',') },
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('error', (err) => {
      io.err.write(`iacs-probe labnet: ${command[0]}: ${err.message}\n`);
      resolve([127, null]);
    });
    child.once('exit', (c, s) => resolve([c, s]));
  });
  return code ?? 128 + (signal ? osConstants.signals[signal] : 0);
}
