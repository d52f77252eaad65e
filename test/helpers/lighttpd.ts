import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './openssl-server';
import { findExecutable, requirePeer } from './peers';

/**
 * A real lighttpd (Debian package lighttpd) on 127.0.0.1 with HTTP basic authentication (mod_auth, plain
 * user file) on /admin/, from a temporary folder. lighttpd has no lockout of failed logins.
 */
export interface Lighttpd {
  port: number;
  close(): Promise<void>;
}

export async function startLighttpd(ctx: Mocha.Context, users: { username: string; password: string }[]): Promise<Lighttpd> {
  const bin = requirePeer(ctx, 'lighttpd', findExecutable('lighttpd'), 'Debian package lighttpd');
  const modules = ['/usr/lib/lighttpd', '/usr/lib64/lighttpd'].find((d) => fs.existsSync(path.join(d, 'mod_auth.so')));
  requirePeer(ctx, 'lighttpd mod_auth', modules, 'Debian package lighttpd');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-lighttpd-'));
  fs.mkdirSync(path.join(dir, 'www', 'admin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'www', 'index.html'), '<!doctype html><title>device</title><p>Device home</p>\n');
  fs.writeFileSync(path.join(dir, 'www', 'admin', 'index.html'), '<!doctype html><title>admin</title><p>Administration</p>\n');
  fs.writeFileSync(path.join(dir, 'users'), users.map((u) => `${u.username}:${u.password}`).join('\n') + '\n');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'lighttpd.conf'), [
    `server.modules = ("mod_auth", "mod_authn_file")`,
    `server.module-dir = "${modules}"`,
    `server.document-root = "${dir}/www"`,
    `server.bind = "127.0.0.1"`,
    `server.port = ${port}`,
    `server.errorlog = "${dir}/error.log"`,
    `index-file.names = ("index.html")`,
    `mimetype.assign = (".html" => "text/html")`,
    `auth.backend = "plain"`,
    `auth.backend.plain.userfile = "${dir}/users"`,
    `auth.require = ("/admin/" => ("method" => "basic", "realm" => "lab", "require" => "valid-user"))`,
    // lighttpd delays every refused login by a random 125 ms - 2 s (a brake, not a lockout); off for fast tests.
    `server.feature-flags = ("auth.delay-invalid-creds" => "disable")`,
  ].join('\n') + '\n');
  const close = await runLighttpd(bin, dir, port);
  return { port, close };
}

/**
 * Runs lighttpd with `<dir>/lighttpd.conf` in the foreground until it accepts on `port` (5 s at most; its stderr
 * and error log in the error otherwise); the returned close stops it and removes `dir`.
 */
export async function runLighttpd(bin: string, dir: string, port: number): Promise<() => Promise<void>> {
  const child = spawn(bin, ['-D', '-f', path.join(dir, 'lighttpd.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 5000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) return close;
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : '';
      await close();
      throw new Error(`lighttpd did not start: ${stderr}${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
