import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findExecutable } from './peers';
import { freePort, opensslPki } from './openssl-server';

/**
 * Debian's mosquitto (packages mosquitto, mosquitto-clients) as the independent MQTT broker, in the two
 * configurations of docs/mqtt.md:
 * - anonymous: one plain listener, anonymous clients allowed, no ACL, $SYS on (mosquitto's default);
 * - secure: per-listener settings; a plain listener with anonymous off and no password file (it refuses
 *   every CONNECT), and a TLS 1.2+ listener with a password file (mosquitto_passwd) and an ACL file.
 * Everything lives in a temporary folder readable by all: started as root, mosquitto drops to its own user
 * (`mosquitto`) before it reads the key, password and ACL files, as on a real installation.
 */

export const MOSQUITTO_ACCOUNTS = {
  operator: 'Op3rator!Mosq-2026',
  engineer: 'Eng1neer!Mosq-2026',
  admin: 'admin',
} as const;

/** Per user: operators read plant/# and write one setpoint; engineers read and write plant/# and read $SYS. */
const ACL = `
user operator
topic read plant/#
topic write plant/line1/setpoint

user engineer
topic readwrite plant/#
topic read $SYS/#
`;

export interface RunningMosquitto {
  host: string;
  /** The plain listener. */
  port: number;
  /** The TLS listener (secure configuration only). */
  tlsPort?: number;
  /** CA certificate of the TLS listener's certificate. */
  caFile?: string;
  dir: string;
  version: string;
  output(): string;
  stop(): Promise<void>;
}

export function findMosquitto(): string | undefined {
  return findExecutable('mosquitto', ['/usr/sbin', '/sbin', '/usr/bin']);
}

export function mosquittoVersion(binary: string): string {
  try {
    return /mosquitto version (\S+)/.exec(execFileSync(binary, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 }))?.[1] ?? 'unknown';
  } catch (err) {
    // `mosquitto -h` prints its usage and exits 3.
    return /mosquitto version (\S+)/.exec(String((err as { stdout?: string }).stdout ?? ''))?.[1] ?? 'unknown';
  }
}

function writeShared(file: string, text: string): void {
  fs.writeFileSync(file, text, { mode: 0o644 });
  fs.chmodSync(file, 0o644);
}

/** Password file, ACL file and a CA-issued P-256 server certificate for the secure configuration. */
function secureFiles(dir: string): { passwd: string; acl: string; cert: string; key: string; ca: string } {
  const passwd = path.join(dir, 'passwd');
  const passwdTool = findExecutable('mosquitto_passwd', ['/usr/bin']);
  if (!passwdTool) throw new Error('mosquitto_passwd is missing (package mosquitto)');
  writeShared(passwd, '');
  for (const [user, password] of Object.entries(MOSQUITTO_ACCOUNTS)) execFileSync(passwdTool, ['-b', passwd, user, password], { stdio: 'pipe', timeout: 10_000 });
  fs.chmodSync(passwd, 0o644);
  const acl = path.join(dir, 'acl');
  writeShared(acl, ACL);
  const pki = opensslPki(findExecutable('openssl') ?? 'openssl');
  try {
    pki.ca('mosquitto-ca', 'ec:P-256');
    pki.leaf('mosquitto', 'mosquitto-ca', 'ec:P-256', 'sha256', 'IP:127.0.0.1,DNS:localhost');
    const copy = (from: string, to: string) => {
      writeShared(path.join(dir, to), fs.readFileSync(pki.file(from), 'utf8'));
      return path.join(dir, to);
    };
    return { passwd, acl, cert: copy('mosquitto.crt', 'server.crt'), key: copy('mosquitto.key', 'server.key'), ca: copy('mosquitto-ca.crt', 'ca.crt') };
  } finally {
    pki.remove();
  }
}

/** Starts mosquitto in the foreground with only our configuration, on free loopback ports. */
export async function startMosquitto(binary: string, kind: 'anonymous' | 'secure'): Promise<RunningMosquitto> {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'iacs-mosquitto-'));
  fs.chmodSync(dir, 0o755);
  const files = kind === 'secure' ? secureFiles(dir) : undefined;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const tlsPort = files ? await freePort() : undefined;
    const lines = ['persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information', 'connection_messages true'];
    if (files) {
      lines.push('per_listener_settings true', `listener ${port} 127.0.0.1`, 'allow_anonymous false',
        `listener ${tlsPort} 127.0.0.1`, 'allow_anonymous false', `password_file ${files.passwd}`, `acl_file ${files.acl}`,
        `certfile ${files.cert}`, `keyfile ${files.key}`, 'tls_version tlsv1.2');
    } else {
      lines.push(`listener ${port} 127.0.0.1`, 'allow_anonymous true');
    }
    const conf = path.join(dir, 'mosquitto.conf');
    writeShared(conf, `${lines.join('\n')}\n`);
    const child = spawn(binary, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const listeners = files ? 2 : 1;
    if (await waitReady(child, () => out, listeners, 10_000)) {
      return {
        host: '127.0.0.1', port, ...(tlsPort ? { tlsPort, caFile: files!.ca } : {}), dir, version: mosquittoVersion(binary), output: () => out,
        stop: () => stopChild(child).then(() => fs.rmSync(dir, { recursive: true, force: true })),
      };
    }
    await stopChild(child);
    if (attempt >= 2) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`mosquitto did not start:\n${out.slice(-2000)}`);
    }
  }
}

function waitReady(child: ChildProcess, output: () => string, listeners: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const opened = output().match(/Opening ipv4 listen socket on port/g)?.length ?? 0;
      if (opened >= listeners && / running$/m.test(output())) finish(true);
      else if (child.exitCode !== null || Date.now() - started > timeoutMs) finish(false);
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
