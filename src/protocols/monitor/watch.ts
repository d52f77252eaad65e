import type { WatchJudgeSpec } from '../../sdk';

/** What one sample of a watch found (the monitor adds the time and the watch name). */
export interface WatchResult {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly value?: number | string;
  readonly error?: string;
}

/**
 * One way of asking a device whether its essential function still works. `sample` never throws: a failure is
 * a result (`ok: false` with the error), bounded by `timeoutMs` and ended by `signal`. `close` frees whatever
 * the watch keeps open between samples (a Modbus connection, an OPC UA subscription).
 */
export interface Watch {
  readonly spec: WatchJudgeSpec;
  /** Where it looks, for the journal: "modbus 127.0.0.1:502 holding 0 (counter)". */
  readonly describe: string;
  sample(timeoutMs: number, signal: AbortSignal): Promise<WatchResult>;
  close(): Promise<void>;
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Runs `work` with a signal that aborts after `timeoutMs` or with `signal`; a timeout reads "no answer within N ms". */
export async function timed(timeoutMs: number, signal: AbortSignal, work: (signal: AbortSignal) => Promise<WatchResult | Omit<WatchResult, 'latencyMs'>>): Promise<WatchResult> {
  const started = Date.now();
  const deadline = AbortSignal.timeout(timeoutMs);
  const both = AbortSignal.any([signal, deadline]);
  try {
    const r = await work(both);
    return { latencyMs: Date.now() - started, ...r };
  } catch (err) {
    const error = deadline.aborted && !signal.aborted ? `no answer within ${timeoutMs} ms` : errorText(err);
    return { ok: false, latencyMs: Date.now() - started, error };
  }
}
