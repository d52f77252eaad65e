import { withCommandSession, type ExecResult, type PasswordLogin } from '../ssh/exec';
import { commandLine } from './commands';

export { OUTPUT_CAP } from '../ssh/exec';

/** What one allow-listed command did on the device; stdout/stderr are capped at OUTPUT_CAP bytes each. */
export interface CommandResult extends ExecResult {
  argv: readonly string[];
  /** The command ran through `sudo -n` because the login user is not root. */
  viaSudo: boolean;
}

export interface HostSession {
  /** The login user's numeric id (`id -u`). */
  readonly uid: number;
  /** Runs one allow-listed command; `privileged` ones go through `sudo -n` unless the user is root. */
  run(argv: readonly string[], options: { privileged: boolean; timeoutMs: number }): Promise<CommandResult>;
}

export type HostLogin = PasswordLogin;

/**
 * Logs in once with a password and hands `work` a session that runs allow-listed commands (commandLine
 * refuses anything else) one after the other on that connection. A refused login is AuthRejected.
 */
export function withHostSession<T>(login: HostLogin, work: (session: HostSession) => Promise<T>): Promise<T> {
  return withCommandSession(login, (session) => work({
    uid: session.uid,
    run: async (argv, { privileged, timeoutMs }) => {
      const viaSudo = privileged && session.uid !== 0;
      return { argv, viaSudo, ...(await session.exec(commandLine(argv, viaSudo), { timeoutMs })) };
    },
  }));
}
