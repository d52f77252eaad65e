import * as fs from 'node:fs';
import * as path from 'node:path';
import { UnitsRefused, compareUnits } from '../assess/units';
import { verifyFolder } from '../evidence/manifest';
import { toolVersion } from '../paths';
import { renderUnitsText } from '../report/units';
import { EXIT, UsageError, parse, type Io } from './common';
import { readReport } from './diff';

export const COMPARE_UNITS_USAGE = `usage: iacs-probe compare-units <run-dir> <run-dir>... [--json] [--out DIR]

  For runs of two or more units of the same model: finds key material, identifiers and default passwords
  the units share, from what each run already observed: TLS server keys (SPKI sha256) and certificates
  (tls.certificate), SSH host keys (ssh.algorithms), OPC UA application keys and certificates
  (opcua.endpoints), SNMP engine ids (snmp.communities, snmp.v3), default passwords that logged in
  (*.default-credentials, compared by user and password sha256). Shared material fails CR 1.2 RE(1)
  (unique identification and authentication) and CR 1.5 (authenticators unique per device); a kind that
  fewer than two runs recorded is not determined. Each folder is checked as \`iacs-probe verify\` does;
  two runs of the same unit (same serial number) or the same run twice are refused.

  --json      print the comparison as JSON instead of text
  --out DIR   also write units.json and units.txt into DIR (created; existing files are refused)

  Exit codes: 0 nothing shared, 1 shared material found, 2 nothing could be compared, 3 usage errors,
  a folder that fails verify, or runs of the same unit.`;

/** The run's report, after checking the folder's integrity (a changed report would make the comparison worthless). */
function verifiedReport(dir: string) {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a run folder`);
  const result = verifyFolder(dir);
  if (!result.ok) throw new UsageError(`${dir} fails verify (${result.problems.slice(0, 3).map((p) => `${p.kind} ${p.path}`).join(', ')}${result.problems.length > 3 ? ', ...' : ''}): run \`iacs-probe verify ${dir}\``);
  return { folder: dir, report: readReport(dir) };
}

function writeOut(dir: string, json: string, text: string): void {
  const files = ['units.json', 'units.txt'].map((f) => path.join(dir, f));
  const existing = files.filter((f) => fs.existsSync(f));
  if (existing.length > 0) throw new UsageError(`--out: ${existing.join(', ')} already exist`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(files[0], json);
  fs.writeFileSync(files[1], text);
}

export function compareUnitsCommand(args: string[], io: Io): number {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, out: { type: 'string' } }, { min: 2, max: 64, names: 'two or more run folders' });
  const runs = positionals.map(verifiedReport);
  let comparison;
  try {
    comparison = compareUnits(runs, { name: 'iacs-probe', version: toolVersion() });
  } catch (err) {
    if (err instanceof UnitsRefused) throw new UsageError(err.message);
    throw err;
  }
  const json = `${JSON.stringify(comparison, null, 2)}\n`;
  const text = renderUnitsText(comparison);
  if (typeof values.out === 'string') writeOut(values.out, json, text);
  io.out.write(values.json ? json : text);
  if (comparison.shared.length > 0) return EXIT.failed;
  return comparison.checks.some((c) => c.verdict === 'pass') ? EXIT.ok : EXIT.incomplete;
}
