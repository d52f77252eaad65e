/**
 * Command line for the bench network (docs/bench-network.md):
 *
 *   npx tsx src/labnet/bench-net.ts up   [--posture P]... [--topology namespace|root] [--subnet CIDR]
 *                                       [--scanner-address A] [--address A]...
 *   npx tsx src/labnet/bench-net.ts exec [same options] -- COMMAND [ARGS...]
 *   npx tsx src/labnet/bench-net.ts check ADDRESS --dev IFACE [--netns NS]
 *   npx tsx src/labnet/bench-net.ts sweep            (alias: down)
 *
 * Library code: sets process.exitCode and lets the event loop end, never calls process.exit.
 */
import { parseArgs } from 'node:util';
import { LabnetRefused, checkRoute, createLabnet, sweepStaleLabnets, type Labnet, type Topology } from './netns';

const USAGE = `usage: bench-net up|exec|check|sweep|down [options]
  up    [--posture weak|hardened|FILE]... [--topology namespace|root] [--subnet CIDR] [--scanner-address A]
        [--address A]... [--ephemeral-ports]
        builds the bench, starts one emulated device per --posture (default: one "weak"), prints one JSON line
        describing it, and runs until Ctrl-C / SIGTERM, then removes everything
  exec  [the options of up] -- COMMAND [ARGS...]
        the same, but runs COMMAND on the scanner side (inside the scanner namespace in topology "namespace"),
        with IACS_BENCH (the JSON) and IACS_BENCH_DEVICES (addresses, comma-separated) in its environment;
        tears down when it ends and exits with its status
  check ADDRESS --dev IFACE [--netns NS]
        shows which way ADDRESS routes (ip route get; sends nothing) and whether the bench would accept it
  sweep | down
        removes namespaces and links left behind by runs whose process is gone
`;

function describe(bench: Labnet): Record<string, unknown> {
  return {
    bench: {
      id: bench.id, topology: bench.topology, subnet: bench.subnet, scanner: bench.scanner,
      devices: bench.devices.map(({ name, namespace, address, services }) => ({ name, namespace, address, services })),
    },
    warnings: bench.warnings,
  };
}

/** Tears the bench down on SIGINT / SIGTERM / SIGHUP (and the library's exit hook covers process.exit). */
function onSignals(handler: (signal: NodeJS.Signals) => void): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, handler);
  return () => signals.forEach((s) => process.off(s, handler));
}

const SIGNAL_EXIT: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

async function main(argv: string[]): Promise<number> {
  const dashdash = argv.indexOf('--');
  const ours = dashdash === -1 ? argv : argv.slice(0, dashdash);
  const command = dashdash === -1 ? [] : argv.slice(dashdash + 1);
  const { values, positionals } = parseArgs({
    args: ours,
    allowPositionals: true,
    options: {
      posture: { type: 'string', multiple: true },
      address: { type: 'string', multiple: true },
      topology: { type: 'string', default: 'namespace' },
      subnet: { type: 'string' },
      'scanner-address': { type: 'string' },
      'ephemeral-ports': { type: 'boolean', default: false },
      dev: { type: 'string' },
      netns: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [verb, ...rest] = positionals;
  if (values.help || verb === undefined) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 3;
  }

  if (verb === 'sweep' || verb === 'down') {
    process.stdout.write(`${JSON.stringify({ removed: await sweepStaleLabnets() })}\n`);
    return 0;
  }
  if (verb === 'check') {
    if (rest.length !== 1 || !values.dev) throw new UsageError('check needs ADDRESS and --dev IFACE');
    try {
      const route = await checkRoute(rest[0], { dev: values.dev, netns: values.netns });
      process.stdout.write(`${JSON.stringify({ accepted: true, route })}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof LabnetRefused)) throw err;
      process.stdout.write(`${JSON.stringify({ accepted: false, reason: err.message })}\n`);
      return 1;
    }
  }
  if (verb !== 'up' && verb !== 'exec') throw new UsageError(`unknown command ${verb}`);
  if (values.topology !== 'namespace' && values.topology !== 'root') throw new UsageError('--topology is namespace or root');
  if (verb === 'exec' && command.length === 0) throw new UsageError('exec needs -- COMMAND [ARGS...]');
  if (verb === 'up' && command.length > 0) throw new UsageError('up takes no command; use exec');

  const postures = values.posture ?? ['weak'];
  const addresses = values.address ?? [];
  let signalled: NodeJS.Signals | undefined;
  let bench: Labnet | undefined;
  // A signal during setup is remembered and acted on as soon as the bench exists (or setup fails).
  const release = onSignals((signal) => {
    signalled ??= signal;
    void bench?.close();
  });
  try {
    bench = await createLabnet({
      topology: values.topology as Topology,
      subnet: values.subnet,
      scannerAddress: values['scanner-address'],
      devices: postures.map((posture, i) => ({ posture, address: addresses[i], ephemeralPorts: values['ephemeral-ports'] })),
    });
    if (signalled) return SIGNAL_EXIT[signalled];
    const info = describe(bench);
    process.stdout.write(`${JSON.stringify(info)}\n`);
    for (const w of bench.warnings) process.stderr.write(`bench-net: warning: ${w}\n`);

    if (verb === 'up') {
      if (bench.scanner.namespace) process.stderr.write(`bench-net: scan from: ip netns exec ${bench.scanner.namespace} <command>\n`);
      process.stderr.write('bench-net: up; Ctrl-C to stop and remove everything\n');
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        process.once('SIGINT', done).once('SIGTERM', done).once('SIGHUP', done);
      });
      return SIGNAL_EXIT[signalled ?? 'SIGINT'];
    }

    const child = await bench.spawn(command[0], command.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, IACS_BENCH: JSON.stringify(info), IACS_BENCH_DEVICES: bench.devices.map((d) => d.address).join(',') },
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.once('error', (err) => {
        process.stderr.write(`bench-net: ${command[0]}: ${err.message}\n`);
        resolve([127, null]);
      });
      child.once('exit', (c, s) => resolve([c, s]));
    });
    return signalled ? SIGNAL_EXIT[signalled] : code ?? SIGNAL_EXIT[signal ?? 'SIGTERM'] ?? 2;
  } finally {
    await bench?.close();
    release();
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`bench-net: ${err.message}\n${err instanceof UsageError ? USAGE : ''}`);
    process.exitCode = err instanceof UsageError ? 3 : err instanceof LabnetRefused ? 4 : 2;
  },
);
