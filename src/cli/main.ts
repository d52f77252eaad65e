import { InputRejected } from '../sdk/errors';
import { toolVersion } from '../paths';
import { EXIT, UsageError, stdio, type Io } from './common';

type Command = (args: string[], io: Io) => number | Promise<number>;

interface CommandModule {
  run: Command;
  usage: string;
}

/**
 * The commands, each loaded when it is run: `--version` or `catalog` never pays for the protocol libraries,
 * the emulator or the reporters that `run` and `demo` need.
 */
// With require(), not import(): the package is CommonJS, and from the sources tsx hooks require() only.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const command = <T>(file: string): T => require(file) as T;

const COMMANDS: Record<string, { summary: string; load: () => CommandModule }> = {
  run: { summary: 'assess the component a target profile describes', load: () => { const m = command<typeof import('./run.js')>('./run'); return { run: m.runCommand, usage: m.RUN_USAGE }; } },
  plan: {
    summary: 'what a run would do, before it touches the device (attempts, logins, duration)',
    load: () => { const m = command<typeof import('./plan.js')>('./plan'); return { run: m.planCommand, usage: m.PLAN_USAGE }; },
  },
  demo: { summary: 'start the embedded emulated PLC and assess it', load: () => { const m = command<typeof import('./demo.js')>('./demo'); return { run: m.demoCommand, usage: m.DEMO_USAGE }; } },
  emulate: { summary: 'run an emulated device until stopped', load: () => { const m = command<typeof import('./emulate.js')>('./emulate'); return { run: m.emulateCommand, usage: m.EMULATE_USAGE }; } },
  discover: {
    summary: 'scan a host, identify its services, write a draft target profile',
    load: () => { const m = command<typeof import('./discover.js')>('./discover'); return { run: m.discoverCommand, usage: m.DISCOVER_USAGE }; },
  },
  labnet: {
    summary: 'rehearse a bench: emulated devices on addresses of their own (root)',
    load: () => { const m = command<typeof import('./labnet.js')>('./labnet'); return { run: m.labnetCommand, usage: m.LABNET_USAGE }; },
  },
  resume: {
    summary: 'continue an interrupted run in a new folder (only what did not finish runs again)',
    load: () => { const m = command<typeof import('./resume.js')>('./resume'); return { run: m.resumeCommand, usage: m.RESUME_USAGE }; },
  },
  merge: {
    summary: 'join the evidence folders of run --shard into one run',
    load: () => { const m = command<typeof import('./merge.js')>('./merge'); return { run: m.mergeCommand, usage: m.MERGE_USAGE }; },
  },
  replay: {
    summary: 're-send one fuzz case of a run to its device (destructive)',
    load: () => { const m = command<typeof import('./replay.js')>('./replay'); return { run: m.replayCommand, usage: m.REPLAY_USAGE }; },
  },
  verify: { summary: 'check the integrity (and signature) of an evidence folder', load: () => { const m = command<typeof import('./verify.js')>('./verify'); return { run: m.verifyCommand, usage: m.VERIFY_USAGE }; } },
  diff: { summary: 'what changed between two runs (exit 1 when worse)', load: () => { const m = command<typeof import('./diff.js')>('./diff'); return { run: m.diffCommand, usage: m.DIFF_USAGE }; } },
  'compare-units': {
    summary: 'key material and default passwords that units of one model share (exit 1 when shared)',
    load: () => { const m = command<typeof import('./compare-units.js')>('./compare-units'); return { run: m.compareUnitsCommand, usage: m.COMPARE_UNITS_USAGE }; },
  },
  'attest-template': {
    summary: 'write a manual-attestation file to fill in',
    load: () => { const m = command<typeof import('./attest-template.js')>('./attest-template'); return { run: m.attestTemplateCommand, usage: m.ATTEST_TEMPLATE_USAGE }; },
  },
  keygen: { summary: 'make a lab key pair and certificate for signing', load: () => { const m = command<typeof import('./keygen.js')>('./keygen'); return { run: m.keygenCommand, usage: m.KEYGEN_USAGE }; } },
  catalog: { summary: 'list the IEC 62443-4-2 requirements', load: () => { const m = command<typeof import('./catalog.js')>('./catalog'); return { run: m.catalogCommand, usage: m.CATALOG_USAGE }; } },
  probes: { summary: 'list the probes', load: () => { const m = command<typeof import('./probes.js')>('./probes'); return { run: m.probesCommand, usage: m.PROBES_USAGE }; } },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `iacs-probe ${toolVersion()}: tests IACS components against IEC 62443-4-2\n\nusage: iacs-probe <command> [options]\n\n${
    Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join('\n')
  }\n\n\`iacs-probe <command> --help\` shows a command's options. Exit codes: 0 no requirement failed at the\ntarget SL, 1 a requirement failed, 2 run incomplete or probe errors, 3 usage or profile error.\n`;
}

/** Runs the CLI and returns the exit code (process.exit is called only by the entry point below). */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out.write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    io.out.write(`${toolVersion()}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.err.write(`iacs-probe: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  let command: CommandModule | undefined;
  // What follows `--` belongs to another program (`labnet exec -- COMMAND --help`).
  const own = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  try {
    command = entry.load();
    if (own.includes('--help') || own.includes('-h')) {
      io.out.write(`${command.usage}\n`);
      return EXIT.ok;
    }
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err.write(`iacs-probe ${name}: ${err.message}\n\n${command?.usage ?? ''}\n`);
      return EXIT.usage;
    }
    // A profile, attestation file, key, folder or posture that cannot be used: nothing ran, exit 3.
    if (err instanceof InputRejected) {
      io.err.write(err.heading ? `iacs-probe ${name}: ${err.heading}:\n${err.message}\n` : `iacs-probe ${name}: ${err.message}\n`);
      return EXIT.usage;
    }
    io.err.write(`iacs-probe ${name}: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return EXIT.incomplete;
  }
}

/** `iacs-probe probes | head` closes stdout early: stop quietly instead of crashing on EPIPE. */
export function quietOnBrokenPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}

if (require.main === module) {
  quietOnBrokenPipe();
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
