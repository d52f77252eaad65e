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
import { resolveNamedFile } from '../sdk/input-file';
import { attemptTarget, executeAttempt, type PlannedAttempt } from './attempt';
import { RunActionLog } from './actions';
import { FileCleanupJournal, defaultStateDir } from './cleanup';
import { LockoutGate, LockoutState, PersistentLockLedger, type LockoutWaitRecord } from './lockouts';
import { copyFromInterrupted, matchFinished, resumedFromInfo, type InterruptedRun } from './resume';
import { startLab, type RunningLab } from './lab';
import { startOpcuaAudit, type RunningOpcuaAudit } from './lab-opcua';
import { RunMonitors } from './monitor';
import type { HostMonitorSummary } from '../report/model';
import { Vault, registerSecrets } from './credentials';
import { buildPlan, type Plan } from './plan';
import { attemptLoads } from './test-plan';
import type { ShardSpec } from './shard';
import { loadProbes } from './registry';
import { locksOf, schedule, type SchedulerHooks } from './scheduler';
import { enterScope, type ScopeViolation } from '../protocols/scope';
import { pdfAfterReports, type PdfOutcome, type PdfRenderer } from './pdf';

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
  /** `iacs-probe resume`: the interrupted run whose finished attempts are taken over instead of run again. */
  resume?: InterruptedRun;
  /** Messages for the operator while the run goes on (a wait for a lockout an earlier run left). */
  notify?: (message: string) => void;
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
  readonly stateDir: string;
}

/**
 * Creates the folder (refusing a non-empty one), registers the secrets, journals the start (with what `resume`
 * needs: the profile, the command line, the working directory, the state folder), the skipped attempts and the
 * attempts taken over from an interrupted run (their evidence copied).
 */
function openRunFolder(profile: Profile, plan: Plan, options: RunOptions, reused: readonly Attempt[]): RunFolder {
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
  const stateDir = path.resolve(options.stateDir ?? defaultStateDir(profile.file));
  store.journal({
    type: 'run-start', runId, startedAt, tool: { name: 'iacs-probe', version: toolVersion() }, profile: profile.file,
    profileSha256: profile.sha256, component: profile.component, options: options.commandLine ?? {},
    planned: plan.attempts.length, skipped: plan.skipped.length, allowed: [...plan.allowed],
    ...(plan.shard ? { shard: plan.shard } : {}), cwd: process.cwd(), stateDir,
    ...(options.resume ? { resumedFrom: { dir: path.resolve(options.resume.dir), runId: options.resume.start.runId, reused: reused.length } } : {}),
  });
  for (const a of plan.skipped) store.journal({ type: 'attempt', attempt: a });
  if (options.resume) {
    copyFromInterrupted(store, options.resume, reused);
    for (const a of reused) store.journal({ type: 'attempt', attempt: a, reused: true });
  }
  return { runId, dir, store, startedAt, operator: options.operator ?? profile.operator ?? os.userInfo().username, stateDir };
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
async function executePlan(
  profile: Profile, plan: Plan, { store, runId, stateDir }: Pick<RunFolder, 'store' | 'runId' | 'stateDir'>, options: RunOptions, reused: ReadonlyMap<number, Attempt>, lab?: RunningLab,
): Promise<Executed> {
  const runController = new AbortController();
  const onAbort = () => runController.abort(new Error('cancelled'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const vault = new Vault(profile.credentials);
  const resolvePath = (f: string) => resolveNamedFile(profile.dir, f);
  const lockouts = new LockoutState(stateDir, runId);
  const gate = lockoutGate(profile, lockouts, store, options.notify);
  const ledger = new PersistentLockLedger(lockouts);
  // A resumed run counts the failed logins of the interrupted one (also of attempts cut short): the device did.
  if (options.resume) ledger.restore(options.resume.ledger);
  const cleanup = new FileCleanupJournal(stateDir, runId);
  const actions = RunActionLog.inFolder(store.dir, (v) => store.redactValues(v), (r) => {
    if ((r.kind === 'login-failed' || r.kind === 'login-refused') && r.account !== undefined) ledger.loginFailed(r.host, r.account, r.atMs);
  });
  await actions.learnSources(plan.hosts);
  const scope = enterScope(plan.hosts.flatMap((h) => [h.host, ...h.addresses]));
  let attempts: Attempt[];
  let opcuaAudit: RunningOpcuaAudit | undefined;
  // The attempts this run makes (`resume` takes the others over from the interrupted run).
  const toRun = plan.attempts.filter((_, i) => !reused.has(i));
  // Said before anything is sent: a load over its budget is cut off, and its last steps are never sent.
  for (const load of attemptLoads(profile, toRun).filter((l) => !l.fits)) {
    store.journal({ type: 'load-over-budget', ...load });
    options.notify?.(`iacs-probe: ${load.probe}@${load.target} may send up to ${load.total} ${load.unit}, more than robustness.maxTotal ${load.budget}: `
      + 'it stops sending when the budget is spent, and CR 7.1 cannot pass then (`iacs-probe plan` shows each bound)');
  }
  const monitors = profile.monitor ? new RunMonitors(profile.monitor, toRun, {
    runDir: store.dir, credentials: vault, resolvePath, redact: (text) => store.redact(text), signal: runController.signal,
  }, (record) => store.journal(record)) : undefined;
  try {
    // Subscribed before the first attempt (the login probes' events must find it listening), ended after the last.
    if (lab && profile.lab?.opcuaAudit) {
      if (plan.allowed.has('active')) opcuaAudit = await startOpcuaAudit(plan.hosts, vault, { runDir: store.dir, profileDir: profile.dir, signal: runController.signal });
      store.journal({ type: 'opcua-audit-start', ...(opcuaAudit ? { subscriptions: opcuaAudit.services.subscriptions } : { notStarted: 'active probes are not allowed (the subscriber logs in)' }) });
    }
    const labServices = lab ? { ...lab.services, ...(opcuaAudit ? { opcuaAudit: opcuaAudit.services } : {}) } : undefined;
    const lockInfo = (p: PlannedAttempt) => locksOf(p, { credentials: vault, policy: profile.policy, resolvePath });
    const execute = async (planned: PlannedAttempt) => {
      await gate.before(planned.host.host, `${planned.probe.id}@${attemptTarget(planned)}`, lockInfo(planned), runController.signal).catch(() => undefined);
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
    const ran = await schedule(toRun, execute, {
      perHost: profile.limits.perHost,
      global: options.concurrency ?? profile.limits.global,
      unhealthyAfter: profile.limits.unhealthyAfter,
    }, runController.signal, lockInfo, {
      onStart: options.hooks?.onStart,
      onEnd: (attempt, done, total, index) => {
        // With the run ledger as it stands, so that `resume` can go on counting failed logins from here.
        const counters = ledger.toJSON();
        store.journal({ type: 'attempt', attempt, ...(Object.keys(counters).length > 0 ? { ledger: counters } : {}) });
        options.hooks?.onEnd?.(attempt, done, total, index);
      },
    });
    // In plan order, the attempts taken over from an interrupted run in their places.
    let next = 0;
    attempts = plan.attempts.map((_, i) => reused.get(i) ?? ran[next++]);
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

/** The wait for lockouts earlier runs may have left (state folder), journaled and told to the operator. */
function lockoutGate(profile: Profile, lockouts: LockoutState, store: RunStore, notify?: (message: string) => void): LockoutGate {
  return new LockoutGate(lockouts.pending(), profile.policy.lockout, lockouts, (record: LockoutWaitRecord) => {
    store.journal({ ...record, at: new Date().toISOString() });
    notify?.(record.message);
  });
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

/** Why the run was cancelled, as the canceller said it ("cancelled by SIGTERM"), else "cancelled by signal". */
function cancelReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return reason instanceof Error && /^cancelled by /.test(reason.message) ? reason.message : 'cancelled by signal';
}

/** The report (contract: ARCHITECTURE.md, schema/report.schema.json) from the attempts and their assessment. */
function buildReport(profile: Profile, plan: Plan, folder: RunFolder, executed: Executed, assessment: Assessment, options: RunOptions, reused: number): Report {
  const all = executed.attempts;
  return {
    schemaVersion: 1,
    tool: { name: 'iacs-probe', version: toolVersion() },
    run: {
      id: folder.runId, startedAt: folder.startedAt, finishedAt: new Date().toISOString(), complete: !executed.cancelled,
      ...(executed.cancelled ? { incompleteReason: cancelReason(options.signal) } : {}),
      profile: profile.file, profileSha256: profile.sha256, options: options.commandLine ?? {}, operator: folder.operator,
      allowed: [...plan.allowed], scopeViolations: executed.scopeViolations, ...(executed.notices.length ? { notices: executed.notices } : {}),
      ...(plan.shard ? { shard: plan.shard } : {}),
      ...(options.resume ? { resumedFrom: resumedFromInfo(options.resume, reused, plan.attempts.length - reused, profile.sha256) } : {}),
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
  const reused = options.resume ? matchFinished(plan.attempts, options.resume.finished) : new Map<number, Attempt>();
  const folder = openRunFolder(profile, plan, options, [...reused.values()]);
  const lab = profile.lab ? await startRunLab(profile, plan, folder, existedBefore, options.signal) : undefined;
  let executed: Executed;
  try {
    executed = await executePlan(profile, plan, folder, options, reused, lab);
  } finally {
    await lab?.close();
  }
  const assessment = assess({
    catalog, component: profile.component, attempts: executed.attempts,
    probeRequirements: new Map(probes.map((p) => [p.id, p.requirements])), attestations: options.attestations,
  });
  // What is written and what callers print is the redacted report, as the folder holds it.
  const written = folder.store.redactValues(buildReport(profile, plan, folder, executed, assessment, options, reused.size));
  const reporterErrors = await writeReports(folder.store, written);
  const pdf = await pdfAfterReports(folder.store, options.pdf, reporterErrors, options.signal);
  closeRunFolder(folder, written, options.sign);
  return { report: written, dir: folder.dir, plan, reporterErrors, ...(pdf ? { pdf } : {}) };
}
