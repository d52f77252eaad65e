import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baselineLevels } from '../profile';
import { loadInputYaml, resolveNamedFile } from '../sdk/input-file';
import {
  FRS, OutOfScope, ProbeError, formatTarget, sleep, type ComponentInfo, type CredentialVault,
  type DevicePolicy, type HostUnderTest, type ProbeContext, type ProbeDefinition,
  type BoundaryDecl, type VlanDecl, type EssentialFunctionMonitor, type LabServices, type LoadLimits, LOAD_DEFAULTS, type ProbeResult, type RequirementOutcome, type RunLedger, type Safety, type ServiceUnderTest,
} from '../sdk';
import type { RunStore } from '../evidence/store';
import { RunActionLog } from './actions';
import { FileCleanupJournal } from './cleanup';
import { packagePath } from '../paths';
import { warmUpProtocol } from '../protocols/warm-up';
import { normalizeHost } from '../protocols/scope';

import type { Attempt, ErrorReason, SkipReason } from '../report/model';

export type { Attempt, AttemptStatus, ErrorReason, SkipReason } from '../report/model';

/** One probe × target pair to run. */
export interface PlannedAttempt {
  probe: ProbeDefinition<unknown>;
  host: HostUnderTest;
  service?: ServiceUnderTest;
  inputs: unknown;
  timeoutMs: number;
}

export interface AttemptEnvironment {
  store: RunStore;
  component: ComponentInfo;
  policy: DevicePolicy;
  essentialFunction?: Readonly<Record<string, unknown>>;
  credentials: CredentialVault;
  allowed: ReadonlySet<Safety>;
  /** Aborts when the whole run is cancelled (SIGINT). */
  runSignal: AbortSignal;
  /** Hosts and addresses of the profile. */
  isInScope(host: string): boolean;
  /** name -> file, from the profile's `policy.baselines`. */
  baselineFiles?: Readonly<Record<string, string>>;
  /** Folder relative file names of the profile resolve against (default: the working directory). */
  profileDir?: string;
  /** Run-wide counters shared by the attempts (one per run). */
  ledger?: RunLedger;
  /** The run's action log (actions.ndjson); without it an attempt's actions stay in memory. */
  actions?: RunActionLog;
  /** The run's lab services (profile `lab:` block). */
  lab?: LabServices;
  /** This attempt's view of the host's essential-function monitor (intrusive and destructive attempts). */
  monitor?: EssentialFunctionMonitor;
  /** Load caps from the profile's `robustness` block (default: LOAD_DEFAULTS). */
  load?: { limits: LoadLimits; clamped: readonly string[] };
  /** The profile's zones and conduits (network components). */
  boundary?: BoundaryDecl;
  /** The profile's VLANs (switches). */
  vlans?: VlanDecl;
  /** How long a probe that ignores its signal may linger after its deadline before it is abandoned. */
  graceMs?: number;
  /** The profile's cleanup journal (state folder); default: one in the run folder, which no later run replays. */
  cleanup?: FileCleanupJournal;
}

/** The run ledger: a map of counters. */
export class MapLedger implements RunLedger {
  private readonly counts = new Map<string, number>();
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  add(key: string, delta: number): number {
    const next = this.get(key) + delta;
    this.counts.set(key, next);
    return next;
  }
  set(key: string, value: number): void {
    this.counts.set(key, value);
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

export function attemptTarget(planned: Pick<PlannedAttempt, 'host' | 'service'>): string {
  return formatTarget(planned.host.host, planned.service?.port);
}

export function skippedAttempt(planned: PlannedAttempt, reason: SkipReason, message: string): Attempt {
  return {
    probe: planned.probe.id, target: attemptTarget(planned), service: planned.service?.protocol ?? 'host',
    safety: planned.probe.safety, status: 'skipped', reason, message, startedAt: new Date().toISOString(),
    durationMs: 0, observations: {}, findings: [], outcomes: [], evidence: [],
  };
}

/** Highest per-FR target: the level whose baseline thresholds apply. */
function baselineLevel(component: ComponentInfo): number {
  return Math.max(1, ...FRS.map((fr) => component.slTarget[fr]));
}

export interface LoadedBaseline {
  name: string;
  file: string;
  sha256: string;
  /** The level whose thresholds apply (the highest defined at or below the SL target). */
  level: number;
  basis: unknown;
  thresholds: unknown;
}

export function loadBaseline(name: string, env: Pick<AttemptEnvironment, 'baselineFiles' | 'component'>): LoadedBaseline {
  const file = env.baselineFiles?.[name] ?? packagePath('profiles', 'baselines', `${name}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`baseline ${name}: ${file} does not exist`);
  const parsed = loadInputYaml(file);
  const doc = baselineLevels(parsed, file);
  const target = baselineLevel(env.component);
  const levels = doc.levels;
  // The highest level defined at or below the target: a file may define only some levels.
  for (let l = target; l >= 1; l--) {
    if (levels[String(l)] !== undefined) {
      return { name, file, sha256: createHash('sha256').update(parsed.bytes).digest('hex'), level: l, basis: doc.basis, thresholds: levels[String(l)] };
    }
  }
  throw new Error(`baseline ${name} (${path.basename(file)}) defines no level at or below ${target}`);
}

const NODE_UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'EHOSTDOWN']);
const NODE_TIMEOUT = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const NODE_PROTOCOL = new Set(['ECONNRESET', 'EPIPE', 'EPROTO', 'ECONNABORTED', 'HPE_INVALID_CONSTANT', 'ERR_SSL_WRONG_VERSION_NUMBER']);

/** Decides what kind of failure an exception is. Only the runner does this, never a probe. */
export function classifyError(err: unknown): { reason: ErrorReason; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ProbeError) return { reason: err.kind, message };
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (NODE_UNREACHABLE.has(code)) return { reason: 'unreachable', message };
    if (NODE_TIMEOUT.has(code)) return { reason: 'timeout', message };
    if (NODE_PROTOCOL.has(code) || code.startsWith('ERR_SSL') || code.startsWith('HPE_')) return { reason: 'protocol', message };
  }
  const stack = err instanceof Error && err.stack ? `\n${err.stack}` : '';
  return { reason: 'bug', message: `${message}${stack}` };
}

function statusOf(outcomes: readonly RequirementOutcome[]): Attempt['status'] {
  if (outcomes.some((o) => o.verdict === 'fail')) return 'fail';
  if (outcomes.some((o) => o.verdict === 'pass')) return 'pass';
  // An attempt that judged nothing could not tell: that is not "not applicable".
  return outcomes.length > 0 ? 'not_applicable' : 'not_determined';
}

/** Why an attempt judged nothing: its outcomes' reasons, or the probe's own note. */
function notApplicableMessage(result: ProbeResult): string {
  const reasons = [...new Set(result.outcomes.map((o) => o.reason))];
  if (reasons.length > 0) return reasons.join('; ');
  const { note, notDetermined } = result.observations;
  if (typeof notDetermined === 'string' && notDetermined) return notDetermined;
  return typeof note === 'string' && note ? note : 'the probe evaluated no requirement on this target';
}

/** Finding names are the probe's own: the report's code is `<probe id>.<name>` (docs/writing-probes.md). */
export function qualifyFindings(probe: ProbeDefinition<unknown>, result: ProbeResult): ProbeResult {
  return { ...result, findings: result.findings.map((f) => ({ ...f, code: `${probe.id}.${f.code}` })) };
}

/** Rejects results that would make the report lie: unknown requirements or finding names, or findings without a fail. */
function checkResult(probe: ProbeDefinition<unknown>, result: ProbeResult): string | undefined {
  for (const f of result.findings) if (!Object.hasOwn(probe.findings, f.code)) return `finding ${f.code}, which the probe does not declare`;
  const declared = new Set(probe.requirements);
  for (const o of result.outcomes) {
    if (!declared.has(o.requirement)) return `outcome for ${o.requirement}, which the probe does not declare`;
    if (o.part && !o.part.of.includes(o.part.name)) return `outcome for ${o.requirement} covers part ${o.part.name}, which is not among its parts (${o.part.of.join(', ')})`;
  }
  for (const f of result.findings) {
    for (const r of f.requirements) {
      if (!declared.has(r)) return `finding ${f.code} cites ${r}, which the probe does not declare`;
      if (f.severity !== 'info' && !result.outcomes.some((o) => o.requirement === r && o.verdict === 'fail')) {
        return `finding ${f.code} fails ${r}, but the outcome for ${r} is not fail`;
      }
    }
  }
  return undefined;
}

/**
 * Runs one attempt: builds the context, races the probe against its deadline, and turns whatever
 * happens into an Attempt. Never throws.
 */
export async function executeAttempt(planned: PlannedAttempt, env: AttemptEnvironment): Promise<Attempt> {
  const { probe } = planned;
  const target = attemptTarget(planned);
  await warmUpProtocol(planned.service?.protocol);
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const recorder = env.store.recorder(probe.id, target);
  const deadlineController = new AbortController();
  const deadline = started + planned.timeoutMs;
  const timer = setTimeout(() => {
    deadlineController.abort(new Error(`no result within the ${planned.timeoutMs} ms budget`));
  }, planned.timeoutMs);
  const signal = AbortSignal.any([env.runSignal, deadlineController.signal]);
  const log = (level: string) => (message: string) => {
    recorder.append('probe.log', `${new Date().toISOString()} ${level} ${message}`);
  };
  const ctx: ProbeContext<unknown> = {
    host: planned.host,
    service: planned.service,
    inputs: planned.inputs,
    component: env.component,
    policy: env.policy,
    essentialFunction: env.essentialFunction ?? {},
    credentials: env.credentials,
    allowed: env.allowed,
    signal,
    deadline,
    wait: (ms: number, why: string) => {
      if (signal.aborted) return Promise.reject(signal.reason);
      env.store.journal({ type: 'wait', probe: probe.id, target, ms: Math.max(0, Math.round(ms)), why, at: new Date().toISOString() });
      return sleep(ms, signal);
    },
    log: { debug: log('debug'), info: log('info'), warn: log('warn') },
    evidence: recorder,
    ledger: env.ledger ?? new MapLedger(),
    actions: (env.actions ?? new RunActionLog()).forAttempt({
      probe: probe.id, host: planned.host.host, port: planned.service?.port, interface: planned.service?.protocol ?? 'host',
    }),
    ...(env.lab ? { lab: env.lab } : {}),
    cleanup: (env.cleanup ?? new FileCleanupJournal(path.join(env.store.dir, 'cleanup'), path.basename(env.store.dir))).forProbe(probe.id),
    ...(env.monitor ? { monitor: env.monitor } : {}),
    load: env.load ?? { limits: LOAD_DEFAULTS, clamped: [] },
    ...(env.boundary ? { boundary: env.boundary } : {}),
    ...(env.vlans ? { vlans: env.vlans } : {}),
    baseline: <T>(name: string) => {
      const loaded = loadBaseline(name, env);
      // The acceptance criteria applied are part of the evidence: which file, which level, which basis.
      const { thresholds: _t, ...about } = loaded;
      recorder.save(`baseline-${name}.json`, { ...about, file: path.relative(packagePath(), loaded.file).startsWith('..') ? loaded.file : path.relative(packagePath(), loaded.file) });
      return loaded.thresholds as T;
    },
    resolvePath: (file: string) => resolveNamedFile(env.profileDir ?? process.cwd(), file),
    assertInScope: (host: string) => {
      if (!env.isInScope(normalizeHost(host))) throw new OutOfScope(`${host} is not a host of the profile`);
    },
  };
  const base = {
    probe: probe.id, target, service: planned.service?.protocol ?? 'host', safety: probe.safety, startedAt,
  };
  let settled: { result: ProbeResult } | { error: unknown };
  try {
    settled = await raceDeadline(probe.run(ctx), signal, env.graceMs ?? 2000);
  } finally {
    clearTimeout(timer);
  }
  const durationMs = Date.now() - started;
  const evidence = [...recorder.files];
  if ('result' in settled) {
    const problem = checkResult(probe, settled.result);
    if (problem === undefined) {
      settled = { result: qualifyFindings(probe, settled.result) };
      const status = statusOf(settled.result.outcomes);
      return {
        ...base, status, ...(status === 'not_applicable' || status === 'not_determined' ? { message: notApplicableMessage(settled.result) } : {}), durationMs,
        observations: settled.result.observations, findings: [...settled.result.findings],
        outcomes: [...settled.result.outcomes], evidence,
      };
    }
    settled = { error: new Error(`probe returned an inconsistent result: ${problem}`) };
  }
  let classified: { reason: ErrorReason; message: string };
  if (env.runSignal.aborted) classified = { reason: 'cancelled', message: 'the run was cancelled while this attempt ran' };
  else if (deadlineController.signal.aborted) classified = { reason: 'timeout', message: `no result within the ${planned.timeoutMs} ms budget` };
  else classified = classifyError(settled.error);
  return {
    ...base, status: 'error', reason: classified.reason, message: classified.message, durationMs,
    observations: {}, findings: [], outcomes: [], evidence,
  };
}

/** Settles with the probe's result, or with an error once the signal aborted and a grace period passed. */
async function raceDeadline(
  work: Promise<ProbeResult>, signal: AbortSignal, graceMs: number,
): Promise<{ result: ProbeResult } | { error: unknown }> {
  const wrapped = work.then((result) => ({ result }), (error: unknown) => ({ error }));
  let graceTimer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const abandoned = new Promise<{ error: unknown }>((resolve) => {
    onAbort = () => {
      graceTimer = setTimeout(() => resolve({ error: signal.reason }), graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([wrapped, abandoned]);
  } finally {
    if (graceTimer) clearTimeout(graceTimer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
