import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findExecutable } from './peers';

/**
 * Debian's rsyslogd (packages rsyslog, rsyslog-gnutls) as an independent syslog sender or receiver, with only
 * our configuration: `rsyslogd -f conf -i pidfile -n` in a temporary folder, no system socket (/dev/log is not
 * configured), nothing of the machine's syslog touched. Inputs are imudp (a test injects records) or imfile (a
 * daemon's log file, e.g. sshd -E); outputs are omfwd actions (UDP, TCP with either framing, TLS via gtls).
 */

export function findRsyslogd(): string | undefined {
  return findExecutable('rsyslogd', ['/usr/sbin', '/sbin']);
}

export function rsyslogVersion(binary: string): string {
  return /rsyslogd\s+(\S+?),?\s/.exec(execFileSync(binary, ['-v'], { encoding: 'utf8', timeout: 5000 }))?.[1] ?? 'unknown';
}

export interface RunningRsyslog {
  dir: string;
  /** Its stdout and stderr, its own messages, and how many lines its inputs read. */
  output(): string;
  stop(): Promise<void>;
}

export interface RsyslogTls {
  caFile: string;
  certFile?: string;
  keyFile?: string;
  /** The collector's certificate name rsyslog checks (x509/name). */
  peerName: string;
}

/** One forwarding action. `template` defaults to rsyslog's traditional forward format (RFC 3164 with host). */
export interface Forward {
  port: number;
  protocol: 'udp' | 'tcp' | 'tls';
  framing?: 'octet-counted' | 'traditional';
  template?: 'RSYSLOG_SyslogProtocol23Format' | 'RSYSLOG_ForwardFormat' | 'RSYSLOG_TraditionalForwardFormat';
  /** false: rsyslog's defaults (no action queue, no retries: what arrives while the target is down is discarded). */
  queued?: boolean;
}

function forwardAction(f: Forward): string {
  const common = `type="omfwd" target="127.0.0.1" port="${f.port}" template="${f.template ?? 'RSYSLOG_TraditionalForwardFormat'}"`;
  if (f.protocol === 'udp') return `action(${common} protocol="udp")`;
  const framing = `TCP_Framing="${f.framing ?? 'traditional'}"`;
  // Queued with retries, as a real forwarder is configured: nothing is lost while the connection is made.
  const queue = f.queued === false ? 'action.resumeInterval="1"' : 'queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1"';
  if (f.protocol === 'tcp') return `action(${common} protocol="tcp" ${framing} ${queue})`;
  return `action(${common} protocol="tcp" ${framing} ${queue} StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="__PEER__")`;
}

/** Starts rsyslogd with an imudp input on `inputPort` (and/or an imfile input) forwarding to every `forwards`. */
export async function startRsyslog(
  binary: string, o: { inputPort?: number; inputFile?: string; forwards: Forward[]; tls?: RsyslogTls; internalMessages?: boolean },
): Promise<RunningRsyslog> {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'iacs-rsyslog-'));
  fs.mkdirSync(path.join(dir, 'work'));
  // rsyslogd's own messages (an action suspended, resumed, a TLS error) go through our ruleset: kept in a file for
  // output(), and forwarded too only with `internalMessages`.
  const global = [`workDirectory="${dir}/work"`, 'processInternalMessages="on"'];
  if (o.tls) {
    global.push(`defaultNetstreamDriverCAFile="${o.tls.caFile}"`);
    if (o.tls.certFile) global.push(`defaultNetstreamDriverCertFile="${o.tls.certFile}"`, `defaultNetstreamDriverKeyFile="${o.tls.keyFile}"`);
  }
  const lines = [`global(${global.join(' ')})`];
  if (o.inputPort) lines.push('module(load="imudp")', `input(type="imudp" address="127.0.0.1" port="${o.inputPort}")`);
  // Polling, not inotify: inotify instances are a per-user limit (128 on Debian) that parallel test groups can
  // use up, and imfile then reads nothing and says so only in its own output.
  if (o.inputFile) lines.push('module(load="imfile" mode="polling" PollingInterval="1")', `input(type="imfile" File="${o.inputFile}" Tag="sshd:" Facility="auth" Severity="info")`);
  lines.push(`if $programname startswith 'rsyslogd' then {`, `  action(type="omfile" file="${dir}/internal.log")`, ...(o.internalMessages ? [] : ['  stop']), '}');
  // What the inputs read, kept as well: output() then tells "not read" from "not delivered".
  lines.push(`action(type="omfile" file="${dir}/read.log")`);
  for (const f of o.forwards) lines.push(forwardAction(f).replace('__PEER__', o.tls?.peerName ?? ''));
  const conf = path.join(dir, 'rsyslog.conf');
  fs.writeFileSync(conf, `${lines.join('\n')}\n`);
  const child = spawn(binary, ['-f', conf, '-i', path.join(dir, 'rsyslogd.pid'), '-n'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  // rsyslogd writes its pid file once its inputs and actions are set up.
  const started = Date.now();
  while (!fs.existsSync(path.join(dir, 'rsyslogd.pid'))) {
    if (child.exitCode !== null || Date.now() - started > 10_000) {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`rsyslogd did not start:\n${out.slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const fileText = (name: string) => { try { return fs.readFileSync(path.join(dir, name), 'utf8'); } catch { return ''; } };
  const output = () => {
    const read = fileText('read.log').split('\n').filter(Boolean);
    return `${out}[rsyslogd's own messages]\n${fileText('internal.log')}[lines its inputs read: ${read.length}, the last: ${read.at(-1) ?? 'none'}]\n`;
  };
  return { dir, output, stop: () => stopChild(child).then(() => fs.rmSync(dir, { recursive: true, force: true })) };
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('close', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
