import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { XMLValidator } from 'fast-xml-parser';
import { parse as parseJunit, type TestSuite, type TestSuites } from 'junit2json';
import { Readable } from 'node:stream';
import { renderHtml } from '../../src/report/html';
import { renderJunit } from '../../src/report/junit';
import { renderTrfCsv, renderTrfXlsx, trfRows } from '../../src/report/trf';
import { renderConsoleSummary } from '../../src/report/console';
import { hostSummaries, visible } from '../../src/report/text';
import { REPORTERS } from '../../src/report';
import type { Report } from '../../src/report/model';
import { expectGolden } from '../helpers/golden';
import { HOSTILE, UNICODE_NAME, finish, makeReport } from '../helpers/report-factory';
import { expectValidReport } from '../helpers/report-schema';

/** Characters XML 1.0 forbids (and lone surrogates). */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const XML_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDFFF]/u;

async function xlsxCells(bytes: Uint8Array): Promise<Record<string, string[][]>> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(Buffer.from(bytes) as unknown as ArrayBuffer);
  const out: Record<string, string[][]> = {};
  wb.eachSheet((ws) => {
    const rows: string[][] = [];
    ws.eachRow({ includeEmpty: true }, (row) => {
      const values: string[] = [];
      row.eachCell({ includeEmpty: true }, (c) => values.push(c.isMerged && c.master !== c ? '' : String(c.value ?? '')));
      rows.push(values);
    });
    out[ws.name] = rows;
  });
  return out;
}

async function readCsv(text: string): Promise<string[][]> {
  const wb = new ExcelJS.Workbook();
  const ws = await wb.csv.read(Readable.from([text.replace(/^\uFEFF/, '')]), { parserOptions: { quote: '"', escape: '"' } });
  const rows: string[][] = [];
  ws.eachRow((row) => {
    const values: string[] = [];
    row.eachCell({ includeEmpty: true }, (c) => values.push(String(c.value ?? '')));
    rows.push(values);
  });
  return rows;
}

describe('reporters: golden files and hostile strings', () => {
  const report = makeReport();
  const plain = makeReport({ hostile: false });

  it('the factory report is a valid report.json', () => {
    expectValidReport(report);
    expectValidReport(plain);
  });

  it('report.html matches its golden file; nothing breaks out of the markup', () => {
    const html = renderHtml(report);
    expectGolden('test/report/report.golden.html', html);
    expect(html).not.to.match(/<script/i);
    expect(html).not.to.contain('<!--');
    expect(html).not.to.contain(']]>');
    expect(html).not.to.match(XML_FORBIDDEN);
    expect(html).to.contain(`<h1>${UNICODE_NAME} &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; ]]&gt; &lt;!-- &amp; &quot;q&quot;`);
    for (const r of report.requirements) expect(html).to.contain(`<strong>${r.id}</strong>`);
    // Links are relative paths into the run folder, never a scheme.
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
    expect(hrefs.filter((h) => !h.startsWith('#'))).to.include('evidence/ssh.algorithms/127.0.0.1_22/kexinit.bin');
    expect(hrefs.every((h) => h.startsWith('#') || /^evidence\/[^:]+$/.test(h))).to.equal(true);
  });

  it('report.html is a pure function of the report', () => {
    expect(renderHtml(makeReport())).to.equal(renderHtml(report));
  });

  it('junit.xml matches its golden file, is well-formed XML and parses back with a JUnit parser', async () => {
    const xml = renderJunit(report);
    expectGolden('test/report/junit.golden.xml', xml);
    expect(XMLValidator.validate(xml)).to.equal(true);
    expect(xml).not.to.match(XML_FORBIDDEN);
    const parsed = await parseJunit(xml) as TestSuites;
    expect(parsed.name).to.equal(`iacs-probe: ${visible(report.component.name)}`);
    const suites = parsed.testsuite as TestSuite[];
    expect(suites.map((s) => s.hostname)).to.deep.equal(['127.0.0.1', '::1', '127.0.0.1 ::1']);
    expect(suites.map((s) => s.name!.split(' ')[0])).to.deep.equal(['127.0.0.1', '::1', 'requirements']);
    const [v4, v6, reqs] = suites;
    expect(v4.testcase!.map((c) => c.name)).to.deep.equal(['ports.tcp @ 127.0.0.1', 'ssh.algorithms @ 127.0.0.1:22', 'ssh.lockout @ 127.0.0.1:22']);
    expect(v4.testcase![0].failure![0].type).to.equal('ports.tcp.cleartext-service');
    expect(v4.testcase![1].failure).to.equal(undefined);
    expect(v4.testcase![2].skipped![0].message).to.match(/^skipped \(not-allowed\)/);
    expect(v6.testcase!.map((c) => c.name)).to.deep.equal(['opcua.endpoints @ [::1]:4840', 'modbus.identity @ [::1]:502']);
    // The CDATA holding "]]>" was split, and the text survives the round trip.
    expect(v6.testcase![0].error![0].inner).to.equal(visible(report.attempts[2].message!));
    expect(v6.testcase![1].skipped![0].message).to.match(/^not applicable: /);
    expect(reqs.testcase!.map((c) => c.name)).to.deep.equal(['CR 4.1 Information confidentiality', 'CR 7.7 Least functionality']);
    expect([parsed.tests, parsed.failures, parsed.errors]).to.deep.equal([7, 3, 1]);
    expect(v4).to.include({ tests: 3, failures: 1, errors: 0, skipped: 1 });
  });

  it('trf.csv matches its golden file: RFC 4180, UTF-8 with BOM, one row per requirement', async () => {
    const csv = renderTrfCsv(report);
    expectGolden('test/report/trf.golden.csv', csv);
    expect(csv.startsWith('\uFEFFClause,Requirement + Test,Result – Remark,Verdict\r\n')).to.equal(true);
    const rows = await readCsv(csv);
    expect(rows).to.have.length(report.requirements.length + 1);
    const expected = trfRows(report);
    rows.slice(1).forEach((r, i) => {
      expect(r[0]).to.equal(expected[i].clause);
      expect(r[1]).to.equal(visible(`${expected[i].requirement}\nTest: ${expected[i].test}`));
      expect(r[2]).to.equal(visible(expected[i].result));
      expect(r[3]).to.equal(expected[i].verdict);
    });
    expect(rows.slice(1).map((r) => r[3])).to.deep.equal(['N/D', 'P', 'N/A', 'N/D', 'F', 'P', 'F', 'N/D']);
    expect(rows[2][1]).to.contain('Test: manual attestation (documentation review / manual test) by A. Prüfer on 2025-03-13, evidence: manual v2.1 §4.3');
    expect(rows[5][1]).to.contain('Test: probe ports.tcp on 127.0.0.1');
  });

  it('trf.csv does not let a cell become a spreadsheet formula', async () => {
    const r = makeReport();
    r.requirements[0].reason = '=HYPERLINK("http://example.invalid","click")';
    const rows = await readCsv(renderTrfCsv(r));
    expect(rows[1][2].startsWith(`'=HYPERLINK(`)).to.equal(true);
  });

  it('trf.xlsx reads back with exceljs: header block, TRF table with FR headings, flat sheet (golden cell dump)', async () => {
    const bytes = await renderTrfXlsx(report);
    const cells = await xlsxCells(bytes);
    expectGolden('test/report/trf-xlsx.golden.json', JSON.stringify(cells, null, 1) + '\n');
    const trf = cells.TRF;
    const header = Object.fromEntries(trf.slice(1, 14).map((r) => [r[0], r[1]]));
    expect(header).to.deep.include({ 'Report id': report.run.id, Date: '2025-03-14', 'SL target': 'FR1 2, FR2 2, FR3 2, FR4 2, FR5 2, FR6 2, FR7 2', Component: visible(report.component.name) });
    const head = trf.findIndex((r) => r[0] === 'Clause');
    expect(trf[head]).to.deep.equal(['Clause', 'Requirement + Test', 'Result – Remark', 'Verdict']);
    const body = trf.slice(head + 1).filter((r) => r[3] !== '' && r[3] !== undefined);
    expect(body.map((r) => [r[0], r[3]])).to.deep.equal(report.requirements.map((r, i) => [r.id, trfRows(report)[i].verdict]));
    expect(trf.slice(head + 1).filter((r) => /^FR\d – /.test(r[0])).map((r) => r[0].slice(0, 3))).to.deep.equal(['FR1', 'FR2', 'FR3', 'FR4', 'FR7']);
    expect(cells.Requirements).to.have.length(report.requirements.length + 1);
    expect(JSON.stringify(cells)).not.to.match(XML_FORBIDDEN);
  });

  it('every reporter renders an empty, incomplete run without throwing', async () => {
    const empty: Report = finish({ ...makeReport({ hostile: false }), attempts: [], requirements: [] });
    empty.run = { ...empty.run, complete: false, incompleteReason: 'cancelled by SIGINT' };
    empty.targets = [];
    for (const r of REPORTERS) {
      const out = await r.render(empty);
      expect(out.length, r.file).to.be.greaterThan(40);
    }
    expect(renderHtml(empty)).to.contain('Run INCOMPLETE: cancelled by SIGINT');
  });

  it('the per-host section: attempts by outcome and findings by severity for each target, in report.html and the console', () => {
    const zero = { pass: 0, fail: 0, not_applicable: 0, not_determined: 0, error: 0, skipped: 0 };
    const none = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
    expect(hostSummaries(report)).to.deep.equal([
      {
        host: '127.0.0.1', name: report.targets[0].name, attempts: 3, byStatus: { ...zero, pass: 1, fail: 1, skipped: 1 },
        findings: { ...none, high: 1, medium: 1, info: 1 }, firstStart: '2025-03-14T09:26:53.589Z', lastEnd: '2025-03-14T09:26:56.089Z',
      },
      {
        host: '::1', name: 'plc-v6', attempts: 2, byStatus: { ...zero, error: 1, not_applicable: 1 },
        findings: none, firstStart: '2025-03-14T09:26:53.589Z', lastEnd: '2025-03-14T09:27:03.589Z',
      },
    ]);
    const html = renderHtml(plain);
    const section = html.slice(html.indexOf('<section id="hosts">'), html.indexOf('</section>', html.indexOf('<section id="hosts">')));
    expect(section).to.contain('<tr id="host-127.0.0.1"><td>127.0.0.1</td><td>plc-α plain text</td><td>3</td>');
    expect(section).to.contain('<tr id="host-::1"><td>::1</td><td>plc-v6</td><td>2</td>');
    expect(section).to.contain('<span class="sev high">high</span> 1');
    expect(section).to.contain('<td class="nw">10.0 s</td>');

    const text = renderConsoleSummary(plain, 'runs/x');
    expect(text).to.contain('Per host (2 hosts):\n'
      + '  127.0.0.1 plc-α plain text: 3 attempts (pass 1, fail 1, not applicable 0, not determined 0, error 0, skipped 1); findings: high 1, medium 1, info 1\n'
      + '  ::1       plc-v6: 2 attempts (pass 0, fail 0, not applicable 1, not determined 0, error 1, skipped 0); findings: none\n');
    const single = { ...plain, targets: plain.targets.slice(0, 1), attempts: plain.attempts.filter((a) => a.target.startsWith('127.')) };
    expect(renderConsoleSummary(single, 'runs/x'), 'one host: the totals say it all').not.to.contain('Per host');
  });

  it('HOSTILE covers the characters the reporters must neutralise', () => {
    for (const s of ['</script>', ']]>', '<!--', '&', '"', '\u0000', '\u001b', '\uD800']) expect(HOSTILE).to.contain(s);
  });
});
