import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runForegroundDaemon } from './daemon';
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
  const daemon = await runForegroundDaemon('lighttpd', bin, ['-D', '-f', path.join(dir, 'lighttpd.conf')], { dir, port, logs: [path.join(dir, 'error.log')] });
  return daemon.close;
}
