import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { generateKey, issueCertificate } from '../../src/protocols/tls';
import { runForegroundDaemon } from './daemon';
import { freePort } from './openssl-server';
import { findExecutable, requirePeer, requireRoot } from './peers';

export interface Xrdp {
  port: number;
  close(): Promise<void>;
}

/**
 * A real xrdp (Debian xrdp 0.9) on 127.0.0.1 in the foreground, its xrdp.ini, certificate and log in a temporary
 * folder. The security negotiation needs no xrdp-sesman (that is for logins only). Root: xrdp reads its RSA keys
 * (/etc/xrdp/rsakeys.ini, Standard RDP Security) as root.
 */
export async function startXrdp(ctx: Mocha.Context, securityLayer: 'rdp' | 'tls' | 'negotiate', sslProtocols = 'TLSv1.2, TLSv1.3'): Promise<Xrdp> {
  requireRoot(ctx, 'xrdp reads /etc/xrdp/rsakeys.ini');
  const bin = requirePeer(ctx, 'xrdp', findExecutable('xrdp'), 'Debian package xrdp');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-xrdp-'));
  const cert = issueCertificate({ commonName: 'xrdp-test', key: generateKey({ type: 'rsa', bits: 2048 }), notBefore: new Date(Date.now() - 3_600_000), notAfter: new Date(Date.now() + 86_400_000) });
  fs.writeFileSync(path.join(dir, 'cert.pem'), cert.pem);
  fs.writeFileSync(path.join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'xrdp.ini'), [
    '[Globals]', 'ini_version=1', 'fork=false', `port=tcp://127.0.0.1:${port}`, 'use_vsock=false',
    `security_layer=${securityLayer}`, 'crypt_level=high', `certificate=${dir}/cert.pem`, `key_file=${dir}/key.pem`, `ssl_protocols=${sslProtocols}`,
    '[Logging]', `LogFile=${dir}/xrdp.log`, 'LogLevel=INFO', 'EnableSyslog=false', 'EnableConsole=true', 'ConsoleLevel=INFO',
    '[Xorg]', 'name=Xorg', 'lib=libxup.so', 'username=ask', 'password=ask', 'ip=127.0.0.1', 'port=-1', 'code=20', '',
  ].join('\n'));
  // Debian's OpenSSL refuses TLS 1.0/1.1 below its system policy whatever ssl_protocols says: a policy of our own for xrdp.
  fs.writeFileSync(path.join(dir, 'openssl.cnf'), 'openssl_conf = c\n[c]\nssl_conf = s\n[s]\nsystem_default = d\n[d]\nMinProtocol = TLSv1\nCipherString = DEFAULT@SECLEVEL=0\n');
  const env = /TLSv1(,|$| )|TLSv1\.1/.test(sslProtocols) ? { OPENSSL_CONF: path.join(dir, 'openssl.cnf') } : undefined;
  const daemon = await runForegroundDaemon('xrdp', bin, ['-n', '-c', path.join(dir, 'xrdp.ini')], { dir, port, logs: [path.join(dir, 'xrdp.log')], ...(env ? { env } : {}) });
  return { port, close: daemon.close };
}

/** nmap's rdp-enum-encryption against 127.0.0.1:`port` ("+" runs it on a port other than 3389); the XML. */
export async function nmapRdp(ctx: Mocha.Context, port: number): Promise<string> {
  const nmap = requirePeer(ctx, 'nmap', findExecutable('nmap'));
  const { stdout } = await promisify(execFile)(nmap, ['-Pn', '-n', '-sT', '-p', String(port), '--script', '+rdp-enum-encryption', '-oX', '-', '127.0.0.1'], { timeout: 60_000 });
  return stdout;
}
