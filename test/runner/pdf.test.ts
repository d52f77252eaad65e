import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator';
import { verifyFolder } from '../../src/evidence/manifest';
import type { Report } from '../../src/report/model';
import { PDF_FILE, findChromium } from '../../src/runner/pdf';
import { runAssessment, type RunOutcome } from '../../src/runner/run';
import { requirePeer, findExecutable } from '../helpers/peers';
import { postureWith } from '../helpers/postures';
import { unitProfile } from '../helpers/units';
import { inProcess } from '../helpers/cli';

/** The PDF's text, one entry per page (pdftotext ends every page with a form feed). */
function pagesOf(pdf: string, pdftotext: string, layout = false): string[] {
  return execFileSync(pdftotext, ['-enc', 'UTF-8', ...(layout ? ['-layout'] : []), pdf, '-'], { encoding: 'utf8', timeout: 30_000 }).split('\f').slice(0, -1);
}

const flat = (text: string) => text.replace(/\s+/g, ' ');

describe('report.pdf: report.html printed by headless Chromium, read back with pdftotext', function () {
  this.timeout(90_000);
  let emulator: Emulator | undefined;
  let dir: string;
  let outcome: RunOutcome;
  let pages: string[];
  let pdftotext: string;

  before(async function () {
    requirePeer(this, 'chromium', findChromium().ok ? 'found' : undefined, 'Debian package chromium');
    pdftotext = requirePeer(this, 'pdftotext', findExecutable('pdftotext'), 'Debian package poppler-utils');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-pdf-'));
    emulator = await startEmulator(postureWith('weak', ['https']), { ephemeralPorts: true });
    outcome = await runAssessment(unitProfile(emulator, { serial: 'SN-PDF-1' }), { out: path.join(dir, 'run'), only: ['tls.certificate'], pdf: findChromium() });
    pages = pagesOf(path.join(outcome.dir, PDF_FILE), pdftotext);
  });
  after(async () => {
    await emulator?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is written after report.html, journalled, listed in the manifest and covered by verify', () => {
    expect(outcome.pdf).to.include({ written: true, file: 'report.pdf' });
    const manifest = JSON.parse(fs.readFileSync(path.join(outcome.dir, 'manifest.json'), 'utf8')) as { files: { path: string }[] };
    expect(manifest.files.map((f) => f.path)).to.include('report.pdf');
    expect(verifyFolder(outcome.dir).ok).to.equal(true);
    const journal = fs.readFileSync(path.join(outcome.dir, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; written?: boolean });
    expect(journal.filter((r) => r.type === 'pdf').map((r) => r.written)).to.deep.equal([true]);
    // One byte changed in the PDF is caught by verify.
    const file = path.join(outcome.dir, PDF_FILE);
    const copy = path.join(dir, 'copy');
    fs.cpSync(outcome.dir, copy, { recursive: true });
    const bytes = fs.readFileSync(path.join(copy, PDF_FILE));
    bytes[bytes.length - 10] ^= 1;
    fs.writeFileSync(path.join(copy, PDF_FILE), bytes);
    expect(verifyFolder(copy).problems.map((p) => [p.path, p.kind])).to.deep.equal([['report.pdf', 'modified']]);
    expect(fs.statSync(file).size).to.be.greaterThan(10_000);
  });

  it('is A4 and numbers every page "Page n of N" in the footer', function () {
    const pdfinfo = findExecutable('pdfinfo');
    if (pdfinfo) expect(execFileSync(pdfinfo, [path.join(outcome.dir, PDF_FILE)], { encoding: 'utf8' })).to.match(/Page size:\s+59[45]\.\d+ x 841\.\d+ pts \(A4\)/);
    expect(pages.length).to.be.greaterThan(3);
    pages.forEach((text, i) => expect(flat(text), `page ${i + 1}`).to.include(`Page ${i + 1} of ${pages.length}`));
  });

  it('has the cover alone on page 1 and every requirement id of the report in its text', () => {
    const report = outcome.report as Report;
    const cover = flat(pages[0]);
    for (const fact of ['IEC 62443-4-2 COMPONENT SECURITY ASSESSMENT', report.component.name, 'SN-PDF-1', report.run.id, report.run.profileSha256]) {
      expect(cover).to.include(fact);
    }
    expect(cover).not.to.include('Security level per foundational requirement');
    const all = flat(pages.join(' '));
    expect(report.requirements.length).to.be.greaterThan(50);
    const missing = report.requirements.map((r) => r.id).filter((id) => !all.includes(id));
    expect(missing).to.deep.equal([]);
  });

  it('repeats the requirement matrix head on every page the matrix spans', () => {
    // -layout keeps a table row on one line; the spaces between cells vary, so they are dropped.
    const laid = pagesOf(path.join(outcome.dir, PDF_FILE), pdftotext, true).map((p) => p.replace(/\s+/g, ''));
    const first = laid.findIndex((p) => p.includes('Requirementmatrix'));
    const next = laid.findIndex((p) => p.includes('Findingsbyseverity'));
    expect(first).to.be.greaterThan(0);
    expect(next - first, 'the matrix spans several pages').to.be.greaterThan(1);
    for (let i = first; i < next; i++) {
      expect(laid[i], `page ${i + 1}`).to.include('RequirementFRSL1SL2SL3SL4VerdictSourceProbesandfindings');
    }
  });

  it('without a Chromium the run still succeeds, writes no PDF and says why (journal and outcome)', async () => {
    const none = findChromium({ PATH: path.join(dir, 'no-such-dir') });
    expect(none).to.deep.equal({ ok: false, reason: 'no Chromium found (looked for chromium, chromium-browser, google-chrome, google-chrome-stable on PATH; set IACS_PROBE_CHROMIUM)' });
    const without = await runAssessment(unitProfile(emulator!, { serial: 'SN-PDF-2' }), { out: path.join(dir, 'without'), only: ['tls.certificate'], pdf: none });
    expect(without.pdf).to.deep.equal({ written: false, reason: none.ok ? '' : none.reason });
    expect(without.reporterErrors).to.deep.equal([]);
    expect(fs.existsSync(path.join(without.dir, PDF_FILE))).to.equal(false);
    expect(verifyFolder(without.dir).ok).to.equal(true);
    expect(fs.readFileSync(path.join(without.dir, 'journal.ndjson'), 'utf8')).to.include('"type":"pdf","written":false');
  });

  it('run --pdf without a Chromium is a usage error before anything runs; --pdf with --no-pdf too', async () => {
    const out = path.join(dir, 'never');
    const profile = path.join(dir, 'p.yaml');
    fs.writeFileSync(profile, 'apiVersion: iacs-probe/v1\ncomponent: { name: x, types: [embedded], slTarget: 1 }\ntargets:\n  - { host: 127.0.0.1, services: [{ port: 1, protocol: ssh }] }\n');
    const saved = process.env.IACS_PROBE_CHROMIUM;
    process.env.IACS_PROBE_CHROMIUM = path.join(dir, 'no-chromium');
    try {
      const r = await inProcess(['run', profile, '--out', out, '--pdf']);
      expect(r.code).to.equal(3);
      expect(r.stderr).to.include(`--pdf: IACS_PROBE_CHROMIUM=${path.join(dir, 'no-chromium')} is not an executable file`);
    } finally {
      if (saved === undefined) delete process.env.IACS_PROBE_CHROMIUM;
      else process.env.IACS_PROBE_CHROMIUM = saved;
    }
    const both = await inProcess(['run', profile, '--out', out, '--pdf', '--no-pdf']);
    expect([both.code, both.stderr]).to.satisfy(([code, err]: [number, string]) => code === 3 && err.includes('--pdf and --no-pdf exclude each other'));
    expect(fs.existsSync(out)).to.equal(false);
  });
});
