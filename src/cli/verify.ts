import * as fs from 'node:fs';
import { verifyFolder } from '../evidence/manifest';
import { EXIT, UsageError, parse, type Io } from './common';

export const VERIFY_USAGE = `usage: iacs-probe verify <run-dir>

  Checks the evidence folder: manifest.json against manifest.sha256, every file's sha256 and size,
  no file missing or added. Exit 0 when intact, 1 when anything changed.`;

export function verifyCommand(args: string[], io: Io): number {
  const { positionals } = parse(args, {}, { min: 1, max: 1, names: 'the run folder' });
  const dir = positionals[0];
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder`);
  const result = verifyFolder(dir);
  if (result.ok) {
    io.out.write(`OK: ${dir}: ${result.checkedFiles} files match manifest.json (run ${result.manifest?.runId}${result.manifest?.complete === false ? ', incomplete run' : ''})\n`);
    return EXIT.ok;
  }
  io.out.write(`FAILED: ${dir}: ${result.problems.length} problem(s)\n`);
  for (const p of result.problems) io.out.write(`  ${p.kind.padEnd(10)} ${p.path}: ${p.detail}\n`);
  return EXIT.failed;
}
