import { rowsForTypes, type Catalog, type CatalogRow } from '../catalog';
import type { Attempt, Attestation, FrGap, RequirementVerdict } from '../report/model';
import { FRS, type ComponentInfo, type RequirementOutcome, type SecurityLevel, type SlVector } from '../sdk';

export interface AssessmentInput {
  catalog: Catalog;
  component: ComponentInfo;
  attempts: readonly Attempt[];
  /** Requirements each probe can evidence (to say which probe would have evidenced a row that has none). */
  probeRequirements: ReadonlyMap<string, readonly string[]>;
  attestations?: readonly Attestation[];
}

export interface Assessment {
  requirements: RequirementVerdict[];
  slAchieved: SlVector;
  gaps: FrGap[];
}

const COUNTS_FOR_SL = new Set(['pass', 'not_applicable']);

function requiredAtTarget(row: CatalogRow, component: ComponentInfo): boolean {
  return row.sl.some((l) => l <= component.slTarget[row.fr]);
}

/** Why a row has no probe verdict: which probes could have evidenced it and what happened to them. */
function missingEvidenceReason(row: CatalogRow, input: AssessmentInput): string {
  const probes = [...input.probeRequirements].filter(([, reqs]) => reqs.includes(row.id)).map(([id]) => id);
  if (probes.length === 0) return 'no probe evidences this requirement: documentation review or a manual test (attestation) is needed';
  const attempts = input.attempts.filter((a) => probes.includes(a.probe));
  if (attempts.length === 0) return `evidenced by ${probes.join(', ')}, which did not run (no matching service declared, or not selected)`;
  return attempts.map((a) => `${a.probe}@${a.target}: ${a.status}${a.reason ? ` (${a.reason})` : ''}`).join('; ');
}

/**
 * Requirement verdicts from probe outcomes and manual attestations:
 * - any probe outcome `fail` -> fail (a single failing observation is enough);
 * - else an attestation decides (source manual);
 * - else a pass with full coverage -> pass; a pass with only partial coverage -> not_determined,
 *   because the probe saw only part of what the requirement asks (an attestation completes it);
 * - else all outcomes not_applicable -> not_applicable; no outcome -> not_determined.
 */
export function verdictFor(row: CatalogRow, input: AssessmentInput): RequirementVerdict {
  const outcomes: { outcome: RequirementOutcome; attempt: Attempt }[] = [];
  for (const attempt of input.attempts) {
    for (const outcome of attempt.outcomes) if (outcome.requirement === row.id) outcomes.push({ outcome, attempt });
  }
  const attestation = input.attestations?.find((a) => a.id === row.id);
  const basisOf = (list: typeof outcomes) => [...new Set(list.map((o) => `${o.attempt.probe}@${o.attempt.target}`))];
  const base = {
    id: row.id, title: row.title, fr: row.fr, sl: [...row.sl], requiredAtTarget: requiredAtTarget(row, input.component),
    confidence: row.confidence,
  };
  const failing = outcomes.filter((o) => o.outcome.verdict === 'fail');
  if (failing.length > 0) {
    const codes = [...new Set(failing.flatMap((o) => o.attempt.findings.filter((f) => f.severity !== 'info' && f.requirements.includes(row.id)).map((f) => f.code)))];
    const conflict = attestation && attestation.verdict !== 'fail' ? ` (the manual attestation says ${attestation.verdict}; probe evidence of a failure prevails)` : '';
    return {
      ...base, verdict: 'fail', source: 'probe', basis: basisOf(failing), coverage: best(failing), findings: codes,
      reason: failing.map((o) => `${o.attempt.probe}@${o.attempt.target}: ${o.outcome.reason}`).join('; ') + conflict, attestation,
    };
  }
  if (attestation) {
    return {
      ...base, verdict: attestation.verdict, source: 'manual', basis: [...basisOf(outcomes), 'manual'], coverage: best(outcomes),
      findings: [], reason: `attested by ${attestation.reviewer} on ${attestation.date}${attestation.evidence ? ` (${attestation.evidence})` : ''}${attestation.remark ? `: ${attestation.remark}` : ''}`,
      attestation,
    };
  }
  const passing = outcomes.filter((o) => o.outcome.verdict === 'pass');
  const full = passing.filter((o) => o.outcome.coverage === 'full');
  if (full.length > 0) {
    return { ...base, verdict: 'pass', source: 'probe', basis: basisOf(passing), coverage: 'full', findings: [], reason: full.map((o) => o.outcome.reason).join('; ') };
  }
  if (passing.length > 0) {
    return {
      ...base, verdict: 'not_determined', source: 'probe', basis: basisOf(passing), coverage: 'partial', findings: [],
      reason: `partial probe evidence supports a pass (${passing.map((o) => o.outcome.reason).join('; ')}); the rest of the requirement needs a manual attestation`,
    };
  }
  if (outcomes.length > 0) {
    return { ...base, verdict: 'not_applicable', source: 'probe', basis: basisOf(outcomes), coverage: best(outcomes), findings: [], reason: outcomes.map((o) => o.outcome.reason).join('; ') };
  }
  return { ...base, verdict: 'not_determined', source: 'none', basis: [], findings: [], reason: missingEvidenceReason(row, input) };
}

function best(list: readonly { outcome: RequirementOutcome }[]): 'full' | 'partial' | undefined {
  if (list.length === 0) return undefined;
  return list.some((o) => o.outcome.coverage === 'full') ? 'full' : 'partial';
}

/**
 * SL-C per FR: the highest n such that every row required at n (cumulative: every row whose lowest
 * level is <= n) for the component's types is pass or not_applicable. Rows without evidence are
 * not_determined and block the level, never count as pass.
 */
export function slAchieved(rows: readonly RequirementVerdict[]): SlVector {
  const out = {} as SlVector;
  for (const fr of FRS) {
    const frRows = rows.filter((r) => r.fr === fr);
    let achieved: SecurityLevel = 0;
    for (const level of [1, 2, 3, 4] as const) {
      const required = frRows.filter((r) => r.sl.some((l) => l <= level));
      if (required.every((r) => COUNTS_FOR_SL.has(r.verdict))) achieved = level;
      else break;
    }
    out[fr] = achieved;
  }
  return out;
}

export function assess(input: AssessmentInput): Assessment {
  const rows = rowsForTypes(input.catalog, input.component.types);
  const requirements = rows.map((row) => verdictFor(row, input));
  const achieved = slAchieved(requirements);
  const gaps: FrGap[] = FRS.map((fr) => {
    const blocking = requirements.filter((r) => r.fr === fr && r.requiredAtTarget && !COUNTS_FOR_SL.has(r.verdict));
    return {
      fr, target: input.component.slTarget[fr], achieved: achieved[fr],
      failing: blocking.filter((r) => r.verdict === 'fail').map((r) => r.id),
      undetermined: blocking.filter((r) => r.verdict === 'not_determined').map((r) => r.id),
    };
  });
  return { requirements, slAchieved: achieved, gaps };
}
