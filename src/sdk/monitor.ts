/**
 * The essential-function monitor (profile `essentialFunction`): what a probe sees of it (`ctx.monitor`), the
 * time series it journals, and the judgement of that series. The runner owns the monitor (src/runner/monitor.ts);
 * the watches that take the samples are protocol adapters (src/protocols/monitor). The judgement is a pure
 * function of the samples, so every verdict that cites it can be recomputed from monitor/<host>.ndjson.
 */

/** The live state: maintained (answers on time), degraded (late or failing, not yet for lossAfterMs), lost. */
export type MonitorState = 'maintained' | 'degraded' | 'lost';

/** What the judgement says about a window: recovered = lost, then answered again before the monitor stopped. */
export type FunctionVerdict = 'maintained' | 'degraded' | 'lost' | 'recovered' | 'not_determined';

/** One sample of one watch, as journaled (monitor/<host>.ndjson and .csv). */
export interface MonitorSample {
  /** Epoch ms when the request was sent. */
  readonly t: number;
  /** The watch's name (its protocol, or `protocol#n` when a kind appears twice). */
  readonly watch: string;
  /** The request was answered as the watch expects (a read value, an HTTP status, a handshake). */
  readonly ok: boolean;
  /** From request to answer (or to the failure). */
  readonly latencyMs: number;
  /** The value read (Modbus register, OPC UA node), when the watch reads one. */
  readonly value?: number | string;
  readonly error?: string;
}

/** A stretch of time a probe marked (a load step, a fuzzing campaign): shaded in the chart, judged on its own. */
export interface MonitorPhase {
  readonly label: string;
  /** The attempt that marked it ("probe@target"). */
  readonly attempt?: string;
  readonly start: number;
  /** Undefined while the phase is open. */
  readonly end?: number;
}

/** How one watch's samples are judged (from the profile, defaults applied). */
export interface WatchJudgeSpec {
  readonly name: string;
  /** A counter must keep changing: an answer with the same value for longer than stallAfterMs is a failure. */
  readonly counter: boolean;
  readonly stallAfterMs: number;
}

export interface JudgeParameters {
  readonly latencyToleranceMs: number;
  readonly lossAfterMs: number;
}

/** Good: answered within the tolerance; slow: answered late; failed: no or wrong answer; frozen: a counter that stopped. */
export type SampleHealth = 'good' | 'slow' | 'failed' | 'frozen';

/** One interval in which a watch did not work (failed or frozen samples, back to back). */
export interface Outage {
  readonly watch: string;
  /** First bad sample. */
  readonly start: number;
  /** First good (or slow) sample after it; undefined when the monitor stopped before the function came back. */
  readonly recoveredAt?: number;
  /** recoveredAt - start, or (last bad sample's end) - start when it did not come back. */
  readonly durationMs: number;
  /** Counted as a loss (durationMs >= lossAfterMs). */
  readonly loss: boolean;
  readonly samples: number;
  /** What the bad samples said (distinct errors, or "counter frozen at v"). */
  readonly errors: readonly string[];
}

export interface WatchJudgement {
  readonly watch: string;
  readonly verdict: FunctionVerdict;
  /** One sentence: "maintained: 42 samples, all answered within 500 ms", "recovered after 6.2 s", ... */
  readonly text: string;
  readonly samples: number;
  readonly good: number;
  readonly slow: number;
  readonly failed: number;
  readonly frozen: number;
  readonly latencyMs: { readonly min: number; readonly median: number; readonly max: number } | null;
  readonly outages: readonly Outage[];
  /** For `recovered`: seconds from the first bad sample to the first good one. */
  readonly recoveredAfterS?: number;
  /** The samples the verdict rests on: the last good before each outage, its first and last bad, the first good after. */
  readonly evidence: readonly MonitorSample[];
}

export interface WindowJudgement {
  readonly verdict: FunctionVerdict;
  readonly text: string;
  readonly from: number;
  readonly to: number;
  readonly watches: readonly WatchJudgement[];
}

export interface PhaseJudgement extends WindowJudgement {
  readonly label: string;
  readonly attempt?: string;
  /** The span the probe marked (from/to is the judged window: up to one sample period longer). */
  readonly start: number;
  readonly end: number;
}

/** The monitor's judgement of one host: the whole monitored span and each phase. */
export interface MonitorJudgement {
  readonly overall: WindowJudgement;
  readonly phases: readonly PhaseJudgement[];
}

/** What a probe holds while it runs: `ctx.monitor` (present when the profile has an essentialFunction block). */
export interface EssentialFunctionMonitor {
  /** Marks the start of a load phase (shaded and judged on its own); `end()` closes it (idempotent). */
  phase(label: string): { end(): void };
  /** The function's state now, over every watch (the worst). */
  state(): MonitorState;
  /**
   * Aborts when the function is lost while this attempt runs (or was lost when it began) and the profile's
   * `stopOnLoss` is on; never aborts otherwise. Combine it with ctx.signal: AbortSignal.any([ctx.signal, m.signal]).
   */
  readonly signal: AbortSignal;
  readonly stopOnLoss: boolean;
  /** The watch names, e.g. ["modbus", "https"]. */
  readonly watches: readonly string[];
  /** The sampling period: a phase is judged up to one period after its end, so wait that long before judging it. */
  readonly periodMs: number;
  /** Failing this long is a loss: a load held for less cannot show one. */
  readonly lossAfterMs: number;
  /** This attempt's phases, judged on the samples so far (the same judgement the report gives). */
  phases(): readonly PhaseJudgement[];
}

/** Thrown as the monitor signal's reason when the function is lost (a probe stops its load on it). */
export class EssentialFunctionLost extends Error {
  constructor(readonly host: string, readonly detail: string) {
    super(`essential function of ${host} lost: ${detail}`);
    this.name = 'EssentialFunctionLost';
  }
}

const SEVERITY: Record<FunctionVerdict, number> = { maintained: 0, not_determined: 1, degraded: 2, recovered: 3, lost: 4 };
const STATE_SEVERITY: Record<MonitorState, number> = { maintained: 0, degraded: 1, lost: 2 };

/** The worse of several verdicts: lost > recovered > degraded > not determined > maintained. */
export function worstVerdict(verdicts: readonly FunctionVerdict[]): FunctionVerdict {
  return verdicts.reduce<FunctionVerdict>((worst, v) => (SEVERITY[v] > SEVERITY[worst] ? v : worst), verdicts.length ? 'maintained' : 'not_determined');
}

export function worstState(states: readonly MonitorState[]): MonitorState {
  return states.reduce<MonitorState>((worst, s) => (STATE_SEVERITY[s] > STATE_SEVERITY[worst] ? s : worst), 'maintained');
}

/** Health of each sample of one watch, in time order (a counter's stall is seen only across samples). */
export function classifySamples(samples: readonly MonitorSample[], spec: WatchJudgeSpec, params: JudgeParameters): SampleHealth[] {
  let lastValue: MonitorSample['value'];
  let changedAt: number | undefined;
  return samples.map((s) => {
    if (!s.ok) return 'failed';
    if (spec.counter) {
      if (changedAt === undefined || s.value !== lastValue) {
        lastValue = s.value;
        changedAt = s.t;
      } else if (s.t - changedAt > spec.stallAfterMs) {
        return 'frozen';
      }
    }
    return s.latencyMs > params.latencyToleranceMs ? 'slow' : 'good';
  });
}

const isBad = (h: SampleHealth) => h === 'failed' || h === 'frozen';

function errorOf(s: MonitorSample, h: SampleHealth): string {
  return h === 'frozen' ? `counter frozen at ${String(s.value)}` : s.error ?? 'failed';
}

/** The outages of one watch over its whole series. */
export function outagesOf(samples: readonly MonitorSample[], health: readonly SampleHealth[], params: JudgeParameters): Outage[] {
  const out: Outage[] = [];
  let i = 0;
  while (i < samples.length) {
    if (!isBad(health[i])) {
      i++;
      continue;
    }
    const first = i;
    while (i < samples.length && isBad(health[i])) i++;
    const last = samples[i - 1];
    const recoveredAt = i < samples.length ? samples[i].t : undefined;
    const durationMs = (recoveredAt ?? last.t + last.latencyMs) - samples[first].t;
    const errors = [...new Set(samples.slice(first, i).map((s, k) => errorOf(s, health[first + k])))];
    out.push({
      watch: samples[first].watch, start: samples[first].t, ...(recoveredAt !== undefined ? { recoveredAt } : {}),
      durationMs, loss: durationMs >= params.lossAfterMs, samples: i - first, errors: errors.slice(0, 5),
    });
  }
  return out;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const secondsText = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Judges one watch over [from, to]: outages are taken from the whole series, so a loss that began in the window
 * and ended after it reads "recovered after N s", and one still open when the monitor stopped reads "lost". */
export function judgeWatch(
  samples: readonly MonitorSample[], spec: WatchJudgeSpec, params: JudgeParameters, from = -Infinity, to = Infinity,
): WatchJudgement {
  const health = classifySamples(samples, spec, params);
  const inWindow = samples.map((s, i) => ({ s, h: health[i], i })).filter(({ s }) => s.t >= from && s.t <= to);
  const count = (h: SampleHealth) => inWindow.filter((x) => x.h === h).length;
  const latencies = inWindow.filter((x) => x.s.ok).map((x) => x.s.latencyMs);
  const outages = outagesOf(samples, health, params).filter((o) => o.start <= to && (o.recoveredAt ?? Infinity) >= from);
  const base = {
    watch: spec.name, samples: inWindow.length, good: count('good'), slow: count('slow'), failed: count('failed'), frozen: count('frozen'),
    latencyMs: latencies.length ? { min: Math.min(...latencies), median: median(latencies), max: Math.max(...latencies) } : null,
    outages,
  };
  const evidence = evidenceSamples(samples, health, outages);
  if (inWindow.length === 0 && outages.length === 0) {
    return { ...base, verdict: 'not_determined', text: `not determined: no sample of ${spec.name} in this window`, evidence };
  }
  const losses = outages.filter((o) => o.loss);
  const open = losses.find((o) => o.recoveredAt === undefined);
  if (open) {
    return { ...base, verdict: 'lost', text: `lost: ${spec.name} failed from ${new Date(open.start).toISOString()} for ${secondsText(open.durationMs)} until the monitor stopped (${open.errors.join('; ')})`, evidence };
  }
  if (losses.length > 0) {
    const longest = losses.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
    const recoveredAfterS = Math.round(longest.durationMs / 100) / 10;
    return { ...base, verdict: 'recovered', recoveredAfterS, text: `recovered after ${recoveredAfterS} s: ${spec.name} was lost from ${new Date(longest.start).toISOString()} (${longest.errors.join('; ')})${losses.length > 1 ? `; ${losses.length} losses in all` : ''}`, evidence };
  }
  const bad = base.failed + base.frozen;
  if (bad > 0 || base.slow > 0) {
    const parts = [bad > 0 ? `${bad} failed` : '', base.slow > 0 ? `${base.slow} slower than ${params.latencyToleranceMs} ms` : ''].filter(Boolean);
    const longest = outages.reduce((m, o) => Math.max(m, o.durationMs), 0);
    return { ...base, verdict: 'degraded', text: `degraded within tolerance: ${parts.join(', ')} of ${inWindow.length} samples of ${spec.name}${longest > 0 ? `, longest outage ${secondsText(longest)} (loss after ${secondsText(params.lossAfterMs)})` : ''}`, evidence };
  }
  return { ...base, verdict: 'maintained', text: `maintained: ${inWindow.length} samples of ${spec.name}, all answered within ${params.latencyToleranceMs} ms${spec.counter ? ' and the counter kept counting' : ''}`, evidence };
}

/** The samples around each outage (last good before, first and last bad, first good after), at most 4 per outage. */
function evidenceSamples(samples: readonly MonitorSample[], health: readonly SampleHealth[], outages: readonly Outage[]): MonitorSample[] {
  const picked = new Set<number>();
  for (const o of outages) {
    const first = samples.findIndex((s) => s.t === o.start);
    let last = first;
    while (last + 1 < samples.length && isBad(health[last + 1])) last++;
    for (const i of [first - 1, first, last, last + 1]) if (i >= 0 && i < samples.length) picked.add(i);
  }
  return [...picked].sort((a, b) => a - b).slice(0, 40).map((i) => samples[i]);
}

/** Judges every watch over one window; the window's verdict is the worst of its watches'. */
export function judgeWindow(
  byWatch: ReadonlyMap<string, readonly MonitorSample[]>, specs: readonly WatchJudgeSpec[], params: JudgeParameters, from: number, to: number,
): WindowJudgement {
  const watches = specs.map((spec) => judgeWatch(byWatch.get(spec.name) ?? [], spec, params, from, to));
  const verdict = worstVerdict(watches.map((w) => w.verdict));
  const worst = watches.find((w) => w.verdict === verdict);
  return { verdict, text: worst?.text ?? 'not determined: no watch', from, to, watches };
}

/**
 * The judgement of a host's whole series and of each phase a probe marked. A phase is judged on the samples
 * from its start to `afterMs` past its end (the sampling period: the first sample after a short phase shows
 * whether the function survived it).
 */
export function judgeMonitor(
  samples: readonly MonitorSample[], phases: readonly MonitorPhase[], specs: readonly WatchJudgeSpec[], params: JudgeParameters, afterMs = 0,
): MonitorJudgement {
  const byWatch = new Map<string, MonitorSample[]>(specs.map((s) => [s.name, []]));
  for (const s of [...samples].sort((a, b) => a.t - b.t)) byWatch.get(s.watch)?.push(s);
  const times = samples.map((s) => s.t);
  const from = times.length ? Math.min(...times) : 0;
  const to = times.length ? Math.max(...times) : 0;
  const overall = judgeWindow(byWatch, specs, params, from, to);
  return {
    overall,
    phases: phases.map((p) => ({ label: p.label, ...(p.attempt ? { attempt: p.attempt } : {}), start: p.start, end: p.end ?? to, ...judgeWindow(byWatch, specs, params, p.start, (p.end ?? to) + afterMs) })),
  };
}

/**
 * The live state of one watch from its samples: lost once the current run of bad samples spans lossAfterMs
 * (first bad request to the end of the last), so the live state and the judgement of the series always agree.
 */
export function currentState(samples: readonly MonitorSample[], spec: WatchJudgeSpec, params: JudgeParameters): MonitorState {
  if (samples.length === 0) return 'maintained';
  const health = classifySamples(samples, spec, params);
  const last = health.length - 1;
  if (!isBad(health[last])) return health[last] === 'slow' ? 'degraded' : 'maintained';
  let first = last;
  while (first > 0 && isBad(health[first - 1])) first--;
  const badFor = samples[last].t + samples[last].latencyMs - samples[first].t;
  return badFor >= params.lossAfterMs ? 'lost' : 'degraded';
}

/** `essentialFunction.modbus`: a cyclic read of a counter or heartbeat register (the original shape). */
export interface ModbusWatchConfig {
  readonly unitId?: number;
  readonly register: number;
  readonly table?: 'holding' | 'input';
  readonly kind?: 'counter' | 'value';
  /** How often the device advances the counter (ms); the stall limit defaults to 3 × this. */
  readonly periodMs?: number;
  readonly stallAfterMs?: number;
  /** The declared modbus service to read (default: the host's first). */
  readonly port?: number;
}

/** `essentialFunction.opcua`: a subscription to one node with a publishing-interval budget. */
export interface OpcuaWatchConfig {
  readonly nodeId: string;
  readonly kind?: 'counter' | 'value';
  readonly publishingIntervalMs?: number;
  readonly stallAfterMs?: number;
  readonly port?: number;
}

/** `essentialFunction.tcp`: connect, optionally send a line, optionally wait for the first bytes (a banner). */
export interface TcpWatchConfig {
  readonly port: number;
  readonly send?: string;
  readonly awaitReply?: boolean;
}

/** `essentialFunction.tls`: a TLS handshake with the declared service. */
export interface TlsWatchConfig {
  readonly port?: number;
}

/** `essentialFunction.https` / `.http`: one request (default GET /) answered with an expected status. */
export interface HttpWatchConfig {
  readonly port?: number;
  readonly path?: string;
  /** Default: any status below 500 counts as an answer. */
  readonly expectStatus?: readonly number[];
}

export const WATCH_KINDS = ['modbus', 'opcua', 'tcp', 'tls', 'https', 'http'] as const;
export type WatchKind = (typeof WATCH_KINDS)[number];

/** The profile's `essentialFunction` block with the defaults applied (docs/robustness.md). */
export interface EssentialFunctionConfig {
  readonly periodMs: number;
  readonly latencyToleranceMs: number;
  readonly lossAfterMs: number;
  readonly stopOnLoss: boolean;
  /** How long the monitor keeps sampling after the host's last intrusive or destructive attempt, at most. */
  readonly recoveryWindowMs: number;
  readonly modbus?: ModbusWatchConfig;
  readonly opcua?: OpcuaWatchConfig;
  readonly tcp?: TcpWatchConfig;
  readonly tls?: TlsWatchConfig;
  readonly https?: HttpWatchConfig;
  readonly http?: HttpWatchConfig;
}

/** Our own defaults (no standard fixes them; docs/robustness.md says why each). */
export const MONITOR_DEFAULTS = {
  periodMs: 1000, latencyToleranceMs: 500, lossAfterMs: 5000, stopOnLoss: true, recoveryWindowMs: 30_000,
  opcuaPublishingIntervalMs: 500, counterStallMs: 3000,
} as const;
