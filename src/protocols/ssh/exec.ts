import type * as Ssh2 from 'ssh2';
import { AuthRejected, ProtocolViolation } from '../../sdk';
import { passwordAuthHandler } from './auth';
import { runSsh2Client } from './client';

/** Bytes kept of a command's stdout and of its stderr; the stream is closed when one is full. */
export const OUTPUT_CAP = 1 << 20;

/** What one command did on the device; stdout/stderr are capped at OUTPUT_CAP bytes each. */
export interface ExecResult {
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

export interface ExecOptions {
  timeoutMs: number;
  /** Written to the command's stdin, which is then closed (secrets go here, never into the command line). */
  stdin?: string;
}

/** Runs one already-quoted command line in an SSH "exec" channel (RFC 4254 §6.5), bounded in time and output. */
export function execLine(client: Ssh2.Client, line: string, options: ExecOptions): Promise<ExecResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    client.exec(line, (err, stream) => {
      if (err) {
        reject(new ProtocolViolation(`the device refused to run a command: ${err.message}`, { cause: err }));
        return;
      }
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let size = { out: 0, err: 0 };
      let truncated = false;
      let timedOut = false;
      let exitCode: number | null = null;
      let signal: string | undefined;
      const collect = (into: Buffer[], key: 'out' | 'err') => (d: Buffer) => {
        if (size[key] >= OUTPUT_CAP) {
          truncated = true;
          stream.close();
          return;
        }
        into.push(d);
        size = { ...size, [key]: size[key] + d.length };
      };
      const timer = setTimeout(() => {
        timedOut = true;
        stream.close();
      }, options.timeoutMs);
      stream.on('data', collect(out, 'out'));
      stream.stderr.on('data', collect(errOut, 'err'));
      stream.on('exit', (code: number | null, sig?: string) => {
        exitCode = code;
        signal = sig ?? undefined;
      });
      stream.on('close', () => {
        clearTimeout(timer);
        resolve({
          exitCode, ...(signal ? { signal } : {}), truncated, timedOut, durationMs: Date.now() - started,
          stdout: Buffer.concat(out).subarray(0, OUTPUT_CAP).toString('utf8'),
          stderr: Buffer.concat(errOut).subarray(0, OUTPUT_CAP).toString('utf8'),
        });
      });
      stream.end(options.stdin ?? '');
    });
  });
}

export interface PasswordLogin {
  host: string;
  port: number;
  signal: AbortSignal;
  /** Bound on connect, key exchange and authentication. */
  timeoutMs: number;
  username: string;
  password: string;
}

export interface CommandSession {
  /** The login user's numeric id (`id -u`, run first). */
  readonly uid: number;
  /** Runs one quoted command line on the session's connection. */
  exec(line: string, options: ExecOptions): Promise<ExecResult>;
}

/**
 * Logs in once with a password (one credential check, see passwordAuthHandler), asks `id -u`, and hands
 * `work` a session that runs command lines one after the other on that connection. A refused login is
 * AuthRejected; how lines are built (allow-listed or templated) is the caller's.
 */
export async function withCommandSession<T>(login: PasswordLogin, work: (session: CommandSession) => Promise<T>): Promise<T> {
  let ctlRef: { fail(err: unknown): void } | undefined;
  const { handler } = passwordAuthHandler(login.username, login.password, (r) => {
    ctlRef?.fail(new AuthRejected(`the device refused the login of ${login.username} over SSH (${r.outcome}; methods offered: ${r.methods.join(', ') || 'none'})`));
  });
  return runSsh2Client<T>({
    host: login.host, port: login.port, signal: login.signal, timeoutMs: login.timeoutMs,
    config: { username: login.username, hostVerifier: () => true, authHandler: handler as never },
  }, (client, ctl) => {
    ctlRef = ctl;
    client.on('ready', () => {
      const started = async (): Promise<T> => {
        const id = await execLine(client, "'id' '-u'", { timeoutMs: 10_000 });
        if (id.exitCode !== 0 || !/^\d+$/.test(id.stdout.trim())) {
          throw new ProtocolViolation(`"id -u" did not print a user id (exit ${id.exitCode}): ${JSON.stringify(id.stdout.slice(0, 80))}`);
        }
        return work({
          uid: Number(id.stdout.trim()),
          exec: (line, options) => {
            login.signal.throwIfAborted();
            return execLine(client, line, options);
          },
        });
      };
      started().then((v) => ctl.finish(v), (e: unknown) => ctl.fail(e));
    });
  });
}
