/**
 * The report of `iacs-probe compare-units`: key material, identifiers and default passwords that two or
 * more units of one model share (IEC 62443-4-2 CR 1.2 RE(1) unique identification, CR 1.5 authenticators
 * that are not the same on every device). The model and its text rendering; src/assess/units.ts fills it.
 */
import { visible } from './text';

/** What a unit may share with another one, and the observation it is read from. */
export type UnitMaterialKind = 'tls-key' | 'tls-certificate' | 'ssh-host-key' | 'opcua-key' | 'opcua-certificate' | 'snmp-engine-id' | 'default-password';

export type UnitVerdict = 'pass' | 'fail' | 'not_determined';

export interface ComparedUnit {
  /** The run folder as given. */
  folder: string;
  runId: string;
  name: string;
  vendor?: string;
  model?: string;
  serial?: string;
}

/** One value (a fingerprint, an engine id, a password digest) seen on two or more units. */
export interface SharedMaterial {
  kind: UnitMaterialKind;
  /** Stable finding code, e.g. shared-ssh-host-key. */
  code: string;
  severity: 'high' | 'medium';
  requirements: string[];
  /** The shared value: a SHA-256 fingerprint, the engine id (hex), "user / sha256 of the password". */
  value: string;
  /** Per unit (index into `units`): where the value was observed (probe@target). */
  seenOn: { unit: number; where: string[] }[];
  message: string;
}

/** One kind of material: compared (pass/fail) when two or more units recorded it, else not determined. */
export interface UnitCheck {
  kind: UnitMaterialKind;
  title: string;
  requirements: string[];
  verdict: UnitVerdict;
  /** Units (indexes) whose evidence records this kind. */
  unitsWithEvidence: number[];
  reason: string;
}

export interface UnitsComparison {
  schemaVersion: 1;
  tool: { name: string; version: string };
  comparedAt: string;
  units: ComparedUnit[];
  notices: string[];
  checks: UnitCheck[];
  shared: SharedMaterial[];
  requirements: { id: string; verdict: UnitVerdict; basis: UnitMaterialKind[]; reason: string }[];
}

const MARK: Record<UnitVerdict, string> = { pass: 'pass', fail: 'FAIL', not_determined: 'not determined' };

function unitLabel(u: ComparedUnit): string {
  return `${u.name}${u.serial ? ` (serial ${u.serial})` : ''}`;
}

/** Plain text for the console and units.txt; terminal control characters from the evidence are escaped. */
export function renderUnitsText(c: UnitsComparison): string {
  const t = visible;
  const lines = [`Units compared (${c.units.length}):`];
  c.units.forEach((u, i) => lines.push(`  [${i + 1}] ${t(unitLabel(u))}: ${t([u.vendor, u.model].filter(Boolean).join(' ') || 'model not recorded')}, run ${t(u.runId)} in ${t(u.folder)}`));
  for (const n of c.notices) lines.push(`Notice: ${t(n)}`);
  lines.push('', 'Checks:');
  for (const k of c.checks) lines.push(`  ${MARK[k.verdict].padEnd(14)} ${k.title} [${k.requirements.join(', ')}]: ${t(k.reason)}`);
  if (c.shared.length > 0) {
    lines.push('', 'Shared between units:');
    for (const s of c.shared) {
      lines.push(`  ${s.severity.toUpperCase()} ${s.code} [${s.requirements.join(', ')}]: ${t(s.message)}`);
      for (const seen of s.seenOn) lines.push(`      [${seen.unit + 1}] ${t(seen.where.join(', '))}`);
    }
  }
  lines.push('', 'Requirements (across the units):');
  for (const r of c.requirements) lines.push(`  ${r.id.padEnd(13)} ${MARK[r.verdict].padEnd(14)} ${t(r.reason)}`);
  return `${lines.join('\n')}\n`;
}
