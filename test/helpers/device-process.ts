import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPosture } from '../../src/emulator';
import { startCli } from './cli';

/** Some services of an emulated device in a process of its own (`iacs-probe emulate`), for tests that may crash it. */
export interface DeviceProcess {
  port(protocol: string): number;
  /** Resolves true once the process has ended (within 3 s), false when it still runs. */
  exited(): Promise<boolean>;
  stderr(): string;
  close(): Promise<void>;
}

/** With `port`, the service listens there (its other listeners off) instead of on an ephemeral port. */
export async function startDeviceProcess(posture: 'weak' | 'hardened', service: 'https' | 'snmp', port?: number): Promise<DeviceProcess> {
  const base = loadPosture(posture);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-device-process-'));
  const file = path.join(dir, 'posture.json');
  const section = { ...(base.services[service] as object), ...(port !== undefined ? { port, ...(service === 'https' ? { httpPort: null } : {}) } : {}) };
  fs.writeFileSync(file, JSON.stringify({ ...base, name: `${posture}-${service}`, services: { [service]: section } }));
  const { child, done } = startCli(['emulate', '--posture', file, ...(port === undefined ? ['--ephemeral'] : [])]);
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
      if (!s) throw new Error(`the ${posture} ${service} device has no ${protocol} endpoint`);
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
