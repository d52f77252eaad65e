import { renderJson } from './json';
import type { Report } from './model';

export interface Reporter {
  /** File written into the run folder. */
  readonly file: string;
  readonly render: (report: Report) => string | Uint8Array;
}

/** Every file reporter; each is a pure function of the Report. */
export const REPORTERS: readonly Reporter[] = [
  { file: 'report.json', render: renderJson },
];

export type { Report } from './model';
