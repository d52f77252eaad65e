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
