import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runForegroundDaemon } from './daemon';
import { freePort } from './openssl-server';
import { findExecutable, requirePeer, requireRoot } from './peers';

/** The two Samba configurations the smb.* tests compare. */
export interface SambaConfig {
  /** server signing = mandatory, or disabled. */
  signing: 'mandatory' | 'disabled';
  /** server min protocol = NT1 (SMBv1 on), or SMB2_02. */
  minProtocol: 'NT1' | 'SMB2_02';
  /** map to guest = bad user with a guest share; or never, restrict anonymous = 2 and no guest share. */
  guest: boolean;
  /** server max protocol (default the newest, SMB3_11). */
  maxProtocol?: 'SMB2_10' | 'SMB3_11';
}

export const WEAK_SAMBA: SambaConfig = { signing: 'disabled', minProtocol: 'NT1', guest: true };
export const HARDENED_SAMBA: SambaConfig = { signing: 'mandatory', minProtocol: 'SMB2_02', guest: false };

export interface Samba {
  port: number;
  config: SambaConfig;
  close(): Promise<void>;
}

function smbConf(dir: string, port: number, c: SambaConfig): string {
  const sub = (name: string) => path.join(dir, name);
  return [
    '[global]',
    '  workgroup = WORKGROUP', '  netbios name = IACSTEST', '  server role = standalone server',
    // Only 127.0.0.1/8: other loopback addresses are not on lo and smbd panics on them.
    '  interfaces = 127.0.0.1/8', '  bind interfaces only = yes', `  smb ports = ${port}`, '  disable netbios = yes',
    ...['private dir', 'lock directory', 'state directory', 'cache directory', 'pid directory', 'ncalrpc dir'].map((k) => `  ${k} = ${sub(k.split(' ')[0])}`),
    `  log file = ${sub('log')}/log.%m`, '  passdb backend = tdbsam',
    '  load printers = no', '  printing = bsd', '  printcap name = /dev/null', '  disable spoolss = yes',
    `  server signing = ${c.signing}`, `  server min protocol = ${c.minProtocol}`, `  server max protocol = ${c.maxProtocol ?? 'SMB3_11'}`,
    `  map to guest = ${c.guest ? 'bad user' : 'never'}`, `  restrict anonymous = ${c.guest ? 0 : 2}`,
    '[pub]', `  path = ${sub('share')}`, '  read only = yes', `  guest ok = ${c.guest ? 'yes' : 'no'}`, '',
  ].join('\n');
}

/** A real smbd (Debian samba) on 127.0.0.1, its own smb.conf and state in a temporary folder; needs root. */
export async function startSamba(ctx: Mocha.Context, config: SambaConfig): Promise<Samba> {
  requireRoot(ctx, 'smbd switches to the guest account and opens its state files as root');
  const bin = requirePeer(ctx, 'smbd', findExecutable('smbd'), 'Debian package samba');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-samba-'));
  for (const d of ['private', 'lock', 'state', 'cache', 'pid', 'ncalrpc', 'log', 'log/cores', 'share']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'smb.conf'), smbConf(dir, port, config));
  const daemon = await runForegroundDaemon('smbd', bin, ['-F', '--no-process-group', '--debug-stdout', '-d', '1', '-s', path.join(dir, 'smb.conf')], { dir, port, startMs: 10_000 });
  return { port, config, close: daemon.close };
}
