import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findExecutable } from './peers';
import { stopChild } from './rsyslog';

/**
 * Debian's chronyd as an independent NTP client: `chronyd -f conf -d -x` (-x: never touch the system clock; it
 * only estimates), with `port 0` and `cmdport 0` (no server, no command socket) and its measurements log in a
 * temporary folder. What chrony measured is read from that log, not from chronyc.
 */

export function findChronyd(): string | undefined {
  return findExecutable('chronyd', ['/usr/sbin', '/sbin']);
}

export function chronyVersion(binary: string): string {
  return /chronyd \(chrony\) version (\S+)/.exec(execFileSync(binary, ['-v'], { encoding: 'utf8', timeout: 5000 }))?.[1] ?? 'unknown';
}

export interface ChronyMeasurement {
  readonly source: string;
  readonly stratum: number;
  /** Seconds; > 0: the source is ahead of the local clock (chrony's `Offset`, RFC 5905 theta). */
  readonly offsetS: number;
  readonly refId: string;
  /** chrony's test bits `123 567 ABCD` ('1' passed): test 5 is the authentication of the answer. */
  readonly tests: string;
}

/** Rows of chrony's measurements.log (the header and separator lines skipped). */
export function readMeasurements(file: string): ChronyMeasurement[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').flatMap((line) => {
    const f = line.trim().split(/\s+/);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(f[0] ?? '')) return [];
    // Date Time IP L St 123 567 ABCD LP RP Score Offset PeerDel PeerDisp RootDel RootDisp Refid MTxRx
    return [{ source: f[2], stratum: Number(f[4]), offsetS: Number(f[11]), refId: f[16], tests: f.slice(5, 8).join(' ') }];
  });
}

/** A symmetric key for chrony's keyfile: `<id> <type> <text>` (type SHA1, MD5 or AES128; text ASCII or HEX:...). */
export interface ChronyKey {
  readonly id: number;
  readonly type: 'SHA1' | 'MD5' | 'AES128';
  readonly text: string;
}

/**
 * Runs chronyd against one NTP server until `until` returns true for its measurements or timeoutMs passes.
 * With `key`, chrony authenticates the server with it (`keyfile`, `server ... key <id>`).
 */
export async function measureWithChrony(
  binary: string, server: { host: string; port: number }, until: (m: ChronyMeasurement[]) => boolean, timeoutMs: number, key?: ChronyKey,
): Promise<{ measurements: ChronyMeasurement[]; output: string }> {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'iacs-chrony-'));
  if (key) fs.writeFileSync(path.join(dir, 'chrony.keys'), `${key.id} ${key.type} ${key.text}\n`, { mode: 0o600 });
  const conf = [
    `server ${server.host} port ${server.port} iburst minpoll -2 maxpoll -2${key ? ` key ${key.id}` : ''}`, 'port 0', 'cmdport 0',
    `pidfile ${dir}/chronyd.pid`, `logdir ${dir}`, 'log measurements', ...(key ? [`keyfile ${dir}/chrony.keys`] : []),
  ];
  fs.writeFileSync(path.join(dir, 'chrony.conf'), `${conf.join('\n')}\n`);
  // -u root: stay root rather than switch to _chrony, which could not write the temporary folder.
  const child = spawn(binary, ['-f', path.join(dir, 'chrony.conf'), '-d', '-x', '-u', 'root'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const file = path.join(dir, 'measurements.log');
  const started = Date.now();
  try {
    while (Date.now() - started < timeoutMs && child.exitCode === null && !until(readMeasurements(file))) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { measurements: readMeasurements(file), output };
  } finally {
    await stopChild(child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
