/**
 * iacs-probe as users run it: `node bin/iacs-probe ...` from the build in dist/ (built first when missing
 * or older than the sources), one evidence folder per run, report.json read back to check the work.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import type { Attempt, Report } from '../src/report/model';
import { ProcessFailed, timeChecked, type ProcessResult, type TimedCommand } from './process';
import { seconds } from './table';
import { median } from './timing';

export const ROOT = path.resolve(__dirname, '..');
const BUILT = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** Options every section shares. */
export interface BenchContext {
  /** Measured rounds per contender. */
  runs: number;
  /** A folder of this bench run (profiles, evidence folders); removed at the end. */
  tmp: string;
  /** Progress, on stderr. */
  log(message: string): void;
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Runs `npm run build` unless dist/ is newer than every source: the launcher would otherwise run tsx. */
export function ensureBuilt(log: (m: string) => void): void {
  const stale = !fs.existsSync(BUILT) || Math.max(newestSource(path.join(ROOT, 'src')), newestSource(path.join(ROOT, 'probes'))) > fs.statSync(BUILT).mtimeMs;
  if (!stale) return;
  log('building (npm run build) ...');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
}

/** The argv of our command line, from the build. */
export function cli(...args: string[]): string[] {
  return [process.execPath, path.join(ROOT, 'bin', 'iacs-probe'), ...args];
}

/** Writes a target profile (YAML) into `dir` and returns its path. */
export function writeProfile(dir: string, name: string, doc: Record<string, unknown>): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, stringify({ apiVersion: 'iacs-probe/v1', ...doc }));
  return file;
}

/** A one-host profile for the component behind `services` (bench targets are anonymous devices). */
export function oneHostProfile(dir: string, name: string, host: string, services: Record<string, unknown>[], extra: Record<string, unknown> = {}): string {
  return writeProfile(dir, name, {
    component: { name: `bench ${name}`, types: ['embedded'], slTarget: 2 },
    targets: [{ host, name, services }],
    ...extra,
  });
}

let outCounter = 0;

/**
 * `iacs-probe run PROFILE ARGS --out <fresh folder>` timed; exit 0 or 1 (requirements failed) is a finished
 * run, anything else throws. Returns the report; the folder is removed afterwards.
 */
export async function timeRun(
  ctx: BenchContext, profile: string, args: readonly string[], extra: Partial<TimedCommand> = {},
): Promise<{ result: ProcessResult; report: Report; phases: Phases }> {
  const out = path.join(ctx.tmp, 'runs', `${path.basename(profile, '.yaml')}-${outCounter++}`);
  const result = await timeChecked({ argv: cli('run', profile, ...args, '--out', out), cwd: ROOT, ...extra }, [0, 1]);
  const report = readReport(out);
  return { result, report, phases: phasesOf(report, result) };
}

export function readReport(out: string): Report {
  try {
    return JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** The one attempt of `probe` in a report that must have run to an end (not an error or a skip). */
export function attemptOf(report: Report, probe: string): Attempt {
  const found = report.attempts.filter((a) => a.probe === probe);
  if (found.length !== 1) throw new ProcessFailed(`expected one ${probe} attempt, the report has ${found.length}`);
  const [a] = found;
  if (a.status === 'error' || a.status === 'skipped') throw new ProcessFailed(`${probe}: ${a.status} (${a.reason ?? ''}) ${a.message ?? ''}`);
  return a;
}

/** A tool's version from what it prints (stdout and stderr: sshd -V writes to stderr), or "?". */
export function versionOf(argv: readonly string[], pattern: RegExp): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  return pattern.exec(stripAnsi(`${r.stdout ?? ''}${r.stderr ?? ''}`))?.[1] ?? '?';
}

/** Where one of our runs spent its wall time, from its report's timestamps. */
export interface Phases {
  /** Spawn to the run folder: Node, loading the code, profile and plan. */
  startupMs: number;
  /** The attempts (report.run.startedAt to finishedAt). */
  assessMs: number;
  /** Writing report.json/html, junit, TRF csv/xlsx and the manifest, the summary, exit. */
  reportMs: number;
}

export function phasesOf(report: Report, result: ProcessResult): Phases {
  const started = Date.parse(report.run.startedAt);
  const finished = Date.parse(report.run.finishedAt);
  return { startupMs: started - result.spawnedAt, assessMs: finished - started, reportMs: result.spawnedAt + result.wallMs - finished };
}

/** "start-up 0.61 s, assessing 0.40 s, reports and exit 0.52 s (medians of 5 runs)". */
export function phasesText(list: readonly Phases[]): string {
  const m = (key: keyof Phases) => seconds(median(list.map((p) => p[key])));
  return `start-up ${m('startupMs')}, assessing ${m('assessMs')}, reports and exit ${m('reportMs')} (medians of ${list.length} runs)`;
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex -- removing terminal escapes is the point
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}
