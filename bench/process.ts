/**
 * Whole processes timed as a user times them: wall time from spawn to exit, and peak resident memory
 * (GNU time's %M, the largest RSS of the process and the children it waited for). Every process has a
 * deadline: past it, its process group is killed and the measurement throws. `benchCancel` stops the bench:
 * running processes are killed, new ones refused, and the sections unwind through their `finally` blocks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const GNU_TIME = '/usr/bin/time';

export interface ProcessResult {
  /** Epoch ms at spawn (to place the process's own timestamps, e.g. a report's startedAt). */
  spawnedAt: number;
  wallMs: number;
  /** Peak RSS in KiB of the largest single process (GNU time), undefined where GNU time is not installed. */
  peakRssKiB: number | undefined;
  /** CPU time (user + system) of the process and the children it waited for (GNU time), in ms. */
  cpuMs: number | undefined;
  /** With `sampleTree`: the highest sum of RSS over the whole process tree, sampled every 200 ms. */
  peakTreeRssKiB?: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TimedCommand {
  argv: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Default 10 minutes. */
  timeoutMs?: number;
  /** Also sample the RSS of every process of the tree (children such as nmap count too). */
  sampleTree?: boolean;
  /** Starts the command elsewhere (e.g. on a labnet's scanner side); default: a local child process. */
  spawner?: (command: string, args: readonly string[]) => Promise<ChildProcess>;
}

/** The process exited with a code the caller does not accept, or ran past its deadline. */
export class ProcessFailed extends Error {
  override name = 'ProcessFailed';
}

/** Aborted on SIGINT/SIGTERM (bench/index.ts); the labnets get its signal too. */
export const benchCancel = new AbortController();

/** Runs argv under GNU time (when installed) and measures it. */
export async function timeProcess(cmd: TimedCommand): Promise<ProcessResult> {
  const hasTime = fs.existsSync(GNU_TIME);
  const timeFile = path.join(os.tmpdir(), `iacs-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const [command, ...args] = hasTime ? [GNU_TIME, '-f', '%M %U %S', '-o', timeFile, ...cmd.argv] : cmd.argv;
  const timeoutMs = cmd.timeoutMs ?? 600_000;
  benchCancel.signal.throwIfAborted();
  const spawnedAt = Date.now();
  const started = process.hrtime.bigint();
  const child = cmd.spawner
    ? await cmd.spawner(command, args)
    : spawn(command, args, { cwd: cmd.cwd, env: cmd.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const sampler = cmd.sampleTree && child.pid !== undefined ? treeRssSampler(child.pid) : undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(child);
  }, timeoutMs);
  const onCancel = () => killTree(child);
  benchCancel.signal.addEventListener('abort', onCancel, { once: true });
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    benchCancel.signal.throwIfAborted();
    if (timedOut) throw new ProcessFailed(`${cmd.argv.join(' ')}: still running after ${timeoutMs} ms; killed`);
    return {
      spawnedAt, wallMs, ...readGnuTime(hasTime ? timeFile : undefined), code, stdout, stderr,
      ...(sampler ? { peakTreeRssKiB: sampler.peakKiB() } : {}),
    };
  } finally {
    benchCancel.signal.removeEventListener('abort', onCancel);
    sampler?.stop();
    clearTimeout(timer);
    fs.rmSync(timeFile, { force: true });
  }
}

/** GNU time's last line, "%M %U %S": peak RSS (KiB), user and system CPU seconds. */
function readGnuTime(file: string | undefined): { peakRssKiB: number | undefined; cpuMs: number | undefined } {
  try {
    const [rss, user, system] = fs.readFileSync(file!, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    return {
      peakRssKiB: Number.isFinite(rss) ? rss : undefined,
      cpuMs: Number.isFinite(user) && Number.isFinite(system) ? (user + system) * 1000 : undefined,
    };
  } catch {
    return { peakRssKiB: undefined, cpuMs: undefined };
  }
}

/** Sums VmRSS over `root` and its descendants every 200 ms (from /proc); keeps the highest sum. */
function treeRssSampler(root: number): { peakKiB(): number; stop(): void } {
  let peak = 0;
  const sample = () => {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
      } catch {
        // the process ended meanwhile
      }
    }
    let total = 0;
    for (const queue = [root]; queue.length > 0;) {
      const pid = queue.pop()!;
      queue.push(...(children.get(pid) ?? []));
      try {
        total += Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * (PAGE_BYTES / 1024);
      } catch {
        // ended meanwhile
      }
    }
    peak = Math.max(peak, total);
  };
  const timer = setInterval(sample, 200);
  return { peakKiB: () => peak, stop: () => clearInterval(timer) };
}

const PAGE_BYTES = 4096;

function killTree(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL'); // detached: the child leads its own process group
  } catch {
    child.kill('SIGKILL');
  }
}

/** Like timeProcess, but throws unless the exit code is one of `ok` (default 0). */
export async function timeChecked(cmd: TimedCommand, ok: readonly number[] = [0]): Promise<ProcessResult> {
  const r = await timeProcess(cmd);
  if (r.code === null || !ok.includes(r.code)) {
    throw new ProcessFailed(`${cmd.argv.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  }
  return r;
}
