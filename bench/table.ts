/** The benchmark's one table (work | iacs-probe | peer | ratio | goal | met?) and the notes under it. */
import type { Measured } from './timing';

export type Met = 'yes' | 'no' | '—' | 'not measured';

export interface Row {
  work: string;
  ours: string;
  peer: string;
  ratio: string;
  goal: string;
  met: Met;
  /** Why a goal is not met (measured), what "the same work" was checked to be, or why nothing was measured. */
  notes: string[];
}

export function seconds(ms: number): string {
  return ms >= 100 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(3)} s`;
}

export function mib(kib: number | undefined): string {
  return kib === undefined ? '? MiB' : `${Math.round(kib / 1024)} MiB`;
}

/** "0.41 s, 70 MiB (median of 5)". */
export function measuredCell(m: Measured): string {
  return `${seconds(m.medianMs)}, ${mib(m.peakRssKiB)}${m.runs > 1 ? '' : ' (1 run)'}`;
}

export function ratioText(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)}×`;
}

/** A row comparing our whole process with a peer's; `maxRatio` is the goal when there is one. */
export function comparison(work: string, ours: Measured, peerLabel: string, peer: Measured, maxRatio?: number, notes: string[] = []): Row {
  const ratio = ours.medianMs / peer.medianMs;
  const met: Met = maxRatio === undefined ? '—' : ratio <= maxRatio ? 'yes' : 'no';
  return {
    work, ours: measuredCell(ours), peer: `${peerLabel}: ${measuredCell(peer)}`, ratio: ratioText(ratio),
    goal: maxRatio === undefined ? '—' : `≤ ${maxRatio}×`, met, notes,
  };
}

/** A row with an absolute goal for our process (seconds), and an optional reference process. */
export function absolute(work: string, ours: Measured, maxMs: number | undefined, reference?: { label: string; m: Measured }, notes: string[] = []): Row {
  return {
    work, ours: measuredCell(ours),
    peer: reference ? `${reference.label}: ${measuredCell(reference.m)}` : '—',
    ratio: reference ? ratioText(ours.medianMs / reference.m.medianMs) : '—',
    goal: maxMs === undefined ? '—' : `≤ ${maxMs / 1000} s`,
    met: maxMs === undefined ? '—' : ours.medianMs <= maxMs ? 'yes' : 'no',
    notes,
  };
}

/** A section that could not be measured honestly (a peer missing, the same-work check failed, ...). */
export function notMeasured(work: string, why: string): Row {
  return { work, ours: '—', peer: '—', ratio: '—', goal: '—', met: 'not measured', notes: [why] };
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The markdown table, then one numbered note per row that has notes. */
export function renderTable(rows: readonly Row[]): string {
  const lines = ['| work | iacs-probe | peer | ratio | goal | met? |', '|---|---|---|---|---|---|'];
  const notes: string[] = [];
  for (const r of rows) {
    const mark = r.notes.length ? ` [${notes.length + 1}]` : '';
    if (r.notes.length) notes.push(`[${notes.length + 1}] ${r.notes.join(' ')}`);
    lines.push(`| ${cell(r.work)}${mark} | ${cell(r.ours)} | ${cell(r.peer)} | ${r.ratio} | ${cell(r.goal)} | ${r.met} |`);
  }
  return [...lines, '', ...notes].join('\n') + '\n';
}
