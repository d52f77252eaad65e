import * as fs from 'node:fs';
import * as path from 'node:path';
import { diffReports, renderDiffText } from '../report/diff';
import type { Report } from '../report/model';
import { EXIT, UsageError, parse, type Io } from './common';

export const DIFF_USAGE = `usage: iacs-probe diff <run-dir-A> <run-dir-B> [--json]
       iacs-probe diff --baseline <run-dir-A> <run-dir-B> [--json]

  What changed from run A (the baseline) to run B: requirements whose verdict changed, findings that
  appeared or went away (by code and target), observation changes per probe@target (a new open port,
  a new cipher, any changed value), SL achieved per FR. Services that moved to another port (ephemeral
  ports of an emulator) are matched by probe + host + declared service protocol and name, and listed.
  Exit 1 when B is worse (a verdict worse than before, a new finding above info, a lower SL achieved,
  an attempt that now ends in an error, an incomplete run B),
  0 otherwise, 3 on usage errors. A run folder or its report.json may be given.`;

/** Reads report.json of a run folder (or the file itself); a usage error when it is not a report. */
export function readReport(where: string): Report {
  const file = fs.existsSync(where) && fs.statSync(where).isDirectory() ? path.join(where, 'report.json') : where;
  if (!fs.existsSync(file)) throw new UsageError(`${where}: no report.json (not a run folder)`);
  let report: Report;
  try {
    report = JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (report?.schemaVersion !== 1 || !Array.isArray(report.requirements) || !Array.isArray(report.attempts)) {
    throw new UsageError(`${file}: not an iacs-probe report (schemaVersion 1)`);
  }
  return report;
}

export function diffCommand(args: string[], io: Io): number {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, baseline: { type: 'string' } }, { min: 1, max: 2, names: 'two run folders' });
  const folders = typeof values.baseline === 'string' ? [values.baseline, ...positionals] : positionals;
  if (folders.length !== 2) throw new UsageError('give two run folders: A (baseline) and B');
  const [a, b] = folders.map(readReport);
  const diff = diffReports(a, b);
  io.out.write(values.json ? JSON.stringify({ folders: { a: folders[0], b: folders[1] }, ...diff }, null, 2) + '\n' : renderDiffText(diff));
  return diff.regressions.length > 0 ? EXIT.failed : EXIT.ok;
}
