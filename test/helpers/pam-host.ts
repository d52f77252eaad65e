import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { shellWord as q, startNamespacedSshd, stopChild } from './namespaced-sshd';
import { findExecutable, requirePeer, requireRoot } from './peers';
import { freePort, hostKeyFile } from './sshd';

/**
 * A real Linux host for the accounts.* probes without touching the machine's /etc: OpenSSH's sshd with PAM
 * runs in a private mount namespace (unshare -m) whose /etc is a copy of the machine's, bind-mounted as a
 * directory (useradd and passwd replace /etc/passwd and /etc/shadow by renaming, which a file bind mount would
 * refuse), with /home, /var/log and /var/mail on empty folders too. Inside, the test's PAM stack and accounts
 * are made with the real tools (useradd, chpasswd); sshd listens on 127.0.0.1 in the machine's network
 * namespace. The host-audit helper (linux-host.ts) gives sshd an overlay /etc and a network namespace instead;
 * both start sshd through namespaced-sshd.ts.
 */

export interface PamHostSpec {
  /** The `password` lines of /etc/pam.d/common-password (Debian's stack without or with pam_pwquality). */
  passwordStack: string[];
  /** Accounts made with useradd/chpasswd; `sudo: true` puts the account in sudoers with NOPASSWD. */
  accounts: { username: string; password: string; sudo?: boolean }[];
}

export interface PamHost {
  host: string;
  port: number;
  log(): string;
  /** Runs a command inside the host's mount namespace (e.g. `getent passwd x` on its /etc). */
  exec(argv: string[]): string;
  close(): Promise<void>;
}

const PWQUALITY = ['/usr/lib/x86_64-linux-gnu/security/pam_pwquality.so', '/lib/x86_64-linux-gnu/security/pam_pwquality.so', '/usr/lib/aarch64-linux-gnu/security/pam_pwquality.so'];

/** Debian's stack with pam_pwquality in front: at least 12 characters, 3 classes, no user name, cracklib's dictionary. */
export const PWQUALITY_STACK = [
  'password requisite pam_pwquality.so retry=1 minlen=12 minclass=3 reject_username dictcheck=1 enforce_for_root',
  'password [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt',
  'password requisite pam_deny.so',
  'password required pam_permit.so',
];

/** No quality check at all: pam_unix without `obscure`, minimum length 1. */
export const PERMISSIVE_STACK = [
  'password [success=1 default=ignore] pam_unix.so minlen=1 yescrypt',
  'password requisite pam_deny.so',
  'password required pam_permit.so',
];

function prepareEtc(dir: string, spec: PamHostSpec, port: number, keygen: string): void {
  execFileSync('cp', ['-a', '/etc', path.join(dir, 'etc')]);
  const etc = (f: string) => path.join(dir, 'etc', f);
  fs.writeFileSync(etc('pam.d/common-password'), `${spec.passwordStack.join('\n')}\n`);
  // pam_loginuid cannot write the login uid of a process in a test machine's container: not what is tested here.
  fs.writeFileSync(etc('pam.d/sshd'), fs.readFileSync(etc('pam.d/sshd'), 'utf8').replace(/^session\s+required\s+pam_loginuid\.so/m, 'session optional pam_loginuid.so'));
  const sudoers = spec.accounts.filter((a) => a.sudo).map((a) => `${a.username} ALL=(ALL:ALL) NOPASSWD: ALL`);
  fs.writeFileSync(etc('sudoers.d/iacs-test'), `${sudoers.join('\n')}\n`, { mode: 0o440 });
  fs.writeFileSync(etc('ssh/sshd_config_iacs'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKeyFile(keygen, { type: 'ed25519' })}`, 'UsePAM yes', 'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no', 'PermitRootLogin no', 'PidFile none', 'LogLevel VERBOSE', 'MaxStartups 50',
  ].join('\n') + '\n');
}

export async function startPamHost(ctx: Mocha.Context, spec: PamHostSpec): Promise<PamHost> {
  requireRoot(ctx, 'a mount namespace with its own /etc');
  const sshd = requirePeer(ctx, 'sshd', findExecutable('sshd'), 'Debian package openssh-server');
  const keygen = requirePeer(ctx, 'ssh-keygen', findExecutable('ssh-keygen'), 'Debian package openssh-client');
  const unshare = requirePeer(ctx, 'unshare', findExecutable('unshare'), 'Debian package util-linux');
  const nsenter = requirePeer(ctx, 'nsenter', findExecutable('nsenter'), 'Debian package util-linux');
  requirePeer(ctx, 'useradd', findExecutable('useradd'), 'Debian package passwd');
  requirePeer(ctx, 'sudo', findExecutable('sudo'), 'Debian package sudo');
  if (spec.passwordStack.some((l) => l.includes('pam_pwquality'))) requirePeer(ctx, 'pam_pwquality.so', PWQUALITY.find((f) => fs.existsSync(f)), 'Debian package libpam-pwquality');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-pam-host-'));
  const port = await freePort();
  prepareEtc(dir, spec, port, keygen);
  for (const d of ['home', 'log', 'mail']) fs.mkdirSync(path.join(dir, d));
  const setup = spec.accounts.map((a) => `useradd --no-create-home --shell /bin/sh ${q(a.username)} && printf '%s:%s\\n' ${q(a.username)} ${q(a.password)} | chpasswd`);
  const script = ['set -e', `mount --bind ${q(`${dir}/etc`)} /etc`, `mount --bind ${q(`${dir}/home`)} /home`,
    `mount --bind ${q(`${dir}/log`)} /var/log`, `mount --bind ${q(`${dir}/mail`)} /var/mail`, ...setup,
    `exec ${q(sshd)} -D -e -f /etc/ssh/sshd_config_iacs`];
  const { child, log } = await startNamespacedSshd(unshare, ['-m'], script, /Server listening on 127\.0\.0\.1 port/, {
    dir, timeoutMs: 15_000, what: 'the PAM test host',
  });
  return {
    host: '127.0.0.1', port, log,
    exec: (argv) => execFileSync(nsenter, ['-t', String(child.pid), '-m', '--', ...argv], { encoding: 'utf8', timeout: 10_000 }),
    close: async () => {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
