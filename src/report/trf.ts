/**
 * Test report form: one row per catalog requirement of the component's types in the layout IECEE test
 * report forms use — Clause | Requirement + Test | Result – Remark | Verdict (P, F, N/A, N/D) — so a lab
 * can paste the rows into its TRF. trf.csv (RFC 4180, UTF-8 with BOM so Excel detects the encoding) and
 * trf.xlsx (exceljs; a header block with the component, report id, date and SL target above the table).
 */
import type ExcelJS from 'exceljs';
import type { Report, RequirementVerdict, RequirementVerdictValue } from './model';
import { FR_TITLES, VERDICT_MARK, evidenceFor, levelsText, testPerformed, visible } from './text';

export const TRF_COLUMNS = ['Clause', 'Requirement + Test', 'Result – Remark', 'Verdict'] as const;

export interface TrfRow {
  clause: string;
  fr: string;
  requirement: string;
  test: string;
  result: string;
  verdict: string;
  value: RequirementVerdictValue;
}

function resultRemark(report: Report, r: RequirementVerdict): string {
  const lines = [r.reason];
  const findings = report.attempts.flatMap((a) => a.findings
    .filter((f) => r.findings.includes(f.code) && f.requirements.includes(r.id) && r.basis.includes(`${a.probe}@${a.target}`))
    .map((f) => `${f.code} (${f.severity}) at ${a.target}: ${f.message}`));
  if (findings.length) lines.push(`Findings: ${findings.join('; ')}`);
  if (r.attestation?.remark && r.source !== 'manual') lines.push(`Attestation remark: ${r.attestation.remark}`);
  const target = report.slTarget[r.fr];
  lines.push(`Required at ${levelsText(r.sl)}; SL target ${r.fr} ${target}: ${r.requiredAtTarget ? 'required' : 'not required'}.`);
  const evidence = evidenceFor(report, r);
  if (evidence.length) lines.push(`Evidence: ${evidence.join(', ')}`);
  return lines.join('\n');
}

/** The TRF rows, in catalog order. */
export function trfRows(report: Report): TrfRow[] {
  return report.requirements.map((r) => ({
    clause: r.id, fr: r.fr, requirement: r.title, test: testPerformed(r),
    result: resultRemark(report, r), verdict: VERDICT_MARK[r.verdict], value: r.verdict,
  }));
}

function csvField(value: string): string {
  let v = visible(value);
  // A cell starting with = + - @ (or a tab/CR) is a formula to a spreadsheet: a device banner must not
  // become one. The apostrophe is Excel's own "this is text" mark.
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** trf.csv: RFC 4180 (CRLF, quotes doubled), UTF-8 with a byte order mark. */
export function renderTrfCsv(report: Report): string {
  const lines = [TRF_COLUMNS.map(csvField).join(',')];
  for (const row of trfRows(report)) {
    lines.push([row.clause, `${row.requirement}\nTest: ${row.test}`, row.result, row.verdict].map(csvField).join(','));
  }
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

/** Excel refuses cells over 32767 characters. */
function cell(text: string): string {
  const v = visible(text);
  return v.length > 32_000 ? `${v.slice(0, 32_000)} … (truncated; see report.json)` : v;
}

const FILLS: Record<RequirementVerdictValue, string> = {
  pass: 'FFDAFBE1', fail: 'FFFFEBE9', not_applicable: 'FFEAEEF2', not_determined: 'FFFFF8C5',
};

const thin = { style: 'thin' as const, color: { argb: 'FF8C959F' } };
const border = { top: thin, left: thin, bottom: thin, right: thin };

/** trf.xlsx: sheet "TRF" (header block + the TRF table with FR headings) and sheet "Requirements" (one column per field, for filtering). */
export async function renderTrfXlsx(report: Report): Promise<Uint8Array> {
  // exceljs (and its dependencies) load only when a workbook is written, not with every command.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Workbook } = require('exceljs') as typeof ExcelJS;
  const wb = new Workbook();
  wb.creator = `${report.tool.name} ${report.tool.version}`;
  // Dates from the report, not the clock: the same report gives the same workbook contents.
  wb.created = new Date(report.run.finishedAt);
  wb.modified = new Date(report.run.finishedAt);
  const c = report.component;
  const rows = trfRows(report);

  const ws = wb.addWorksheet('TRF', {
    pageSetup: { paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 },
  });
  ws.columns = [{ width: 16 }, { width: 60 }, { width: 80 }, { width: 10 }];
  ws.addRow([cell('Test report form – IEC 62443-4-2 component requirements')]).font = { bold: true, size: 14 };
  const fr = Object.keys(report.slTarget) as (keyof typeof report.slTarget)[];
  const header: [string, string][] = [
    ['Component', c.name], ['Vendor / model', [c.vendor, c.model].filter(Boolean).join(' / ')], ['Firmware', c.firmware ?? ''],
    ['Serial number', c.serial ?? ''], ['Component type', c.types.join(', ')], ['Report id', report.run.id],
    ['Date', report.run.finishedAt.slice(0, 10)], ['SL target', fr.map((f) => `${f} ${report.slTarget[f]}`).join(', ')],
    ['SL achieved', fr.map((f) => `${f} ${report.slAchieved[f]}`).join(', ')], ['Tool', `${report.tool.name} ${report.tool.version}`],
    ['Operator', report.run.operator], ['Profile sha256', report.run.profileSha256],
    ['Run complete', report.run.complete ? 'yes' : `no${report.run.incompleteReason ? ` (${report.run.incompleteReason})` : ''}`],
  ];
  for (const [k, v] of header) {
    const row = ws.addRow([k, cell(v)]);
    row.getCell(1).font = { bold: true };
    ws.mergeCells(row.number, 2, row.number, 4);
  }
  ws.addRow([]);
  const head = ws.addRow([...TRF_COLUMNS]);
  head.eachCell((x) => {
    x.font = { bold: true };
    x.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFD0D7DE' } };
    x.border = border;
  });
  ws.views = [{ state: 'frozen', ySplit: head.number }];
  ws.pageSetup.printTitlesRow = `${head.number}:${head.number}`;
  let currentFr = '';
  for (const r of rows) {
    if (r.fr !== currentFr) {
      currentFr = r.fr;
      const key = r.fr as keyof typeof report.slTarget;
      const section = ws.addRow([`${r.fr} – ${FR_TITLES[r.fr] ?? ''} (SL target ${report.slTarget[key]}, achieved ${report.slAchieved[key]})`]);
      ws.mergeCells(section.number, 1, section.number, 4);
      section.getCell(1).font = { bold: true };
      section.getCell(1).fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFF6F8FA' } };
    }
    const row = ws.addRow([cell(r.clause), cell(`${r.requirement}\nTest: ${r.test}`), cell(r.result), r.verdict]);
    row.eachCell((x) => {
      x.alignment = { wrapText: true, vertical: 'top' };
      x.border = border;
    });
    row.getCell(4).alignment = { horizontal: 'center', vertical: 'top' };
    row.getCell(4).font = { bold: true };
    row.getCell(4).fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: FILLS[r.value] } };
  }

  const flat = wb.addWorksheet('Requirements');
  flat.columns = [
    { header: 'Clause', key: 'id', width: 16 }, { header: 'FR', key: 'fr', width: 6 }, { header: 'Title', key: 'title', width: 40 },
    { header: 'Required at', key: 'sl', width: 11 }, { header: 'Required at target', key: 'req', width: 9 },
    { header: 'Verdict', key: 'verdict', width: 8 }, { header: 'Source', key: 'source', width: 8 }, { header: 'Coverage', key: 'coverage', width: 9 },
    { header: 'Test performed', key: 'test', width: 50 }, { header: 'Result – Remark', key: 'result', width: 80 },
  ];
  flat.getRow(1).font = { bold: true };
  report.requirements.forEach((r, i) => {
    flat.addRow({
      id: cell(r.id), fr: r.fr, title: cell(r.title), sl: levelsText(r.sl), req: r.requiredAtTarget ? 'yes' : 'no',
      verdict: VERDICT_MARK[r.verdict], source: r.source, coverage: r.coverage ?? '', test: cell(rows[i].test), result: cell(rows[i].result),
    });
  });
  flat.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: 10 } };
  flat.views = [{ state: 'frozen', ySplit: 1 }];
  return new Uint8Array(await wb.xlsx.writeBuffer());
}
