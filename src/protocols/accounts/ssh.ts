import { ProtocolViolation, type Credential, type ServiceUnderTest } from '../../sdk';
import { passwordLogin } from '../ssh/auth';
import { withCommandSession, type ExecResult } from '../ssh/exec';
import { excerpt, scrub, type AccountInterface, type Actor, type OperationOptions, type Step } from './types';

/** A command of `policy.accountManagement.ssh.commands`: an argv (placeholders {user}) and what goes to its stdin. */
export interface CommandTemplate {
  readonly argv: readonly string[];
  /** Placeholders {user}, {password}, {oldPassword}: secrets go here, never into argv (a process list shows argv). */
  readonly stdin?: string;
}

export interface SshCommands {
  readonly create: CommandTemplate;
  /** Sets the new account's first password (as the actor who created it). */
  readonly initialPassword: CommandTemplate;
  /** Run as the test account itself: the user changes their own password. */
  readonly setPassword: CommandTemplate;
  readonly disable: CommandTemplate;
  readonly delete: CommandTemplate;
}

export interface SshAccountManagement {
  readonly port?: number;
  /** Privileged commands go through `sudo -n --` unless the login user is root (default true). */
  readonly sudo?: boolean;
  readonly commands?: Partial<SshCommands>;
}

/** Defaults for a Debian/Ubuntu-like Linux host (shadow utilities, PAM). */
export const LINUX_COMMANDS: SshCommands = {
  create: { argv: ['/usr/sbin/useradd', '--no-create-home', '--shell', '/bin/sh', '{user}'] },
  initialPassword: { argv: ['/usr/sbin/chpasswd'], stdin: '{user}:{password}\n' },
  setPassword: { argv: ['/usr/bin/passwd'], stdin: '{oldPassword}\n{password}\n{password}\n' },
  disable: { argv: ['/usr/sbin/usermod', '--lock', '--expiredate', '1', '{user}'] },
  delete: { argv: ['/usr/sbin/userdel', '{user}'] },
};

/** userdel's exit status for "user does not exist" (shadow-utils). */
const USERDEL_NO_SUCH_USER = 6;
const COMMAND_TIMEOUT_MS = 15_000;

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/** The shell line for an argv: every word single-quoted, so nothing in it is interpreted by the device's shell. */
export function commandLine(argv: readonly string[], viaSudo: boolean): string {
  return [...(viaSudo ? ['sudo', '-n', '--'] : []), ...argv].map(quote).join(' ');
}

type Exec = Pick<ExecResult, 'exitCode' | 'stdout' | 'stderr'>;

/** Logs in once with a password and runs `work` with a function that executes argv commands on that connection. */
function withSession<T>(
  target: { host: string; port: number; signal: AbortSignal }, who: { username: string; password: string },
  work: (run: (argv: readonly string[], stdin: string | undefined, privileged: boolean) => Promise<Exec>) => Promise<T>, sudo: boolean,
): Promise<T> {
  return withCommandSession({ ...target, timeoutMs: 15_000, ...who }, (session) => work((argv, stdin, privileged) => session.exec(
    commandLine(argv, privileged && sudo && session.uid !== 0), { timeoutMs: COMMAND_TIMEOUT_MS, ...(stdin === undefined ? {} : { stdin }) },
  )));
}

type Values = Readonly<Record<'user' | 'password' | 'oldPassword', string>>;
const fill = (text: string, values: Values) => text.replace(/\{(user|password|oldPassword)\}/g, (_m, k: keyof Values) => values[k]);

/** The declared SSH interface: the admin's (or operator's) shell runs the commands, each argv quoted word by word. */
export function sshAccounts(
  service: ServiceUnderTest, declared: SshAccountManagement, actors: Partial<Record<Actor, Credential>>, signal: AbortSignal, secrets: Set<string>,
): AccountInterface {
  const commands: SshCommands = { ...LINUX_COMMANDS, ...(declared.commands ?? {}) };
  const target = (options: OperationOptions = {}) => ({ host: service.host, port: service.port, signal: options.signal ?? signal });
  const describe = (argv: readonly string[], r: Exec) => scrub(`${argv.join(' ')}: exit ${r.exitCode ?? 'none'}${r.stderr.trim() || r.stdout.trim() ? ` (${excerpt(r.stderr.trim() || r.stdout)})` : ''}`, secrets);
  const actor = (a: Actor) => {
    const c = actors[a];
    if (!c) throw new ProtocolViolation(`no credentials.accounts.${a}`);
    secrets.add(c.password);
    return c;
  };
  const one = (name: string, who: Actor, t: CommandTemplate, values: Values, options?: OperationOptions) => withSession(target(options), actor(who), async (run) => {
    const argv = t.argv.map((a) => fill(a, values));
    const r = await run(argv, t.stdin === undefined ? undefined : fill(t.stdin, values), true);
    return { step: name, accepted: r.exitCode === 0, detail: describe(argv, r), ...(r.exitCode === USERDEL_NO_SUCH_USER || /does not exist/i.test(r.stderr) ? { absent: true } : {}) };
  }, declared.sudo ?? true);
  const values = (user: string, password = '', oldPassword = ''): Values => ({ user, password, oldPassword });
  return {
    where: `ssh:${service.host}:${service.port}`,
    kind: 'ssh',
    create: (a, user, password) => withSession(target(), actor(a), async (run) => {
      const argv = commands.create.argv.map((x) => fill(x, values(user)));
      const created = await run(argv, undefined, true);
      const step: Step = { step: `create as ${a}`, accepted: created.exitCode === 0, detail: describe(argv, created) };
      if (!step.accepted) return step;
      const t = commands.initialPassword;
      const setArgv = t.argv.map((x) => fill(x, values(user, password)));
      const set = await run(setArgv, t.stdin === undefined ? undefined : fill(t.stdin, values(user, password)), true);
      return { ...step, detail: `${step.detail}; ${describe(setArgv, set)}` };
    }, declared.sudo ?? true),
    setPassword: (user, oldPassword, password) => withSession(target(), { username: user, password: oldPassword }, async (run) => {
      const t = commands.setPassword;
      const argv = t.argv.map((x) => fill(x, values(user)));
      const r = await run(argv, t.stdin === undefined ? undefined : fill(t.stdin, values(user, password, oldPassword)), false);
      return { step: 'set password', accepted: r.exitCode === 0, detail: describe(argv, r) };
    }, false),
    disable: (user) => one('disable', 'admin', commands.disable, values(user)),
    remove: (user, options) => one('delete', 'admin', commands.delete, values(user), options),
    login: async (user, password) => {
      const r = await passwordLogin(user, password, { ...target(), timeoutMs: 15_000 });
      return { step: 'login', accepted: r.outcome === 'accepted', detail: `SSH password login of ${user}: ${r.outcome}` };
    },
  };
}
