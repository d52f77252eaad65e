#!/usr/bin/env node
// Whether two runs of one fleet concluded the same (compare-reports.mjs, compareAssessments): used by
// docker/swarm-shards.sh to show that the merged shards equal the whole run. Prints the differences.
//
// usage: compare-assessments.mjs <run-dir-a> <run-dir-b>     exit 0 the same, 1 different, 2 not readable
import process from 'node:process';
import { compareAssessments, readReport } from './compare-reports.mjs';

const [a, b] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write('usage: compare-assessments.mjs <run-dir-a> <run-dir-b>\n');
  process.exit(2);
}
let reports;
try {
  reports = [readReport(a), readReport(b)];
} catch (err) {
  process.stderr.write(`compare-assessments: ${err.message}\n`);
  process.exit(2);
}
const result = compareAssessments(reports[0], reports[1]);
const counts = (r) => `${r.attempts.length} attempts, ${r.requirements.length} requirements (${Object.entries(r.summary.requirements).map(([k, v]) => `${k} ${v}`).join(', ')})`;
if (result.identical) {
  process.stdout.write(`same assessment: ${a} and ${b}: ${counts(reports[0])}\n`);
  process.exit(0);
}
process.stdout.write(`DIFFERENT: ${a} -> ${b} (${result.differences.length}${result.differences.length >= 50 ? '+' : ''} differences)\n`);
for (const d of result.differences) process.stdout.write(`  ${d.path}: ${JSON.stringify(d.a)} -> ${JSON.stringify(d.b)}\n`);
process.exit(1);
