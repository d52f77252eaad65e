import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCatalog, rowsForTypes, type CatalogRow } from '../catalog';
import { loadProfile } from '../profile';
import type { Report, RequirementVerdict } from '../report/model';
import { loadProbes } from '../runner/registry';
import { COMPONENT_TYPES, FRS, type ComponentType, type SecurityLevel, type SlVector } from '../sdk';
import { toolVersion } from '../paths';
import { EXIT, UsageError, intOption, list, parse, type Io } from './common';
import { readReport } from './diff';

export const ATTEST_TEMPLATE_USAGE = `usage: iacs-probe attest-template [--profile FILE | --type TYPE... [--sl N]] [--from RUN_DIR] [--out FILE]

  Writes a manual-attestation file (YAML) for \`run --attest\`, pre-filled with every requirement that still
  needs one, required at the SL target: rows no probe can evidence (documentation review, physical tests)
  and, with --from, rows whose verdict in that run is not determined (no or only partial probe evidence).
  Attestations made in that run are carried over filled in. Verdicts are left for the engineer.

  --profile FILE   component types and SL target from a target profile
  --type TYPE      embedded | network | host | application (repeatable), with --sl N (default: all levels)
  --from RUN_DIR   a run folder: its not-determined rows, and its types and SL target if no profile/type
  --out FILE       write here (an existing file is never replaced); default: standard output`;

interface Entry {
  id: string;
  title: string;
  fr: string;
  sl: readonly number[];
  why: string;
  carried?: RequirementVerdict['attestation'];
}

/** One line of YAML comment (what the catalog or a run says may hold line breaks). */
const comment = (s: string) => s.replace(/\s*[\r\n]+\s*/g, ' ');
const levels = (sl: readonly number[]) => (sl.length ? `SL ${Math.min(...sl)}${Math.min(...sl) < 4 ? '-4' : ''}` : 'no SL');

function render(entries: Entry[], heading: string[]): string {
  const out = [
    ...heading.map((l) => `# ${l}`),
    '#',
    '# For each requirement you reviewed, fill in:',
    '#   verdict:   pass | fail | not_applicable',
    '#   reviewer:  who reviewed it',
    '#   date:      YYYY-MM-DD',
    '#   evidence:  the document or test record the verdict rests on ("user manual v2.1 §4.3", "test record TR-17")',
    '#   remark:    optional',
    '# An entry left empty is skipped (the requirement stays not determined); a partly filled one is an error.',
    '# Use: iacs-probe run <profile.yaml> --attest <this file>',
    '',
  ];
  if (entries.length === 0) out.push('[]  # nothing needs an attestation');
  for (const e of entries) {
    const a = e.carried;
    out.push(
      `- id: ${e.id}`,
      `  # ${comment(e.title)} (${e.fr}, required at ${levels(e.sl)})`,
      `  # ${comment(e.why)}`,
      a ? `  verdict: ${a.verdict}` : '  verdict:          # pass | fail | not_applicable',
      `  reviewer:${a ? ` ${JSON.stringify(a.reviewer)}` : ''}`,
      `  date:${a ? ` ${JSON.stringify(a.date)}` : ''}`,
      `  evidence:${a?.evidence ? ` ${JSON.stringify(a.evidence)}` : ''}`,
      `  remark:${a?.remark ? ` ${JSON.stringify(a.remark)}` : ''}`,
      '',
    );
  }
  return out.join('\n');
}

export function attestTemplateCommand(args: string[], io: Io): number {
  const { values } = parse(args, {
    profile: { type: 'string' }, type: { type: 'string', multiple: true }, sl: { type: 'string' },
    from: { type: 'string' }, out: { type: 'string' },
  }, { min: 0, max: 0, names: '' });
  const types = list(values.type);
  for (const t of types) if (!(COMPONENT_TYPES as readonly string[]).includes(t)) throw new UsageError(`--type ${t}: expected one of ${COMPONENT_TYPES.join(', ')}`);
  if (values.profile && types.length) throw new UsageError('give either --profile or --type, not both');
  if (values.sl !== undefined && !types.length) throw new UsageError('--sl goes with --type (a profile or run has its own SL target)');
  const run: Report | undefined = typeof values.from === 'string' ? readReport(values.from) : undefined;
  if (!values.profile && !types.length && !run) throw new UsageError('say which component: --profile FILE, --type TYPE [--sl N], or --from RUN_DIR');
  if (typeof values.out === 'string' && fs.existsSync(values.out)) throw new UsageError(`${values.out} exists; an attestation file is never replaced (choose another --out)`);

  let component: { name: string; types: readonly ComponentType[]; slTarget: SlVector };
  if (typeof values.profile === 'string') component = loadProfile(values.profile).component;
  else if (types.length) {
    const sl = (intOption('sl', values.sl, 1, 4) ?? 4) as SecurityLevel;
    component = { name: `${types.join('/')} component`, types: types as ComponentType[], slTarget: Object.fromEntries(FRS.map((f) => [f, sl])) as SlVector };
  } else component = { name: run!.component.name, types: run!.component.types, slTarget: run!.slTarget };

  const catalog = loadCatalog();
  const evidenced = new Set(loadProbes().flatMap((p) => p.requirements));
  const required = (row: CatalogRow) => row.sl.some((l) => l <= component.slTarget[row.fr]);
  const inRun = new Map((run?.requirements ?? []).map((r) => [r.id, r]));
  const entries: Entry[] = [];
  for (const row of rowsForTypes(catalog, component.types).filter(required)) {
    const previous = inRun.get(row.id);
    const base = { id: row.id, title: row.title, fr: row.fr, sl: row.sl };
    if (previous?.source === 'manual' && previous.attestation) {
      entries.push({ ...base, why: `attested in run ${run!.run.id}; check it still holds`, carried: previous.attestation });
    } else if (previous?.verdict === 'not_determined') {
      entries.push({ ...base, why: `not determined in run ${run!.run.id}: ${previous.reason}` });
    } else if (!previous && !evidenced.has(row.id)) {
      entries.push({ ...base, why: 'no probe evidences this requirement: documentation review or a manual test' });
    }
  }
  const heading = [
    `Manual attestations for ${comment(component.name)} (${component.types.join(', ')}), SL target ${FRS.map((f) => `${f} ${component.slTarget[f]}`).join(', ')}`,
    `Written by iacs-probe ${toolVersion()} attest-template${run ? ` from run ${run.run.id}` : ''}: ${entries.length} requirement(s).`,
  ];
  const text = render(entries, heading);
  if (typeof values.out === 'string') {
    fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
    fs.writeFileSync(values.out, text, { flag: 'wx' });
    io.err.write(`${values.out}: ${entries.length} requirement(s) to attest\n`);
  } else io.out.write(text);
  return EXIT.ok;
}
