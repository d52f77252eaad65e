import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { debianPython, pythonHasModule, requirePeer } from './peers';

/** A pymodbus Modbus/TCP server (Debian python3-pymodbus) on 127.0.0.1: the Docker kit's simulator, docker/sims/pymodbus/server.py. */
export interface PymodbusServer {
  readonly host: string;
  readonly port: number;
  /** What the server wrote to stderr so far (for failure messages). */
  stderr(): string;
  close(): Promise<void>;
}

const SCRIPT = path.join(__dirname, '..', '..', 'docker', 'sims', 'pymodbus', 'server.py');

let checked: string | undefined | null = null;

/** Skips the test (fails under IACS_REQUIRE_PEERS=1) when Debian's python3-pymodbus is missing. */
export function requirePymodbus(ctx: Mocha.Context): string {
  if (checked === null) {
    const python = debianPython();
    checked = python && pythonHasModule(python, 'pymodbus') ? python : undefined;
  }
  return requirePeer(ctx, 'pymodbus', checked, 'apt-get install python3-pymodbus');
}

/** `counter`: holding register 0 counts up once a second (the script's --counter). */
export async function startPymodbus(python: string, unitId = 1, options: { counter?: boolean } = {}): Promise<PymodbusServer> {
  const args = [SCRIPT, '127.0.0.1', '0', '--unit', String(unitId), '--model', 'fixture', '--product', 'pymodbus test server', '--exit-on-stdin-eof', ...(options.counter ? ['--counter'] : [])];
  const child: ChildProcess = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`pymodbus did not start within 15 s: ${err}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    function fail(e: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    }
    child.stdout?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`pymodbus exited with ${code} before it was ready: ${err}`)));
  });
  return {
    host: '127.0.0.1',
    port,
    stderr: () => err,
    async close() {
      child.stdin?.end(); // the script exits when stdin closes
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
