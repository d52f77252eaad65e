#!/usr/bin/env node
// Compares two iacs-probe runs (a stored baseline and a new run) and says whether the new one is worse.
//
//   node docker/harness/compare-reports.mjs <baseline> <current> [--json]
//
// <baseline> and <current> are run folders (holding report.json) or report.json files. Exit status:
// 0 nothing got worse (identical, or only better), 1 something got worse, 2 a report could not be read.
//
// This is the stop-gap for `iacs-probe diff A B` (same arguments, same exit status: 1 when something got
// worse). docker/harness/regress.mjs calls whichever DIFF_COMMAND names; when `iacs-probe diff` exists,
// switching is the one line there. The functions below are also used by regress.mjs for the exact-match
// check, which does not depend on the diff tool's output format.
import process from 'node:process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Verdict order for "worse": a failing row is worse than an undetermined one, which is worse than a pass. */
const VERDICT_RANK = { fail: 0, not_determined: 1, not_applicable: 2, pass: 2 };
/** Attempt statuses: an error or a fail is worse than anything that was not one before. */
const STATUS_RANK = { error: 0, fail: 0, skipped: 1, not_applicable: 2, pass: 2 };

/** Reads report.json from a run folder or a file path. */
export function readReport(where) {
  const file = fs.existsSync(where) && fs.statSync(where).isDirectory() ? path.join(where, 'report.json') : where;
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (report === null || typeof report !== 'object' || report.schemaVersion !== 1) {
    throw new Error(`${file}: not an iacs-probe report (schemaVersion 1)`);
  }
  return report;
}

const attemptKey = (a) => `${a.probe} @ ${a.target}`;
const findingKey = (a, f) => `${a.probe} @ ${a.target}: ${f.code}`;

/**
 * The parts of a report a regression gate judges, without times, durations, run ids or evidence paths:
 * requirement verdicts, SL achieved, attempt statuses, and how many findings of each code each attempt raised.
 */
export function verdictDigest(report) {
  const requirements = Object.fromEntries((report.requirements ?? []).map((r) => [r.id, r.verdict]));
  const attempts = {};
  const findings = {};
  const severities = {};
  for (const a of report.attempts ?? []) {
    attempts[attemptKey(a)] = a.status;
    for (const f of a.findings ?? []) {
      const key = findingKey(a, f);
      findings[key] = (findings[key] ?? 0) + 1;
      severities[key] = f.severity;
    }
  }
  return { complete: report.run?.complete === true, slAchieved: report.slAchieved ?? {}, requirements, attempts, findings, severities };
}

/**
 * Differences from baseline `a` to current `b`, each { kind, key, from, to, worse }. `worse` marks what a
 * firmware regression gate must refuse: a requirement verdict or SL that dropped, a finding that appeared
 * (other than info), an attempt that now fails or errors, a run that no longer completes.
 */
export function compareReports(a, b) {
  const da = verdictDigest(a);
  const db = verdictDigest(b);
  const changes = [];
  const push = (kind, key, from, to, worse) => changes.push({ kind, key, from: from ?? null, to: to ?? null, worse });
  if (da.complete !== db.complete) push('run', 'complete', da.complete, db.complete, da.complete && !db.complete);
  for (const fr of new Set([...Object.keys(da.slAchieved), ...Object.keys(db.slAchieved)])) {
    const from = da.slAchieved[fr];
    const to = db.slAchieved[fr];
    if (from !== to) push('slAchieved', fr, from, to, (to ?? 0) < (from ?? 0));
  }
  for (const id of new Set([...Object.keys(da.requirements), ...Object.keys(db.requirements)])) {
    const from = da.requirements[id];
    const to = db.requirements[id];
    if (from === to) continue;
    const worse = to === undefined ? false : (VERDICT_RANK[to] ?? 0) < (from === undefined ? VERDICT_RANK.not_determined : VERDICT_RANK[from] ?? 0);
    push('requirement', id, from, to, worse);
  }
  for (const key of new Set([...Object.keys(da.attempts), ...Object.keys(db.attempts)])) {
    const from = da.attempts[key];
    const to = db.attempts[key];
    if (from === to) continue;
    const worse = to !== undefined && (STATUS_RANK[to] ?? 0) < (from === undefined ? STATUS_RANK.skipped : STATUS_RANK[from] ?? 0);
    push('attempt', key, from, to, worse);
  }
  for (const key of new Set([...Object.keys(da.findings), ...Object.keys(db.findings)])) {
    const from = da.findings[key] ?? 0;
    const to = db.findings[key] ?? 0;
    if (from === to) continue;
    const severity = db.severities[key] ?? da.severities[key];
    push('finding', `${key} (${severity})`, from, to, to > from && severity !== 'info');
  }
  return { identical: changes.length === 0, worse: changes.some((c) => c.worse), changes };
}

export function formatComparison(result, labelA = 'baseline', labelB = 'current') {
  if (result.identical) return `no change from ${labelA} to ${labelB}\n`;
  const lines = [`${result.worse ? 'WORSE' : 'changed (nothing worse)'}: ${labelA} -> ${labelB}`];
  for (const c of result.changes) {
    const arrow = c.kind === 'finding' ? `${c.from} -> ${c.to} finding(s)` : `${c.from ?? '(absent)'} -> ${c.to ?? '(absent)'}`;
    lines.push(`  ${c.worse ? '-' : '+'} ${c.kind} ${c.key}: ${arrow}${c.worse ? '  [worse]' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

function main(argv) {
  const json = argv.includes('--json');
  const paths = argv.filter((x) => x !== '--json');
  if (paths.length !== 2) {
    process.stderr.write('usage: compare-reports.mjs <baseline run folder|report.json> <current run folder|report.json> [--json]\n');
    return 2;
  }
  let result;
  try {
    result = compareReports(readReport(paths[0]), readReport(paths[1]));
  } catch (err) {
    process.stderr.write(`compare-reports: ${err.message}\n`);
    return 2;
  }
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatComparison(result, paths[0], paths[1]));
  return result.worse ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
