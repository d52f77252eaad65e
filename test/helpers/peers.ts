import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * Third-party peers (sshd, openssl s_server, pymodbus, snmpd, nmap, ...) come from Debian packages that
 * .ci/run installs. Where one is missing a test skips with the reason, except when IACS_REQUIRE_PEERS=1
 * (set by .ci/run): then a missing peer fails the test, so CI never silently skips what it can run.
 */
export function findExecutable(name: string, extraDirs: string[] = ['/usr/sbin', '/sbin', '/usr/bin']): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...extraDirs]) {
    const candidate = `${dir}/${name}`;
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Debian's python (with python3-pymodbus etc.), not a pyenv shim that lacks the Debian modules. */
export function debianPython(): string | undefined {
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : undefined;
}

export function pythonHasModule(python: string, module: string): boolean {
  try {
    execFileSync(python, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Returns the executable's path, or skips (fails under IACS_REQUIRE_PEERS=1) the current test. */
export function requirePeer(ctx: Mocha.Context, name: string, found: string | undefined = findExecutable(name), hint = ''): string {
  if (found) return found;
  const why = `${name} is not installed${hint ? ` (${hint})` : ''}; .ci/run installs it`;
  if (process.env.IACS_REQUIRE_PEERS === '1') throw new Error(`required peer missing: ${why}`);
  ctx.skip();
  throw new Error(why); // not reached: skip() throws
}

/** Root, for raw-socket scans (nmap -sU) and captures on loopback: skip with the reason, or fail where CI must run it. */
export function requireRoot(ctx: Mocha.Context, why: string): void {
  if (process.getuid?.() === 0) return;
  if (process.env.IACS_REQUIRE_PEERS === '1') throw new Error(`this test must run as root here (${why}); .ci/run runs as root`);
  ctx.skip();
}
