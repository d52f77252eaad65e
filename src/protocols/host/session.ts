import type * as Ssh2 from 'ssh2';
import { AuthRejected, ProtocolViolation } from '../../sdk';
import { passwordAuthHandler } from '../ssh/auth';
import { runSsh2Client } from '../ssh/client';
import { commandLine } from './commands';

/** What one command did on the device; stdout/stderr are capped at OUTPUT_CAP bytes each. */
export interface CommandResult {
  argv: readonly string[];
  /** The command ran through `sudo -n` because the login user is not root. */
  viaSudo: boolean;
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

export interface HostSession {
  /** The login user's numeric id (`id -u`). */
  readonly uid: number;
  /** Runs one allow-listed command; `privileged` ones go through `sudo -n` unless the user is root. */
  run(argv: readonly string[], options: { privileged: boolean; timeoutMs: number }): Promise<CommandResult>;
}

export interface HostLogin {
  host: string;
  port: number;
  signal: AbortSignal;
  /** Bound on connect, key exchange and authentication. */
  timeoutMs: number;
  username: string;
  password: string;
}

export const OUTPUT_CAP = 1 << 20;

function exec(client: Ssh2.Client, line: string, timeoutMs: number): Promise<Omit<CommandResult, 'argv' | 'viaSudo'>> {
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
      }, timeoutMs);
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
    });
  });
}

/**
 * Logs in once with a password (one credential check, see passwordAuthHandler) and hands `work` a session
 * that runs allow-listed commands one after the other on that connection. A refused login is AuthRejected.
 */
export async function withHostSession<T>(login: HostLogin, work: (session: HostSession) => Promise<T>): Promise<T> {
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
        const id = await exec(client, commandLine(['id', '-u']), 10_000);
        const uid = Number(id.stdout.trim());
        if (id.exitCode !== 0 || !/^\d+$/.test(id.stdout.trim())) {
          throw new ProtocolViolation(`"id -u" did not print a user id (exit ${id.exitCode}): ${JSON.stringify(id.stdout.slice(0, 80))}`);
        }
        return work({
          uid,
          run: async (argv, { privileged, timeoutMs }) => {
            const viaSudo = privileged && uid !== 0;
            login.signal.throwIfAborted();
            return { argv, viaSudo, ...(await exec(client, commandLine(argv, viaSudo), timeoutMs)) };
          },
        });
      };
      started().then((v) => ctl.finish(v), (e: unknown) => ctl.fail(e));
    });
  });
}
