import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { assess, type Assessment } from '../assess';
import { loadCatalog } from '../catalog';
import { RunStore } from '../evidence/store';
import { writeManifest } from '../evidence/manifest';
import { manifestSigner, signManifest, type SigningKey } from '../evidence/signing';
import type { Profile } from '../profile';
import { packagePath, toolVersion } from '../paths';
import type { Attempt, AttemptStatus, Attestation, Report, RequirementVerdictValue, RunNotice } from '../report/model';
import { lockNotices } from '../protocols/auth/ledger';
import { REPORTERS } from '../report';
import type { ProbeDefinition, Safety } from '../sdk';
import { MapLedger, attemptTarget, executeAttempt, type PlannedAttempt } from './attempt';
import { RunActionLog } from './actions';
import { FileCleanupJournal, defaultStateDir } from './cleanup';
import { startLab, type RunningLab } from './lab';
import { startOpcuaAudit, type RunningOpcuaAudit } from './lab-opcua';
import { RunMonitors } from './monitor';
import type { HostMonitorSummary } from '../report/model';
import { Vault, registerSecrets } from './credentials';
import { buildPlan, type Plan } from './plan';
import type { ShardSpec } from './shard';
import { loadProbes } from './registry';
import { locksOf, schedule, type SchedulerHooks } from './scheduler';
import { enterScope, type ScopeViolation } from '../protocols/scope';
import { writePdf, type PdfOutcome, type PdfRenderer } from './pdf';

export interface RunOptions {
  /** Evidence folder; default runs/<run-id>. */
  out?: string;
  overwrite?: boolean;
  only?: readonly string[];
  allow?: readonly Safety[];
  hosts?: readonly string[];
  /** Assess only this shard of the hosts (--shard i/n); `iacs-probe merge` joins the shards' folders. */
  shard?: ShardSpec;
  /** Global concurrency override (--concurrency). */
  concurrency?: number;
  /** Extra inputs per probe id from the command line (e.g. --ports for ports.tcp). */
  probeInputs?: Readonly<Record<string, Record<string, unknown>>>;
  attestations?: readonly Attestation[];
  /** The attestation file as given (--attest): copied into the folder as attestations.yaml, so the manifest covers it. */
  attestationFile?: Uint8Array;
  /** Lab key (--sign): manifest.json is signed into manifest.sig. */
  sign?: SigningKey;
  operator?: string;
  /** Cancels the run (SIGINT); the folder is still closed with run.complete = false. */
  signal?: AbortSignal;
  /** Progress hooks (console progress, tests). */
  hooks?: SchedulerHooks;
  /** Recorded in report.run.options. */
  commandLine?: Record<string, unknown>;
  /** The profile's state folder (the cleanup journal, docs/accounts.md); default defaultStateDir(profile file). */
  stateDir?: string;
  /** Print report.html into report.pdf with this browser (--pdf; the CLI's default when a Chromium is found);
   * a renderer that is not ok is recorded as the reason there is no PDF. Undefined: no PDF, nothing said. */
  pdf?: PdfRenderer;
  /** Probes to use instead of the discovered ones (tests). */
  probes?: readonly ProbeDefinition<unknown>[];
}

export interface RunOutcome {
  report: Report;
  dir: string;
  plan: Plan;
  /** Report files that could not be rendered (the run folder is complete otherwise). */
  reporterErrors: { file: string; error: string }[];
  /** report.pdf written, or why not (only when RunOptions.pdf was given). */
  pdf?: PdfOutcome;
}

/** Where the attestation file given with --attest is kept in the run folder. */
export const ATTESTATIONS_FILE = 'attestations.yaml';

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Versions of the protocol libraries, for the manifest. */
export function libraryVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['node-opcua', 'ssh2', 'modbus-serial', 'node-forge', 'net-snmp', 'yaml', 'ajv', 'fast-xml-parser']) {
    const file = packagePath('node_modules', name, 'package.json');
    if (fs.existsSync(file)) out[name] = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return out;
}

function count<T extends string>(keys: readonly T[], values: readonly string[]): Record<T, number> {
  const out = Object.fromEntries(keys.map((k) => [k, 0])) as Record<T, number>;
  for (const v of values) if (v in out) out[v as T] += 1;
  return out;
}

/** The open evidence folder of a run. */
interface RunFolder {
  readonly runId: string;
  readonly dir: string;
  readonly store: RunStore;
  readonly startedAt: string;
  readonly operator: string;
}

/** Creates the folder (refusing a non-empty one), registers the secrets, journals the start and the skipped attempts. */
function openRunFolder(profile: Profile, plan: Plan, options: RunOptions): RunFolder {
  const runId = newRunId();
  const dir = path.resolve(options.out ?? path.join('runs', runId));
  const store = RunStore.create(dir, { overwrite: options.overwrite });
  registerSecrets(store, profile.credentials.values());
  // NTP keys are redacted wherever they would appear, as text (ASCII) and as hex (HEX: keys, packet dumps).
  for (const k of profile.ntpKeys) {
    store.addSecret(k.secret.toString('latin1'));
    store.addSecret(k.secret.toString('hex'));
  }
  if (options.attestationFile) store.writeFile(ATTESTATIONS_FILE, options.attestationFile);
  const startedAt = new Date().toISOString();
  store.journal({
    type: 'run-start', runId, startedAt, tool: { name: 'iacs-probe', version: toolVersion() }, profile: profile.file,
    profileSha256: profile.sha256, component: profile.component, options: options.commandLine ?? {},
    planned: plan.attempts.length, skipped: plan.skipped.length, allowed: [...plan.allowed],
    ...(plan.shard ? { shard: plan.shard } : {}),
  });
  for (const a of plan.skipped) store.journal({ type: 'attempt', attempt: a });
  return { runId, dir, store, startedAt, operator: options.operator ?? profile.operator ?? os.userInfo().username };
}

interface Executed {
  attempts: Attempt[];
  cancelled: boolean;
  scopeViolations: ScopeViolation[];
  notices: RunNotice[];
  /** The essential-function monitor of each host it ran on. */
  monitors: Map<string, HostMonitorSummary>;
}

/** Runs the planned attempts inside the scope guard, journaling each as it ends; cancellable by options.signal. */
async function executePlan(profile: Profile, plan: Plan, { store, runId }: Pick<RunFolder, 'store' | 'runId'>, options: RunOptions, lab?: RunningLab): Promise<Executed> {
  const runController = new AbortController();
  const onAbort = () => runController.abort(new Error('cancelled'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const vault = new Vault(profile.credentials);
  const ledger = new MapLedger();
  const cleanup = new FileCleanupJournal(options.stateDir ?? defaultStateDir(profile.file), runId);
  const actions = RunActionLog.inFolder(store.dir, (v) => store.redactValues(v));
  await actions.learnSources(plan.hosts);
  const scope = enterScope(plan.hosts.flatMap((h) => [h.host, ...h.addresses]));
  let attempts: Attempt[];
  let opcuaAudit: RunningOpcuaAudit | undefined;
  const monitors = profile.monitor ? new RunMonitors(profile.monitor, plan.attempts, {
    runDir: store.dir, credentials: vault, resolvePath: (f) => path.resolve(profile.dir, f), redact: (text) => store.redact(text), signal: runController.signal,
  }, (record) => store.journal(record)) : undefined;
  try {
    // Subscribed before the first attempt (the login probes' events must find it listening), ended after the last.
    if (lab && profile.lab?.opcuaAudit) {
      if (plan.allowed.has('active')) opcuaAudit = await startOpcuaAudit(plan.hosts, vault, { runDir: store.dir, profileDir: profile.dir, signal: runController.signal });
      store.journal({ type: 'opcua-audit-start', ...(opcuaAudit ? { subscriptions: opcuaAudit.services.subscriptions } : { notStarted: 'active probes are not allowed (the subscriber logs in)' }) });
    }
    const labServices = lab ? { ...lab.services, ...(opcuaAudit ? { opcuaAudit: opcuaAudit.services } : {}) } : undefined;
    const execute = async (planned: PlannedAttempt) => {
      // The host's monitor starts before its first intrusive or destructive attempt; each such attempt is a phase.
      const monitor = monitors ? await monitors.before(planned.host, planned.probe.safety) : undefined;
      const key = `${planned.probe.id}@${attemptTarget(planned)}`;
      const view = monitor?.forAttempt(key);
      const phase = monitor?.phase(planned.probe.id, key);
      try {
        return await executeAttempt(planned, {
          store, component: profile.component, policy: profile.policy, essentialFunction: profile.essentialFunction, credentials: vault, allowed: plan.allowed,
          runSignal: runController.signal, isInScope: (h) => scope.isAllowed(h), baselineFiles: profile.baselineFiles,
          profileDir: profile.dir, ledger, cleanup, actions, load: profile.robustness, ...(profile.boundary ? { boundary: profile.boundary } : {}), ...(profile.vlans ? { vlans: profile.vlans } : {}), ...(labServices ? { lab: labServices } : {}), ...(view ? { monitor: view.handle } : {}),
        });
      } finally {
        phase?.end();
        view?.release();
        monitors?.after(planned.host, planned.probe.safety);
      }
    };
    const lockInfo = (p: PlannedAttempt) => locksOf(p, { credentials: vault, policy: profile.policy });
    attempts = await schedule(plan.attempts, execute, {
      perHost: profile.limits.perHost,
      global: options.concurrency ?? profile.limits.global,
      unhealthyAfter: profile.limits.unhealthyAfter,
    }, runController.signal, lockInfo, {
      onStart: options.hooks?.onStart,
      onEnd: (attempt, done, total, index) => {
        store.journal({ type: 'attempt', attempt });
        options.hooks?.onEnd?.(attempt, done, total, index);
      },
    });
  } finally {
    await monitors?.finish(runController.signal.aborted);
    await opcuaAudit?.close();
    scope.release();
    options.signal?.removeEventListener('abort', onAbort);
  }
  // Accounts a probe may have locked and not seen work again (also when it failed or was cancelled).
  const notices: RunNotice[] = lockNotices(ledger.toJSON()).map((n) => ({
    kind: 'account-may-be-locked', probe: n.probe, target: n.target, account: n.account, since: new Date(n.since).toISOString(),
    message: `${n.account} on ${n.target} may still be locked: ${n.probe} made failed logins from ${new Date(n.since).toISOString()} and did not see the account work again`,
  }));
  return {
    attempts: [...attempts, ...plan.skipped], cancelled: runController.signal.aborted, scopeViolations: [...scope.violations], notices,
    monitors: monitors?.summaries() ?? new Map(),
  };
}

/**
 * Starts the profile's lab services before any device is contacted. When they cannot start (a port in use),
 * the folder this run created is removed again, so that a refused run leaves nothing behind.
 */
async function startRunLab(profile: Profile, plan: Plan, folder: RunFolder, existedBefore: boolean, signal?: AbortSignal): Promise<RunningLab> {
  const controller = new AbortController();
  signal?.addEventListener('abort', () => controller.abort(), { once: true });
  try {
    const lab = await startLab(profile.lab!, folder.dir, plan.allowed, controller.signal, { ntpKeys: profile.ntpKeys }, (entry) => folder.store.journal(entry));
    folder.store.journal({ type: 'lab-start', ...lab.summary });
    return lab;
  } catch (err) {
    folder.store.close();
    if (!existedBefore) fs.rmSync(folder.dir, { recursive: true, force: true });
    else for (const f of fs.readdirSync(folder.dir)) fs.rmSync(path.join(folder.dir, f), { recursive: true, force: true });
    throw err;
  }
}

/** The report's summary: counts of attempt statuses, verdicts and finding severities, failures at the target. */
export function summarize(attempts: readonly Attempt[], assessment: Assessment): Report['summary'] {
  const statuses: AttemptStatus[] = ['pass', 'fail', 'not_applicable', 'not_determined', 'error', 'skipped'];
  const verdicts: RequirementVerdictValue[] = ['pass', 'fail', 'not_applicable', 'not_determined'];
  return {
    attempts: count(statuses, attempts.map((a) => a.status)),
    requirements: count(verdicts, assessment.requirements.map((r) => r.verdict)),
    findings: count(['critical', 'high', 'medium', 'low', 'info'], attempts.flatMap((a) => a.findings.map((f) => f.severity))),
    failedAtTarget: assessment.requirements.filter((r) => r.verdict === 'fail' && r.requiredAtTarget).length,
    errors: attempts.filter((a) => a.status === 'error').length,
  };
}

/** The report (contract: ARCHITECTURE.md, schema/report.schema.json) from the attempts and their assessment. */
function buildReport(profile: Profile, plan: Plan, folder: RunFolder, executed: Executed, assessment: Assessment, options: RunOptions): Report {
  const all = executed.attempts;
  return {
    schemaVersion: 1,
    tool: { name: 'iacs-probe', version: toolVersion() },
    run: {
      id: folder.runId, startedAt: folder.startedAt, finishedAt: new Date().toISOString(), complete: !executed.cancelled,
      ...(executed.cancelled ? { incompleteReason: 'cancelled by signal' } : {}),
      profile: profile.file, profileSha256: profile.sha256, options: options.commandLine ?? {}, operator: folder.operator,
      allowed: [...plan.allowed], scopeViolations: executed.scopeViolations, ...(executed.notices.length ? { notices: executed.notices } : {}),
      ...(plan.shard ? { shard: plan.shard } : {}),
    },
    component: {
      name: profile.component.name, vendor: profile.component.vendor, model: profile.component.model,
      firmware: profile.component.firmware, serial: profile.component.serial, types: [...profile.component.types],
    },
    targets: plan.hosts.map((h) => {
      const monitor = executed.monitors.get(h.host);
      return {
        host: h.host, name: h.name, addresses: [...h.addresses],
        services: h.services.map((s) => ({ port: s.port, protocol: s.protocol, transport: s.transport, name: s.name })),
        ...(monitor ? { monitor } : {}),
      };
    }),
    attempts: all,
    requirements: assessment.requirements,
    slAchieved: assessment.slAchieved,
    slTarget: profile.component.slTarget,
    gaps: assessment.gaps,
    summary: summarize(all, assessment),
  };
}

/**
 * Renders every report format from the report as report.json holds it (secrets redacted: a compressed format
 * such as xlsx could not be redacted after rendering). A broken reporter costs only its own file.
 */
export async function writeReports(store: RunStore, written: Report): Promise<{ file: string; error: string }[]> {
  const reporterErrors: { file: string; error: string }[] = [];
  for (const reporter of REPORTERS) {
    try {
      store.writeFile(reporter.file, await reporter.render(written), { alreadyRedacted: true });
    } catch (err) {
      reporterErrors.push({ file: reporter.file, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  }
  if (reporterErrors.length > 0) store.journal({ type: 'reporter-errors', errors: reporterErrors });
  return reporterErrors;
}

/**
 * Journals the end, closes the journal, writes the manifest (and its signature with `sign`). Shared by run and
 * merge: `externalTools` are the programs the probes ran (nmap, ...).
 */
export function closeRunFolder(
  folder: Pick<RunFolder, 'runId' | 'dir' | 'store' | 'operator'>, report: Report, sign: SigningKey | undefined,
  externalTools: Record<string, string> = Object.fromEntries(folder.store.tools),
): void {
  const { store, dir } = folder;
  store.journal({ type: 'run-end', finishedAt: report.run.finishedAt, complete: report.run.complete, summary: report.summary });
  store.close();
  writeManifest(dir, {
    runId: folder.runId, complete: report.run.complete, tool: report.tool,
    environment: {
      node: process.version, platform: `${os.platform()} ${os.release()} ${os.arch()}`, hostname: os.hostname(), operator: folder.operator,
      libraries: libraryVersions(), externalTools,
    },
    ...(sign ? { signer: manifestSigner(sign) } : {}),
  });
  if (sign) signManifest(dir, sign);
}

/**
 * Plans and runs an assessment of one profile, writing the evidence folder as it goes: the journal
 * after every attempt, then the reports and the manifest, also when the run is cancelled.
 */
export async function runAssessment(profile: Profile, options: RunOptions = {}): Promise<RunOutcome> {
  const catalog = loadCatalog();
  const probes = options.probes ?? loadProbes();
  const plan = await buildPlan(profile, probes, catalog, { only: options.only, allow: options.allow, hosts: options.hosts, shard: options.shard }, options.probeInputs);
  const existedBefore = options.out !== undefined && fs.existsSync(options.out);
  const folder = openRunFolder(profile, plan, options);
  const lab = profile.lab ? await startRunLab(profile, plan, folder, existedBefore, options.signal) : undefined;
  let executed: Executed;
  try {
    executed = await executePlan(profile, plan, folder, options, lab);
  } finally {
    await lab?.close();
  }
  const assessment = assess({
    catalog, component: profile.component, attempts: executed.attempts,
    probeRequirements: new Map(probes.map((p) => [p.id, p.requirements])), attestations: options.attestations,
  });
  // What is written and what callers print is the redacted report, as the folder holds it.
  const written = folder.store.redactValues(buildReport(profile, plan, folder, executed, assessment, options));
  const reporterErrors = await writeReports(folder.store, written);
  const pdf = options.pdf && !reporterErrors.some((e) => e.file === 'report.html') ? await writePdf(folder.store, options.pdf, options.signal) : undefined;
  closeRunFolder(folder, written, options.sign);
  return { report: written, dir: folder.dir, plan, reporterErrors, ...(pdf ? { pdf } : {}) };
}
