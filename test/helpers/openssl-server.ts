import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Debian's `openssl s_server` as a real TLS peer: keys and certificates made with the openssl CLI in a
 * temporary folder (test time only), a free loopback port found by binding 0 and releasing it, and the
 * server started with `-accept 127.0.0.1:PORT` and waited for until it accepts.
 */

export interface OpensslPki {
  readonly dir: string;
  /** Files by name: <name>.key, <name>.crt */
  file(name: string): string;
  remove(): void;
}

export type OpensslKey = 'rsa:1024' | 'rsa:2048' | 'ec:P-192' | 'ec:P-256' | 'ec:secp160r1' | 'dsa:2048';
export type OpensslDigest = 'md5' | 'sha1' | 'sha224' | 'sha256';

/** `-newkey` arguments; a DSA key needs its parameters made first (`<name>.dsaparam`). */
function keyArgs(key: OpensslKey, run: (args: string[]) => void, name: string): string[] {
  if (key.startsWith('rsa')) return ['-newkey', key];
  if (key.startsWith('ec')) return ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${key.slice(3)}`];
  run(['genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', `dsa_paramgen_bits:${key.slice(4)}`, '-out', `${name}.dsaparam`]);
  return ['-newkey', `dsa:${name}.dsaparam`];
}

/** Makes certificates with the openssl CLI: a self-signed one, or a CA and a leaf issued by it. */
export function opensslPki(openssl: string): OpensslPki & {
  selfSigned(name: string, key: OpensslKey, digest: OpensslDigest, days?: number): void;
  ca(name: string, key: OpensslKey): void;
  leaf(name: string, ca: string, key: OpensslKey, digest: OpensslDigest, san: string): void;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-openssl-'));
  const file = (name: string) => path.join(dir, name);
  const run = (args: string[]) => execFileSync(openssl, args, { cwd: dir, stdio: 'pipe', timeout: 30_000 });
  return {
    dir,
    file,
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    selfSigned(name, key, digest, days = 30) {
      run(['req', '-x509', ...keyArgs(key, run, name), '-nodes', `-${digest}`, '-days', String(days), '-subj', `/CN=${name}`,
        '-keyout', `${name}.key`, '-out', `${name}.crt`]);
    },
    ca(name, key) {
      run(['req', '-x509', ...keyArgs(key, run, name), '-nodes', '-sha256', '-days', '30', '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout', `${name}.key`, '-out', `${name}.crt`]);
    },
    leaf(name, ca, key, digest, san) {
      run(['req', ...keyArgs(key, run, name), '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
      fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
      run(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
        '-days', '30', `-${digest}`, '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
    },
  };
}

/** A free loopback port: bound once with port 0, then released. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface OpensslServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts `openssl s_server -accept 127.0.0.1:PORT <args>` and resolves once it printed ACCEPT (it bound the
 * port itself, so a port another process took in the meantime cannot be mistaken for it). */
export async function startOpensslServer(openssl: string, args: readonly string[], cwd: string): Promise<OpensslServer> {
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const child: ChildProcess = spawn(openssl, ['s_server', '-accept', `127.0.0.1:${port}`, ...args], {
      cwd, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const close = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
    };
    const ready = await new Promise<boolean>((resolve) => {
      let out = '';
      const timer = setTimeout(() => resolve(false), 10_000);
      child.stdout?.on('data', (d: Buffer) => {
        out = (out + d.toString()).slice(-200);
        if (/^ACCEPT$/m.test(out)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ready) return { host: '127.0.0.1', port, close };
    await close();
    if (!/Address already in use|bind/i.test(stderr)) throw new Error(`openssl s_server did not start: ${stderr}`);
  }
  throw new Error('openssl s_server: no free port after 3 tries');
}

/** The weak peer: TLS 1.0 and up, a 1024-bit RSA key with a SHA-1 self-signed certificate, every
 * suite including NULL and anonymous ones (`ALL:eNULL:@SECLEVEL=0`). */
export async function weakOpensslServer(openssl: string, extra: readonly string[] = []): Promise<OpensslServer & { pki: OpensslPki }> {
  const pki = opensslPki(openssl);
  pki.selfSigned('weak', 'rsa:1024', 'sha1');
  const server = await startOpensslServer(openssl, [
    '-cert', pki.file('weak.crt'), '-key', pki.file('weak.key'), '-cipher', 'ALL:eNULL:@SECLEVEL=0', '-min_protocol', 'TLSv1', ...extra,
  ], pki.dir);
  return { ...server, pki, close: async () => { await server.close(); pki.remove(); } };
}

/** The hardened peer: TLS 1.2 and 1.3, ECDHE with AEAD suites only, a P-256 or 2048-bit RSA key in a
 * SHA-256 certificate issued by a CA (made here) that names 127.0.0.1. */
export async function hardenedOpensslServer(openssl: string, key: 'ec:P-256' | 'rsa:2048', extra: readonly string[] = []): Promise<OpensslServer & { pki: OpensslPki }> {
  const pki = opensslPki(openssl);
  pki.ca('labca', 'ec:P-256');
  pki.leaf('device', 'labca', key, 'sha256', 'IP:127.0.0.1');
  const server = await startOpensslServer(openssl, [
    '-cert', pki.file('device.crt'), '-key', pki.file('device.key'), '-min_protocol', 'TLSv1.2',
    '-cipher', 'ECDHE+AESGCM:ECDHE+CHACHA20', '-ciphersuites', 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256',
    ...extra,
  ], pki.dir);
  return { ...server, pki, close: async () => { await server.close(); pki.remove(); } };
}
