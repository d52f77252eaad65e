/**
 * Stepped load (issue 20): each step sends at a target rate for a set time while the essential-function
 * monitor judges it as its own phase. Rates are measured (what was sent and answered per second of the step),
 * never assumed. The caps come from the attempt's `ctx.load.limits`, so a probe cannot raise them; a step stops
 * at once when the run is cancelled or the function is lost (the monitor's signal, stopOnLoss).
 */
import type { EssentialFunctionMonitor, LoadLimits, PhaseJudgement } from '../../sdk';

/** What one request of a generator came to. */
export type RequestOutcome = 'answered' | 'refused' | 'error';

/** Sends requests of one kind (a Modbus read, an HTTP GET) over connections it owns. */
export interface LoadGenerator {
  /** One request; resolves with its outcome and never rejects. */
  send(): Promise<RequestOutcome>;
  /** Requests waiting for an answer, over all connections. */
  inFlight(): number;
  /** The most requests it may have waiting at once (more would only queue in the client). */
  readonly maxInFlight: number;
  /** Destroys every connection at once (also called on abort). */
  close(): void;
  /** A count of the failures by kind ("ECONNRESET", "timeout", "exception 06"), for the evidence. */
  errorKinds(): Record<string, number>;
}

export interface StepResult {
  readonly label: string;
  /** Requests per second asked for. */
  readonly targetRate: number;
  readonly durationMs: number;
  readonly sent: number;
  readonly answered: number;
  readonly refused: number;
  readonly errors: number;
  /** Requests due that were not sent because `maxInFlight` requests were waiting (the device or link was slower). */
  readonly backlogged: number;
  /** sent / duration: what the generator achieved. */
  readonly achievedRate: number;
  /** answered / duration: what the device served. */
  readonly answeredRate: number;
  /** Why the step ended before its time: "function lost", "cancelled", "total cap". */
  readonly stoppedBy?: string;
  readonly errorKinds: Record<string, number>;
}

export interface SteppedLoadOptions {
  /** Target rates, lowest first; each is clamped to limits.maxRate. */
  readonly rates: readonly number[];
  readonly stepSeconds: number;
  readonly limits: LoadLimits;
  /** ctx.signal: the deadline and Ctrl-C. */
  readonly signal: AbortSignal;
  readonly monitor?: EssentialFunctionMonitor;
  /** Label of a step, e.g. "modbus read 1000/s". */
  readonly label: (rate: number) => string;
  /** How long to wait for the answers still due when a step ends. */
  readonly drainMs: number;
  /** Requests left of the attempt's maxTotal, shared by several stepped loads of one attempt (default: a fresh maxTotal). */
  readonly budget?: { left: number };
}

export interface SteppedLoadResult {
  readonly steps: readonly StepResult[];
  /** The effective plan after the caps: rates, step length, total, and the notes on what was clamped. */
  readonly plan: { rates: number[]; stepSeconds: number; maxTotal: number; clamped: string[] };
  /** The monitor's judgement of each step's phase (same order as steps), when a monitor watched. */
  readonly phases: readonly PhaseJudgement[];
}

const TICK_MS = 10;

/** The rates and step length the caps allow, with a note for each value that was lowered. */
export function planSteps(rates: readonly number[], stepSeconds: number, limits: LoadLimits): SteppedLoadResult['plan'] {
  const clamped: string[] = [];
  const capped = rates.map((r) => {
    if (r <= limits.maxRate) return r;
    clamped.push(`step rate ${r}/s lowered to maxRate ${limits.maxRate}/s`);
    return limits.maxRate;
  });
  const unique = [...new Set(capped)];
  let seconds = stepSeconds;
  if (seconds > limits.maxStepSeconds) {
    clamped.push(`step length ${stepSeconds} s lowered to maxStepSeconds ${limits.maxStepSeconds} s`);
    seconds = limits.maxStepSeconds;
  }
  return { rates: unique, stepSeconds: seconds, maxTotal: limits.maxTotal, clamped };
}

/**
 * The most one stepped load sends, for `iacs-probe plan`: every step at its full rate for its full length, the step
 * raised to twice the monitor's loss window as the load probes raise it, then clamped by the caps as planSteps does.
 */
export function plannedStepTotal(rates: readonly number[], stepSeconds: number, limits: LoadLimits, lossAfterMs?: number): { total: number; rates: number[]; stepSeconds: number } {
  const raised = lossAfterMs === undefined ? stepSeconds : Math.max(stepSeconds, (2 * lossAfterMs) / 1000);
  const plan = planSteps(rates, raised, limits);
  return { total: Math.ceil(plan.rates.reduce((sum, r) => sum + r * plan.stepSeconds, 0)), rates: plan.rates, stepSeconds: plan.stepSeconds };
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Runs one step: fires `rate` requests a second for `durationMs`, paced on a 10 ms tick. */
async function runStep(generator: LoadGenerator, rate: number, durationMs: number, budget: { left: number }, stop: AbortSignal, drainMs: number, label: string): Promise<StepResult> {
  const counts = { sent: 0, answered: 0, refused: 0, errors: 0, backlogged: 0 };
  const before = generator.errorKinds();
  const pending = new Set<Promise<void>>();
  const started = Date.now();
  let issued = 0;
  let stoppedBy: string | undefined;
  while (!stop.aborted) {
    const elapsed = Date.now() - started;
    if (elapsed >= durationMs) break;
    const due = Math.min(Math.floor((rate * elapsed) / 1000), Math.ceil((rate * durationMs) / 1000)) - issued;
    for (let i = 0; i < due; i++) {
      issued++;
      if (budget.left <= 0) { stoppedBy = 'total cap'; break; }
      if (generator.inFlight() >= generator.maxInFlight) { counts.backlogged++; continue; }
      budget.left--;
      counts.sent++;
      const p = generator.send().then((o) => {
        if (o === 'answered') counts.answered++;
        else if (o === 'refused') counts.refused++;
        else counts.errors++;
      });
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    if (stoppedBy) break;
    await pause(TICK_MS, stop);
  }
  const sentFor = Date.now() - started;
  if (stop.aborted) {
    stoppedBy = stoppedBy ?? 'aborted';
  } else if (pending.size > 0) {
    await Promise.race([Promise.all(pending), pause(drainMs, stop)]);
  }
  const after = generator.errorKinds();
  const errorKinds = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
  const perSecond = (n: number) => Math.round((n * 1000) / Math.max(1, sentFor));
  return {
    label, targetRate: rate, durationMs: sentFor, ...counts, achievedRate: perSecond(counts.sent), answeredRate: perSecond(counts.answered),
    ...(stoppedBy ? { stoppedBy } : {}), errorKinds,
  };
}

/** Runs one step at `rate` for at most `durationMs` within `budget`, stopping at once when `stop` aborts. */
export type StepRunner = (rate: number, durationMs: number, budget: { left: number }, stop: AbortSignal, label: string) => Promise<StepResult>;

/** The options of runSteps: those of runSteppedLoad without the drain wait, which belongs to a request generator. */
export type StepsOptions = Omit<SteppedLoadOptions, 'drainMs'>;

/**
 * Runs the steps in order, one monitor phase each; stops after the step in which the run was cancelled or the
 * function was lost. `close` runs at the end whatever happens (and at once when the stop signal aborts). Waits
 * one monitor period after the last step so that its phase has the sample that shows whether the function
 * survived it. Any generator fits: requests (runSteppedLoad) or packets (src/protocols/storm).
 */
export async function runSteps(options: StepsOptions, runOne: StepRunner, close: () => void = () => undefined, budget?: { left: number }): Promise<SteppedLoadResult> {
  const plan = planSteps(options.rates, options.stepSeconds, options.limits);
  const stop = options.monitor ? AbortSignal.any([options.signal, options.monitor.signal]) : options.signal;
  stop.addEventListener('abort', close, { once: true });
  // One budget per attempt: given here, in the options (several stepped loads of one attempt), else a fresh maxTotal.
  const shared = budget ?? options.budget ?? { left: plan.maxTotal };
  const steps: StepResult[] = [];
  try {
    for (const rate of plan.rates) {
      if (stop.aborted) break;
      const label = options.label(rate);
      const phase = options.monitor?.phase(label);
      try {
        const step = await runOne(rate, plan.stepSeconds * 1000, shared, stop, label);
        steps.push(options.signal.aborted ? { ...step, stoppedBy: 'cancelled' } : stop.aborted ? { ...step, stoppedBy: 'function lost' } : step);
        if (step.stoppedBy === 'total cap') break;
      } finally {
        phase?.end();
      }
    }
  } finally {
    stop.removeEventListener('abort', close);
    close();
  }
  options.signal.throwIfAborted();
  if (options.monitor) await pause(options.monitor.periodMs + 50, options.signal);
  options.signal.throwIfAborted();
  // The attempt's phases include the runner's own (the whole attempt): keep the steps', in step order.
  const judged = options.monitor ? options.monitor.phases() : [];
  const phases = steps.flatMap((s) => judged.filter((p) => p.label === s.label).slice(-1));
  return { steps, plan, phases };
}

/** Stepped request load: runSteps with a request generator, closed at the end. */
export function runSteppedLoad(generator: LoadGenerator, options: SteppedLoadOptions): Promise<SteppedLoadResult> {
  return runSteps(options, (rate, durationMs, budget, stop, label) => runStep(generator, rate, durationMs, budget, stop, options.drainMs, label), () => generator.close());
}
