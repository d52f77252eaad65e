import * as fs from 'node:fs';
import * as path from 'node:path';

/** An executable on PATH or in the usual system folders (nmap, hping3, nping, ip), if installed. */
export function findTool(name: string, extraDirs: readonly string[] = ['/usr/sbin', '/usr/bin', '/sbin', '/usr/local/bin']): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).concat(extraDirs)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
