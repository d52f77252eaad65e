import { renderHtml } from './html';
import { renderJson } from './json';
import { renderJunit } from './junit';
import type { Report } from './model';
import { renderTrfCsv, renderTrfXlsx } from './trf';

export interface Reporter {
  /** File written into the run folder. */
  readonly file: string;
  /** A pure function of the Report (asynchronous where the format's library is: xlsx). */
  readonly render: (report: Report) => string | Uint8Array | Promise<Uint8Array>;
}

/** Every file reporter; each is a pure function of the Report. */
export const REPORTERS: readonly Reporter[] = [
  { file: 'report.json', render: renderJson },
  { file: 'report.html', render: renderHtml },
  { file: 'junit.xml', render: renderJunit },
  { file: 'trf.csv', render: renderTrfCsv },
  { file: 'trf.xlsx', render: renderTrfXlsx },
];

export type { Report } from './model';
