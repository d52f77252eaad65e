import type { MonitorSample, PhaseJudgement } from '../../sdk';
import type { SteppedLoadResult, StepResult } from './steps';

const iso = (t: number) => new Date(t).toISOString();

/** A phase's verdict in one line that cites the monitor's samples (time, watch, answer) it rests on. */
export function citePhase(p: PhaseJudgement): string {
  const cited = p.watches.flatMap((w) => w.evidence.map((s) => describeSample(s)));
  return `${p.label}: ${p.text} (judged ${iso(p.from)} to ${iso(p.to)}${cited.length ? `; samples ${cited.join(', ')}` : ''})`;
}

function describeSample(s: MonitorSample): string {
  const answer = s.ok ? `ok${s.value !== undefined ? ` value ${s.value}` : ''} in ${s.latencyMs} ms` : `failed: ${s.error ?? 'no answer'}`;
  return `${s.watch} ${iso(s.t)} ${answer}`;
}

/** A loss counts whether or not the function came back before the phase was judged: it was not maintained. */
export const isLoss = (p: PhaseJudgement) => p.verdict === 'lost' || p.verdict === 'recovered';
export const isKept = (p: PhaseJudgement) => p.verdict === 'maintained' || p.verdict === 'degraded';

/** What the evidence keeps of a phase judgement (no full series: that is monitor/<host>.ndjson). */
export function phaseEvidence(p: PhaseJudgement): object {
  return {
    label: p.label, verdict: p.verdict, text: p.text, start: iso(p.start), end: iso(p.end), judgedFrom: iso(p.from), judgedTo: iso(p.to),
    watches: p.watches.map((w) => ({ watch: w.watch, verdict: w.verdict, text: w.text, samples: w.samples, good: w.good, slow: w.slow, failed: w.failed, frozen: w.frozen, outages: w.outages, evidence: w.evidence })),
  };
}

/**
 * How the device handled the load at a step where its function was kept: it refused the excess (busy
 * exceptions, 429/503, refused connections), its answered rate stayed under what was sent (a plateau), or it
 * answered everything (no limiting was needed up to that rate).
 */
export function loadHandling(step: StepResult): 'refused-excess' | 'plateau' | 'served-all' {
  if (step.refused > 0) return 'refused-excess';
  if (step.sent > 0 && step.answered < 0.9 * step.sent) return 'plateau';
  return 'served-all';
}

/** What the monitor made of a stepped load: the steps where the function was lost, those no sample judged, and whether it was kept at all of them. */
export interface StepsJudged {
  readonly lost: readonly { step: StepResult; phase: PhaseJudgement }[];
  readonly unjudged: readonly StepResult[];
  /** Every step ran, and the function was kept (maintained or degraded within tolerance) at each. */
  readonly allKept: boolean;
}

/** Pairs each step with its phase (same order, as runSteps returns them) and sorts them for a verdict. */
export function judgeSteps(result: Pick<SteppedLoadResult, 'steps' | 'phases'>): StepsJudged {
  const { steps, phases } = result;
  return {
    lost: steps.flatMap((step, i) => (phases[i] && isLoss(phases[i]) ? [{ step, phase: phases[i] }] : [])),
    unjudged: steps.filter((_, i) => !phases[i] || phases[i].verdict === 'not_determined'),
    allKept: phases.length === steps.length && steps.length > 0 && phases.every(isKept),
  };
}
