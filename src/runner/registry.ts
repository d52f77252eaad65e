import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProbeDefinition } from '../sdk';

/** Source checkout (tsx) or build (dist/): probes live two levels up from this file either way. */
export const PROBES_DIR = path.resolve(__dirname, '..', '..', 'probes');
const RUNNING_FROM_SOURCE = __filename.endsWith('.ts');

export class RegistryError extends Error {}

let cached: ProbeDefinition<unknown>[] | undefined;

/** Files that define probes: probes/<protocol>/<name>.(ts|js), one probe each (shared code lives in src/protocols). */
export function probeFiles(dir = PROBES_DIR): string[] {
  if (!fs.existsSync(dir)) return [];
  const ext = RUNNING_FROM_SOURCE ? '.ts' : '.js';
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => fs.readdirSync(path.join(dir, d.name))
      .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
      .map((f) => path.join(dir, d.name, f)))
    .sort();
}

/** Every probe, discovered from the probes folder (no registry file to keep in sync). */
export function loadProbes(): ProbeDefinition<unknown>[] {
  if (cached) return cached;
  const probes: ProbeDefinition<unknown>[] = [];
  for (const file of probeFiles()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- probes are discovered at run time
    const mod = require(file) as { default?: ProbeDefinition<unknown> };
    if (!mod.default || typeof mod.default.run !== 'function') {
      throw new RegistryError(`${path.relative(PROBES_DIR, file)} has no default-exported probe`);
    }
    probes.push(mod.default);
  }
  const ids = new Set<string>();
  for (const p of probes) {
    if (ids.has(p.id)) throw new RegistryError(`probe id ${p.id} is defined twice`);
    ids.add(p.id);
  }
  cached = probes;
  return probes;
}

/** `--only` matching: an exact probe id, or a protocol prefix ("tls" matches every tls.* probe). */
export function matchesSelector(probeId: string, selector: string): boolean {
  return probeId === selector || probeId.startsWith(`${selector}.`);
}
