#!/usr/bin/env node
// The harness of the Docker regression kit: runs inside the `harness` container on the bench network,
// assesses every target of docker/targets.yaml with its profile in profiles/docker/, checks each run
// against the target's expectation and its stored baseline, and exits with the regression verdict:
//
//   0  every target as expected and matching its baseline
//   1  a regression: a run worse than its baseline, a hardened target failing a requirement, a weak target
//      no longer failing, or (unless --allow-improvements) any other difference from the baseline
//   2  no regression found, but something could not be judged: probe errors, an incomplete run, a
//      missing baseline, an evidence folder that does not verify
//
// usage: regress.mjs [--out DIR] [--baselines DIR] [--targets FILE] [--profiles DIR] [--only NAME]...
//                    [--update-baseline] [--allow-improvements] [--parallel N]
import process from 'node:process';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { compareReports, formatComparison, readReport } from './compare-reports.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CLI = path.join(ROOT, 'bin', 'iacs-probe');

// The regression gate: `iacs-probe diff <baseline folder> <run folder>` exits 1 when something got worse.
const DIFF_COMMAND = [CLI, 'diff'];

const EXPECTATIONS = ['pass', 'fail', 'baseline'];

function run(command, args, logFile) {
  return new Promise((resolve) => {
    const log = fs.openSync(logFile, 'a');
    fs.writeSync(log, `$ ${[command, ...args].join(' ')}\n`);
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', log] });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      fs.writeSync(log, d);
    });
    child.on('error', (err) => {
      fs.closeSync(log);
      resolve({ code: null, stdout: '', error: err.message });
    });
    child.on('close', (code, signal) => {
      fs.writeSync(log, `[exit ${code ?? signal}]\n\n`);
      fs.closeSync(log);
      resolve({ code: code ?? 2, stdout });
    });
  });
}

export function loadTargets(file) {
  const doc = parseYaml(fs.readFileSync(file, 'utf8'));
  const targets = doc?.targets;
  if (targets === null || typeof targets !== 'object') throw new Error(`${file}: "targets" mapping missing`);
  return Object.entries(targets).map(([name, t]) => {
    const expect = t?.expect ?? 'baseline';
    if (!EXPECTATIONS.includes(expect)) throw new Error(`${file}: targets.${name}.expect must be one of ${EXPECTATIONS.join(', ')}`);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`${file}: target name ${name} must be lower-case letters, digits, dashes`);
    const list = (key) => {
      const v = t?.[key] ?? [];
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${file}: targets.${name}.${key} must be a list of strings`);
      return v;
    };
    const mustFail = list('mustFail');
    const mustFind = list('mustFind');
    if (expect === 'fail' && mustFail.length === 0) throw new Error(`${file}: targets.${name} expects fail and must name the requirements that fail (mustFail)`);
    const mustPass = t?.mustPass ?? {};
    if (mustPass === null || typeof mustPass !== 'object' || Array.isArray(mustPass)
      || !Object.values(mustPass).every((v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'))) {
      throw new Error(`${file}: targets.${name}.mustPass must map probe ids to lists of requirements`);
    }
    return { name, expect, mustFail, mustFind, mustPass };
  });
}

/** Requirements of `mustFail` that do not fail and codes of `mustFind` no attempt reports. */
export function weaknessesMissed(report, target) {
  const failing = new Set(report.requirements.filter((r) => r.verdict === 'fail').map((r) => r.id));
  const codes = new Set(report.attempts.flatMap((a) => a.findings.map((f) => f.code)));
  return [
    ...(target.mustFail ?? []).filter((id) => !failing.has(id)).map((id) => `${id} does not fail`),
    ...(target.mustFind ?? []).filter((code) => !codes.has(code)).map((code) => `finding ${code} is missing`),
  ];
}

/**
 * Requirements of `mustPass` ({probe: [requirement...]}) that a probe's own outcomes do not pass, on every
 * interface it ran on: what a hardened target is built to show, checked whatever other probes conclude
 * (a requirement's verdict in the report stays "not determined" while any basis is partial).
 */
export function strengthsMissed(report, target) {
  const missed = [];
  for (const [probe, requirements] of Object.entries(target.mustPass ?? {})) {
    const attempts = report.attempts.filter((a) => a.probe === probe);
    if (attempts.length === 0) missed.push(`${probe} did not run`);
    for (const a of attempts) {
      for (const id of requirements) {
        const verdict = (a.outcomes ?? []).find((o) => o.requirement === id)?.verdict ?? 'not judged';
        if (verdict !== 'pass') missed.push(`${id} is ${verdict} in ${probe} @ ${a.target}`);
      }
    }
  }
  return missed;
}

/** Assesses one target and judges the run. Returns { name, verdict: pass|fail|error, notes[], ... }. */
async function assess(target, opts) {
  const runDir = path.join(opts.out, target.name);
  const logFile = path.join(opts.out, 'logs', `${target.name}.log`);
  const profile = path.join(opts.profiles, `${target.name}.yaml`);
  const result = { name: target.name, expect: target.expect, verdict: 'pass', notes: [], runExit: null, comparison: null };
  const fail = (note) => { result.verdict = 'fail'; result.notes.push(note); };
  const error = (note) => { if (result.verdict === 'pass') result.verdict = 'error'; result.notes.push(note); };

  const started = Date.now();
  const ran = await run(CLI, ['run', profile, '--out', runDir, '--operator', opts.operator], logFile);
  result.runExit = ran.code;
  result.seconds = Math.round((Date.now() - started) / 100) / 10;
  if (ran.code === 3 || !fs.existsSync(path.join(runDir, 'report.json'))) {
    error(`iacs-probe run exited ${ran.code} without a report (see logs/${target.name}.log)`);
    return result;
  }
  const report = readReport(runDir);
  const summary = report.summary;
  result.failing = report.requirements.filter((r) => r.verdict === 'fail').map((r) => r.id);
  result.findings = report.attempts.flatMap((a) => a.findings.map((f) => f.code));

  const verified = await run(CLI, ['verify', runDir], logFile);
  if (verified.code !== 0) error('the evidence folder does not verify (iacs-probe verify)');
  if (!report.run.complete) error('the run did not complete');
  for (const a of report.attempts.filter((x) => x.status === 'error')) error(`${a.probe} @ ${a.target}: error (${a.reason}): ${a.message ?? ''}`);

  if (target.expect === 'pass' && summary.failedAtTarget > 0) {
    fail(`expected no failing requirement, but ${result.failing.join(', ')} fail (${[...new Set(result.findings)].join(', ')})`);
  }
  if (target.expect === 'fail' && summary.failedAtTarget === 0) {
    fail('expected failing requirements (weak posture), but none failed: a probe no longer sees the weakness');
  }
  for (const id of weaknessesMissed(report, target)) fail(`the target's known weakness is not reported: ${id}`);
  for (const id of strengthsMissed(report, target)) fail(`the target's hardening is not confirmed: ${id}`);

  if (opts.updateBaseline) {
    if (result.verdict === 'pass') {
      const dir = path.join(opts.out, 'baselines', target.name);
      fs.mkdirSync(dir, { recursive: true });
      fs.copyFileSync(path.join(runDir, 'report.json'), path.join(dir, 'report.json'));
      result.notes.push('new baseline written');
    } else {
      result.notes.push('no baseline written for this target');
    }
    return result;
  }

  const baselineDir = path.join(opts.baselines, target.name);
  if (!fs.existsSync(path.join(baselineDir, 'report.json'))) {
    error(`no stored baseline ${path.join(baselineDir, 'report.json')} (docker/regress.sh --update-baseline)`);
    return result;
  }
  const diff = await run(DIFF_COMMAND[0], [...DIFF_COMMAND.slice(1), baselineDir, runDir], logFile);
  const comparison = compareReports(readReport(baselineDir), report);
  result.comparison = { diffExit: diff.code, identical: comparison.identical, changes: comparison.changes };
  result.diffText = diff.stdout || formatComparison(comparison);
  if (diff.code === 1) fail('worse than the stored baseline');
  else if (diff.code !== 0) error(`the comparison with the baseline failed (exit ${diff.code})`);
  else if (!comparison.identical) {
    if (opts.allowImprovements) result.notes.push('differs from the baseline, nothing worse (baseline outdated)');
    else fail('differs from the stored baseline (nothing worse): accept with docker/regress.sh --update-baseline');
  }
  return result;
}

async function pool(items, size, worker) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await worker(items[i]);
    }
  }));
  return results;
}

export function exitCodeOf(results) {
  if (results.some((r) => r.verdict === 'fail')) return 1;
  if (results.some((r) => r.verdict === 'error')) return 2;
  return 0;
}

function renderText(results, opts, seconds) {
  const lines = [`iacs-probe regression (${opts.updateBaseline ? 'baseline update' : 'check'}), ${seconds} s`];
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    const failing = r.failing?.length ? `fails ${r.failing.join(', ')}` : 'no failing requirement';
    lines.push(`  ${r.verdict.toUpperCase().padEnd(5)} ${r.name.padEnd(width)}  expect ${r.expect.padEnd(8)} run exit ${r.runExit}, ${failing}, ${r.seconds ?? '?'} s`);
    for (const n of r.notes) lines.push(`        ${n}`);
    if (r.diffText && !r.comparison?.identical) lines.push(...r.diffText.trimEnd().split('\n').map((l) => `        ${l}`));
  }
  lines.push(`exit ${exitCodeOf(results)}`);
  return `${lines.join('\n')}\n`;
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: '/evidence' },
      baselines: { type: 'string', default: path.join(ROOT, 'docker', 'baselines') },
      targets: { type: 'string', default: path.join(ROOT, 'docker', 'targets.yaml') },
      profiles: { type: 'string', default: path.join(ROOT, 'profiles', 'docker') },
      only: { type: 'string', multiple: true },
      // The compose file passes these as environment variables (a command line cannot be extended there).
      'update-baseline': { type: 'boolean', default: process.env.IACS_REGRESS_UPDATE_BASELINE === '1' },
      'allow-improvements': { type: 'boolean', default: process.env.IACS_REGRESS_ALLOW_IMPROVEMENTS === '1' },
      parallel: { type: 'string', default: '2' },
      operator: { type: 'string', default: 'docker-regress' },
    },
  });
  const opts = {
    out: path.resolve(values.out), baselines: path.resolve(values.baselines), profiles: path.resolve(values.profiles),
    updateBaseline: values['update-baseline'], allowImprovements: values['allow-improvements'], operator: values.operator,
  };
  let targets = loadTargets(values.targets);
  if (values.only?.length) targets = targets.filter((t) => values.only.includes(t.name));
  if (targets.length === 0) throw new Error('no targets selected');
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1) throw new Error('--parallel must be a positive integer');
  fs.mkdirSync(opts.out, { recursive: true });
  const taken = targets.filter((t) => fs.existsSync(path.join(opts.out, t.name)));
  if (taken.length > 0) throw new Error(`${opts.out} already holds runs of ${taken.map((t) => t.name).join(', ')}; give an empty folder`);
  fs.mkdirSync(path.join(opts.out, 'logs'), { recursive: true });

  const started = Date.now();
  const results = await pool(targets, parallel, (t) => assess(t, opts).catch((err) => ({
    name: t.name, expect: t.expect, verdict: 'error', notes: [`harness error: ${err.message}`], runExit: null,
  })));
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const code = exitCodeOf(results);
  const text = renderText(results, opts, seconds);
  fs.writeFileSync(path.join(opts.out, 'summary.txt'), text);
  fs.writeFileSync(path.join(opts.out, 'summary.json'), `${JSON.stringify({
    mode: opts.updateBaseline ? 'update-baseline' : 'check', exit: code, seconds, diffCommand: DIFF_COMMAND.map((p) => path.basename(p)).join(' '),
    targets: results.map(({ diffText: _d, ...r }) => r),
  }, null, 2)}\n`);
  process.stdout.write(text);
  return code;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    process.stderr.write(`regress: ${err.message}\n`);
    process.exitCode = 2;
  });
}
