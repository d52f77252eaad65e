import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Compares output with a golden file; `UPDATE_GOLDEN=1 npm test` (re)writes the golden files instead.
 * A missing golden file fails: golden files are created on purpose, never silently.
 */
export function expectGolden(file: string, actual: string): void {
  const abs = path.resolve(file);
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, actual);
    return;
  }
  if (!fs.existsSync(abs)) throw new Error(`golden file ${file} is missing: run UPDATE_GOLDEN=1 npm test to create it, then review it`);
  const expected = fs.readFileSync(abs, 'utf8');
  if (actual === expected) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  const line = a.findIndex((l, i) => l !== e[i]);
  expect(a[line], `${file} differs from line ${line + 1} (UPDATE_GOLDEN=1 npm test regenerates it after review)`).to.equal(e[line]);
  expect(actual).to.equal(expected);
}
