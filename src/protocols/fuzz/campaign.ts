import { sleep } from '../../sdk/time';
import type { FuzzCase } from './grammar';

/**
 * Absolute ceilings of every fuzzing campaign, whatever a profile or a probe asks: a typo in a profile must
 * not turn a bench test into a flood. The campaign loop below applies them, so a probe that hands it larger
 * numbers still gets these.
 */
export const FUZZ_CEILINGS = { cases: 10_000, ratePerSecond: 200, durationMs: 30 * 60_000 } as const;

export interface FuzzCaps {
  /** Cases sent at most. */
  cases: number;
  /** Cases started per second at most. */
  ratePerSecond: number;
  /** The campaign stops sending when this has passed. */
  durationMs: number;
}

/** The caps actually applied: each requested value, lowered to its ceiling (and at least 1). */
export function effectiveCaps(requested: FuzzCaps): FuzzCaps {
  const clamp = (v: number, max: number) => Math.max(1, Math.min(Math.floor(v), max));
  return {
    cases: clamp(requested.cases, FUZZ_CEILINGS.cases),
    ratePerSecond: clamp(requested.ratePerSecond, FUZZ_CEILINGS.ratePerSecond),
    durationMs: clamp(requested.durationMs, FUZZ_CEILINGS.durationMs),
  };
}

/** Why a campaign stopped. */
export type CampaignEnd = 'all-cases' | 'case-cap' | 'duration-cap' | 'stopped';

export interface CampaignResult {
  sent: number;
  end: CampaignEnd;
  caps: FuzzCaps;
  elapsedMs: number;
}

/**
 * Runs `execute` for each case, no faster than the rate cap, until the cases, the case cap or the duration
 * cap run out, or `execute` returns "stop" (the device died). Aborting `signal` (Ctrl-C, the attempt
 * deadline, the monitor's loss signal) rejects at once with its reason: the pause between cases is
 * abortable and `execute` must pass the signal to its own network calls.
 */
export async function runCampaign(
  cases: readonly FuzzCase[], requested: FuzzCaps, signal: AbortSignal,
  execute: (c: FuzzCase) => Promise<'continue' | 'stop'>,
): Promise<CampaignResult> {
  const caps = effectiveCaps(requested);
  const started = Date.now();
  const spacingMs = 1000 / caps.ratePerSecond;
  let sent = 0;
  let nextAt = started;
  const result = (end: CampaignEnd): CampaignResult => ({ sent, end, caps, elapsedMs: Date.now() - started });
  for (const c of cases) {
    if (sent >= caps.cases) return result('case-cap');
    if (Date.now() - started >= caps.durationMs) return result('duration-cap');
    // Each case starts at least 1 / rate seconds after the previous one started: a slow answer is not made up for by
    // a burst of cases afterwards, so no stretch of the campaign goes faster than the cap.
    await sleep(nextAt - Date.now(), signal);
    if (signal.aborted) throw signal.reason;
    nextAt = Math.max(nextAt, Date.now()) + spacingMs;
    sent++;
    if ((await execute(c)) === 'stop') return result('stopped');
  }
  return result('all-cases');
}
