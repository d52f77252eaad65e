import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';
import type { ServicePosture } from '../../src/emulator/types';
import { freePort } from './openssl-server';
import { findExecutable, requirePeer } from './peers';

/**
 * The emulated device of a posture with only its web UI running (HTTPS, plus plain HTTP where the posture
 * has it), on ephemeral ports: starts in well under a second, unlike the whole device.
 */
export function startWebDevice(posture: 'weak' | 'hardened', https: Partial<ServicePosture> = {}, web: Record<string, unknown> = {}): Promise<Emulator> {
  const base = loadPosture(posture);
  const section = base.services.https as ServicePosture;
  return startEmulator({
    ...base, name: `${posture}-web`,
    services: { https: { ...section, ...https, web: { ...(section.web as object), ...web } } },
  }, { ephemeralPorts: true });
}

export interface Lighttpd {
  port: number;
  /** Version from `lighttpd -v`, e.g. "1.4.69". */
  version: string;
  close(): Promise<void>;
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`lighttpd exited with ${child.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`lighttpd did not listen on ${port}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Debian's lighttpd on 127.0.0.1 (config in a temp folder): a public index page linking /admin/, and
 * /admin behind HTTP Basic authentication (mod_auth, htpasswd file made with apache2-utils' htpasswd) over
 * plain HTTP. Nothing hardened: its stock headers, its stock error pages.
 */
export async function startLighttpd(binary: string, htpasswd: string): Promise<Lighttpd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-lighttpd-'));
  const www = path.join(dir, 'www');
  fs.mkdirSync(path.join(www, 'admin'), { recursive: true });
  fs.writeFileSync(path.join(www, 'index.html'), '<!doctype html><html><head><title>Bench switch</title></head><body><h1>Bench switch</h1><p><a href="/admin/">Administration</a></p></body></html>\n');
  fs.writeFileSync(path.join(www, 'admin', 'index.html'), '<!doctype html><html><body><h1>Port configuration</h1><pre>port1 vlan 10</pre></body></html>\n');
  await new Promise<void>((resolve, reject) => {
    const p = spawn(htpasswd, ['-b', '-c', '-B', path.join(dir, 'htpasswd'), 'bench', 'Bench-Passw0rd'], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`htpasswd exited with ${code}`))));
  });
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'lighttpd.conf'), [
    `server.document-root = "${www}"`,
    'server.bind = "127.0.0.1"',
    `server.port = ${port}`,
    'server.modules = ("mod_auth", "mod_authn_file")',
    `server.errorlog = "${path.join(dir, 'error.log')}"`,
    'index-file.names = ("index.html")',
    'mimetype.assign = (".html" => "text/html")',
    'auth.backend = "htpasswd"',
    `auth.backend.htpasswd.userfile = "${path.join(dir, 'htpasswd')}"`,
    'auth.require = ( "/admin" => ( "method" => "basic", "realm" => "bench switch", "require" => "valid-user" ) )',
    '',
  ].join('\n'));
  const version = await new Promise<string>((resolve) => {
    const p = spawn(binary, ['-v']);
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', () => resolve(/lighttpd\/(\S+)/.exec(out)?.[1] ?? 'unknown'));
  });
  const child = spawn(binary, ['-D', '-f', path.join(dir, 'lighttpd.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const close = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => stderr, 5000);
  } catch (err) {
    await close();
    throw err;
  }
  return { port, version, close };
}

/** before/after hooks that start the weak and hardened web UIs once per describe (see useBothPostures). */
export function useWebPostures(): { weak(): Emulator; hardened(): Emulator } {
  let weak: Emulator | undefined;
  let hardened: Emulator | undefined;
  before(async () => {
    [weak, hardened] = await Promise.all([startWebDevice('weak'), startWebDevice('hardened')]);
  });
  after(() => Promise.all([weak?.close(), hardened?.close()]));
  const get = (e: Emulator | undefined, name: string) => {
    if (!e) throw new Error(`the ${name} web UI did not start`);
    return e;
  };
  return { weak: () => get(weak, 'weak'), hardened: () => get(hardened, 'hardened') };
}

/** Runs `fn` against a fresh lighttpd (skipped, or failed under IACS_REQUIRE_PEERS=1, when it is missing). */
export async function withLighttpd(ctx: Mocha.Context, fn: (server: Lighttpd) => Promise<void>): Promise<void> {
  const binary = requirePeer(ctx, 'lighttpd');
  const htpasswd = requirePeer(ctx, 'htpasswd', findExecutable('htpasswd'), 'apache2-utils');
  const server = await startLighttpd(binary, htpasswd);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}
