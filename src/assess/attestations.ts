/**
 * Manual attestations: verdicts an engineer enters for requirements no probe can evidence
 * (documentation review, physical or manual tests). A YAML list of
 * `{ id, verdict: pass|fail|not_applicable, reviewer, date: YYYY-MM-DD, evidence, remark? }`,
 * validated against the catalog rows of the component's types; every problem is reported with file,
 * line and field, as profile errors are.
 */
import { isMap, isSeq } from 'yaml';
import { rowsForTypes, type Catalog } from '../catalog';
import { Locator, type ProfileIssue } from '../profile';
import type { Attestation } from '../report/model';
import { InputRejected, type ComponentType } from '../sdk';
import { decodeInputText, formatIssues, issuesAs, readInputFile } from '../sdk/input-file';

export const ATTESTATION_VERDICTS = ['pass', 'fail', 'not_applicable'] as const;
const FIELDS = ['id', 'verdict', 'reviewer', 'date', 'evidence', 'remark'];

export class AttestationError extends InputRejected {
  constructor(readonly issues: readonly ProfileIssue[]) {
    super(formatIssues(issues), 'invalid attestations (nothing was run or written)');
  }
}

export interface AttestationFile {
  file: string;
  /** The file's bytes, copied into the evidence folder. */
  bytes: Buffer;
  attestations: Attestation[];
  /** Template entries left untouched (no verdict, no reviewer, ...): skipped, not errors. */
  untouched: string[];
}

const blank = (v: unknown) => v === null || v === undefined || (typeof v === 'string' && v.trim() === '');

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number') return String(v);
  return undefined;
}

function validDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
}

/** Validates attestation YAML for a component of these types. Throws AttestationError listing every problem. */
export function parseAttestations(bytes: Buffer, file: string, catalog: Catalog, types: readonly ComponentType[]): AttestationFile {
  const loc = new Locator(file, issuesAs((issues) => new AttestationError(issues), () => decodeInputText(bytes, file)));
  if (loc.problems.length > 0) throw new AttestationError(loc.problems);
  const issues: ProfileIssue[] = [];
  const root = loc.doc.contents;
  if (root !== null && !isSeq(root)) {
    throw new AttestationError([loc.issue([], 'expected a list of attestations (- id: CR 1.1 ...); `iacs-probe attest-template` writes one')]);
  }
  const applicable = new Map(rowsForTypes(catalog, types).map((r) => [r.id, r]));
  const everywhere = new Map(catalog.requirements.map((r) => [r.id, r]));
  const squash = (s: string) => s.replace(/\s+/g, '').toUpperCase();
  const seen = new Map<string, number>();
  const attestations: Attestation[] = [];
  const untouched: string[] = [];
  const items = (loc.value as unknown[] | null) ?? [];
  items.forEach((raw, i) => {
    const node = isSeq(root) ? root.items[i] : undefined;
    if (!isMap(node) || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      issues.push(loc.issue([i], `each entry is a mapping with ${FIELDS.join(', ')}`));
      return;
    }
    const entry = raw as Record<string, unknown>;
    const at = (field: string) => [i, field];
    for (const key of Object.keys(entry)) if (!FIELDS.includes(key)) issues.push(loc.issue(at(key), `unknown field (expected ${FIELDS.join(', ')})`));
    const id = text(entry.id);
    if (!id) {
      issues.push(loc.issue(at('id'), 'missing requirement id (e.g. "CR 1.1" or "CR 2.1 RE(1)")'));
      return;
    }
    if (!applicable.has(id)) {
      const near = [...everywhere.keys()].find((k) => squash(k) === squash(id));
      const other = everywhere.get(id);
      issues.push(loc.issue(at('id'), other
        ? `${id} applies to ${other.appliesTo.join('/')} components, not to ${types.join('/')}`
        : `unknown requirement id "${id}"${near ? ` (did you mean "${near}"?)` : ''}; \`iacs-probe catalog\` lists them`));
      return;
    }
    if (seen.has(id)) {
      issues.push(loc.issue(at('id'), `${id} is attested twice (also entry ${seen.get(id)! + 1})`));
      return;
    }
    seen.set(id, i);
    if (FIELDS.slice(1).every((f) => blank(entry[f]))) {
      untouched.push(id);
      return;
    }
    const problem = (field: string, message: string) => issues.push(loc.issue(at(field), `${id}: ${message}`));
    const verdict = text(entry.verdict);
    if (!verdict) problem('verdict', 'verdict is missing: pass, fail or not_applicable (or leave the whole entry empty to skip it)');
    else if (!(ATTESTATION_VERDICTS as readonly string[]).includes(verdict)) problem('verdict', `verdict must be pass, fail or not_applicable (got "${verdict}")`);
    const reviewer = text(entry.reviewer);
    if (!reviewer) problem('reviewer', 'reviewer is missing: who reviewed the evidence');
    const date = text(entry.date);
    if (!date) problem('date', 'date is missing (YYYY-MM-DD)');
    else if (!validDate(date)) problem('date', `date must be a calendar date YYYY-MM-DD (got "${date}")`);
    const evidence = text(entry.evidence);
    if (!evidence) problem('evidence', 'evidence is missing: the document or test record the verdict rests on (e.g. "user manual v2.1 §4.3")');
    const remark = entry.remark === undefined || entry.remark === null ? undefined : text(entry.remark);
    if (entry.remark !== undefined && entry.remark !== null && remark === undefined) problem('remark', 'remark must be text');
    if (verdict && reviewer && date && evidence) {
      attestations.push({
        id, verdict: verdict as Attestation['verdict'], reviewer, date, evidence, ...(remark ? { remark } : {}),
      });
    }
  });
  if (issues.length > 0) throw new AttestationError(issues);
  return { file, bytes, attestations, untouched };
}

export function loadAttestations(file: string, catalog: Catalog, types: readonly ComponentType[]): AttestationFile {
  return parseAttestations(issuesAs((issues) => new AttestationError(issues), () => readInputFile(file)), file, catalog, types);
}

