import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { shellWord as q, startNamespacedSshd, stopChild as stop } from './namespaced-sshd';
import { findExecutable, requirePeer, requireRoot } from './peers';
import { freePort, hostKeyFile } from './sshd';

/**
 * A Linux "host" for the host audit without touching the machine's /etc: OpenSSH's sshd runs in a private
 * mount and network namespace (unshare -m -n) whose /etc is an overlay of the machine's with the test's files
 * on top (a file set to null is deleted there), and whose /var/lib/dpkg can be a test-made package database.
 * The sshd inside listens on the same port number in its own network namespace (what `ss` there shows);
 * the test reaches it through a loopback listener that hands each connection to `sshd -i` entered into
 * both namespaces (nsenter), so every command of an SSH session sees the test's files.
 */

export interface LinuxHostSpec {
  /** Files of the host's /etc over the machine's: absolute path under /etc -> content (null: absent), or with a mode. */
  etc: Record<string, string | null | { content: string; mode: number }>;
  /** dpkg status stanzas "Package: x\nStatus: install ok installed..." for a package database of the test's own. */
  dpkgStatus?: string;
  /** A TCP listener the profile does not declare, on 0.0.0.0:port, whose process name is `title`. */
  extraListener?: { port: number; title: string };
  /** sshd_config lines beyond Port, ListenAddress, HostKey, UsePAM no, PidFile none. */
  sshdOptions: string[];
}

export interface LinuxHost {
  host: string;
  port: number;
  /** What sshd wrote so far (for assertion messages). */
  log(): string;
  close(): Promise<void>;
}

function writeUpper(upper: string, etc: LinuxHostSpec['etc']): string[] {
  const whiteouts: string[] = [];
  for (const [file, value] of Object.entries(etc)) {
    if (!file.startsWith('/etc/')) throw new Error(`${file} is not under /etc`);
    const target = path.join(upper, file.slice('/etc/'.length));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (value === null) { whiteouts.push(target); continue; }
    const { content, mode } = typeof value === 'string' ? { content: value, mode: 0o644 } : value;
    fs.writeFileSync(target, content);
    fs.chmodSync(target, mode);
  }
  return whiteouts;
}

export async function startLinuxHost(ctx: Mocha.Context, spec: LinuxHostSpec): Promise<LinuxHost> {
  requireRoot(ctx, 'mount namespaces and overlay mounts');
  const sshd = requirePeer(ctx, 'sshd', findExecutable('sshd', ['/usr/sbin']), 'Debian package openssh-server');
  const keygen = requirePeer(ctx, 'ssh-keygen', findExecutable('ssh-keygen'), 'Debian package openssh-client');
  const unshare = requirePeer(ctx, 'unshare', findExecutable('unshare'), 'Debian package util-linux');
  const nsenter = requirePeer(ctx, 'nsenter', findExecutable('nsenter'), 'Debian package util-linux');
  const ip = requirePeer(ctx, 'ip', findExecutable('ip', ['/usr/sbin', '/sbin']), 'Debian package iproute2');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-linux-host-'));
  const port = await freePort();
  const config = [`Port ${port}`, 'ListenAddress 0.0.0.0', `HostKey ${hostKeyFile(keygen, { type: 'ed25519' })}`, 'UsePAM no', 'PidFile none', 'LogLevel VERBOSE', ...spec.sshdOptions];
  const whiteouts = writeUpper(path.join(dir, 'upper'), { ...spec.etc, '/etc/ssh/sshd_config': `${config.join('\n')}\n` });
  fs.mkdirSync(path.join(dir, 'work'));
  const script = ['set -e', `${q(ip)} link set lo up`, ...whiteouts.map((w) => `mknod ${q(w)} c 0 0`),
    `mount -t overlay overlay -o ${q(`lowerdir=/etc,upperdir=${dir}/upper,workdir=${dir}/work`)} /etc`];
  if (spec.dpkgStatus !== undefined) {
    fs.mkdirSync(path.join(dir, 'dpkg', 'updates'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'dpkg', 'info'));
    fs.writeFileSync(path.join(dir, 'dpkg', 'status'), spec.dpkgStatus);
    fs.writeFileSync(path.join(dir, 'dpkg', 'available'), '');
    script.push(`mount --bind ${q(path.join(dir, 'dpkg'))} /var/lib/dpkg`);
  }
  script.push(`exec ${q(sshd)} -D -e -f /etc/ssh/sshd_config`);
  const { child: holder, log } = await startNamespacedSshd(unshare, ['-m', '-n'], script, /Server listening on 0\.0\.0\.0 port/, {
    dir, timeoutMs: 10_000, what: 'the namespaced sshd',
  });
  let bridgeLog = '';
  const stderr = () => log() + bridgeLog;
  const children = new Set<ChildProcess>();
  const enter = (extra: string[], argv: string[], stdio: Parameters<typeof spawn>[2]) => spawn(nsenter, ['-t', String(holder.pid), ...extra, '--', ...argv], stdio);
  let bridge: net.Server | undefined;
  try {
    if (spec.extraListener) {
      const { port: p, title } = spec.extraListener;
      const listener = enter(['-n'], [process.execPath, '-e', `process.title=${JSON.stringify(title)};require('net').createServer((s)=>s.end('login: ')).listen(${p},'0.0.0.0',()=>console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.add(listener);
      await new Promise<void>((resolve, reject) => {
        listener.stdout!.once('data', () => resolve());
        listener.once('exit', (code) => reject(new Error(`the extra listener exited with ${code}`)));
      });
    }
    // pauseOnConnect: the socket's descriptor goes to sshd -i untouched; our copy is closed right after.
    bridge = net.createServer({ pauseOnConnect: true }, (socket) => {
      const child = enter(['-m', '-n'], [sshd, '-i', '-e', '-f', '/etc/ssh/sshd_config'], { stdio: [socket, socket, 'pipe'] });
      children.add(child);
      child.stderr!.on('data', (d: Buffer) => { bridgeLog += d.toString(); });
      child.once('exit', () => children.delete(child));
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => { bridge!.once('error', reject); bridge!.listen(port, '127.0.0.1', resolve); });
  } catch (err) {
    bridge?.close();
    await Promise.all([...children].map(stop));
    await stop(holder);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host: '127.0.0.1', port, log: stderr,
    close: async () => {
      await new Promise<void>((resolve) => bridge!.close(() => resolve()));
      await Promise.all([...children].map(stop));
      await stop(holder);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
