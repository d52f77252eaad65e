import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/** The package folder (holding package.json), from source (tsx) or from dist/. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate) && (JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string }).name === 'iacs-probe') {
      cached = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the iacs-probe package root above ${__dirname}`);
    dir = parent;
  }
}

export function packagePath(...segments: string[]): string {
  return path.join(packageRoot(), ...segments);
}

export function toolVersion(): string {
  return (JSON.parse(fs.readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
}
