import type { Report } from './model';

/** report.json: the Report as indented JSON (the contract other tools read). */
export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}
