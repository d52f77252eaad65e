/**
 * report.pdf: report.html printed by a headless Chromium (playwright-core drives the browser the machine
 * already has; nothing is downloaded). A4, the page's own print CSS (cover alone on page 1, table heads
 * repeated), page numbers in the footer. Optional: without a Chromium or without playwright-core the run
 * still succeeds and says why there is no PDF.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Browsers looked for on PATH, in this order (Debian's chromium first). */
const BROWSER_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/**
 * A quiet, offline browser: the page is a local file with a CSP that forbids every fetch. Chromium still looks
 * up accounts.google.com and update.googleapis.com on its own despite --disable-background-networking (seen in
 * the scope capture, test/integrity/scope-capture.test.ts): its resolver is told every name does not exist, so
 * no DNS query leaves and no connection can follow.
 */
const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND', '--no-pings',
];

/** "Page n of m" in the PDF footer; Chromium fills the pageNumber/totalPages spans. */
const FOOTER = `<div style="width:100%;font:8px system-ui,'DejaVu Sans',sans-serif;color:#6b7280;padding:0 12mm;display:flex;justify-content:space-between">
<span class="title"></span><span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>`;

/** The browser a PDF can be printed with, or why there is none. */
export type PdfRenderer = { ok: true; executablePath: string } | { ok: false; reason: string };

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** IACS_PROBE_CHROMIUM names the browser; otherwise the first Chromium on PATH. Needs playwright-core to drive it. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): PdfRenderer {
  try {
    require.resolve('playwright-core');
  } catch {
    return { ok: false, reason: 'playwright-core is not installed (an optional dependency: npm ci installs it unless optional dependencies are omitted)' };
  }
  const given = env.IACS_PROBE_CHROMIUM;
  if (given) return executable(given) ? { ok: true, executablePath: given } : { ok: false, reason: `IACS_PROBE_CHROMIUM=${given} is not an executable file` };
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of BROWSER_NAMES) {
      const candidate = path.join(dir, name);
      if (executable(candidate)) return { ok: true, executablePath: candidate };
    }
  }
  return { ok: false, reason: `no Chromium found (looked for ${BROWSER_NAMES.join(', ')} on PATH; set IACS_PROBE_CHROMIUM)` };
}

type Chromium = typeof import('playwright-core').chromium;

/** playwright-core is an optional dependency (`npm ci --omit=optional` leaves it out). */
function loadChromium(): Chromium | string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('playwright-core') as typeof import('playwright-core')).chromium;
  } catch (err) {
    return `playwright-core is not installed (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Thrown when the browser cannot print the page: the run continues without report.pdf. */
export class PdfError extends Error {}

/**
 * Prints an HTML file to PDF bytes. The browser is closed in every case;
 * `timeoutMs` bounds the whole print, `signal` cancels it.
 */
export async function renderPdf(htmlFile: string, executablePath: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Uint8Array> {
  const chromium = loadChromium();
  if (typeof chromium === 'string') throw new PdfError(chromium);
  const timeout = options.timeoutMs ?? 60_000;
  const signal = AbortSignal.any([AbortSignal.timeout(timeout), ...(options.signal ? [options.signal] : [])]);
  if (signal.aborted) throw new PdfError(`printing stopped: ${String(signal.reason)}`);
  // launch() gives the browser a throw-away profile folder and removes it on close.
  const browser = await chromium.launch({ executablePath, headless: true, args: FLAGS, timeout }).catch((err: Error) => {
    throw new PdfError(`the browser did not start: ${err.message.split('\n')[0]}`);
  });
  const closeOnAbort = () => void browser.close();
  signal.addEventListener('abort', closeOnAbort, { once: true });
  try {
    const context = await browser.newContext({ offline: true, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load', timeout });
    await page.emulateMedia({ media: 'print' });
    return await page.pdf({
      format: 'A4', preferCSSPageSize: true, printBackground: true, displayHeaderFooter: true,
      headerTemplate: '<span></span>', footerTemplate: FOOTER, margin: { top: '14mm', bottom: '16mm', left: '12mm', right: '12mm' },
    });
  } catch (err) {
    throw new PdfError(signal.aborted ? `printing stopped: ${String(signal.reason)}` : (err as Error).message.split('\n')[0]);
  } finally {
    signal.removeEventListener('abort', closeOnAbort);
    await browser.close().catch(() => undefined);
  }
}

/** What became of report.pdf in a run: written (and how long printing took), or why not. */
export type PdfOutcome = { written: true; file: string; ms: number } | { written: false; reason: string };

export const PDF_FILE = 'report.pdf';

/**
 * Prints the folder's report.html into report.pdf (before the manifest is written, so `verify` covers it)
 * and journals the outcome. A browser that fails costs only the PDF, never the run.
 */
export async function writePdf(
  store: { readonly dir: string; writeFile(rel: string, content: Uint8Array, options: { alreadyRedacted: boolean }): string; journal(record: object): void },
  renderer: PdfRenderer, signal?: AbortSignal,
): Promise<PdfOutcome> {
  let outcome: PdfOutcome;
  if (!renderer.ok) {
    outcome = { written: false, reason: renderer.reason };
  } else {
    const started = Date.now();
    try {
      // Printed from report.html as written: the HTML is already redacted.
      const pdf = await renderPdf(path.join(store.dir, 'report.html'), renderer.executablePath, { signal });
      store.writeFile(PDF_FILE, pdf, { alreadyRedacted: true });
      outcome = { written: true, file: PDF_FILE, ms: Date.now() - started };
    } catch (err) {
      if (!(err instanceof PdfError)) throw err;
      outcome = { written: false, reason: `${renderer.executablePath} could not print report.html: ${err.message}` };
    }
  }
  store.journal({ type: 'pdf', ...outcome });
  return outcome;
}

/** report.pdf after the reports (run and merge): none without a renderer, or when report.html could not be written. */
export async function pdfAfterReports(
  store: Parameters<typeof writePdf>[0], renderer: PdfRenderer | undefined, reporterErrors: readonly { file: string }[], signal?: AbortSignal,
): Promise<PdfOutcome | undefined> {
  if (!renderer || reporterErrors.some((e) => e.file === 'report.html')) return undefined;
  return writePdf(store, renderer, signal);
}
