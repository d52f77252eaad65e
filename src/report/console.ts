import * as path from 'node:path';
import type { Attempt, Report } from './model';
import { SEVERITIES, hostSummaries, readinessText } from './text';

const FR_NAMES: Record<string, string> = { FR1: 'IAC', FR2: 'UC', FR3: 'SI', FR4: 'DC', FR5: 'RDF', FR6: 'TRE', FR7: 'RA' };

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The end-of-run summary printed by `run` and `demo`: SL per FR, failing requirements, errors, where the evidence is. */
export function renderConsoleSummary(report: Report, folder: string): string {
  const c = report.component;
  const lines: string[] = [];
  const identity = [c.vendor, c.model, c.firmware ? `firmware ${c.firmware}` : undefined].filter(Boolean).join(' ');
  lines.push(`${c.name}${identity ? ` (${identity})` : ''}: run ${report.run.id}${report.run.complete ? '' : ' INCOMPLETE'}`);
  const { shard, merged } = report.run;
  if (shard) {
    lines.push(`Shard ${shard.index}/${shard.count}: ${shard.hosts.length ? shard.hosts.join(', ') : 'no host (more shards than hosts)'}; these verdicts cover only this shard's hosts (\`iacs-probe merge\` the ${shard.count} shard folders for the component's)`);
  }
  if (merged) lines.push(`Merged from ${plural(merged.count, 'shard')}: ${merged.shards.map((x) => `${x.index} (${x.hosts.length ? x.hosts.join(', ') : 'no host'})`).join('; ')}`);
  const s = report.summary.attempts;
  const undetermined = s.not_determined ?? 0;
  lines.push(`Attempts: ${s.pass + s.fail + s.not_applicable + undetermined + s.error + s.skipped} (pass ${s.pass}, fail ${s.fail}, not applicable ${s.not_applicable}, not determined ${undetermined}, error ${s.error}, skipped ${s.skipped})`);
  lines.push('');
  lines.push('FR        target  achieved  blocking at target');
  for (const g of report.gaps) {
    const mark = g.target === 0 ? ' ' : g.achieved >= g.target ? 'ok' : '!!';
    const blocking = g.target === 0 ? 'no target' : g.failing.length + g.undetermined.length === 0 ? '-'
      : [g.failing.length ? `${g.failing.length} failing` : '', g.undetermined.length ? `${g.undetermined.length} not determined` : ''].filter(Boolean).join(', ');
    lines.push(`${`${g.fr} ${FR_NAMES[g.fr]}`.padEnd(10)}${String(g.target).padStart(6)}${String(g.achieved).padStart(10)}  ${mark.padEnd(3)}${blocking}`);
  }
  lines.push(...readinessLines(report));
  lines.push(...perHostLines(report));
  const failing = report.requirements.filter((r) => r.verdict === 'fail');
  if (failing.length > 0) {
    lines.push('');
    lines.push(`Failing requirements (${failing.filter((r) => r.requiredAtTarget).length} required at the target):`);
    for (const r of failing) {
      lines.push(`  ${r.id.padEnd(14)} ${r.title}${r.requiredAtTarget ? '' : ' (not required at target)'}`);
      const findings = report.attempts.flatMap((a) => a.findings.filter((f) => f.severity !== 'info' && f.requirements.includes(r.id)).map((f) => ({ a, f })));
      for (const { a, f } of findings) lines.push(`      [${f.severity}] ${f.code} @ ${a.target}: ${f.message}`);
    }
  }
  const errors = report.attempts.filter((a) => a.status === 'error');
  if (errors.length > 0) {
    lines.push('');
    lines.push(`Errors (${plural(errors.length, 'attempt')} could not complete):`);
    for (const a of errors) lines.push(`  ${a.probe} @ ${a.target}: ${a.reason}: ${firstLine(a.message)}`);
  }
  const notAllowed = report.attempts.filter((a) => a.status === 'skipped' && a.reason === 'not-allowed');
  if (notAllowed.length > 0) {
    lines.push('');
    lines.push(`Not run for safety: ${[...new Set(notAllowed.map((a) => `${a.probe} (${a.safety})`))].join(', ')}`);
  }
  for (const n of report.run.notices ?? []) {
    lines.push('');
    lines.push(`NOTICE: ${n.message}`);
  }
  if (report.run.scopeViolations.length > 0) {
    lines.push('');
    lines.push(`Scope guard refused ${plural(report.run.scopeViolations.length, 'connection')} to undeclared hosts: ${[...new Set(report.run.scopeViolations.map((v) => v.host))].join(', ')}`);
  }
  const r = report.summary.requirements;
  lines.push('');
  lines.push(`Requirements: pass ${r.pass}, fail ${r.fail}, not applicable ${r.not_applicable}, not determined ${r.not_determined}`);
  const manual = report.requirements.filter((x) => x.source === 'manual').length;
  if (manual > 0) lines.push(`Manual attestations decide ${plural(manual, 'requirement')} (source: manual).`);
  lines.push(`Report: ${path.posix.join(folder.split(path.sep).join('/'), 'report.html')} (also report.json, junit.xml, trf.csv, trf.xlsx)`);
  lines.push(`Evidence: ${folder} (journal.ndjson, evidence/, manifest.json; check it with iacs-probe verify)`);
  return lines.join('\n') + '\n';
}

/** Per FR, what the probe evidence alone supports and what is left to attest (reports with readiness only). */
function readinessLines(report: Report): string[] {
  const lines = report.gaps.flatMap((g) => {
    const text = readinessText(g);
    return text ? [`  ${`${g.fr} ${FR_NAMES[g.fr]}`.padEnd(10)}${text}`] : [];
  });
  if (lines.length === 0) return [];
  return ['', 'Readiness (what the probe evidence alone supports; no verdict: the achieved SL above is):', ...lines];
}

/** With more than one target host: one line per host, its attempts by outcome and its findings by severity. */
function perHostLines(report: Report): string[] {
  if (report.targets.length < 2) return [];
  const hosts = hostSummaries(report);
  const width = Math.max(...hosts.map((x) => x.host.length));
  const lines = ['', `Per host (${plural(hosts.length, 'host')}):`];
  for (const x of hosts) {
    const s = x.byStatus;
    const findings = SEVERITIES.filter((sev) => x.findings[sev] > 0).map((sev) => `${sev} ${x.findings[sev]}`).join(', ') || 'none';
    lines.push(`  ${x.host.padEnd(width)} ${x.name}: ${plural(x.attempts, 'attempt')} (pass ${s.pass}, fail ${s.fail}, not applicable ${s.not_applicable}, not determined ${s.not_determined}, error ${s.error}, skipped ${s.skipped}); findings: ${findings}`);
  }
  return lines;
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0];
}

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
}

/** Live progress on one terminal line; silent when the stream is not a TTY (CI logs stay clean). */
export function progressListener(stream: ProgressStream): {
  onStart(planned: { probe: { id: string }; host: { host: string }; service?: { port: number } }, index: number, total: number): void;
  onEnd(attempt: Attempt, done: number, total: number, index: number): void;
  finish(): void;
} {
  const running = new Map<string, string>();
  let done = 0;
  let total = 0;
  const draw = () => {
    if (!stream.isTTY) return;
    const width = (stream.columns ?? 100) - 1;
    const line = `[${done}/${total}] ${[...running.values()].join(', ')}`;
    stream.write(`\r\x1b[2K${line.slice(0, width)}`);
  };
  return {
    onStart(planned, index, t) {
      total = t;
      running.set(String(index), `${planned.probe.id} @ ${planned.host.host}${planned.service ? `:${planned.service.port}` : ''}`);
      draw();
    },
    onEnd(_attempt, d, t, index) {
      done = d;
      total = t;
      running.delete(String(index));
      draw();
    },
    finish() {
      if (stream.isTTY) stream.write('\r\x1b[2K');
    },
  };
}
