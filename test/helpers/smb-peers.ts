import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findExecutable, requirePeer } from './peers';

const run = promisify(execFile);

/** nmap's SMB scripts against 127.0.0.1:`port` (smbport tells them the port is SMB over direct TCP); the XML. */
export async function nmapSmb(ctx: Mocha.Context, port: number, scripts: string): Promise<string> {
  const nmap = requirePeer(ctx, 'nmap', findExecutable('nmap'));
  const { stdout } = await run(nmap, ['-Pn', '-n', '-sT', '-p', String(port), '--script', scripts, '--script-args', `smbport=${port}`, '-oX', '-', '127.0.0.1'], { timeout: 30_000 });
  return stdout;
}

/** `smbclient -L -N` (anonymous share listing): its output and exit code. */
export async function smbclientList(ctx: Mocha.Context, port: number): Promise<{ code: number; output: string }> {
  const smbclient = requirePeer(ctx, 'smbclient', findExecutable('smbclient'), 'Debian package smbclient');
  try {
    const { stdout, stderr } = await run(smbclient, ['-L', '//127.0.0.1', '-p', String(port), '-N', '--option=client min protocol=SMB2_02'], { timeout: 20_000 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
