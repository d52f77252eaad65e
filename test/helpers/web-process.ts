import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPosture } from '../../src/emulator';
import { startCli } from './cli';

/** The emulator's web UI in a process of its own (`iacs-probe emulate`), for tests that may crash it. */
export interface WebDeviceProcess {
  port(protocol: 'http' | 'https'): number;
  /** Resolves true once the process has ended (within 3 s), false when it still runs. */
  exited(): Promise<boolean>;
  stderr(): string;
  close(): Promise<void>;
}

export async function startWebDeviceProcess(posture: 'weak' | 'hardened'): Promise<WebDeviceProcess> {
  const base = loadPosture(posture);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-web-process-'));
  const file = path.join(dir, 'posture.json');
  fs.writeFileSync(file, JSON.stringify({ ...base, name: `${posture}-web`, services: { https: base.services.https } }));
  const { child, done } = startCli(['emulate', '--posture', file, '--ephemeral']);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  let ended = false;
  void done.then(() => { ended = true; });
  const deadline = Date.now() + 30_000;
  while (!stdout.includes('\n') && !ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const close = async () => {
    if (!ended) child.kill('SIGTERM');
    await done;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  if (!stdout.includes('\n')) {
    await close();
    throw new Error(`emulate did not start: ${stderr}`);
  }
  const services = (JSON.parse(stdout.split('\n')[0]) as { services: { protocol: string; port: number }[] }).services;
  return {
    port(protocol) {
      const s = services.find((x) => x.protocol === protocol);
      if (!s) throw new Error(`the ${posture} web UI has no ${protocol} endpoint`);
      return s.port;
    },
    async exited() {
      for (const until = Date.now() + 3000; !ended && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
      return ended;
    },
    stderr: () => stderr,
    close,
  };
}
