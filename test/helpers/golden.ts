import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Compares output with a golden file. With `UPDATE_GOLDEN=1` a golden file that differs (or is missing) is
 * rewritten and the test still fails, naming it: a run that changed a golden file is never green, so the
 * change is reviewed (`git diff`) and the suite run again without the flag. A missing golden file fails too:
 * golden files are created on purpose, never silently.
 */
export function expectGolden(file: string, actual: string): void {
  const abs = path.resolve(file);
  const current = fs.existsSync(abs) ? fs.readFileSync(abs, 'utf8') : undefined;
  if (process.env.UPDATE_GOLDEN === '1' && current !== actual) {
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, actual);
    throw new Error(`golden file ${file} ${current === undefined ? 'created' : 'rewritten'}: review \`git diff ${file}\`, then run the tests again without UPDATE_GOLDEN`);
  }
  if (current === undefined) throw new Error(`golden file ${file} is missing: run UPDATE_GOLDEN=1 npm test to create it, then review it`);
  const expected = current;
  if (actual === expected) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  const line = a.findIndex((l, i) => l !== e[i]);
  expect(a[line], `${file} differs from line ${line + 1} (UPDATE_GOLDEN=1 npm test regenerates it after review)`).to.equal(e[line]);
  expect(actual).to.equal(expected);
}
