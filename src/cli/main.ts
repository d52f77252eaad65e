import { AttestationError } from '../assess/attestations';
import { EvidenceFolderError } from '../evidence/store';
import { KeyError } from '../evidence/signing';
import { PostureError } from '../emulator';
import { ProfileError } from '../profile';
import { ScopeRefused } from '../runner/plan';
import { toolVersion } from '../paths';
import { ATTEST_TEMPLATE_USAGE, attestTemplateCommand } from './attest-template';
import { CATALOG_USAGE, catalogCommand } from './catalog';
import { EXIT, UsageError, stdio, type Io } from './common';
import { DEMO_USAGE, demoCommand } from './demo';
import { DIFF_USAGE, diffCommand } from './diff';
import { EMULATE_USAGE, emulateCommand } from './emulate';
import { KEYGEN_USAGE, keygenCommand } from './keygen';
import { LABNET_USAGE, labnetCommand } from './labnet';
import { PROBES_USAGE, probesCommand } from './probes';
import { RUN_USAGE, runCommand } from './run';
import { VERIFY_USAGE, verifyCommand } from './verify';

type Command = (args: string[], io: Io) => number | Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string; summary: string }> = {
  run: { run: runCommand, usage: RUN_USAGE, summary: 'assess the component a target profile describes' },
  demo: { run: demoCommand, usage: DEMO_USAGE, summary: 'start the embedded emulated PLC and assess it' },
  emulate: { run: emulateCommand, usage: EMULATE_USAGE, summary: 'run an emulated device until stopped' },
  labnet: { run: labnetCommand, usage: LABNET_USAGE, summary: 'rehearse a bench: emulated devices on addresses of their own (root)' },
  verify: { run: verifyCommand, usage: VERIFY_USAGE, summary: 'check the integrity (and signature) of an evidence folder' },
  diff: { run: diffCommand, usage: DIFF_USAGE, summary: 'what changed between two runs (exit 1 when worse)' },
  'attest-template': { run: attestTemplateCommand, usage: ATTEST_TEMPLATE_USAGE, summary: 'write a manual-attestation file to fill in' },
  keygen: { run: keygenCommand, usage: KEYGEN_USAGE, summary: 'make a lab key pair and certificate for signing' },
  catalog: { run: catalogCommand, usage: CATALOG_USAGE, summary: 'list the IEC 62443-4-2 requirements' },
  probes: { run: probesCommand, usage: PROBES_USAGE, summary: 'list the probes' },
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
  const command = COMMANDS[name];
  if (!command) {
    io.err.write(`iacs-probe: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  // What follows `--` belongs to another program (`labnet exec -- COMMAND --help`).
  const own = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (own.includes('--help') || own.includes('-h')) {
    io.out.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err.write(`iacs-probe ${name}: ${err.message}\n\n${command.usage}\n`);
      return EXIT.usage;
    }
    if (err instanceof ProfileError) {
      io.err.write(`iacs-probe ${name}: invalid profile (nothing was run or written):\n${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof AttestationError) {
      io.err.write(`iacs-probe ${name}: invalid attestations (nothing was run or written):\n${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof ScopeRefused || err instanceof EvidenceFolderError || err instanceof PostureError || err instanceof KeyError) {
      io.err.write(`iacs-probe ${name}: ${err.message}\n`);
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
