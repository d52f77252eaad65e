import { rowsForTypes, type Catalog, type CatalogRow } from '../catalog';
import type { Attempt, Attestation, FrGap, FrReadiness, RequirementVerdict } from '../report/model';
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

/** What one interface (attempt target) showed for a row. */
type InterfaceEvidence =
  | { kind: 'judged'; target: string; outcomes: { outcome: RequirementOutcome; attempt: Attempt }[] }
  /** An attempt that should have evidenced the row errored, was skipped or cancelled, or ended without judging it. */
  | { kind: 'not-examined'; target: string; why: string[] };

/**
 * Per interface (attempt target), what the attempts of every probe that evidences the row showed. An attempt
 * that errored or was skipped (not allowed, cancelled, unhealthy host, ...) leaves its interface not examined
 * even if another probe judged the row there: what it would have checked is unknown. An attempt that ended
 * without judging the row is covered only by another attempt on the same interface that did judge it.
 */
function evidenceByInterface(row: CatalogRow, input: AssessmentInput): InterfaceEvidence[] {
  const relevant = input.attempts.filter((a) => input.probeRequirements.get(a.probe)?.includes(row.id) || a.outcomes.some((o) => o.requirement === row.id));
  const targets = [...new Set(relevant.map((a) => a.target))];
  return targets.map((target): InterfaceEvidence => {
    const here = relevant.filter((a) => a.target === target);
    const unfinished = here.filter((a) => a.status === 'error' || a.status === 'skipped');
    if (unfinished.length > 0) {
      return { kind: 'not-examined', target, why: unfinished.map((a) => `${a.probe}@${a.target}: ${a.status}${a.reason ? ` (${a.reason})` : ''}${a.message ? `: ${firstLine(a.message)}` : ''}`) };
    }
    const outcomes = here.flatMap((attempt) => attempt.outcomes.filter((o) => o.requirement === row.id).map((outcome) => ({ outcome, attempt })));
    if (outcomes.length === 0) {
      return { kind: 'not-examined', target, why: here.map((a) => `${a.probe}@${a.target}: ${a.status} without a judgement of ${row.id}${a.message ? ` (${firstLine(a.message)})` : ''}`) };
    }
    return { kind: 'judged', target, outcomes };
  });
}

function firstLine(text: string): string {
  const line = text.split('\n')[0];
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/**
 * Requirement verdicts from probe outcomes and manual attestations:
 * - any probe outcome `fail` -> fail (a single failing observation is enough);
 * - else an attestation decides (source manual);
 * - else a probe that should have evidenced the row on some interface errored, was skipped or did not judge
 *   it -> not_determined, naming those attempts (`notExamined`): a pass elsewhere cannot stand in for it;
 * - else every interface not applicable (each with its reason) -> not_applicable;
 * - else pass only when every applicable interface has a full-coverage pass (where probes examine the row in
 *   parts, e.g. CR 7.7's tcp and udp ports of a host: a full-coverage pass of every part); a partial pass
 *   somewhere leaves the row not_determined, because a probe saw only part of what the requirement asks there;
 * - no evidence at all -> not_determined, never pass.
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
  const interfaces = evidenceByInterface(row, input);
  if (interfaces.length === 0) {
    return { ...base, verdict: 'not_determined', source: 'none', basis: [], findings: [], reason: missingEvidenceReason(row, input) };
  }
  const passing = outcomes.filter((o) => o.outcome.verdict === 'pass');
  const support = passing.length > 0 ? ` Probe evidence so far supports a pass: ${passing.map((o) => `${o.attempt.probe}@${o.attempt.target}: ${o.outcome.reason}`).join('; ')}.` : '';
  const notExamined = interfaces.flatMap((i) => (i.kind === 'not-examined' ? i.why : []));
  if (notExamined.length > 0) {
    return {
      ...base, verdict: 'not_determined', source: outcomes.length > 0 ? 'probe' : 'none', basis: basisOf(outcomes), coverage: best(outcomes),
      findings: [], notExamined,
      reason: `not examined on every interface: ${notExamined.join('; ')}.${support}`,
    };
  }
  const judged = interfaces.filter((i): i is Extract<InterfaceEvidence, { kind: 'judged' }> => i.kind === 'judged');
  const applicable = judged.filter((i) => i.outcomes.some((o) => o.outcome.verdict !== 'not_applicable'));
  if (applicable.length === 0) {
    return { ...base, verdict: 'not_applicable', source: 'probe', basis: basisOf(outcomes), coverage: best(outcomes), findings: [], reason: outcomes.map((o) => `${o.attempt.probe}@${o.attempt.target}: ${o.outcome.reason}`).join('; ') };
  }
  const partialOnly = applicable.filter((i) => partsNotFull(i.outcomes) !== undefined);
  if (partialOnly.length === 0) {
    return { ...base, verdict: 'pass', source: 'probe', basis: basisOf(passing), coverage: 'full', findings: [], reason: passing.filter((o) => o.outcome.coverage === 'full').map((o) => o.outcome.reason).join('; ') };
  }
  const where = partialOnly.map((i) => {
    const parts = partsNotFull(i.outcomes)!;
    return parts.length > 0 ? `${i.target} (${parts.join('; ')})` : i.target;
  });
  return {
    ...base, verdict: 'not_determined', source: 'probe', basis: basisOf(passing), coverage: 'partial', findings: [],
    reason: `partial probe evidence supports a pass (${passing.map((o) => o.outcome.reason).join('; ')}); `
      + `on ${where.join(', ')} the probes saw only part of the requirement, the rest needs a manual attestation`,
  };
}

/**
 * Whether the passes on one interface cover the whole requirement: undefined when they do (a full pass of the
 * whole, or a full pass of every part where probes examine it in parts, as CR 7.7's tcp and udp); otherwise the
 * parts that lack a full pass (empty when the requirement is not examined in parts).
 */
function partsNotFull(outcomes: readonly { outcome: RequirementOutcome; attempt: Attempt }[]): string[] | undefined {
  const full = outcomes.filter((o) => o.outcome.verdict === 'pass' && o.outcome.coverage === 'full');
  if (full.some((o) => !o.outcome.part)) return undefined;
  const parts = [...new Set(outcomes.flatMap((o) => o.outcome.part?.of ?? []))];
  const missing = parts.filter((p) => !full.some((o) => o.outcome.part?.name === p));
  if (parts.length > 0 && missing.length === 0) return undefined;
  return missing.map((p) => {
    const judged = outcomes.filter((o) => o.outcome.part?.name === p);
    return judged.length === 0
      ? `its ${p} part was not examined: no attempt judged it`
      : `its ${p} part has partial coverage only (${[...new Set(judged.map((o) => o.attempt.probe))].join(', ')})`;
  });
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

/** How a row stands for readiness: counted, failing, left to attest, or probe-testable yet without a probe verdict. */
type ReadinessClass = 'ready' | 'failing' | 'attest' | 'not-evidenced';

function readinessClass(row: RequirementVerdict, probeTestable: ReadonlySet<string>): ReadinessClass {
  if (COUNTS_FOR_SL.has(row.verdict)) return 'ready';
  if (row.verdict === 'fail') return 'failing';
  if (!probeTestable.has(row.id)) return 'attest';
  // A partial probe pass with every interface examined: the probes saw their part; the rest is the lab's to attest.
  const partialPass = row.coverage === 'partial' && row.source === 'probe' && !row.notExamined?.length;
  return partialPass ? 'attest' : 'not-evidenced';
}

/**
 * Readiness of one FR (FrReadiness): the level no failing and no probe-testable unevidenced row blocks, and the
 * rows left to attest (and left without probe evidence) up to the target.
 */
export function readinessOf(frRows: readonly RequirementVerdict[], target: SecurityLevel, probeTestable: ReadonlySet<string>): FrReadiness {
  const classified = frRows.map((row) => ({ row, cls: readinessClass(row, probeTestable) }));
  const at = (level: number) => classified.filter((c) => c.row.sl.some((l) => l <= level));
  const ids = (list: typeof classified, cls: ReadinessClass) => list.filter((c) => c.cls === cls).map((c) => c.row.id);
  let level: SecurityLevel = 0;
  let blockedAt: FrReadiness['blockedAt'];
  for (const n of [1, 2, 3, 4] as const) {
    const required = at(n);
    const failing = ids(required, 'failing');
    const notEvidenced = ids(required, 'not-evidenced');
    if (failing.length + notEvidenced.length > 0) {
      blockedAt = { level: n, failing, notEvidenced };
      break;
    }
    level = n;
  }
  const upToTarget = at(target);
  return {
    level, ...(blockedAt ? { blockedAt } : {}),
    probeEvidenced: upToTarget.filter((c) => c.cls === 'ready' && c.row.source === 'probe').map((c) => c.row.id),
    needAttestation: ids(upToTarget, 'attest'), notEvidenced: ids(upToTarget, 'not-evidenced'),
  };
}

/** Attempts by probe, then target: the verdicts' reasons and bases list them in this order, not in the order they ended. */
function byProbeAndTarget(a: Attempt, b: Attempt): number {
  const ka = `${a.probe}\u0000${a.target}`;
  const kb = `${b.probe}\u0000${b.target}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * Verdicts, SL achieved and gaps. The result depends on the set of attempts only, not on their order, so that a
 * run joined from shards (`iacs-probe merge`) reads exactly as the same run made at once.
 */
export function assess(input: AssessmentInput): Assessment {
  const rows = rowsForTypes(input.catalog, input.component.types);
  const ordered = { ...input, attempts: [...input.attempts].sort(byProbeAndTarget) };
  const requirements = rows.map((row) => verdictFor(row, ordered));
  const achieved = slAchieved(requirements);
  const probeTestable = new Set([...input.probeRequirements.values()].flat());
  const gaps: FrGap[] = FRS.map((fr) => {
    const frRows = requirements.filter((r) => r.fr === fr);
    const blocking = frRows.filter((r) => r.requiredAtTarget && !COUNTS_FOR_SL.has(r.verdict));
    return {
      fr, target: input.component.slTarget[fr], achieved: achieved[fr],
      failing: blocking.filter((r) => r.verdict === 'fail').map((r) => r.id),
      undetermined: blocking.filter((r) => r.verdict === 'not_determined').map((r) => r.id),
      readiness: readinessOf(frRows, input.component.slTarget[fr], probeTestable),
    };
  });
  return { requirements, slAchieved: achieved, gaps };
}
