import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { debianPython, pythonHasModule } from './peers';

/** Debian's python3-pyftpdlib, when installed (the Debian python, not a pyenv shim). */
export function findPyftpdlib(): string | undefined {
  const python = debianPython();
  return python && pythonHasModule(python, 'pyftpdlib') ? python : undefined;
}

export interface RunningFtpd {
  host: string;
  port: number;
  stop(): Promise<void>;
}

const SERVER = `
import sys, logging
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.servers import FTPServer
from pyftpdlib import handlers
port, root, cert = int(sys.argv[1]), sys.argv[2], sys.argv[3]
logging.basicConfig(level=logging.WARNING)
auth = DummyAuthorizer()
auth.add_user('benchuser', 'bench-ftp-pass', root, perm='elr')
if cert:
    handler = handlers.TLS_FTPHandler
    handler.certfile = cert
else:
    handler = handlers.FTPHandler
handler.authorizer = auth
server = FTPServer(('127.0.0.1', port), handler)
print('READY', flush=True)
server.serve_forever()
`;

async function freeTcpPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** pyftpdlib on 127.0.0.1:<free port>, plain or with AUTH TLS (a self-signed certificate made by openssl). */
export async function startPyftpd(python: string, withTls: boolean): Promise<RunningFtpd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-ftpd-'));
  let cert = '';
  if (withTls) {
    cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', cert, '-out', path.join(dir, 'crt.pem')], { stdio: 'ignore', timeout: 20_000 });
    fs.appendFileSync(cert, fs.readFileSync(path.join(dir, 'crt.pem')));
  }
  const port = await freeTcpPort();
  const child: ChildProcess = spawn(python, ['-c', SERVER, String(port), dir, cert], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (out.includes('READY')) { clearInterval(timer); resolve(); }
      else if (child.exitCode !== null || Date.now() - started > 10_000) { clearInterval(timer); reject(new Error(`pyftpdlib did not start: ${out}`)); }
    }, 25);
  });
  return {
    host: '127.0.0.1', port,
    stop: () => new Promise<void>((resolve) => {
      const done = () => { fs.rmSync(dir, { recursive: true, force: true }); resolve(); };
      if (child.exitCode !== null) return done();
      child.once('close', done);
      child.kill('SIGTERM');
    }),
  };
}
