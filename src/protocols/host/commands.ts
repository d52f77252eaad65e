/**
 * The read-only commands the host audit may run on a device, as argv arrays. Only binaries listed here run,
 * each with the arguments its check accepts (read-only subcommands and flags); every argument must match a
 * plain character set, so a command line never carries shell syntax, whatever a baseline file says. Nothing a
 * device sends back is ever put into a command.
 */

/** Plain arguments only: no quotes, spaces, `$`, backticks, `;`, `|`, `&`, redirections or globs. */
const SAFE_ARGUMENT = /^[A-Za-z0-9_.,:=/@%+-]+$/;
const PATH = /^\/[A-Za-z0-9_.,/@%+-]+$/;
const PACKAGE = /^[a-z0-9][a-z0-9.+-]*$/;

type ArgsCheck = (args: readonly string[]) => string | undefined;

const onlyPaths = (what: string): ArgsCheck => (args) => (args.length > 0 && args.every((a) => PATH.test(a)) ? undefined : `${what} takes absolute file paths only`);
const exactly = (...allowed: string[][]): ArgsCheck => (args) => (allowed.some((a) => a.length === args.length && a.every((x, i) => x === args[i]))
  ? undefined : `only ${allowed.map((a) => `"${a.join(' ')}"`).join(' or ')}`);

/** Binary -> the arguments it may take. Each entry says why the binary cannot change the device. */
export const READ_ONLY_COMMANDS: Readonly<Record<string, { why: string; args: ArgsCheck }>> = {
  // grep -H . FILE...: prints every non-empty line with its file name; reads files, writes nothing.
  grep: {
    why: 'reads files',
    args: (args) => (args.length >= 3 && /^-[Hrs]+$/.test(args[0]) && args[1] === '.' && args.slice(2).every((a) => PATH.test(a))
      ? undefined : 'grep takes "-H[r] . /absolute/path..." only'),
  },
  cat: { why: 'reads files', args: onlyPaths('cat') },
  // -K (kill sockets), -D (dump to a file) and -F (filter file) are not among the letters allowed.
  ss: { why: 'lists sockets', args: (args) => (args.length > 0 && args.every((a) => /^-[tulpnHaexw46]+$/.test(a)) ? undefined : 'ss takes listing flags (-tulpnHaexw46) only') },
  id: { why: 'prints the user id', args: (args) => (args.every((a) => /^-[unGg]+$/.test(a)) ? undefined : 'id takes -u/-n/-g/-G only') },
  'dpkg-query': {
    why: 'reads the package database',
    args: (args) => (args[0] === '-l' && args.length > 1 && args.slice(1).every((a) => PACKAGE.test(a)) ? undefined : 'dpkg-query takes "-l PACKAGE..." only'),
  },
  'apt-config': { why: 'prints the APT configuration', args: exactly(['dump']) },
  // sshd -T prints the effective configuration and exits; any other use would start a server.
  sshd: { why: 'prints its effective configuration', args: exactly(['-T']) },
  chronyc: { why: 'asks chronyd for its state', args: exactly(['-n', 'tracking'], ['-n', 'sources']) },
  timedatectl: { why: 'prints the time settings', args: exactly(['show']) },
};

/** Problems with one argv (empty when it may run). */
export function commandProblems(argv: readonly string[]): string[] {
  const [binary, ...args] = argv;
  if (binary === undefined) return ['the command is empty'];
  const entry = Object.hasOwn(READ_ONLY_COMMANDS, binary) ? READ_ONLY_COMMANDS[binary] : undefined;
  if (!entry) return [`${binary} is not one of the read-only commands (${Object.keys(READ_ONLY_COMMANDS).join(', ')})`];
  const problems = args.filter((a) => !SAFE_ARGUMENT.test(a)).map((a) => `argument ${JSON.stringify(a)} holds characters outside [A-Za-z0-9_.,:=/@%+-]`);
  const argsProblem = entry.args(args);
  return argsProblem ? [...problems, argsProblem] : problems;
}

/** Thrown when a command outside the allow-list is asked for; nothing is sent. */
export class CommandRefused extends Error {
  constructor(readonly argv: readonly string[], problems: readonly string[]) {
    super(`refused to run ${JSON.stringify(argv)}: ${problems.join('; ')}`);
    this.name = 'CommandRefused';
  }
}

/**
 * The line sent in an SSH "exec" request (RFC 4254 §6.5), which the device's login shell parses: every
 * argument single-quoted, after the allow-list check. `sudo -n --` is prepended by the session itself
 * for commands that need root, never taken from data.
 */
export function commandLine(argv: readonly string[], viaSudo = false): string {
  const problems = commandProblems(argv);
  if (problems.length > 0) throw new CommandRefused(argv, problems);
  return [...(viaSudo ? ['sudo', '-n', '--'] : []), ...argv].map((a) => `'${a}'`).join(' ');
}
