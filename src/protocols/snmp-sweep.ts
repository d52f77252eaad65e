import { TargetTimeout } from '../sdk';
import { OIDS, SnmpClient, UsmReportError, type AccessTrial, type SnmpAccess, type SnmpEndpoint } from './snmp';
import { mapLimited } from './snmp-access';

/**
 * Many access guesses (communities × versions) toward one agent at once: every request of a window is in
 * flight before the first one can time out, so N wrong guesses cost one timeout, not N. The number in flight
 * is bounded (a device may rate-limit); the guesses that stay silent are sent again in a further window, once
 * per retry, and only while such a window still ends before `finishBy`. One abort listener serves the batch.
 */

export interface SweepOptions {
  /** How long one request waits for its answer. */
  timeoutMs: number;
  /** Further windows for the guesses that stayed silent. */
  retries: number;
  /** Most requests in flight at once. */
  parallel: number;
  signal: AbortSignal;
  /** Epoch ms: a retry window that could end later is not started (the caller keeps its own reserve). */
  finishBy: number;
  /** Every request sent and how it ended, in the order it happened (for the evidence transcript). */
  onEvent?: (event: SweepEvent) => void;
}

export interface SweepEvent {
  event: 'sent' | 'response' | 'report' | 'no-answer';
  /** Position of the access in the list given. */
  index: number;
  /** 1 for the first window, 2, 3 ... for re-sends. */
  round: number;
}

export interface SweepResult {
  /** In the order of the accesses given; silence after every window is `no-answer`. */
  trials: AccessTrial[];
  /** Windows used (1 + retry windows that were started). */
  rounds: number;
  /** Requests sent again. */
  resent: number;
  /** Why silent guesses were not sent again although retries were left. */
  retriesSkipped?: string;
}

/** The longest a window of `count` requests can take with `parallel` in flight. */
function windowMs(count: number, parallel: number, timeoutMs: number): number {
  return Math.ceil(count / Math.max(1, parallel)) * timeoutMs;
}

/**
 * GETs sysDescr.0 once per access, `parallel` at a time. A wrong community is dropped in silence (RFC 3584
 * §5.2.1), so silence is a result here; an unreachable port, garbage or an abort still throws (and closes
 * every socket of the batch).
 */
export async function sweepAccess(endpoint: SnmpEndpoint, accesses: readonly SnmpAccess[], options: SweepOptions): Promise<SweepResult> {
  const { signal } = options;
  signal.throwIfAborted();
  const live = new Set<SnmpClient>();
  const onAbort = () => {
    for (const client of [...live]) client.cancel(signal.reason);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const trials: (AccessTrial | undefined)[] = new Array<AccessTrial | undefined>(accesses.length);
  const emit = (event: SweepEvent['event'], index: number, round: number) => options.onEvent?.({ event, index, round });

  const tryOnce = async (index: number, round: number): Promise<void> => {
    signal.throwIfAborted();
    const client = new SnmpClient(endpoint, accesses[index], { timeoutMs: options.timeoutMs, retries: 0, signal }, {
      cancelledByBatch: true, onDatagramSent: () => emit('sent', index, round),
    });
    live.add(client);
    try {
      trials[index] = { result: 'response', response: await client.get([OIDS.sysDescr]) };
      emit('response', index, round);
    } catch (err) {
      if (err instanceof TargetTimeout) emit('no-answer', index, round);
      else if (err instanceof UsmReportError) {
        trials[index] = { result: 'report', report: err.report };
        emit('report', index, round);
      } else throw err;
    } finally {
      live.delete(client);
      client.close();
    }
  };

  let silent = accesses.map((_a, i) => i);
  const result: SweepResult = { trials: [], rounds: 0, resent: 0 };
  try {
    for (let round = 1; round <= options.retries + 1 && silent.length > 0; round++) {
      if (round > 1 && Date.now() + windowMs(silent.length, options.parallel, options.timeoutMs) > options.finishBy) {
        result.retriesSkipped = `${silent.length} silent request(s) not sent again: window ${round} would not end within the attempt's budget`;
        break;
      }
      result.rounds = round;
      if (round > 1) result.resent += silent.length;
      await mapLimited(silent, options.parallel, (index) => tryOnce(index, round));
      silent = silent.filter((i) => trials[i] === undefined);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // After a failure, the requests still in flight end here (their workers stop with it).
    for (const client of [...live]) client.cancel(signal.aborted ? signal.reason : new Error('the sweep ended'));
  }
  result.trials = Array.from(trials, (t): AccessTrial => t ?? { result: 'no-answer' });
  return result;
}
