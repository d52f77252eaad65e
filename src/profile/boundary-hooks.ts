import type { BoundaryDecl, BoundaryHooks, HookCommand } from '../sdk';

/** The profile's `boundaryHooks:` as written (after the schema). */
export interface RawHookCommand {
  argv: string[];
  timeoutMs?: number;
}

export interface RawBoundaryHooks {
  islandMode?: { enter: RawHookCommand; leave: RawHookCommand; settleMs?: number };
  failClose?: { stop: RawHookCommand; start: RawHookCommand; outageMs?: number; recoverTimeoutMs?: number; settleMs?: number };
}

type Issue = (field: (string | number)[], message: string) => void;

const DEFAULT_HOOK_TIMEOUT_MS = 30_000;
const DEFAULT_OUTAGE_MS = 5000;
const DEFAULT_RECOVER_MS = 120_000;

/**
 * One hook command, checked: the program is one word (a shell command line written as argv[0] would run a
 * program named after the whole line, or tempt someone to wrap it in `sh -c` with device data in it).
 */
function hookOf(raw: RawHookCommand, at: (string | number)[], issue: Issue): HookCommand {
  const [program] = raw.argv;
  if (program !== undefined && /\s/.test(program)) {
    issue([...at, 'argv', 0], `"${program}" is a command line, not a program: give the program and each argument as its own item`);
  }
  return { argv: [...raw.argv], timeoutMs: raw.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS };
}

/**
 * The hooks of the island-mode and fail-close probes, checked beyond the schema; they need the zones (what
 * they protect is tested from the zone endpoints).
 */
export function boundaryHooksOf(raw: RawBoundaryHooks | undefined, decl: BoundaryDecl | undefined, issue: Issue): BoundaryHooks | undefined {
  if (raw === undefined) return undefined;
  if (decl === undefined) {
    issue(['boundaryHooks'], 'boundary hooks need zones: declare the zones the device separates');
    return undefined;
  }
  const at = (...field: (string | number)[]) => ['boundaryHooks', ...field];
  const island = raw.islandMode;
  const fail = raw.failClose;
  if (fail && (fail.outageMs ?? DEFAULT_OUTAGE_MS) + (fail.recoverTimeoutMs ?? DEFAULT_RECOVER_MS) > 600_000) {
    issue(at('failClose', 'recoverTimeoutMs'), 'outage and recovery together exceed 10 minutes (the probe budget is 15): the probe streams traffic all along');
  }
  return {
    ...(island ? {
      islandMode: {
        enter: hookOf(island.enter, at('islandMode', 'enter'), issue),
        leave: hookOf(island.leave, at('islandMode', 'leave'), issue),
        settleMs: island.settleMs ?? 1000,
      },
    } : {}),
    ...(fail ? {
      failClose: {
        stop: hookOf(fail.stop, at('failClose', 'stop'), issue),
        start: hookOf(fail.start, at('failClose', 'start'), issue),
        outageMs: fail.outageMs ?? DEFAULT_OUTAGE_MS,
        recoverTimeoutMs: fail.recoverTimeoutMs ?? DEFAULT_RECOVER_MS,
        settleMs: fail.settleMs ?? 1000,
      },
    } : {}),
  };
}
