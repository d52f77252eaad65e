import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { assess } from '../../src/assess';
import { loadCatalog } from '../../src/catalog';
import { renderHtml } from '../../src/report/html';
import type { Report } from '../../src/report/model';
import { visible } from '../../src/report/text';
import { finish, makeReport } from '../helpers/report-factory';
import { findExecutable, requirePeer } from '../helpers/peers';

/** The flags of a quiet, offline browser: nothing but the page may cause network traffic. */
const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

interface Loaded {
  page: Page;
  console: string[];
  errors: string[];
  requests: string[];
}

/** A report with every catalog row of an embedded device, as the assessment makes it. */
function fullCatalogReport(): Report {
  const base = makeReport();
  const component = { name: base.component.name, types: base.component.types, slTarget: base.slTarget };
  const a = assess({ catalog: loadCatalog(), component, attempts: base.attempts, probeRequirements: new Map([['ports.tcp', ['CR 4.1', 'CR 7.7']]]) });
  return finish({ ...base, requirements: a.requirements });
}

describe('report.html in a real headless Chromium', function () {
  this.timeout(60_000);
  let context: BrowserContext | undefined;
  let dir: string;

  before(async function () {
    const executablePath = requirePeer(this, 'chromium', findExecutable('chromium'), 'Debian package chromium');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-html-'));
    // A fresh profile folder (--user-data-dir) for each run of the suite.
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 }, offline: true,
    });
  });
  after(async () => {
    await context?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function load(report: Report, name: string): Promise<Loaded> {
    const file = path.join(dir, name, 'report.html');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, renderHtml(report));
    const page = await context!.newPage();
    const loaded: Loaded = { page, console: [], errors: [], requests: [] };
    page.on('console', (m) => loaded.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => loaded.errors.push(e.message));
    page.on('request', (r) => loaded.requests.push(r.url()));
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    return loaded;
  }

  /** Distinct colours of a PNG, decoded by the browser itself (a canvas in a blank page). */
  async function distinctColours(png: Buffer): Promise<number> {
    const blank = await context!.newPage();
    try {
      return await blank.evaluate<number>(`(async () => {
        const img = new Image();
        img.src = 'data:image/png;base64,${png.toString('base64')}';
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.width;
        canvas.height = img.height;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const data = ctx.getImageData(0, 0, img.width, img.height).data;
        const seen = new Set();
        for (let i = 0; i < data.length; i += 4) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
        return seen.size;
      })()`);
    } finally {
      await blank.close();
    }
  }

  it('renders the hostile factory report: no console error, no fetch, nothing injected, not blank', async () => {
    const report = makeReport();
    const { page, console: messages, errors, requests } = await load(report, 'hostile');
    try {
      expect(errors).to.deep.equal([]);
      expect(messages).to.deep.equal([]);
      expect(requests).to.deep.equal([page.url()]);
      // In-page code is a string: the project compiles without the DOM library.
      const dom = await page.evaluate<{ title: string; h1: string; scripts: number; comments: number; rows: number; bars: number; links: string[] }>(`(() => {
        let comments = 0;
        const walker = document.createTreeWalker(document, NodeFilter.SHOW_COMMENT);
        while (walker.nextNode()) comments += 1;
        return {
          title: document.title, h1: document.querySelector('h1').textContent, scripts: document.scripts.length, comments,
          rows: document.querySelectorAll('table.matrix tbody tr').length,
          bars: document.querySelectorAll('svg.chart g > title').length,
          links: [...document.querySelectorAll('a[href]')].map((a) => a.href),
        };
      })()`);
      expect(dom.title).to.equal(`${visible(report.component.name)} – IEC 62443-4-2 assessment – run ${report.run.id}`);
      expect(dom.h1).to.equal(visible(report.component.name));
      expect(dom.scripts).to.equal(0);
      expect(dom.comments).to.equal(0);
      expect(dom.rows).to.equal(report.requirements.length);
      expect(dom.bars).to.equal(7);
      expect(dom.links.filter((l) => !l.includes('#')).every((l) => l.startsWith(`file://${dir}/hostile/evidence/`))).to.equal(true);
      const colours = await distinctColours(await page.screenshot({ fullPage: false }));
      expect(colours).to.be.greaterThan(100);
    } finally {
      await page.close();
    }
  });

  it('a full catalog matrix fits the page width and prints to a multi-page PDF without the navigation', async () => {
    const report = fullCatalogReport();
    expect(report.requirements.length).to.be.greaterThan(80);
    const { page, console: messages, errors } = await load(report, 'full');
    try {
      expect([...errors, ...messages]).to.deep.equal([]);
      const rows = await page.locator('table.matrix tbody tr').count();
      expect(rows).to.equal(report.requirements.length);
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect(overflow).to.be.at.most(0);
      await page.emulateMedia({ media: 'print' });
      expect(await page.evaluate<string>("getComputedStyle(document.querySelector('nav')).display")).to.equal('none');
      const pdf = await page.pdf({ preferCSSPageSize: true, printBackground: true });
      expect(pdf.subarray(0, 5).toString()).to.equal('%PDF-');
      const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
      expect(pages).to.be.greaterThan(3);
    } finally {
      await page.close();
    }
  });
});
