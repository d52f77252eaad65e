import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './openssl-server';
import { runLighttpd } from './lighttpd';
import { findExecutable, requirePeer } from './peers';

/**
 * Debian's lighttpd serving an audit log file at /logs/audit.log behind HTTP basic authentication (mod_auth,
 * plain user file) with mod_webdav on, so that DELETE and PUT really remove or replace the file. `readers`
 * decides who passes mod_auth: `admin-only` (require user=admin) or `any-user` (require valid-user).
 */
export interface WebdavLogServer {
  port: number;
  /** The log file on disk (what the tests assert on). */
  logFile: string;
  urlPath: string;
  close(): Promise<void>;
}

export async function startWebdavLogServer(
  ctx: Mocha.Context, users: { username: string; password: string }[], readers: 'admin-only' | 'any-user', lines: readonly string[],
): Promise<WebdavLogServer> {
  const bin = requirePeer(ctx, 'lighttpd', findExecutable('lighttpd'), 'Debian package lighttpd');
  const modules = ['/usr/lib/lighttpd', '/usr/lib64/lighttpd'].find((d) => fs.existsSync(path.join(d, 'mod_webdav.so')));
  requirePeer(ctx, 'lighttpd mod_webdav', modules, 'Debian package lighttpd-mod-webdav');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-lighttpd-webdav-'));
  fs.mkdirSync(path.join(dir, 'www', 'logs'), { recursive: true });
  const logFile = path.join(dir, 'www', 'logs', 'audit.log');
  fs.writeFileSync(logFile, lines.map((l) => `${l}\n`).join(''));
  fs.writeFileSync(path.join(dir, 'users'), users.map((u) => `${u.username}:${u.password}`).join('\n') + '\n');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'lighttpd.conf'), [
    `server.modules = ("mod_auth", "mod_authn_file", "mod_webdav")`,
    `server.module-dir = "${modules}"`,
    `server.document-root = "${dir}/www"`,
    `server.bind = "127.0.0.1"`,
    `server.port = ${port}`,
    `server.errorlog = "${dir}/error.log"`,
    `mimetype.assign = (".log" => "text/plain")`,
    `auth.backend = "plain"`,
    `auth.backend.plain.userfile = "${dir}/users"`,
    `auth.require = ("/logs/" => ("method" => "basic", "realm" => "lab", "require" => "${readers === 'admin-only' ? 'user=admin' : 'valid-user'}"))`,
    `server.feature-flags = ("auth.delay-invalid-creds" => "disable")`,
    `$HTTP["url"] =^ "/logs/" { webdav.activate = "enable" webdav.is-readonly = "disable" }`,
  ].join('\n') + '\n');
  const close = await runLighttpd(bin, dir, port);
  return { port, logFile, urlPath: '/logs/audit.log', close };
}
