import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { findExecutable, requirePeer } from './peers';

/**
 * A real OpenSSH sshd (Debian's openssh-server) on 127.0.0.1 with its own configuration and host keys in
 * a temporary folder: `sshd -D -e -f <cfg>`, no PAM, nothing outside the folder except the privilege
 * separation directory /run/sshd that sshd insists on.
 */

export interface SshdKey {
  type: 'rsa' | 'dsa' | 'ecdsa' | 'ed25519';
  bits?: number;
}

export interface Sshd {
  host: string;
  port: number;
  dir: string;
  /** What sshd wrote to stderr so far (for assertion messages). */
  log(): string;
  close(): Promise<void>;
}

const keyCache = new Map<string, string>();
let keyDir: string | undefined;

/** Generates a host key once per test process (ssh-keygen; RSA 3072 takes a moment). */
export function hostKeyFile(keygen: string, key: SshdKey): string {
  const name = `${key.type}${key.bits ? `-${key.bits}` : ''}`;
  const cached = keyCache.get(name);
  if (cached) return cached;
  if (!keyDir) {
    const created = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-sshd-keys-'));
    process.once('exit', () => fs.rmSync(created, { recursive: true, force: true }));
    keyDir = created;
  }
  const file = path.join(keyDir, `ssh_host_${name}_key`);
  execFileSync(keygen, ['-q', '-t', key.type, ...(key.bits ? ['-b', String(key.bits)] : []), '-N', '', '-C', 'test', '-f', file], { timeout: 20_000 });
  keyCache.set(name, file);
  return file;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port} within ${ms} ms: ${log()}`);
}

export interface SshdConfig {
  keys: SshdKey[];
  /** sshd_config lines; `$DIR` stands for the server's temporary folder. */
  options: string[];
  /** Files written into the folder first (e.g. a banner). */
  files?: Record<string, string>;
  /** `sshd -E <file>`: the log goes to this file (an auth log a forwarder reads) instead of stderr. */
  logFile?: string;
}

/**
 * sshd refuses to start, and even to print its configuration (`sshd -T`), without its privilege separation
 * directory. Debian's init script makes it when the service starts; a test machine never starts the service,
 * so every test that runs sshd makes it first.
 */
export function ensureSshdRuntimeDir(): void {
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
}

/** Starts sshd with the given configuration; skips the test when sshd or ssh-keygen is absent. */
export async function startSshd(ctx: Mocha.Context, config: SshdConfig): Promise<Sshd> {
  const sshd = requirePeer(ctx, 'sshd', findExecutable('sshd'), 'Debian package openssh-server');
  const keygen = requirePeer(ctx, 'ssh-keygen', findExecutable('ssh-keygen'), 'Debian package openssh-client');
  return launchSshd(sshd, keygen, config);
}

/** Starts sshd (paths given) with the configuration, for tests and the bench. */
export async function launchSshd(sshd: string, keygen: string, { keys, options, files = {}, logFile }: SshdConfig): Promise<Sshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-sshd-'));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  ensureSshdRuntimeDir();
  const port = await freePort();
  const config = [
    `Port ${port}`, 'ListenAddress 127.0.0.1', 'UsePAM no', 'PidFile none', 'StrictModes no', 'LogLevel VERBOSE',
    ...keys.map((k) => `HostKey ${hostKeyFile(keygen, k)}`),
    ...options.map((o) => o.replaceAll('$DIR', dir)),
  ];
  const cfg = path.join(dir, 'sshd_config');
  fs.writeFileSync(cfg, config.join('\n') + '\n');
  const child = spawn(sshd, ['-D', ...(logFile ? ['-E', logFile] : ['-e']), '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const log = () => (logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '') + stderr;
  try {
    await waitForPort(port, child, log);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    host: '127.0.0.1', port, dir, log,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** sshd options of the weak test server: SHA-1 and 1024-bit kex, CBC/3DES, MD5 and -96 MACs, DSA and 1024-bit RSA. */
export const WEAK_SSHD: SshdConfig = {
  keys: [{ type: 'rsa', bits: 1024 }, { type: 'dsa' }, { type: 'ed25519' }],
  options: [
    'KexAlgorithms +diffie-hellman-group14-sha1,diffie-hellman-group1-sha1,diffie-hellman-group-exchange-sha1',
    'Ciphers +aes128-cbc,3des-cbc,aes256-cbc',
    'MACs +hmac-md5,hmac-sha1-96',
    'HostKeyAlgorithms +ssh-rsa,ssh-dss',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin yes',
  ],
};

export const HARDENED_BANNER = 'Authorised use only. Activity on this system is monitored and recorded.\n';

/** sshd options of the hardened test server: modern kex, AEAD/CTR ciphers, ETM MACs, ed25519 + RSA-3072, a banner. */
export const HARDENED_SSHD: SshdConfig = {
  keys: [{ type: 'ed25519' }, { type: 'rsa', bits: 3072 }],
  options: [
    'KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group16-sha512',
    'Ciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,aes128-ctr',
    'MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com',
    'HostKeyAlgorithms ssh-ed25519,rsa-sha2-512,rsa-sha2-256',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'Banner $DIR/banner',
  ],
  files: { banner: HARDENED_BANNER },
};

/**
 * Registers hooks in the current `describe` that start the weak and the hardened test sshd once (or skip
 * the block when OpenSSH is not installed) and stop them afterwards.
 */
export function useSshdPair(): { weak(): Sshd; hardened(): Sshd } {
  let weak: Sshd | undefined;
  let hardened: Sshd | undefined;
  before(async function () {
    weak = await startSshd(this as unknown as Mocha.Context, WEAK_SSHD);
    hardened = await startSshd(this as unknown as Mocha.Context, HARDENED_SSHD);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });
  const get = (s: Sshd | undefined, name: string) => {
    if (!s) throw new Error(`the ${name} sshd did not start`);
    return s;
  };
  return { weak: () => get(weak, 'weak'), hardened: () => get(hardened, 'hardened') };
}
