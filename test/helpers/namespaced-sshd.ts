import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

/** A shell word for the scripts run inside the namespace. */
export const shellWord = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Ends a child process (SIGTERM) and resolves when it has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export interface NamespacedDaemon {
  child: ChildProcess;
  /** What the daemon wrote to stderr so far. */
  log(): string;
}

/**
 * Runs `script` (ending in `exec sshd -D -e ...`) under `unshare <flags>` and waits until its stderr matches
 * `ready`; on failure or timeout the process and `dir` are removed and the error carries what it wrote.
 * Shared by the host-audit and the PAM test hosts, which differ in how they give sshd an /etc of its own.
 */
export async function startNamespacedSshd(
  unshare: string, flags: string[], script: string[], ready: RegExp, options: { dir: string; timeoutMs: number; what: string },
): Promise<NamespacedDaemon> {
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn(unshare, [...flags, '--propagation', 'private', 'sh', '-c', script.join('\n')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const deadline = Date.now() + options.timeoutMs;
  while (!ready.test(stderr)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopChild(child);
      fs.rmSync(options.dir, { recursive: true, force: true });
      throw new Error(`${options.what} did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, log: () => stderr };
}
