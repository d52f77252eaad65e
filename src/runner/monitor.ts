/**
 * The essential-function monitor as a run-scoped service (issue 20): one monitor per host, started before the
 * host's first intrusive or destructive attempt and stopped after its last one plus a recovery window. Every
 * sample is journaled at once (monitor/<host>.ndjson and .csv, so a crash keeps them); the judgement is the pure
 * function of src/sdk/monitor.ts; probes see the monitor as `ctx.monitor`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  EssentialFunctionLost, currentState, judgeMonitor, sleep, worstState,
  type CredentialVault, type EssentialFunctionConfig, type EssentialFunctionMonitor, type HostUnderTest, type MonitorJudgement,
  type MonitorPhase, type MonitorSample, type MonitorState, type Safety, type ServiceUnderTest, type WatchKind,
} from '../sdk';
import { httpWatch, modbusWatch, opcuaWatch, tcpWatch, tlsWatch, type Watch } from '../protocols/monitor';
import { clientIdentityFor } from '../protocols/opcua';
import type { HostMonitorSummary } from '../report/model';

/** Safety classes the monitor runs around. */
export const MONITORED: ReadonlySet<Safety> = new Set(['intrusive', 'destructive']);
/** Good samples in a row, per watch, after which the recovery window may end early. */
const SETTLE_SAMPLES = 3;

const CSV_HEADER = 'time,watch,ok,latency_ms,value,error';

function csvField(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The file name of a host's series: monitor/<host>.ndjson (IPv6 colons and other odd characters become _). */
export function monitorFileBase(host: string): string {
  return `monitor/${host.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

export interface MonitorEnvironment {
  readonly runDir: string;
  readonly credentials: CredentialVault;
  /** Profile-relative files (OPC UA client certificate). */
  readonly resolvePath: (file: string) => string;
  /** Text written to the run folder passes through it (the store's secret redaction). */
  readonly redact: (text: string) => string;
  /** The run's signal: a wait for recovery ends at once when the run is cancelled. */
  readonly signal?: AbortSignal;
}

/** The declared service a watch uses on this host: by port, else the first that matches. */
function serviceFor(host: HostUnderTest, kind: WatchKind, port: number | undefined): ServiceUnderTest | undefined {
  const matches: Record<WatchKind, (s: ServiceUnderTest) => boolean> = {
    modbus: (s) => s.protocol === 'modbus',
    opcua: (s) => s.protocol === 'opcua',
    tcp: (s) => s.transport === 'tcp',
    tls: (s) => s.tls,
    https: (s) => s.tls && (s.protocol === 'https' || s.protocol === 'http'),
    http: (s) => s.protocol === 'http' && !s.tls,
  };
  return host.services.find((s) => matches[kind](s) && (port === undefined || s.port === port));
}

/** The watches the profile asks for that this host declares a service for. */
export function watchesFor(host: HostUnderTest, config: EssentialFunctionConfig, env: Pick<MonitorEnvironment, 'credentials' | 'resolvePath'>): Watch[] {
  const out: Watch[] = [];
  const at = (s: ServiceUnderTest) => ({ host: s.host, port: s.port });
  const modbus = config.modbus && serviceFor(host, 'modbus', config.modbus.port);
  if (config.modbus && modbus) out.push(modbusWatch(at(modbus), config.modbus, modbus.unitId ?? 1));
  const opcua = config.opcua && serviceFor(host, 'opcua', config.opcua.port);
  if (config.opcua && opcua) {
    const credential = env.credentials.get('monitor.opcua') ?? env.credentials.get('opcua');
    out.push(opcuaWatch({
      target: at(opcua), config: config.opcua, identity: clientIdentityFor(opcua, env.resolvePath), latencyToleranceMs: config.latencyToleranceMs,
      ...(credential ? { credential: { username: credential.username, password: credential.password } } : {}),
    }));
  }
  const tcp = config.tcp && serviceFor(host, 'tcp', config.tcp.port);
  if (config.tcp && tcp) out.push(tcpWatch(at(tcp), config.tcp));
  const tls = config.tls && serviceFor(host, 'tls', config.tls.port);
  if (tls) out.push(tlsWatch(at(tls)));
  const https = config.https && serviceFor(host, 'https', config.https.port);
  if (config.https && https) out.push(httpWatch(at(https), true, config.https));
  const http = config.http && serviceFor(host, 'http', config.http.port);
  if (config.http && http) out.push(httpWatch(at(http), false, config.http));
  return out;
}

interface OpenPhase {
  label: string;
  attempt?: string;
  start: number;
  end?: number;
}

/** The monitor of one host: a sampling loop per watch, the series, the phases, the live state. */
export class HostMonitor {
  readonly samples: MonitorSample[] = [];
  private readonly byWatch = new Map<string, MonitorSample[]>();
  private readonly phases: OpenPhase[] = [];
  private readonly stopController = new AbortController();
  private readonly lossListeners = new Set<(detail: string) => void>();
  private loops: Promise<void>[] = [];
  private lastState: MonitorState = 'maintained';
  private startedAt = 0;
  private stoppedAt: number | undefined;
  private stopping: Promise<void> | undefined;
  readonly files: { ndjson: string; csv: string };

  constructor(readonly host: string, readonly config: EssentialFunctionConfig, readonly watches: readonly Watch[], private readonly env: Pick<MonitorEnvironment, 'runDir' | 'redact'>) {
    const base = monitorFileBase(host);
    this.files = { ndjson: `${base}.ndjson`, csv: `${base}.csv` };
    for (const w of watches) this.byWatch.set(w.spec.name, []);
  }

  private append(file: string, line: string): void {
    const abs = path.join(this.env.runDir, file);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.appendFileSync(abs, `${this.env.redact(line)}\n`);
  }

  private journal(record: Record<string, unknown>): void {
    this.append(this.files.ndjson, JSON.stringify(record));
  }

  /** Journals the watches, takes one sample of each (the baseline) and starts the loops. */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    const { periodMs, latencyToleranceMs, lossAfterMs, stopOnLoss, recoveryWindowMs } = this.config;
    this.journal({
      type: 'start', at: new Date(this.startedAt).toISOString(), host: this.host,
      parameters: { periodMs, latencyToleranceMs, lossAfterMs, stopOnLoss, recoveryWindowMs },
      watches: this.watches.map((w) => ({ name: w.spec.name, describe: w.describe, counter: w.spec.counter, ...(w.spec.counter ? { stallAfterMs: w.spec.stallAfterMs } : {}) })),
    });
    this.append(this.files.csv, CSV_HEADER);
    await Promise.all(this.watches.map((w) => this.takeSample(w)));
    this.loops = this.watches.map((w) => this.loop(w));
  }

  private async loop(watch: Watch): Promise<void> {
    const signal = this.stopController.signal;
    let next = Date.now() + this.config.periodMs;
    while (!signal.aborted) {
      try {
        await sleep(next - Date.now(), signal);
      } catch {
        return;
      }
      next = Math.max(next + this.config.periodMs, Date.now());
      await this.takeSample(watch);
    }
  }

  private async takeSample(watch: Watch): Promise<void> {
    const t = Date.now();
    // One request is bounded by the loss window: an answer later than that is a loss anyway.
    const r = await watch.sample(this.config.lossAfterMs, this.stopController.signal);
    if (this.stopController.signal.aborted && !r.ok) return; // cut off by stop(): not the device's doing
    const sample: MonitorSample = { t, watch: watch.spec.name, ok: r.ok, latencyMs: Math.round(r.latencyMs), ...(r.value !== undefined ? { value: r.value } : {}), ...(r.error ? { error: r.error } : {}) };
    this.samples.push(sample);
    this.byWatch.get(sample.watch)!.push(sample);
    this.journal({ type: 'sample', at: new Date(t).toISOString(), ...sample });
    this.append(this.files.csv, [new Date(t).toISOString(), sample.watch, sample.ok, sample.latencyMs, sample.value, sample.error].map(csvField).join(','));
    this.noteState();
  }

  /** Journals a change of state; on a loss, tells the attempts (their loss signals abort). */
  private noteState(state = this.computeState()): void {
    if (state === this.lastState) return;
    this.lastState = state;
    this.journal({ type: 'state', at: new Date().toISOString(), state });
    if (state === 'lost') {
      const detail = this.watches.map((w) => this.byWatch.get(w.spec.name)!.at(-1)).filter((s) => s && !s.ok).map((s) => `${s!.watch}: ${s!.error ?? 'failed'}`).join('; ') || 'no good answer';
      for (const listener of [...this.lossListeners]) listener(detail);
    }
  }

  /** The state now; asking also records a change (a loss can become due by time alone, between samples). */
  state(): MonitorState {
    const state = this.computeState();
    this.noteState(state);
    return state;
  }

  private computeState(): MonitorState {
    return worstState(this.watches.map((w) => currentState(this.byWatch.get(w.spec.name)!, w.spec, this.config)));
  }

  /** Opens a phase (journaled with its end); `end()` is idempotent. */
  phase(label: string, attempt?: string): { end(): void } {
    const p: OpenPhase = { label, ...(attempt ? { attempt } : {}), start: Date.now() };
    this.phases.push(p);
    this.journal({ type: 'phase-start', at: new Date(p.start).toISOString(), label, attempt });
    return {
      end: () => {
        if (p.end !== undefined) return;
        p.end = Date.now();
        this.journal({ type: 'phase-end', at: new Date(p.end).toISOString(), label, attempt, durationMs: p.end - p.start });
      },
    };
  }

  /** Calls `listener` each time the function becomes lost; returns the unsubscribe. */
  onLoss(listener: (detail: string) => void): () => void {
    this.lossListeners.add(listener);
    return () => { this.lossListeners.delete(listener); };
  }

  /** Every watch's last SETTLE_SAMPLES samples since `since` were good (answered in time). */
  settledSince(since: number): boolean {
    return this.watches.every((w) => {
      const recent = this.byWatch.get(w.spec.name)!.filter((s) => s.t >= since);
      return recent.length >= SETTLE_SAMPLES && currentState(recent, w.spec, this.config) === 'maintained'
        && recent.slice(-SETTLE_SAMPLES).every((s) => s.ok && s.latencyMs <= this.config.latencyToleranceMs);
    });
  }

  /** Stops the loops, closes the watches, journals the judgement. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const p of this.phases) if (p.end === undefined) p.end = Date.now();
      this.stopController.abort(new Error('monitor stopped'));
      await Promise.all(this.loops);
      await Promise.all(this.watches.map((w) => w.close().catch(() => undefined)));
      this.stoppedAt = Date.now();
      this.journal({ type: 'stop', at: new Date(this.stoppedAt).toISOString(), judgement: this.judgement() });
    })();
    return this.stopping;
  }

  judgement(): MonitorJudgement {
    const phases: MonitorPhase[] = this.phases.map((p) => ({ ...p }));
    return judgeMonitor(this.samples, phases, this.watches.map((w) => w.spec), this.config, this.config.periodMs);
  }

  /** What report.json keeps of this host's monitor (targets[].monitor). */
  summary(): HostMonitorSummary {
    const j = this.judgement();
    return {
      verdict: j.overall.verdict, text: j.overall.text,
      startedAt: new Date(this.startedAt).toISOString(), ...(this.stoppedAt ? { stoppedAt: new Date(this.stoppedAt).toISOString() } : {}),
      parameters: {
        periodMs: this.config.periodMs, latencyToleranceMs: this.config.latencyToleranceMs, lossAfterMs: this.config.lossAfterMs,
        stopOnLoss: this.config.stopOnLoss, recoveryWindowMs: this.config.recoveryWindowMs,
      },
      watches: this.watches.map((w) => ({ name: w.spec.name, describe: w.describe, counter: w.spec.counter })),
      overall: j.overall,
      phases: [...j.phases],
      series: this.samples.map((s) => ({ t: s.t, watch: s.watch, ok: s.ok, latencyMs: s.latencyMs, ...(s.error ? { error: s.error } : {}) })),
      files: [this.files.ndjson, this.files.csv],
    };
  }

  /** What one attempt sees: its own loss signal (aborted at once if the function is lost when it begins). */
  forAttempt(attempt: string): { handle: EssentialFunctionMonitor; release(): void } {
    const controller = new AbortController();
    const lose = (detail: string) => {
      if (this.config.stopOnLoss && !controller.signal.aborted) controller.abort(new EssentialFunctionLost(this.host, detail));
    };
    const unsubscribe = this.onLoss(lose);
    if (this.computeState() === 'lost') lose('lost before the attempt began');
    const phases: { end(): void }[] = [];
    const handle: EssentialFunctionMonitor = {
      phase: (label) => {
        const p = this.phase(label, attempt);
        phases.push(p);
        return p;
      },
      state: () => this.state(),
      signal: controller.signal,
      stopOnLoss: this.config.stopOnLoss,
      watches: this.watches.map((w) => w.spec.name),
      periodMs: this.config.periodMs,
      lossAfterMs: this.config.lossAfterMs,
      phases: () => this.judgement().phases.filter((p) => p.attempt === attempt),
    };
    return {
      handle,
      release: () => {
        unsubscribe();
        for (const p of phases) p.end();
      },
    };
  }
}

/**
 * The run's monitors: started lazily before a host's first monitored attempt, stopped once its last one ended
 * and the function settled (or the recovery window passed), and at the end of the run whatever is left.
 */
export class RunMonitors {
  private readonly monitors = new Map<string, { monitor: HostMonitor; started: Promise<void> }>();
  private readonly remaining = new Map<string, number>();
  private readonly stops: Promise<void>[] = [];
  private readonly stopping = new Set<string>();
  /** When each host's last destructive attempt ended (they run one at a time: the scheduler's host lock). */
  private readonly lastDestructiveEnd = new Map<string, number>();
  private finishing = false;

  constructor(
    private readonly config: EssentialFunctionConfig, planned: readonly { host: HostUnderTest; probe: { safety: Safety } }[],
    private readonly env: MonitorEnvironment, private readonly journal: (record: object) => void,
  ) {
    for (const p of planned) if (MONITORED.has(p.probe.safety)) this.remaining.set(p.host.host, (this.remaining.get(p.host.host) ?? 0) + 1);
  }

  /** Before a monitored attempt: the host's monitor, started if it was not (undefined: no watch for the host). */
  async before(host: HostUnderTest, safety: Safety): Promise<HostMonitor | undefined> {
    if (!MONITORED.has(safety)) return undefined;
    let entry = this.monitors.get(host.host);
    if (!entry) {
      const watches = watchesFor(host, this.config, this.env);
      if (watches.length === 0) {
        this.journal({ type: 'monitor-not-started', host: host.host, reason: 'the host declares no service any essentialFunction watch can use' });
        return undefined;
      }
      const monitor = new HostMonitor(host.host, this.config, watches, this.env);
      entry = { monitor, started: monitor.start() };
      this.monitors.set(host.host, entry);
      this.journal({ type: 'monitor-start', host: host.host, watches: watches.map((w) => w.describe), files: [monitor.files.ndjson, monitor.files.csv] });
    }
    await entry.started;
    await this.recoveredBefore(entry.monitor, safety === 'destructive' ? this.lastDestructiveEnd.get(host.host) : undefined);
    return entry.monitor;
  }

  /**
   * A monitored attempt starts on a device whose function works: one left failing by the attempt before (a crash
   * that restarts, a stall that heals; possibly not yet long enough to count as lost) is given up to the recovery
   * window to settle first, so that the next attempt is not judged by the previous one's damage. Not settled after
   * it: journaled, and the attempt starts anyway (a loss then aborts its monitor signal with stopOnLoss).
   */
  private async recoveredBefore(monitor: HostMonitor, previousDestructiveEnd?: number): Promise<void> {
    // After a destructive attempt its damage may not show in a sample yet: the next one waits for good samples
    // taken after it ended. Otherwise only a function that is not maintained now is waited for.
    if (previousDestructiveEnd === undefined && monitor.state() === 'maintained') return;
    if (previousDestructiveEnd !== undefined && monitor.settledSince(previousDestructiveEnd)) return;
    const since = previousDestructiveEnd ?? Date.now();
    const started = Date.now();
    this.journal({ type: 'monitor-wait', host: monitor.host, at: new Date(started).toISOString(), why: previousDestructiveEnd === undefined ? 'the essential function is not maintained: waiting for it to settle before the next monitored attempt' : 'after a destructive attempt: waiting for good samples taken after it ended before the next one', maxMs: this.config.recoveryWindowMs });
    while (Date.now() - started < this.config.recoveryWindowMs && !this.finishing && !this.env.signal?.aborted && !monitor.settledSince(since)) await new Promise((r) => setTimeout(r, Math.min(100, this.config.periodMs)));
    const recovered = monitor.settledSince(since);
    this.journal({ type: 'monitor-wait-end', host: monitor.host, at: new Date().toISOString(), recovered, waitedMs: Date.now() - started });
  }

  /** After a monitored attempt: once the host has none left, keep watching until it settles or the window ends. */
  after(host: HostUnderTest, safety: Safety): void {
    if (!MONITORED.has(safety)) return;
    if (safety === 'destructive') this.lastDestructiveEnd.set(host.host, Date.now());
    const left = (this.remaining.get(host.host) ?? 1) - 1;
    this.remaining.set(host.host, left);
    const entry = this.monitors.get(host.host);
    if (left > 0 || !entry) return;
    this.stopping.add(host.host);
    this.stops.push(this.recoverAndStop(entry.monitor));
  }

  private async recoverAndStop(monitor: HostMonitor): Promise<void> {
    const since = Date.now();
    const until = since + this.config.recoveryWindowMs;
    while (Date.now() < until && !this.finishing && !monitor.settledSince(since)) await new Promise((r) => setTimeout(r, Math.min(100, this.config.periodMs)));
    await monitor.stop();
    this.journal({ type: 'monitor-stop', host: monitor.host, verdict: monitor.judgement().overall.verdict });
  }

  /** At the end of the run: waits for the recovery windows (not when cancelled), then stops every monitor. */
  async finish(cancelled: boolean): Promise<void> {
    if (!cancelled) {
      // Hosts whose last monitored attempt never ran (skipped as unhealthy) get their recovery window too.
      for (const [host, { monitor }] of this.monitors) if (!this.stopping.has(host)) this.stops.push(this.recoverAndStop(monitor));
      await Promise.all(this.stops);
    }
    this.finishing = true;
    for (const { monitor } of this.monitors.values()) await monitor.stop();
    await Promise.allSettled(this.stops);
  }

  summaries(): Map<string, HostMonitorSummary> {
    return new Map([...this.monitors].map(([host, { monitor }]) => [host, monitor.summary()]));
  }
}
