import { Writable } from 'node:stream';
import { main } from '../../src/cli/main';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Command lines of the run's processes (the CLI and its descendants) started with --security-revert,
   * as seen by polling /proc every 20 ms while it ran (only with `watchProcesses`). */
  revertProcesses?: string[];
}

/** Parent pid of every process, from /proc/<pid>/stat. */
function processTable(): Map<number, { ppid: number; cmdline: string }> {
  const table = new Map<number, { ppid: number; cmdline: string }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      table.set(Number(entry), { ppid, cmdline: fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // ended while we looked
    }
  }
  return table;
}

/** Polls the process tree under `root` and collects the command lines that carry --security-revert. */
function watchRevert(root: ChildProcess): { stop(): string[] } {
  const seen = new Set<string>();
  const look = () => {
    if (root.pid === undefined) return;
    const table = processTable();
    const tree = new Set([root.pid]);
    for (let grew = true; grew;) {
      grew = false;
      for (const [pid, p] of table) if (!tree.has(pid) && tree.has(p.ppid)) { tree.add(pid); grew = true; }
    }
    for (const pid of tree) {
      const cmdline = table.get(pid)?.cmdline ?? '';
      if (cmdline.includes('--security-revert')) seen.add(cmdline);
    }
  };
  const timer = setInterval(look, 20);
  look();
  return { stop: () => { clearInterval(timer); return [...seen]; } };
}

export interface CliOptions {
  watchProcesses?: boolean;
  /** Run as this user and group (the test runs as root), e.g. 65534 to show what a user without privileges gets. */
  uid?: number;
  gid?: number;
}

/** Runs bin/iacs-probe from source (tsx), as a user would run it. */
export function startCli(
  args: string[], env: Record<string, string> = {}, cwd?: string, options: CliOptions = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [path.resolve('bin/iacs-probe'), ...args], {
    env: { ...process.env, IACS_PROBE_FROM_SOURCE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}),
    ...(options.uid !== undefined ? { uid: options.uid } : {}), ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  const watcher = options.watchProcesses ? watchRevert(child) : undefined;
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => {
    resolve({ code, signal, stdout, stderr, ...(watcher ? { revertProcesses: watcher.stop() } : {}) });
  }));
  return { child, done };
}

export function cli(args: string[], env: Record<string, string> = {}, cwd?: string, options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, env, cwd, options).done;
}

/** The CLI in this process (no tsx start-up): exit code and what it wrote. */
export async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const text = { out: '', err: '' };
  const sink = (key: 'out' | 'err') => new Writable({ write(chunk, _enc, done) { text[key] += String(chunk); done(); } });
  const code = await main(args, { out: sink('out'), err: sink('err') });
  return { code, stdout: text.out, stderr: text.err };
}
