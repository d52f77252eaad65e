import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

export interface ForegroundDaemon {
  /** Stops the daemon (SIGTERM), waits for its exit and removes `dir`. */
  close(): Promise<void>;
  /** What it printed on stdout and stderr so far. */
  output(): string;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Runs a Debian daemon in the foreground (its own process, its config in `dir`) until it accepts on 127.0.0.1:`port`
 * (`startMs` at most; its output and `logs` in the error otherwise). close() stops it and removes `dir`.
 */
export async function runForegroundDaemon(
  name: string, bin: string, args: readonly string[], options: { dir: string; port: number; logs?: readonly string[]; startMs?: number; env?: Readonly<Record<string, string>> },
): Promise<ForegroundDaemon> {
  // Its own process group: smbd --no-process-group signals its whole group when it stops, which must not be ours.
  const child = spawn(bin, args, { cwd: options.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...options.env } });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-20_000); });
  child.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-20_000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(options.dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.startMs ?? 5000);
  for (;;) {
    if (await accepts(options.port)) return { close, output: () => output };
    if (child.exitCode !== null || Date.now() > deadline) {
      const logs = (options.logs ?? []).filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
      await close();
      throw new Error(`${name} did not start: ${output}${logs}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
