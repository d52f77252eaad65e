/**
 * report.html: one self-contained page a lab hands on (cover, SL chart, requirement matrix, findings,
 * scope and what was not tested, attempts). No script, no external resource: a Content-Security-Policy
 * forbids every fetch, so the page opens offline and cannot phone home. Every value from the report is
 * escaped by the `h` template tag; only markup built here is raw.
 */
import type { Attempt, HostMonitorSummary, Report, RequirementVerdict } from './model';
import type { Finding } from '../sdk';
import { boundarySection, hasBoundary } from './html-boundary';
import { Raw, h } from './markup';
import {
  ATTEMPT_STATUSES, FR_SHORT, FR_TITLES, SEVERITIES, VERDICT_WORDS, basisAttempts, evidenceFor, hostOf, hostSummaries, levelsText,
  readinessBlockText, readinessText,
} from './text';

/** An href for a run-folder-relative path: each segment percent-encoded, so no scheme or query can appear. */
function relativeHref(rel: string): string {
  return rel.split('/').map((s) => encodeURIComponent(s)).join('/');
}

function evidenceLinks(files: readonly string[]): Raw {
  if (files.length === 0) return h`<span class="muted">none</span>`;
  // The file name is enough to read (the probe and target are in the row); the title holds the path.
  const names = files.map((f) => f.split('/').at(-1)!);
  const label = (f: string, i: number) => (names.indexOf(names[i]) === names.lastIndexOf(names[i]) ? names[i] : f.split('/').slice(-2).join('/'));
  return h`<ul class="files">${files.map((f, i) => h`<li><a href="${relativeHref(f)}" title="${f}">${label(f, i)}</a></li>`)}</ul>`;
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function utc(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
}

const STYLE = `
:root { --pass:#1a7f37; --fail:#c62828; --na:#6b7280; --nd:#b26a00; --ink:#1f2328; --line:#d0d7de; --soft:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, "DejaVu Sans", Arial, sans-serif; color: var(--ink); margin: 0 auto; max-width: 1200px; padding: 24px; }
h1 { font-size: 26px; margin: 4px 0 8px; overflow-wrap: anywhere; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { border: 1px solid var(--line); padding: 4px 6px; vertical-align: top; text-align: left; overflow-wrap: break-word; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.nw { white-space: nowrap; }
td.long, td.long a { overflow-wrap: anywhere; }
thead { display: table-header-group; }
code, pre { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 12px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--soft); padding: 6px; margin: 4px 0; max-height: 24em; overflow: auto; }
a { color: #0550ae; }
.muted { color: var(--na); }
.kicker { text-transform: uppercase; letter-spacing: .08em; color: var(--na); margin: 0; font-size: 12px; }
.cover { border: 1px solid var(--line); border-radius: 6px; padding: 20px 24px; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 12px 0; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.banner { padding: 8px 12px; border-radius: 4px; font-weight: 600; margin: 8px 0; }
.banner.ok { background: #dafbe1; color: var(--pass); }
.banner.bad { background: #ffebe9; color: var(--fail); }
.banner.warn { background: #fff8c5; color: var(--nd); }
.counts span { display: inline-block; margin-right: 14px; }
nav ol { columns: 2; margin: 8px 0; }
.v { display: inline-block; font-weight: 700; padding: 1px 6px; border-radius: 3px; color: #fff; }
.v.pass { background: var(--pass); } .v.fail { background: var(--fail); }
.v.not_applicable { background: var(--na); } .v.not_determined { background: var(--nd); }
.v.error { background: #8250df; } .v.skipped { background: var(--na); }
tr.fail td:first-child { border-left: 4px solid var(--fail); }
tr.pass td:first-child { border-left: 4px solid var(--pass); }
tr.not_determined td:first-child { border-left: 4px solid var(--nd); }
tr.not_applicable td:first-child { border-left: 4px solid var(--na); }
td.sl { text-align: center; width: 2.6em; color: var(--na); }
td.sl.req { color: var(--ink); font-weight: 700; }
td.sl.target { background: #ddf4ff; }
.sev { font-weight: 700; text-transform: uppercase; font-size: 11px; padding: 1px 5px; border-radius: 3px; border: 1px solid currentColor; }
.sev.critical { color: #82071e; } .sev.high { color: var(--fail); } .sev.medium { color: #bc4c00; } .sev.low { color: #9a6700; } .sev.info { color: var(--na); }
ul.files, ul.plain { margin: 0; padding-left: 16px; }
table.matrix, table.fixed { table-layout: fixed; }
.chart { max-width: 760px; width: 100%; height: auto; }
footer { margin-top: 40px; font-size: 12px; color: var(--na); border-top: 1px solid var(--line); padding-top: 8px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9pt; }
  nav { display: none; }
  .cover { break-after: page; page-break-after: always; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section { break-before: auto; }
  #requirements, #attempts { break-before: page; page-break-before: always; }
  tr, .finding { break-inside: avoid; page-break-inside: avoid; }
  pre { max-height: none; overflow: visible; font-size: 7.5pt; }
  a { color: inherit; text-decoration: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;

function cover(report: Report): Raw {
  const c = report.component;
  const r = report.run;
  const fr = (Object.keys(report.slTarget) as (keyof typeof report.slTarget)[]);
  const uniform = new Set(fr.map((f) => report.slTarget[f])).size === 1;
  const target = uniform ? `SL ${report.slTarget.FR1} for every FR` : fr.map((f) => `${f} ${report.slTarget[f]}`).join(', ');
  const achieved = fr.map((f) => `${f} ${report.slAchieved[f]}`).join(', ');
  const facts: [string, string | undefined][] = [
    ['Vendor', c.vendor], ['Model', c.model], ['Firmware', c.firmware], ['Serial number', c.serial],
    ['Component type', c.types.join(', ')], ['SL target (SL-T)', target], ['SL achieved (SL-C)', achieved],
    ['Date', `${utc(r.startedAt)} – ${utc(r.finishedAt)}`], ['Operator', r.operator],
    ['Tool', `${report.tool.name} ${report.tool.version}`], ['Profile', r.profile], ['Profile sha256', r.profileSha256],
    ['Run id', r.id], ['Safety classes allowed', r.allowed.join(', ')],
    ['Shard', r.shard ? `${r.shard.index} of ${r.shard.count} (0-based): ${r.shard.hosts.join(', ') || 'no host'}` : undefined],
    ['Merged from', r.merged ? `${r.merged.count} shards: ${r.merged.shards.map((x) => `${x.index} (run ${x.id})`).join(', ')}` : undefined],
  ];
  const s = report.summary;
  const failed = s.failedAtTarget;
  const banner = !r.complete
    ? h`<p class="banner warn">Run INCOMPLETE${r.incompleteReason ? h`: ${r.incompleteReason}` : ''} — the verdicts cover only what ran.</p>`
    : failed > 0
      ? h`<p class="banner bad">${failed} requirement${failed === 1 ? '' : 's'} required at the SL target failed.</p>`
      : s.requirements.not_determined > 0
        ? h`<p class="banner warn">No requirement failed; ${s.requirements.not_determined} not determined (need evidence or attestation).</p>`
        : h`<p class="banner ok">Every requirement passed or is not applicable.</p>`;
  return h`<header class="cover" id="cover">
<p class="kicker">IEC 62443-4-2 component security assessment</p>
<h1>${c.name}</h1>
${r.shard ? h`<p class="banner warn">Shard ${r.shard.index} of ${r.shard.count}: these verdicts cover only ${r.shard.hosts.join(', ') || 'no host'}; the component's verdicts come from <code>iacs-probe merge</code> of all ${r.shard.count} shards.</p>
` : ''}${banner}${(r.notices ?? []).map((n) => h`
<p class="banner warn notice">Notice: ${n.message}</p>`)}
<dl class="facts">${facts.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => h`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<p class="counts"><strong>Requirements:</strong> ${(['pass', 'fail', 'not_applicable', 'not_determined'] as const).map((v) => h`<span><span class="v ${v}">${VERDICT_WORDS[v]}</span> ${s.requirements[v]}</span>`)}</p>
<p class="counts"><strong>Attempts:</strong> ${(['pass', 'fail', 'not_applicable', 'not_determined', 'error', 'skipped'] as const).map((v) => h`<span>${v.replace('_', ' ')} ${s.attempts[v] ?? 0}</span>`)}
<strong>Findings:</strong> ${SEVERITIES.map((v) => h`<span>${v} ${s.findings[v] ?? 0}</span>`)}</p>
</header>`;
}

/** Grouped bars per FR: SL target (outlined) and SL achieved (green at or above target, red below). */
export function slChart(report: Report): Raw {
  const frs = Object.keys(report.slTarget) as (keyof typeof report.slTarget)[];
  const left = 56;
  const top = 16;
  const step = 48; // pixels per level
  const base = top + 4 * step;
  const group = 96;
  const width = left + frs.length * group + 8;
  const height = base + 52;
  const y = (level: number) => base - level * step;
  const grid = [0, 1, 2, 3, 4].map((l) => h`<line x1="${left}" x2="${width - 8}" y1="${y(l)}" y2="${y(l)}" stroke="#d0d7de"/><text x="${left - 8}" y="${y(l) + 4}" text-anchor="end" font-size="12" fill="#57606a">SL ${l}</text>`);
  const bars = frs.map((fr, i) => {
    const x = left + i * group + 14;
    const t = report.slTarget[fr];
    const a = report.slAchieved[fr];
    const colour = t === 0 ? '#6b7280' : a >= t ? '#1a7f37' : '#c62828';
    return h`<g><title>${fr} ${FR_TITLES[fr]}: target SL ${t}, achieved SL ${a}</title>
<rect x="${x}" y="${y(t)}" width="30" height="${base - y(t)}" fill="#ddf4ff" stroke="#0969da" stroke-dasharray="4 3"/>
<rect x="${x + 34}" y="${y(a)}" width="30" height="${base - y(a)}" fill="${colour}"/>
<text x="${x + 15}" y="${y(t) - 4}" text-anchor="middle" font-size="11" fill="#0969da">${t}</text>
<text x="${x + 49}" y="${y(a) - 4}" text-anchor="middle" font-size="11" fill="${colour}">${a}</text>
${readinessBar(report, fr, x + 68, y, base)}<text x="${x + 32}" y="${base + 18}" text-anchor="middle" font-size="13" font-weight="600">${fr}</text>
<text x="${x + 32}" y="${base + 34}" text-anchor="middle" font-size="11" fill="#57606a">${FR_SHORT[fr]}</text></g>`;
  });
  const summary = frs.map((fr) => `${fr} target ${report.slTarget[fr]} achieved ${report.slAchieved[fr]}`).join('; ');
  return h`<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height + 20}" role="img" aria-label="${`SL achieved vs SL target per FR: ${summary}`}">
<title>SL achieved vs SL target per FR</title>
${grid}${bars}
<g font-size="12"><rect x="${left}" y="${height + 4}" width="14" height="12" fill="#ddf4ff" stroke="#0969da" stroke-dasharray="4 3"/><text x="${left + 20}" y="${height + 14}">SL target</text>
<rect x="${left + 110}" y="${height + 4}" width="14" height="12" fill="#1a7f37"/><text x="${left + 130}" y="${height + 14}">achieved (at or above target)</text>
<rect x="${left + 330}" y="${height + 4}" width="14" height="12" fill="#c62828"/><text x="${left + 350}" y="${height + 14}">achieved (below target)</text>${report.gaps.some((g) => g.readiness) ? h`
<rect x="${left + 500}" y="${height + 4}" width="8" height="12" fill="#9ca3af"/><text x="${left + 514}" y="${height + 14}">probe evidence supports</text>` : ''}</g>
</svg>`;
}

/** The narrow grey bar: the level the probe evidence alone supports (reports with readiness only). */
function readinessBar(report: Report, fr: string, x: number, y: (level: number) => number, base: number): Raw | string {
  const gap = report.gaps.find((g) => g.fr === fr);
  if (!gap?.readiness) return '';
  const level = gap.readiness.level;
  return h`<g><title>${`${fr}: ${readinessText(gap) ?? ''}`}</title><rect x="${x}" y="${y(level)}" width="12" height="${base - y(level)}" fill="#9ca3af"/>
<text x="${x + 6}" y="${y(level) - 4}" text-anchor="middle" font-size="10" fill="#57606a">${level}</text></g>
`;
}

function slSection(report: Report): Raw {
  return h`<section id="sl"><h2>Security level per foundational requirement</h2>
${slChart(report)}
<table><thead><tr><th>FR</th><th>Target</th><th>Achieved</th><th>Failing at target</th><th>Not determined at target</th></tr></thead><tbody>
${report.gaps.map((g) => h`<tr class="${g.target === 0 ? 'not_applicable' : g.achieved >= g.target ? 'pass' : 'fail'}"><td>${g.fr} ${FR_TITLES[g.fr]}</td><td>${g.target}</td><td>${g.achieved}</td>
<td>${g.failing.length ? g.failing.join(', ') : '–'}</td><td>${g.undetermined.length ? `${g.undetermined.length}: ${g.undetermined.join(', ')}` : '–'}</td></tr>`)}
</tbody></table>${readinessTable(report)}</section>`;
}

/** Next to the chart: per FR, the level the probe evidence alone supports and the rows left to attest. */
function readinessTable(report: Report): Raw | string {
  if (!report.gaps.some((g) => g.readiness)) return '';
  return h`
<h3 id="readiness">Readiness: what the probe evidence supports</h3>
<p>The level no failing row and no probe-testable row without a probe verdict blocks; the rows to attest lift the FR to its
target once attested pass. This is no verdict: the achieved SL above is.</p>
<table class="readiness"><thead><tr><th>FR</th><th>Achieved</th><th>Probe evidence supports</th><th>Blocked by</th><th>Rows to attest for the target</th><th>Not evidenced by probes (rerun or attest)</th></tr></thead><tbody>
${report.gaps.filter((g) => g.readiness).map((g) => {
    const r = g.readiness!;
    return h`<tr><td>${g.fr} ${FR_TITLES[g.fr]}</td><td>${g.achieved}</td><td>${readinessText(g) ?? ''}</td>
<td>${r.blockedAt ? readinessBlockText(r.blockedAt) : '–'}</td><td>${r.needAttestation.length ? `${r.needAttestation.length}: ${r.needAttestation.join(', ')}` : '–'}</td>
<td>${r.notEvidenced.length ? `${r.notEvidenced.length}: ${r.notEvidenced.join(', ')}` : '–'}</td></tr>`;
  })}
</tbody></table>`;
}

function findingsOf(report: Report, row: RequirementVerdict): { finding: Finding; attempt: Attempt }[] {
  return basisAttempts(report, row.basis).flatMap((attempt) => attempt.findings
    .filter((f) => f.requirements.includes(row.id) && (row.findings.includes(f.code) || f.severity === 'info'))
    .map((finding) => ({ finding, attempt })));
}

function requirementRow(report: Report, row: RequirementVerdict): Raw {
  const target = report.slTarget[row.fr];
  const probes = row.basis.filter((b) => b !== 'manual');
  const findings = findingsOf(report, row);
  const a = row.attestation;
  return h`<tr class="${row.verdict}" id="${`req-${row.id.replace(/[^A-Za-z0-9]+/g, '-')}`}">
<td><strong>${row.id}</strong><br>${row.title}${row.confidence !== 'high' ? h`<br><span class="muted">SL assignment confidence: ${row.confidence}</span>` : ''}</td>
<td class="nw">${row.fr}</td>
${[1, 2, 3, 4].map((l) => h`<td class="${`sl${row.sl.includes(l as 1) ? ' req' : ''}${l === target ? ' target' : ''}`}">${row.sl.includes(l as 1) ? '●' : '·'}</td>`)}
<td><span class="${`v ${row.verdict}`}">${VERDICT_WORDS[row.verdict]}</span>${row.requiredAtTarget ? '' : h`<br><span class="muted">not required at target</span>`}</td>
<td>${row.source}${row.coverage ? h`<br><span class="muted">coverage ${row.coverage}</span>` : ''}</td>
<td>${probes.length ? h`<ul class="plain">${probes.map((p) => h`<li><code>${p}</code></li>`)}</ul>` : ''}
${findings.length ? h`<ul class="plain">${findings.map(({ finding }) => h`<li><span class="${`sev ${finding.severity}`}">${finding.severity}</span> <code>${finding.code}</code></li>`)}</ul>` : ''}
${a ? h`<p>Attested by ${a.reviewer} on ${a.date}: ${VERDICT_WORDS[a.verdict]}${a.evidence ? h`<br>Evidence: ${a.evidence}` : ''}</p>` : ''}</td>
<td class="long">${evidenceLinks(evidenceFor(report, row))}</td>
<td>${row.reason}</td></tr>`;
}

function requirementsSection(report: Report): Raw {
  return h`<section id="requirements"><h2>Requirement matrix</h2>
<p>Every IEC 62443-4-2 row for the component type (${report.component.types.join(', ')}). ● marks the levels at which a row is required;
the shaded column is the FR's SL target. A row without evidence is <em>not determined</em>, never a pass.</p>
<table class="matrix"><colgroup><col style="width:17%"><col style="width:4.5%"><col span="4" style="width:3.4%"><col style="width:11%"><col style="width:7.5%">
<col style="width:13%"><col style="width:13%"><col></colgroup><thead><tr><th>Requirement</th><th>FR</th><th>SL 1</th><th>SL 2</th><th>SL 3</th><th>SL 4</th><th>Verdict</th><th>Source</th>
<th>Probes and findings</th><th>Evidence</th><th>Reason</th></tr></thead><tbody>
${report.requirements.map((r) => requirementRow(report, r))}
</tbody></table></section>`;
}

function findingsSection(report: Report): Raw {
  const all = report.attempts.flatMap((attempt) => attempt.findings.map((finding) => ({ attempt, finding })));
  const groups = SEVERITIES.map((sev) => ({ sev, items: all.filter((x) => x.finding.severity === sev) })).filter((g) => g.items.length > 0);
  return h`<section id="findings"><h2>Findings by severity</h2>
${groups.length === 0 ? h`<p>No findings.</p>` : groups.map((g) => h`<h3><span class="${`sev ${g.sev}`}">${g.sev}</span> ${g.items.length}</h3>
<table class="fixed"><colgroup><col style="width:19%"><col style="width:15%"><col><col style="width:11%"><col style="width:17%"></colgroup>
<thead><tr><th>Code</th><th>Where</th><th>Message</th><th>Requirements</th><th>Evidence</th></tr></thead><tbody>
${g.items.map(({ attempt, finding }) => h`<tr class="finding"><td class="long"><code>${finding.code}</code></td><td><code>${attempt.probe}</code><br>${attempt.target}</td>
<td class="long">${finding.message}</td><td>${finding.requirements.join(', ')}</td><td class="long">${evidenceLinks(finding.evidence)}</td></tr>`)}
</tbody></table>`)}
</section>`;
}

const WATCH_COLOURS = ['#0969da', '#8250df', '#1a7f37', '#bc4c00', '#57606a', '#bf3989'];
const FUNCTION_WORDS: Record<HostMonitorSummary['verdict'], string> = {
  maintained: 'maintained', degraded: 'degraded within tolerance', lost: 'lost', recovered: 'recovered', not_determined: 'not determined',
};
const FUNCTION_CLASS: Record<HostMonitorSummary['verdict'], string> = {
  maintained: 'pass', degraded: 'not_determined', lost: 'fail', recovered: 'fail', not_determined: 'not_determined',
};

/**
 * Latency over time per watch (inline SVG): answered samples as lines, failed ones as red crosses on the top
 * band, the latency tolerance dashed, and the phases probes marked shaded and labelled.
 */
export function monitorChart(host: string, m: HostMonitorSummary): Raw {
  const left = 56;
  const top = 30;
  const plotW = 680;
  const plotH = 160;
  const width = left + plotW + 16;
  const height = top + plotH + 56;
  const times = m.series.map((s) => s.t);
  const t0 = times.length ? Math.min(...times) : Date.parse(m.startedAt);
  const t1 = Math.max(t0 + 1000, ...times, m.stoppedAt ? Date.parse(m.stoppedAt) : t0);
  const tolerance = m.parameters.latencyToleranceMs;
  const maxLatency = Math.max(tolerance * 1.25, ...m.series.filter((s) => s.ok).map((s) => s.latencyMs));
  const x = (t: number) => left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (ms: number) => top + plotH - (Math.min(ms, maxLatency) / maxLatency) * plotH;
  const r1 = (n: number) => Math.round(n * 10) / 10;
  const phases = m.phases.map((p, i) => {
    const x0 = r1(x(p.start));
    const w = Math.max(1, r1(x(p.end) - x(p.start)));
    return h`<g class="phase"><title>${`${p.label}${p.attempt ? ` (${p.attempt})` : ''}: ${FUNCTION_WORDS[p.verdict]} – ${p.text}`}</title>
<rect x="${x0}" y="${top}" width="${w}" height="${plotH}" fill="${p.verdict === 'maintained' ? '#ddf4ff' : '#ffebe9'}" fill-opacity="0.55" stroke="#9a6700" stroke-opacity="0.25"/>
<text x="${x0 + 2}" y="${top + 11 + (i % 3) * 11}" font-size="10" fill="#57606a">${p.label.length > 28 ? `${p.label.slice(0, 27)}…` : p.label}</text></g>`;
  });
  const lines = m.watches.map((w, i) => {
    const colour = WATCH_COLOURS[i % WATCH_COLOURS.length];
    const own = m.series.filter((s) => s.watch === w.name);
    const segments: string[][] = [[]];
    for (const s of own) {
      if (s.ok) segments.at(-1)!.push(`${r1(x(s.t))},${r1(y(s.latencyMs))}`);
      else if (segments.at(-1)!.length > 0) segments.push([]);
    }
    const failed = own.filter((s) => !s.ok);
    return h`<g class="watch">${segments.filter((seg) => seg.length > 0).map((seg) => (seg.length === 1
      ? h`<circle cx="${seg[0].split(',')[0]}" cy="${seg[0].split(',')[1]}" r="2" fill="${colour}"/>`
      : h`<polyline points="${seg.join(' ')}" fill="none" stroke="${colour}" stroke-width="1.5"/>`))}
${failed.map((s) => h`<g class="failed"><title>${`${w.name} ${new Date(s.t).toISOString()}: ${s.error ?? 'failed'}`}</title><path d="${`M${r1(x(s.t)) - 3},${top - 9} l6,6 m0,-6 l-6,6`}" stroke="#c62828" stroke-width="1.6"/></g>`)}</g>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const t = t0 + f * (t1 - t0);
    return h`<line x1="${r1(x(t))}" x2="${r1(x(t))}" y1="${top + plotH}" y2="${top + plotH + 4}" stroke="#57606a"/><text x="${r1(x(t))}" y="${top + plotH + 16}" text-anchor="middle" font-size="11" fill="#57606a">${`${Math.round((t - t0) / 100) / 10} s`}</text>`;
  });
  const yTicks = [0, maxLatency / 2, maxLatency].map((ms) => h`<text x="${left - 6}" y="${r1(y(ms)) + 4}" text-anchor="end" font-size="11" fill="#57606a">${`${Math.round(ms)} ms`}</text>`);
  const legend = m.watches.map((w, i) => h`<rect x="${left + i * 130}" y="${height - 14}" width="14" height="4" fill="${WATCH_COLOURS[i % WATCH_COLOURS.length]}"/><text x="${left + i * 130 + 18}" y="${height - 9}" font-size="11">${w.name}</text>`);
  const failedCount = m.series.filter((s) => !s.ok).length;
  return h`<svg class="chart monitor-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${`Essential function of ${host}: latency over time per watch, ${m.series.length} samples, ${failedCount} failed, ${m.phases.length} phases; ${FUNCTION_WORDS[m.verdict]}`}">
<title>${`Essential function of ${host}: latency over time`}</title>
<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#d0d7de"/>
${phases}
<line x1="${left}" x2="${left + plotW}" y1="${r1(y(tolerance))}" y2="${r1(y(tolerance))}" stroke="#9a6700" stroke-dasharray="5 4"><title>${`latency tolerance ${tolerance} ms`}</title></line>
<text x="${left + plotW - 4}" y="${r1(y(tolerance)) - 3}" text-anchor="end" font-size="10" fill="#9a6700">${`tolerance ${tolerance} ms`}</text>
${lines}
<text x="${left - 6}" y="${top - 10}" text-anchor="end" font-size="10" fill="#c62828">failed</text>
${ticks}${yTicks}${legend}
<g font-size="11"><path d="${`M${left + m.watches.length * 130},${height - 15} l6,6 m0,-6 l-6,6`}" stroke="#c62828" stroke-width="1.6"/><text x="${left + m.watches.length * 130 + 10}" y="${height - 9}">failed sample</text>
<rect x="${left + m.watches.length * 130 + 110}" y="${height - 17}" width="14" height="10" fill="#ffebe9" stroke="#9a6700" stroke-opacity="0.25"/><text x="${left + m.watches.length * 130 + 128}" y="${height - 9}">phase</text></g>
</svg>`;
}

/** A host's monitor: the verdict, the chart, and the judgement of each phase with the samples behind it. */
function monitorBlock(host: string, m: HostMonitorSummary): Raw {
  return h`<div class="monitor" id="${`monitor-${host}`}"><h3>Essential function of ${host}</h3>
<p><span class="${`v ${FUNCTION_CLASS[m.verdict]}`}">${FUNCTION_WORDS[m.verdict]}</span> ${m.text}</p>
<p class="muted">Watches: ${m.watches.map((w) => w.describe).join('; ')}. Every ${m.parameters.periodMs} ms; late after ${m.parameters.latencyToleranceMs} ms; lost after ${m.parameters.lossAfterMs} ms of failure; stop on loss ${m.parameters.stopOnLoss ? 'on' : 'off'}. Samples: ${evidenceLinks(m.files)}</p>
${monitorChart(host, m)}
${m.phases.length ? h`<table><thead><tr><th>Phase</th><th>Attempt</th><th>Function</th><th>Judgement</th></tr></thead><tbody>
${m.phases.map((p) => h`<tr class="${FUNCTION_CLASS[p.verdict]}"><td>${p.label}</td><td>${p.attempt ?? ''}</td><td class="nw"><span class="${`v ${FUNCTION_CLASS[p.verdict]}`}">${FUNCTION_WORDS[p.verdict]}</span></td>
<td>${p.text}${p.watches.some((w) => w.evidence.length > 0) ? h`<br><span class="muted">Samples: ${p.watches.flatMap((w) => w.evidence).slice(0, 8).map((s) => `${new Date(s.t).toISOString()} ${s.watch} ${s.ok ? `ok ${s.latencyMs} ms` : `failed (${s.error ?? ''})`}`).join('; ')}</span>` : ''}</td></tr>`)}
</tbody></table>` : ''}</div>`;
}

/** One row per target host: its attempts by status, its findings by severity, and how long it was under test. */
function hostsSection(report: Report): Raw {
  const hosts = hostSummaries(report);
  const span = (first: string | null, last: string | null) => (first && last ? seconds(Date.parse(last) - Date.parse(first)) : '–');
  const count = (n: number, cls: string) => (n === 0 ? h`<span class="muted">0</span>` : h`<span class="${cls}">${n}</span>`);
  return h`<section id="hosts"><h2>Per host</h2>
<p>What each target host went through: attempts by outcome, findings by severity, and the time from its first attempt's start to its last attempt's end.</p>
${hosts.length === 0 ? h`<p>No target.</p>` : h`<table><thead><tr><th>Host</th><th>Name</th><th>Attempts</th>${ATTEMPT_STATUSES.map((st) => h`<th>${st.replace('_', ' ')}</th>`)}
<th>Findings</th><th>Under test</th></tr></thead><tbody>
${hosts.map((x) => h`<tr id="${`host-${x.host}`}"><td>${x.host}</td><td>${x.name}</td><td>${x.attempts}</td>
${ATTEMPT_STATUSES.map((st) => h`<td>${count(x.byStatus[st], `v ${st}`)}</td>`)}
<td>${SEVERITIES.filter((sev) => x.findings[sev] > 0).map((sev) => h`<span class="${`sev ${sev}`}">${sev}</span> ${x.findings[sev]} `)}${SEVERITIES.every((sev) => x.findings[sev] === 0) ? h`<span class="muted">none</span>` : ''}</td>
<td class="nw">${span(x.firstStart, x.lastEnd)}</td></tr>`)}
</tbody></table>`}
${report.targets.filter((t) => t.monitor).map((t) => h`${monitorBlock(t.host, t.monitor!)}
`)}</section>`;
}

function scopeSection(report: Report): Raw {
  const v = report.run.scopeViolations;
  return h`<section id="scope"><h2>Scope</h2>
<p>Only these hosts were contacted; the services are the declared communication matrix.</p>
<table><thead><tr><th>Host</th><th>Name</th><th>Addresses</th><th>Declared services</th><th>Attempts</th></tr></thead><tbody>
${report.targets.map((t) => h`<tr><td>${t.host}</td><td>${t.name}</td><td>${t.addresses.join(', ')}</td>
<td>${t.services.length ? h`<ul class="plain">${t.services.map((s) => h`<li>${s.transport}/${s.port} ${s.protocol} <span class="muted">${s.name}</span></li>`)}</ul>` : h`<span class="muted">none declared</span>`}</td>
<td>${report.attempts.filter((a) => hostOf(report, a) === t.host).length}</td></tr>`)}
</tbody></table>
<p>Safety classes allowed: ${report.run.allowed.join(', ')}.</p>
${v.length ? h`<p class="banner bad">The scope guard refused ${v.length} connection(s) to undeclared addresses:</p>
<ul>${v.map((x) => h`<li>${x.host}${x.port !== undefined ? `:${x.port}` : ''} at ${x.at}</li>`)}</ul>` : h`<p>The scope guard refused no connection.</p>`}
</section>`;
}

function notTestedSection(report: Report): Raw {
  const skipped = report.attempts.filter((a) => a.status === 'skipped');
  const errors = report.attempts.filter((a) => a.status === 'error');
  const judgedNothing = report.attempts.filter((a) => a.status === 'not_determined');
  const undetermined = report.requirements.filter((r) => r.verdict === 'not_determined');
  const attemptTable = (list: Attempt[]) => h`<table><thead><tr><th>Probe</th><th>Target</th><th>Safety</th><th>Reason</th><th>Detail</th></tr></thead><tbody>
${list.map((a) => h`<tr><td><code>${a.probe}</code></td><td>${a.target}</td><td>${a.safety}</td><td>${a.reason ?? ''}</td><td>${a.message ? h`<pre>${a.message}</pre>` : ''}</td></tr>`)}
</tbody></table>`;
  return h`<section id="not-tested"><h2>What was not tested, and why</h2>
${report.run.complete ? '' : h`<p class="banner warn">The run did not complete${report.run.incompleteReason ? h`: ${report.run.incompleteReason}` : ''}.</p>`}
<h3>Skipped attempts (${skipped.length})</h3>${skipped.length ? attemptTable(skipped) : h`<p>None.</p>`}
<h3>Attempts that ended in an error (${errors.length})</h3>${errors.length ? attemptTable(errors) : h`<p>None.</p>`}
<h3>Attempts that could not tell (${judgedNothing.length})</h3>${judgedNothing.length ? attemptTable(judgedNothing) : h`<p>None.</p>`}
<h3>Requirements not determined (${undetermined.length})</h3>
${undetermined.length ? h`<table><thead><tr><th>Requirement</th><th>Required at target</th><th>Why</th></tr></thead><tbody>
${undetermined.map((r) => h`<tr class="not_determined"><td><strong>${r.id}</strong> ${r.title}</td><td>${r.requiredAtTarget ? 'yes' : 'no'} (${levelsText(r.sl)})</td><td>${r.reason}${r.notExamined?.length ? h`<br><span class="muted">Not examined: ${r.notExamined.join('; ')}</span>` : ''}</td></tr>`)}
</tbody></table>` : h`<p>None.</p>`}
</section>`;
}

function attemptsSection(report: Report): Raw {
  return h`<section id="attempts"><h2>Attempts</h2>
<table><thead><tr><th>Probe</th><th>Target</th><th>Status</th><th>Duration</th><th>Test performed and observations</th><th>Evidence</th></tr></thead><tbody>
${report.attempts.map((a) => h`<tr class="${a.status}"><td><code>${a.probe}</code><br><span class="muted">${a.safety}</span></td><td>${a.target}<br><span class="muted">${a.service}</span></td>
<td><span class="${`v ${a.status}`}">${a.status.replace('_', ' ')}</span>${a.reason ? h`<br>${a.reason}` : ''}</td><td>${seconds(a.durationMs)}<br><span class="muted">${utc(a.startedAt)}</span></td>
<td>${a.outcomes.length ? h`<ul class="plain">${a.outcomes.map((o) => h`<li>${o.requirement}: ${o.verdict.replace('_', ' ')} (${o.coverage}) – ${o.reason}</li>`)}</ul>` : ''}
${Object.keys(a.observations).length ? h`<pre>${JSON.stringify(a.observations, null, 2)}</pre>` : ''}</td>
<td class="long">${evidenceLinks(a.evidence)}</td></tr>`)}
</tbody></table></section>`;
}

/** The whole report as one HTML document (a pure function of the Report). */
export function renderHtml(report: Report): string {
  const c = report.component;
  const doc = h`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${`${report.tool.name} ${report.tool.version}`}">
<title>${`${c.name} – IEC 62443-4-2 assessment – run ${report.run.id}`}</title>
<style>${new Raw(STYLE)}</style>
</head>
<body>
${cover(report)}
<nav><ol><li><a href="#sl">Security level per FR</a></li><li><a href="#requirements">Requirement matrix</a></li><li><a href="#findings">Findings by severity</a></li>
${hasBoundary(report) ? h`<li><a href="#boundary">Zones and conduits</a></li>` : ''}<li><a href="#hosts">Per host</a></li><li><a href="#scope">Scope</a></li><li><a href="#not-tested">What was not tested</a></li><li><a href="#attempts">Attempts</a></li></ol></nav>
${slSection(report)}
${requirementsSection(report)}
${findingsSection(report)}
${boundarySection(report)}${hostsSection(report)}
${scopeSection(report)}
${notTestedSection(report)}
${attemptsSection(report)}
<footer>Generated by ${report.tool.name} ${report.tool.version} from report.json of run ${report.run.id}. Evidence links are relative to the run folder;
check the folder with <code>iacs-probe verify</code>. Requirement titles are paraphrases; check the catalog against IEC 62443-4-2:2019 before using this report as evidence of record.</footer>
</body>
</html>
`;
  return doc.text;
}
