// The exact-match check of the Docker regression kit: whether a run equals its stored baseline in what a
// gate judges (requirement verdicts, SL achieved, attempt statuses, number of findings per code). Whether a
// run is *worse* than its baseline is `iacs-probe diff`'s decision (docker/harness/regress.mjs); this digest
// only tells "identical" from "changed", so an improvement is not silently taken as the new normal.
import * as fs from 'node:fs';
import * as path from 'node:path';

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

/** Differences from baseline `a` to current `b` in the digest, each { kind, key, from, to }. */
export function compareReports(a, b) {
  const da = verdictDigest(a);
  const db = verdictDigest(b);
  const changes = [];
  const push = (kind, key, from, to) => changes.push({ kind, key, from: from ?? null, to: to ?? null });
  if (da.complete !== db.complete) push('run', 'complete', da.complete, db.complete);
  for (const [kind, before, after] of [
    ['slAchieved', da.slAchieved, db.slAchieved], ['requirement', da.requirements, db.requirements], ['attempt', da.attempts, db.attempts],
  ]) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (before[key] !== after[key]) push(kind, key, before[key], after[key]);
    }
  }
  for (const key of new Set([...Object.keys(da.findings), ...Object.keys(db.findings)])) {
    const from = da.findings[key] ?? 0;
    const to = db.findings[key] ?? 0;
    if (from !== to) push('finding', `${key} (${db.severities[key] ?? da.severities[key]})`, from, to);
  }
  return { identical: changes.length === 0, changes };
}

export function formatComparison(result, labelA = 'baseline', labelB = 'current') {
  if (result.identical) return `no change from ${labelA} to ${labelB}\n`;
  const lines = [`changed: ${labelA} -> ${labelB}`];
  for (const c of result.changes) {
    const arrow = c.kind === 'finding' ? `${c.from} -> ${c.to} finding(s)` : `${c.from ?? '(absent)'} -> ${c.to ?? '(absent)'}`;
    lines.push(`  ${c.kind} ${c.key}: ${arrow}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Everything an assessment concluded, without what differs between two runs of one fleet by nature: run ids,
 * times and durations, operator, options, and the shard/merge bookkeeping. Attempts are keyed by probe and
 * target, requirements by id, targets by host, so that neither the order attempts ended in nor a split into
 * shards shows. Used to show that `iacs-probe merge` of shards equals the same run made at once.
 */
export function assessmentDigest(report) {
  const keyed = (list, key) => Object.fromEntries([...(list ?? [])].map((x) => [key(x), x]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const attempts = keyed((report.attempts ?? []).map(({ startedAt: _s, durationMs: _d, ...rest }) => rest), attemptKey);
  return {
    complete: report.run?.complete === true, profileSha256: report.run?.profileSha256, allowed: [...(report.run?.allowed ?? [])].sort(),
    component: report.component, slTarget: report.slTarget, slAchieved: report.slAchieved, gaps: report.gaps, summary: report.summary,
    targets: keyed(report.targets, (t) => t.host), requirements: keyed(report.requirements, (r) => r.id), attempts,
  };
}

/** Differences between two assessment digests, each { path, a, b } (at most `limit`). */
export function compareAssessments(a, b, limit = 50) {
  const differences = [];
  const walk = (x, y, at) => {
    if (differences.length >= limit) return;
    if (x !== null && y !== null && typeof x === 'object' && typeof y === 'object' && Array.isArray(x) === Array.isArray(y)) {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], Array.isArray(x) ? `${at}[${k}]` : `${at}${at ? '.' : ''}${k}`);
      return;
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) differences.push({ path: at, a: x ?? null, b: y ?? null });
  };
  walk(assessmentDigest(a), assessmentDigest(b), '');
  return { identical: differences.length === 0, differences };
}
