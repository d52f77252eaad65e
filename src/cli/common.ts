import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Report } from '../report/model';
import { SAFETY_CLASSES, type Safety } from '../sdk';

export const EXIT = { ok: 0, failed: 1, incomplete: 2, usage: 3 } as const;

/** Exit code of a finished run (ARCHITECTURE.md): 1 a requirement failed at the target, 2 incomplete or errors, else 0. */
export function exitCodeFor(report: Pick<Report, 'run' | 'summary'>): 0 | 1 | 2 {
  if (!report.run.complete) return EXIT.incomplete;
  if (report.summary.failedAtTarget > 0) return EXIT.failed;
  if (report.summary.errors > 0) return EXIT.incomplete;
  return EXIT.ok;
}

/** A command-line mistake: printed with the command's usage, exit code 3, nothing written. */
export class UsageError extends Error {}

export interface Io {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export const stdio: Io = { out: process.stdout, err: process.stderr };

type Options = NonNullable<ParseArgsConfig['options']>;

/** util.parseArgs with errors turned into UsageError. */
export function parse<O extends Options>(args: string[], options: O, positionals: { min: number; max: number; names: string }) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[\w+\]: /, ''));
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`missing ${positionals.names}`);
  if (n > positionals.max) throw new UsageError(`unexpected argument: ${parsed.positionals[positionals.max]}`);
  return parsed;
}

/** Repeatable, comma-separable list option: --only tls --only ssh,opcua */
export function list(value: string | string[] | boolean | undefined): string[] {
  if (value === undefined || typeof value === 'boolean') return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

export function safetyList(value: string | string[] | boolean | undefined): Safety[] {
  const out: Safety[] = [];
  for (const v of list(value)) {
    if (!(SAFETY_CLASSES as readonly string[]).includes(v)) throw new UsageError(`--allow ${v}: expected one of ${SAFETY_CLASSES.join(', ')}`);
    out.push(v as Safety);
  }
  return out;
}

export function intOption(name: string, value: string | boolean | string[] | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

/**
 * First SIGINT/SIGTERM aborts the returned signal so the run can close its evidence folder; a second one
 * exits at once. Returns a function that removes the handlers.
 */
export function cancelOnSignals(io: Io): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      io.err.write(`\n${sig} again: exiting without closing the evidence folder\n`);
      process.exit(130);
    }
    io.err.write(`\n${sig}: stopping; finishing the evidence folder (press again to exit at once)\n`);
    controller.abort(new Error(`cancelled by ${sig}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
