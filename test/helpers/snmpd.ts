import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findExecutable } from './peers';

/** Debian's net-snmp agent (package snmpd), when installed. */
export function findSnmpd(): string | undefined {
  return findExecutable('snmpd', ['/usr/sbin', '/sbin']);
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface RunningSnmpd {
  host: string;
  port: number;
  dir: string;
  output(): string;
  stop(): Promise<void>;
}

/** Where snmpd listens instead of 127.0.0.1:<free port>: an address and port inside a network namespace. */
export interface SnmpdPlace {
  /** `ip` (iproute2), which runs snmpd with `ip netns exec <netns>`. */
  ip: string;
  netns: string;
  address: string;
  port: number;
}

/**
 * Starts snmpd in the foreground on 127.0.0.1:<free port> (or at `place`, inside a labnet device namespace)
 * with only the given configuration (-C: no system config), SMUX off (-I -smux, else it opens TCP 199 on
 * every address), its persistent state and pid file in a temporary folder, and no other listener (the
 * transport on the command line replaces any agentaddress).
 */
export async function startSnmpd(binary: string, config: string, place?: SnmpdPlace): Promise<RunningSnmpd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-snmpd-'));
  const conf = path.join(dir, 'snmpd.conf');
  fs.writeFileSync(conf, `${config.trim()}\n`);
  const host = place?.address ?? '127.0.0.1';
  for (let attempt = 0; ; attempt++) {
    const port = place?.port ?? await freeUdpPort();
    const argv = [binary, '-f', '-Lo', '-C', '-c', conf, '-I', '-smux', '-p', path.join(dir, 'snmpd.pid'), `udp:${host}:${port}`];
    // `ip netns exec` execs snmpd in the namespace: the child is snmpd itself.
    const [command, ...args] = place ? [place.ip, 'netns', 'exec', place.netns, ...argv] : argv;
    const child = spawn(command, args, {
      env: { ...process.env, SNMP_PERSISTENT_DIR: path.join(dir, 'persist'), MIBS: '', MIBDIRS: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const ready = await waitReady(child, () => out, 10_000);
    if (ready) {
      return {
        host, port, dir, output: () => out,
        stop: () => stopChild(child).then(() => fs.rmSync(dir, { recursive: true, force: true })),
      };
    }
    await stopChild(child);
    if (attempt >= 2) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`snmpd did not start:\n${out.slice(-2000)}`);
    }
  }
}

function waitReady(child: ChildProcess, output: () => string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (/NET-SNMP version/.test(output())) finish(true);
      else if (child.exitCode !== null || /Error opening specified endpoint|Address already in use/i.test(output())) finish(false);
      else if (Date.now() - started > timeoutMs) finish(false);
    }, 25);
    const finish = (ok: boolean) => {
      clearInterval(timer);
      resolve(ok);
    };
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('close', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
