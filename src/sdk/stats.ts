/**
 * Robust comparison of two timing samples: medians and the Mann-Whitney U test (normal approximation
 * with tie correction; two-sided). A difference counts only when it is both significant and at least a
 * minimum effect size, so scheduler noise on a shared machine does not read as a leak.
 */

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Standard normal cumulative distribution (Abramowitz-Stegun 7.1.26 via erf). */
function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(z) / Math.SQRT2);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

export interface MannWhitney {
  /** U of sample a (how often a value of a exceeds one of b; ties count one half). */
  u: number;
  /** Two-sided p-value. */
  p: number;
  /** U / (n·m): 0.5 when the samples are alike, 0 or 1 when they do not overlap at all. */
  separation: number;
}

export function mannWhitney(a: readonly number[], b: readonly number[]): MannWhitney {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return { u: NaN, p: 1, separation: 0.5 };
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const rankSumA = all.reduce((sum, x, i) => sum + (x.g === 0 ? ranks[i] : 0), 0);
  const u = rankSumA - (n * (n + 1)) / 2;
  const mean = (n * m) / 2;
  const N = n + m;
  const variance = (n * m / 12) * ((N + 1) - tieTerm / (N * (N - 1)));
  if (variance <= 0) return { u, p: 1, separation: u / (n * m) };
  const z = (Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, 2 * (1 - normalCdf(Math.max(0, z)))), separation: u / (n * m) };
}

export interface TimingComparison {
  samples: [number, number];
  medianMs: [number, number];
  /** Median of b minus median of a. */
  differenceMs: number;
  p: number;
  separation: number;
  /** Significant at alpha and at least minEffectMs apart. */
  distinguishable: boolean;
}

export function compareTimings(a: readonly number[], b: readonly number[], alpha: number, minEffectMs: number): TimingComparison {
  const ma = median(a);
  const mb = median(b);
  const test = mannWhitney(a, b);
  const differenceMs = mb - ma;
  return {
    samples: [a.length, b.length],
    medianMs: [ma, mb],
    differenceMs,
    p: Number(test.p.toPrecision(3)),
    separation: Number(test.separation.toFixed(3)),
    distinguishable: test.p < alpha && Math.abs(differenceMs) >= minEffectMs,
  };
}

/** Whether samples of these sizes can show a difference at `alpha` at all (complete separation). */
export function canReachSignificance(n: number, m: number, alpha: number): boolean {
  if (n === 0 || m === 0) return false;
  const a = Array.from({ length: n }, (_v, i) => i);
  const b = Array.from({ length: m }, (_v, i) => n + i);
  return mannWhitney(a, b).p < alpha;
}

/** Standard normal quantile (inverse of normalCdf, by bisection; accurate to the CDF's 1e-7). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  if (p < 0.5) return -normalQuantile(1 - p);
  let lo = 0;
  let hi = 40;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Lan-DeMets alpha-spending function of Pocock type, α·ln(1 + (e − 1)·t): the part of `alpha` that looks up to
 * information fraction t (0..1) may spend (Lan & DeMets 1983, Biometrika 70:659-663). It spends early, so the
 * first look that can decide may stop a batch (docs/auth.md, "Sequential design").
 */
export function pocockSpending(alpha: number, t: number): number {
  return alpha * Math.log(1 + (Math.E - 1) * Math.min(1, Math.max(0, t)));
}

/** Rank of the lower end of the distribution-free shift interval: 0 when these sizes cannot give one. */
function intervalRank(n: number, m: number, gamma: number): number {
  const z = normalQuantile(1 - gamma);
  return Math.max(0, Math.floor((n * m) / 2 - z * Math.sqrt((n * m * (n + m + 1)) / 12)));
}

export interface ShiftInterval {
  /** Hodges-Lehmann estimate of the shift b − a: the median of all pairwise differences. */
  estimate: number;
  low: number;
  high: number;
}

/**
 * The distribution-free confidence interval of the shift b − a (Moses; Hollander, Wolfe & Chicken 2014 §4.3,
 * large-sample rank): [D(C), D(nm + 1 − C)] of the nm ordered differences b_j − a_i, with each end holding with
 * probability 1 − gamma (a two one-sided tests interval, level 1 − 2·gamma). Undefined when the samples are
 * too small for it. With tied values (whole milliseconds) the closed interval only gets wider.
 */
export function shiftInterval(a: readonly number[], b: readonly number[], gamma: number): ShiftInterval | undefined {
  const c = intervalRank(a.length, b.length, gamma);
  if (c < 1) return undefined;
  const d = a.flatMap((x) => b.map((y) => y - x)).sort((x, y) => x - y);
  return { estimate: median(d), low: d[c - 1], high: d[d.length - c] };
}

/** Whether samples of these sizes can give a shift interval at one-sided level gamma. */
export function canBoundShift(n: number, m: number, gamma: number): boolean {
  return n > 0 && m > 0 && intervalRank(n, m, gamma) >= 1;
}

export type SequentialDecision = 'difference' | 'no-difference' | 'continue';

export interface SequentialLook extends TimingComparison {
  /** Nominal level of this look's test (spent from alpha); 0 when these sizes could not reach any. */
  level: number;
  /** Shift interval b − a at this look (each end's error spent from equivalenceAlpha), when these sizes give one. */
  interval: [number, number] | null;
  /** Error level of each end of `interval` (spent from equivalenceAlpha); 0 without an interval. */
  intervalLevel: number;
  decision: SequentialDecision;
}

/**
 * A group-sequential comparison of two timing samples that grow between looks. At each look:
 * - `difference`: Mann-Whitney significant at the nominal level this look spends from `alpha` (Pocock-type
 *   spending over the information fraction (n + m) / (2·maxSamples); every level is at most alpha, so the
 *   rule is never looser than one fixed test at alpha) and medians at least minEffectMs apart;
 * - `no-difference`: the shift interval lies strictly within ±minEffectMs, each end's error spent the same way
 *   from `equivalenceAlpha` (two one-sided tests by repeated confidence intervals);
 * - `continue` otherwise. A look where these sizes cannot reach a level spends nothing.
 * The spent levels add up to at most alpha (a wrong difference) and equivalenceAlpha (a wrong "no difference"),
 * by Bonferroni over the looks.
 */
export class SequentialTimingTest {
  private spentDifference = 0;
  private spentEquivalence = 0;
  readonly looks: SequentialLook[] = [];

  constructor(private readonly options: { alpha: number; equivalenceAlpha: number; minEffectMs: number; maxSamples: number }) {}

  look(a: readonly number[], b: readonly number[]): SequentialLook {
    const { alpha, equivalenceAlpha, minEffectMs, maxSamples } = this.options;
    const information = (a.length + b.length) / (2 * maxSamples);
    const allowed = pocockSpending(alpha, information);
    const base = compareTimings(a, b, alpha, minEffectMs);
    let level = 0;
    let distinguishable = false;
    const differenceLevel = allowed - this.spentDifference;
    if (differenceLevel > 0 && canReachSignificance(a.length, b.length, differenceLevel)) {
      this.spentDifference += differenceLevel;
      level = Number(differenceLevel.toPrecision(3));
      distinguishable = base.p < differenceLevel && Math.abs(base.differenceMs) >= minEffectMs;
    }
    let interval: [number, number] | null = null;
    let intervalLevel = 0;
    const equivalenceLevel = pocockSpending(equivalenceAlpha, information) - this.spentEquivalence;
    if (!distinguishable && equivalenceLevel > 0 && canBoundShift(a.length, b.length, equivalenceLevel)) {
      this.spentEquivalence += equivalenceLevel;
      const s = shiftInterval(a, b, equivalenceLevel)!;
      interval = [s.low, s.high];
      intervalLevel = Number(equivalenceLevel.toPrecision(3));
    }
    const within = interval !== null && interval[0] > -minEffectMs && interval[1] < minEffectMs;
    const decision: SequentialDecision = distinguishable ? 'difference' : within ? 'no-difference' : 'continue';
    const look: SequentialLook = { ...base, distinguishable, level, interval, intervalLevel, decision };
    this.looks.push(look);
    return look;
  }
}
