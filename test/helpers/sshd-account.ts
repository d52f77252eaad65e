import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findExecutable, requirePeer } from './peers';
import { launchSshd, type Sshd, type SshdConfig } from './sshd';

/**
 * A real OpenSSH sshd with password accounts of our own, without touching /etc/passwd: nss_wrapper
 * (Debian package libnss-wrapper) gives sshd a passwd file from a temporary folder, whose password field
 * holds a SHA-512 crypt hash (sshd falls back to it when there is no shadow entry).
 */

const NSS_WRAPPER = ['/usr/lib/x86_64-linux-gnu/libnss_wrapper.so', '/usr/lib/aarch64-linux-gnu/libnss_wrapper.so', '/usr/lib/libnss_wrapper.so'];

export async function startSshdWithAccounts(ctx: Mocha.Context, config: SshdConfig, accounts: { username: string; password: string }[]): Promise<Sshd> {
  const sshd = requirePeer(ctx, 'sshd', findExecutable('sshd'), 'Debian package openssh-server');
  const keygen = requirePeer(ctx, 'ssh-keygen', findExecutable('ssh-keygen'), 'Debian package openssh-client');
  const openssl = requirePeer(ctx, 'openssl', findExecutable('openssl'), 'Debian package openssl');
  const wrapper = requirePeer(ctx, 'libnss_wrapper.so', NSS_WRAPPER.find((f) => fs.existsSync(f)), 'Debian package libnss-wrapper');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-sshd-nss-'));
  const passwd = accounts.map((a, i) => {
    const hash = execFileSync(openssl, ['passwd', '-6', '-stdin'], { input: a.password, encoding: 'utf8' }).trim();
    return `${a.username}:${hash}:${47110 + i}:${47110 + i}:test account:${dir}:/bin/sh`;
  });
  fs.writeFileSync(path.join(dir, 'passwd'), [...passwd, fs.readFileSync('/etc/passwd', 'utf8').trim()].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'group'), [...accounts.map((a, i) => `${a.username}:x:${47110 + i}:`), fs.readFileSync('/etc/group', 'utf8').trim()].join('\n') + '\n');
  // launchSshd spawns with this process's environment: set the wrapper for that spawn only.
  const saved = { LD_PRELOAD: process.env.LD_PRELOAD, NSS_WRAPPER_PASSWD: process.env.NSS_WRAPPER_PASSWD, NSS_WRAPPER_GROUP: process.env.NSS_WRAPPER_GROUP };
  Object.assign(process.env, { LD_PRELOAD: wrapper, NSS_WRAPPER_PASSWD: path.join(dir, 'passwd'), NSS_WRAPPER_GROUP: path.join(dir, 'group') });
  let server: Sshd;
  try {
    server = await launchSshd(sshd, keygen, config);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return { ...server, close: async () => { await server.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

/** sshd with password logins, MaxAuthTries 3 and no lockout of any kind (OpenSSH has none without PAM). */
export const PLAIN_SSHD: SshdConfig = {
  keys: [{ type: 'ed25519' }],
  options: ['PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'PermitRootLogin no', 'MaxAuthTries 3'],
};
