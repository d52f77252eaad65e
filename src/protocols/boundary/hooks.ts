import { spawn } from 'node:child_process';
import type { HookCommand } from '../../sdk';

/**
 * Runs the profile's hook commands (island mode, fail close) on the lab machine: argv without a shell, in a
 * process group of its own that is killed whole on timeout or cancel, output kept as evidence.
 */

/** One hook run: what ran, when, how it ended, and what it printed (the last 16 KB of each stream). */
export interface HookRun {
  hook: string;
  argv: readonly string[];
  startedAt: number;
  endedAt: number;
  code: number | null;
  signal: string | null;
  ended: 'exited' | 'timeout' | 'cancelled' | 'spawn-failed';
  stdout: string;
  stderr: string;
}

const KEEP = 16_384;
const ok = (run: HookRun) => run.ended === 'exited' && run.code === 0;

/** True when the hook ran to completion and exited 0. */
export const hookSucceeded = ok;

export function describeHookRun(run: HookRun): string {
  const how = run.ended === 'exited' ? `exit ${run.code ?? run.signal}` : run.ended;
  return `${run.hook} (${JSON.stringify(run.argv)}): ${how} after ${run.endedAt - run.startedAt} ms${run.stderr.trim() ? `: ${run.stderr.trim().slice(-300)}` : ''}`;
}

/**
 * Runs `hook` to its end; never throws. `signal` cancels it (pass none for a hook that must complete, such as
 * the restart after Ctrl-C: its own timeout still bounds it).
 */
export function runHook(name: string, hook: HookCommand, signal?: AbortSignal): Promise<HookRun> {
  const startedAt = Date.now();
  const [program, ...args] = hook.argv;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let ended: HookRun['ended'] = 'exited';
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (why: HookRun['ended']) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      ended = why;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // the group is gone already; the child itself may not be
      }
    };
    const onAbort = () => killGroup('cancelled');
    const timer = setTimeout(() => killGroup('timeout'), hook.timeoutMs);
    if (signal?.aborted) queueMicrotask(onAbort);
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-KEEP)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-KEEP)));
    const finish = (code: number | null, sig: string | null, how?: HookRun['ended'], message = '') => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ hook: name, argv: hook.argv, startedAt, endedAt: Date.now(), code, signal: sig, ended: how ?? ended, stdout, stderr: stderr + message });
    };
    child.once('error', (err) => finish(null, null, 'spawn-failed', err.message));
    child.once('close', (code, sig) => finish(code, sig));
  });
}
