/**
 * report.html's zones-and-conduits section (docs/boundary.md): the conduit matrix of the boundary probes
 * (declared vs observed, per flow) as a table, and an inline SVG picture of the zones, the device between
 * them and the flows seen. Only for runs whose attempts carry `observations.matrix`. No script, no external
 * resource; every value goes through the escaping `h` tag.
 */
import type { Attempt, Report } from './model';
import { h, type Raw } from './markup';

interface Row {
  probe: string;
  conduit: string;
  from: string;
  to: string;
  protocol: string;
  port?: number;
  icmpType?: number;
  way: string;
  declared: 'allow' | 'deny';
  observed: 'pass' | 'blocked';
  sent: number;
  seen: number;
}

interface Zone { name: string; trusted?: boolean }

const isRow = (r: unknown): r is Omit<Row, 'probe'> => typeof r === 'object' && r !== null && typeof (r as Row).from === 'string' && typeof (r as Row).to === 'string' && ((r as Row).declared === 'allow' || (r as Row).declared === 'deny') && ((r as Row).observed === 'pass' || (r as Row).observed === 'blocked');

function matrixRows(report: Report): Row[] {
  return report.attempts.flatMap((a: Attempt) => (Array.isArray(a.observations.matrix) ? (a.observations.matrix as unknown[]).filter(isRow).map((r) => ({ ...r, probe: a.probe })) : []));
}

export function hasBoundary(report: Report): boolean {
  return matrixRows(report).length > 0;
}

/** The zones, trusted first: from the probes' `observations.zones` when given, else the names the rows use. */
function zonesOf(report: Report, rows: readonly Row[]): Zone[] {
  const declared = report.attempts.flatMap((a) => (Array.isArray(a.observations.zones) ? (a.observations.zones as Zone[]) : []));
  const names = [...new Set([...declared.map((z) => z.name), ...rows.flatMap((r) => [r.from, r.to])])];
  const zones = names.map((name) => ({ name, trusted: declared.find((z) => z.name === name)?.trusted }));
  return zones.sort((a, b) => Number(b.trusted === true) - Number(a.trusted === true));
}

const flowText = (r: Row) => `${r.protocol}/${r.protocol === 'icmp' ? `type ${r.icmpType}` : r.port}`;
const agrees = (r: Row) => (r.declared === 'allow') === (r.observed === 'pass');

/** Zones left (trusted) and right (the others) of the device; one arrow per flow that is declared or crossed. */
function zonePicture(zones: readonly Zone[], rows: readonly Row[]): Raw {
  const shown = rows.filter((r) => r.declared === 'allow' || r.observed === 'pass');
  const drawn = shown.slice(0, 16);
  const left = zones.filter((z) => z.trusted === true);
  const right = zones.filter((z) => z.trusted !== true);
  const width = 760;
  const rowH = 18;
  const height = Math.max(140, 70 + drawn.length * rowH + 30);
  const boxW = 170;
  const deviceX = 330;
  const deviceW = 100;
  const place = (list: readonly Zone[], x: number) => list.map((z, i) => ({ z, x, y: 20 + (i * (height - 40)) / list.length, h: (height - 40) / list.length - 8 }));
  const boxes = [...place(left, 10), ...place(right, width - boxW - 10)];
  const xOf = (zone: string) => boxes.find((b) => b.z.name === zone);
  const arrows = drawn.map((r, i) => {
    const from = xOf(r.from);
    const to = xOf(r.to);
    if (!from || !to) return '';
    const y = 60 + i * rowH;
    const [x1, x2] = from.x < to.x ? [from.x + boxW, to.x - 6] : [from.x, to.x + boxW + 6];
    const colour = agrees(r) ? '#1a7f37' : '#c62828';
    const head = x2 > x1 ? `M${x2},${y} l-6,-4 v8 z` : `M${x2},${y} l6,-4 v8 z`;
    return h`<g class="flow"><title>${`${r.conduit}: ${r.from} -> ${r.to} ${flowText(r)} (${r.way}), declared ${r.declared}, observed ${r.observed}, ${r.seen} of ${r.sent} seen`}</title>
<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" stroke="${colour}" stroke-width="1.6"${r.declared === 'deny' ? h` stroke-dasharray="5 3"` : ''}/><path d="${head}" fill="${colour}"/>
<text x="${(x1 + x2) / 2}" y="${y - 3}" text-anchor="middle" font-size="10" fill="${colour}">${`${r.conduit} ${flowText(r)}`}</text></g>`;
  });
  return h`<svg class="chart zone-picture" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${`Zones ${zones.map((z) => z.name).join(', ')} around the device; ${shown.length} flows declared or crossed, ${shown.filter((r) => !agrees(r)).length} disagreeing with the declaration`}">
<title>Zones, the device and the conduits</title>
${boxes.map((b) => h`<g class="zone"><rect x="${b.x}" y="${b.y}" width="${boxW}" height="${b.h}" rx="6" fill="${b.z.trusted ? '#ddf4ff' : '#fff8c5'}" stroke="#57606a"/>
<text x="${b.x + 8}" y="${b.y + 16}" font-size="12" font-weight="bold">${b.z.name}</text><text x="${b.x + 8}" y="${b.y + 30}" font-size="10" fill="#57606a">${b.z.trusted === undefined ? 'zone' : b.z.trusted ? 'trusted zone' : 'untrusted zone'}</text></g>`)}
<g class="device"><rect x="${deviceX}" y="20" width="${deviceW}" height="${height - 48}" rx="4" fill="#eaeef2" fill-opacity="0.7" stroke="#1f2328"/><text x="${deviceX + deviceW / 2}" y="36" text-anchor="middle" font-size="11" font-weight="bold">device</text></g>
${arrows}
<g font-size="10"><line x1="10" x2="34" y1="${height - 10}" y2="${height - 10}" stroke="#1a7f37" stroke-width="1.6"/><text x="38" y="${height - 7}">as declared</text>
<line x1="120" x2="144" y1="${height - 10}" y2="${height - 10}" stroke="#c62828" stroke-width="1.6"/><text x="148" y="${height - 7}">not as declared</text>
<line x1="250" x2="274" y1="${height - 10}" y2="${height - 10}" stroke="#c62828" stroke-width="1.6" stroke-dasharray="5 3"/><text x="278" y="${height - 7}">undeclared flow that crossed</text>
${shown.length > drawn.length ? h`<text x="${width - 10}" y="${height - 7}" text-anchor="end">${`${shown.length - drawn.length} more in the table`}</text>` : ''}</g>
</svg>`;
}

/** The conduit matrix: every flow the boundary probes tried, declared vs observed. */
export function boundarySection(report: Report): Raw | '' {
  const rows = matrixRows(report);
  if (rows.length === 0) return '';
  const zones = zonesOf(report, rows);
  const disagreeing = rows.filter((r) => !agrees(r)).length;
  return h`<section id="boundary"><h2>Zones and conduits</h2>
<p>Flows the boundary probes sent from one zone's endpoint, judged by what the far endpoint captured: ${rows.length} flows, ${disagreeing} not as declared.</p>
${zonePicture(zones, rows)}
<table class="conduit-matrix"><thead><tr><th>Probe</th><th>Conduit</th><th>From</th><th>To</th><th>Flow</th><th>Way</th><th>Declared</th><th>Observed</th><th>Seen / sent</th></tr></thead><tbody>
${rows.map((r) => h`<tr class="${agrees(r) ? 'pass' : 'fail'}"><td><code>${r.probe}</code></td><td>${r.conduit}</td><td>${r.from}</td><td>${r.to}</td><td>${flowText(r)}</td><td>${r.way}</td>
<td>${r.declared}</td><td><span class="${`v ${agrees(r) ? 'pass' : 'fail'}`}">${r.observed}</span></td><td>${`${r.seen} / ${r.sent}`}</td></tr>`)}
</tbody></table></section>
`;
}
