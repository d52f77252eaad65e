/**
 * Rows of the commands that contact nothing or only the embedded emulator: `--version`, `probes`, and
 * `demo` in both postures (whole process: start the emulated PLC, assess it, write the folder, stop).
 * The reference process for start-up is a bare `node -e 0`: the floor any Node command line pays.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ProcessFailed, timeChecked } from './process';
import type { Report } from '../src/report/model';
import { ROOT, cli, phasesOf, phasesText, readReport, type BenchContext, type Phases } from './ours';
import { absolute, seconds, type Row } from './table';
import { alternate } from './timing';

const bareNode = () => timeChecked({ argv: [process.execPath, '-e', '0'] });

export async function startupRows(ctx: BenchContext): Promise<Row[]> {
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
  ctx.log(`start-up: ${ctx.runs} rounds of --version, probes and node -e 0`);
  const m = await alternate({
    version: async () => {
      const r = await timeChecked({ argv: cli('--version'), cwd: ROOT });
      if (r.stdout.trim() !== version) throw new ProcessFailed(`--version printed ${r.stdout.trim()}`);
      return r;
    },
    probes: async () => {
      const r = await timeChecked({ argv: cli('probes', '--json'), cwd: ROOT });
      const listed = (JSON.parse(r.stdout) as unknown[]).length;
      if (listed < 30) throw new ProcessFailed(`probes listed only ${listed}`);
      return r;
    },
    node: bareNode,
  }, ctx.runs);
  const node = { label: 'node -e 0', m: m.node };
  return [
    absolute('`iacs-probe --version`', m.version, 150, node),
    absolute('`iacs-probe probes --json` (discovers every probe)', m.probes, undefined, node),
  ];
}

/** Where a demo's time goes, from its report: the attempts' sum and the longest ones. */
function attemptsText(report: Report): string {
  const sum = report.attempts.reduce((t, a) => t + a.durationMs, 0);
  const longest = [...report.attempts].sort((a, b) => b.durationMs - a.durationMs).slice(0, 4).map((a) => `${a.probe} ${seconds(a.durationMs)}`);
  return `its ${report.attempts.length} attempts add up to ${seconds(sum)} on one host, 2 at a time (limits.perHost default); longest: ${longest.join(', ')}`;
}

export async function demoRows(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [posture, goalMs] of [['weak', 5000], ['hardened', 4000]] as const) {
    ctx.log(`demo ${posture}: ${ctx.runs} runs`);
    let n = 0;
    let lastAttempts = '';
    const phases: Phases[] = [];
    const m = await alternate({
      demo: async (run) => {
        const out = path.join(ctx.tmp, 'runs', `demo-${posture}-${n++}`);
        const r = await timeChecked({ argv: cli('demo', '--posture', posture, '--out', out), cwd: ROOT });
        const report = readReport(out);
        if (run >= 0) phases.push(phasesOf(report, r));
        lastAttempts = attemptsText(report);
        return r;
      },
    }, ctx.runs);
    // Start-up includes starting the emulated PLC (before the run folder opens).
    const notes = [`demo ${posture}: ${phasesText(phases)}, start-up including the emulated PLC; last run: ${lastAttempts}.`];
    rows.push(absolute(`\`iacs-probe demo --posture ${posture}\` (whole process)`, m.demo, goalMs, undefined, notes));
  }
  return rows;
}
