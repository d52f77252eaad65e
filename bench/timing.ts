/** Medians and alternating runs: every figure is a median of whole processes, compared within one run. */
import type { ProcessResult } from './process';

/** Wall time of an in-process step (the in-process benches: auth, http, opcua-endpoints). */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** What one contender did over its runs: wall-time median and the highest peak RSS seen. */
export interface Measured {
  runs: number;
  medianMs: number;
  peakRssKiB: number | undefined;
}

export function summarise(results: readonly ProcessResult[]): Measured {
  const rss = results.map((r) => r.peakRssKiB).filter((x): x is number => x !== undefined);
  return { runs: results.length, medianMs: median(results.map((r) => r.wallMs)), peakRssKiB: rss.length ? Math.max(...rss) : undefined };
}

/** A contender: one whole-process run that also checks it did the work (throws otherwise). */
export type Contender = (run: number) => Promise<ProcessResult>;

/**
 * Runs every contender once unmeasured (caches, first-start costs), then `runs` rounds in which each runs
 * once, the order reversed every other round so no contender always meets a warmer server.
 */
export async function alternate(contenders: Record<string, Contender>, runs: number): Promise<Record<string, Measured>> {
  const names = Object.keys(contenders);
  const results: Record<string, ProcessResult[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) await contenders[name](-1);
  for (let i = 0; i < runs; i++) {
    for (const name of i % 2 === 0 ? names : [...names].reverse()) results[name].push(await contenders[name](i));
  }
  return Object.fromEntries(names.map((n) => [n, summarise(results[n])]));
}
