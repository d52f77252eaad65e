import type { Transcript } from '../../sdk';
import { ModbusClientSession, expectOk, type ModbusTable } from './client';
import type { ModbusEndpoint } from './connect';

/** The essential function to watch: one value the device keeps producing (profile `essentialFunction.modbus`). */
export interface EssentialFunction {
  unitId: number;
  table: ModbusTable;
  address: number;
  /** counter: the value should keep increasing (wrapping at 2^16); value: any answer counts. */
  kind: 'counter' | 'value';
  /** For counters: how often the device increments it. Without it a stalled counter is not judged. */
  periodMs?: number;
}

export interface MonitorSample {
  at: string;
  ok: boolean;
  latencyMs: number;
  value?: number;
  /** What went wrong when not ok: exception, no answer, closed, refused. */
  error?: string;
}

export interface MonitorReport {
  function: EssentialFunction;
  samples: number;
  answered: number;
  failed: number;
  latencyMs: { min: number; median: number; max: number } | null;
  firstValue: number | null;
  lastValue: number | null;
  valueChanges: number;
  /** Sum of counter steps (modulo 2^16) between consecutive answers. */
  counterIncrements: number;
  /** Longest run of consecutive failed samples, from the first failure to the next answer (or the end). */
  longestOutageMs: number;
  windowMs: number;
  degraded: boolean;
  reasons: string[];
  /** Failed samples, for the evidence (the answered ones are summarised above). */
  failures: MonitorSample[];
}

export interface MonitorOptions {
  signal: AbortSignal;
  /** Time between polls (default 500 ms). */
  intervalMs?: number;
  /** Per-read deadline (default 1000 ms). */
  requestTimeoutMs?: number;
  /** An answer slower than this counts as degraded (default 2000 ms). */
  maxLatencyMs?: number;
  transcript?: Transcript;
}

/**
 * Polls one register or bit of the device at a fixed interval over its own connection (reconnecting
 * after a failure) and reports whether the essential function kept working: every read answered, within
 * the latency bound, and a counter kept counting. Intrusive and robustness probes run it around what
 * they do; `check()` is the "does it still answer a normal read" question asked at a chosen moment.
 */
export class EssentialFunctionMonitor {
  private readonly history: MonitorSample[] = [];
  private session: ModbusClientSession | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private startedAt = 0;
  private stoppedAt = 0;
  /** Why the latest sample failed, as a typed error (for start()). */
  private lastFailure: unknown;

  constructor(private readonly endpoint: ModbusEndpoint, readonly fn: EssentialFunction, private readonly options: MonitorOptions) {}

  /** Takes the first sample and starts polling. If that first read fails there is nothing to watch: it
   * throws the typed error of the failure (unreachable, timeout, protocol). */
  async start(): Promise<MonitorSample> {
    this.startedAt = Date.now();
    const first = await this.check();
    if (!first.ok) throw this.lastFailure;
    this.running = true;
    this.schedule();
    return first;
  }

  /** One read now (queued behind a poll in flight), recorded like the polled ones. */
  check(): Promise<MonitorSample> {
    const next = this.queue.then(() => this.sample());
    this.queue = next.catch(() => undefined);
    return next;
  }

  samples(): readonly MonitorSample[] {
    return this.history;
  }

  /** Stops polling, closes the connection and summarises. */
  async stop(): Promise<MonitorReport> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.queue;
    await this.dropSession();
    this.stoppedAt = Date.now();
    return this.report();
  }

  report(): MonitorReport {
    return summarise(this.fn, this.history, (this.stoppedAt || Date.now()) - this.startedAt, this.options.maxLatencyMs ?? 2000);
  }

  private schedule(): void {
    if (!this.running || this.options.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check().finally(() => this.schedule());
    }, this.options.intervalMs ?? 500);
  }

  private async sample(): Promise<MonitorSample> {
    const started = Date.now();
    const at = new Date(started).toISOString();
    const done = (s: Omit<MonitorSample, 'at' | 'latencyMs'>): MonitorSample => {
      const sample = { at, latencyMs: Date.now() - started, ...s };
      this.history.push(sample);
      return sample;
    };
    if (this.options.signal.aborted) return done({ ok: false, error: 'aborted' });
    try {
      if (!this.session || this.session.isBroken) {
        await this.dropSession();
        this.session = await ModbusClientSession.open(this.endpoint, {
          signal: this.options.signal, unitId: this.fn.unitId, requestTimeoutMs: this.options.requestTimeoutMs ?? 1000,
          connectTimeoutMs: this.options.requestTimeoutMs ?? 1000, transcript: this.options.transcript,
        });
      }
      const reply = await this.session.read(this.fn.table, this.fn.address, 1);
      if (reply.status === 'ok') return done({ ok: true, value: reply.value[0] });
      if (reply.status !== 'exception') await this.dropSession();
      try {
        expectOk(reply, `essential function ${describe(this.fn)}`);
      } catch (err) {
        this.lastFailure = err;
      }
      return done({ ok: false, error: reply.status === 'exception' ? `exception ${reply.code} (${reply.name})` : reply.status });
    } catch (err) {
      this.lastFailure = err;
      await this.dropSession();
      return done({ ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }

  private async dropSession(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await s.close();
  }
}

export function describe(fn: EssentialFunction): string {
  return `${fn.table} ${fn.address} (unit ${fn.unitId}, ${fn.kind})`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Pure summary of a sample history (exported for tests of the degradation rules). */
export function summarise(fn: EssentialFunction, history: readonly MonitorSample[], windowMs: number, maxLatencyMs: number): MonitorReport {
  const answered = history.filter((s) => s.ok);
  const latencies = answered.map((s) => s.latencyMs);
  let valueChanges = 0;
  let counterIncrements = 0;
  for (let i = 1; i < answered.length; i++) {
    const prev = answered[i - 1].value ?? 0;
    const cur = answered[i].value ?? 0;
    if (cur !== prev) valueChanges++;
    counterIncrements += (cur - prev + 0x10000) % 0x10000;
  }
  let longestOutageMs = 0;
  let outageStart: number | undefined;
  for (const s of history) {
    const t = Date.parse(s.at);
    if (!s.ok && outageStart === undefined) outageStart = t;
    if (s.ok && outageStart !== undefined) {
      longestOutageMs = Math.max(longestOutageMs, t - outageStart);
      outageStart = undefined;
    }
  }
  if (outageStart !== undefined && history.length > 0) {
    const last = history[history.length - 1];
    longestOutageMs = Math.max(longestOutageMs, Date.parse(last.at) + last.latencyMs - outageStart);
  }
  const reasons: string[] = [];
  const failed = history.length - answered.length;
  if (failed > 0) reasons.push(`${failed} of ${history.length} reads of ${describe(fn)} failed (longest outage ${longestOutageMs} ms)`);
  const slow = latencies.filter((l) => l > maxLatencyMs).length;
  if (slow > 0) reasons.push(`${slow} answers took longer than ${maxLatencyMs} ms`);
  if (fn.kind === 'counter' && fn.periodMs !== undefined && windowMs >= 3 * fn.periodMs && answered.length >= 2 && counterIncrements === 0) {
    reasons.push(`the counter did not advance in ${windowMs} ms (expected a step every ${fn.periodMs} ms)`);
  }
  return {
    function: fn,
    samples: history.length,
    answered: answered.length,
    failed,
    latencyMs: latencies.length ? { min: Math.min(...latencies), median: median(latencies), max: Math.max(...latencies) } : null,
    firstValue: answered[0]?.value ?? null,
    lastValue: answered[answered.length - 1]?.value ?? null,
    valueChanges,
    counterIncrements,
    longestOutageMs,
    windowMs,
    degraded: reasons.length > 0,
    reasons,
    failures: history.filter((s) => !s.ok),
  };
}
