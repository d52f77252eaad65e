import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPosture, startEmulator, type Emulator, type Posture } from '../../src/emulator';
import { requirePeer } from './peers';

/** The built-in posture with only its OPC UA service (others off), `opcua` section patched. */
export function opcuaPosture(name: 'weak' | 'hardened', patch: Record<string, unknown> = {}): Posture {
  const base = loadPosture(name);
  const opcua = { ...(base.services.opcua ?? {}), ...patch };
  return { ...base, services: { opcua } };
}

export async function startOpcua(name: 'weak' | 'hardened', patch: Record<string, unknown> = {}): Promise<{ emulator: Emulator; port: number }> {
  const emulator = await startEmulator(opcuaPosture(name, patch), { ephemeralPorts: true });
  return { emulator, port: emulator.endpoint('opcua').port };
}

export const BENCH_CLIENT = { clientCertificate: 'profiles/pki/bench-opcua-client.pem', clientPrivateKey: 'profiles/pki/bench-opcua-client.key' };

/** Where fixtures/peers/install-node-opcua-samples.sh puts node-opcua's sample server. */
export function sampleServerPath(): string | undefined {
  const candidates = [process.env.IACS_OPCUA_SAMPLE_SERVER, '/opt/node-opcua-samples/node_modules/.bin/simple_server'];
  return candidates.find((c): c is string => !!c && fs.existsSync(c));
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts node-opcua's own sample server (node-opcua-samples simple_server, not our code) in a child
 * process, with its PKI in a temp folder (XDG_CONFIG_HOME), and waits until it listens.
 */
export async function startSampleServer(ctx: Mocha.Context): Promise<{ port: number; close(): Promise<void> }> {
  const bin = requirePeer(ctx, 'simple_server', sampleServerPath(), 'fixtures/peers/install-node-opcua-samples.sh');
  const port = await freePort();
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-opcua-sample-'));
  const child = spawn(process.execPath, ['--security-revert=CVE-2023-46809', bin, '--port', String(port), '--silent'], {
    env: { ...process.env, XDG_CONFIG_HOME: config }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    child.stdout.destroy();
    child.stderr.destroy();
    fs.rmSync(config, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (!/server now waiting for connections|endpointUrl/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await close();
      throw new Error(`simple_server did not start: ${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, close };
}

export interface StartedOpcua { emulator: Emulator; port: number }

/** Call inside a describe: starts the weak and hardened OPC UA devices once for it, closes them after. */
export function weakAndHardened(): { weak: StartedOpcua; hardened: StartedOpcua } {
  const devices = {} as { weak: StartedOpcua; hardened: StartedOpcua };
  before(async () => {
    [devices.weak, devices.hardened] = await Promise.all([startOpcua('weak'), startOpcua('hardened')]);
  });
  after(async () => {
    await Promise.all([devices.weak?.emulator.close(), devices.hardened?.emulator.close()]);
  });
  return devices;
}
