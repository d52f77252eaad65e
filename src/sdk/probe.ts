import type { ActionLog } from './actions';
import type { CleanupJournal } from './cleanup';
import type { BoundaryDecl } from './boundary';
import type { VlanDecl } from './vlan';
import type { LabServices } from './lab';
import type { LoadLimits } from './load';
import type { EssentialFunctionMonitor } from './monitor';
import type {
  ComponentInfo, Coverage, CoveragePart, Credential, DevicePolicy, Finding, HostUnderTest, ProbeResult,
  RequirementOutcome, Safety, ServiceProtocol, ServiceUnderTest, Severity,
} from './types';

/** A JSON Schema object describing a probe's inputs (validated by the runner before `run`). */
export type InputSchema = Readonly<Record<string, unknown>>;

/** The usual input schema: an object of these optional properties and nothing else. */
export function inputsSchema(properties: Readonly<Record<string, unknown>>): InputSchema {
  return { type: 'object', additionalProperties: false, properties };
}

/** Where a probe writes raw material. Paths returned are relative to the run folder. */
export interface EvidenceRecorder {
  /** Writes `evidence/<probe>/<target>/<name>`; objects are written as pretty JSON. */
  save(name: string, content: string | Uint8Array | object): string;
  /** Appends one line to a transcript artifact, creating it on first use. */
  append(name: string, line: string): string;
  /** Records an external tool the probe ran (name, version), for the manifest. */
  tool(name: string, version: string): void;
}

export interface ProbeLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** Credentials resolved from the profile, looked up by key ("ssh", "opcua", "http", "lockout.ssh", ...). */
export interface CredentialVault {
  get(key: string): Credential | undefined;
  keys(): readonly string[];
}

/** What the runner knows when planning, before anything runs: used to declare locks. */
export interface PlanInfo<I> {
  readonly host: HostUnderTest;
  readonly service?: ServiceUnderTest;
  readonly inputs: I;
  readonly credentials: CredentialVault;
  readonly policy: DevicePolicy;
  /** A file name of the profile or an input, as a path (relative names are relative to the profile's folder). */
  readonly resolvePath: (file: string) => string;
}

/** A resource a probe holds while it runs, e.g. an account: `ssh:127.0.0.1:22:operator`. */
export interface LockRequest {
  readonly key: string;
  readonly mode: 'shared' | 'exclusive';
}

/**
 * The logins one attempt would make against an account, declared for `iacs-probe plan` (before anything is sent):
 * bounds from the probe's design, not a measurement.
 */
export interface PlannedLogins {
  readonly account: string;
  /** Most failed logins in a row (between successful ones): what a device's lockout counter sees. */
  readonly consecutiveFailuresMax: number;
  /** Most failed logins in total. */
  readonly failuresMax: number;
  /** The attempt drives the account to its lockout threshold on purpose (a lockout test). */
  readonly locksOnPurpose: boolean;
  /** How the bound follows from the probe's inputs and the threshold, in one sentence. */
  readonly basis: string;
}

/**
 * The load one attempt would send at most, declared for `iacs-probe plan` (the destructive load probes): every step
 * at its full rate for its full length, after the profile's caps. A bound from the inputs, not a measurement.
 */
export interface PlannedLoad {
  /** What is counted, as robustness.maxTotal counts it. */
  readonly unit: 'packets' | 'requests';
  readonly total: number;
  /** How the bound follows from the inputs, in one sentence. */
  readonly basis: string;
}

/**
 * Counters shared by every attempt of one run, e.g. failed logins per account, so that probes that guess
 * passwords on the same device never add up to a lockout between them.
 */
export interface RunLedger {
  get(key: string): number;
  add(key: string, delta: number): number;
  set(key: string, value: number): void;
}

export interface ProbeContext<I> {
  readonly host: HostUnderTest;
  /** The declared service under test; undefined for host-scope probes (e.g. ports.tcp). */
  readonly service?: ServiceUnderTest;
  readonly inputs: I;
  readonly component: ComponentInfo;
  readonly policy: DevicePolicy;
  /** The profile's `essentialFunction` block (what to monitor during intrusive probes), by protocol. */
  readonly essentialFunction: Readonly<Record<string, unknown>>;
  readonly credentials: CredentialVault;
  /** Safety classes the run allows (destructive only when profile and CLI both allow it). */
  readonly allowed: ReadonlySet<Safety>;
  /** Aborts on the attempt's deadline or when the run is cancelled. Pass it to every network call. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds at which `signal` aborts; lets polling probes plan their budget. */
  readonly deadline: number;
  /**
   * Waits on purpose (a lockout release poll, an idle session, a recovery pause): sleeps `ms`, or rejects
   * with the abort reason as soon as `signal` aborts, and journals one line `{type: 'wait', probe, target,
   * ms, why, at}` first, so that a run's duration can be read from its journal. `why` is one short phrase.
   */
  readonly wait: (ms: number, why: string) => Promise<void>;
  readonly log: ProbeLogger;
  readonly evidence: EvidenceRecorder;
  /** Run-wide counters (failed logins per account ...), shared by all attempts of the run. */
  readonly ledger: RunLedger;
  /** Run-wide log of the security events probes cause (logins, lockouts, sessions, denied access); see actions.ts. */
  readonly actions: ActionLog;
  /** The run's lab services (profile `lab:` block), when the profile has one. */
  readonly lab?: LabServices;
  /**
   * The profile's cleanup journal (cleanup.ts): a probe that creates something on the device journals it here
   * first, and removes what earlier runs left behind before it creates anything.
   */
  readonly cleanup: CleanupJournal;
  /**
   * The essential-function monitor of this host (profile `essentialFunction`), for intrusive and destructive
   * attempts when the profile has the block and the host declares a watched service. Absent: nothing watches
   * the function, so a probe cannot claim it was maintained (not determined).
   */
  readonly monitor?: EssentialFunctionMonitor;
  /**
   * The caps on load this attempt may generate (profile `robustness`, clamped to LOAD_CEILINGS), and the notes
   * on what was clamped. Load generators take their caps from here (src/protocols/load).
   */
  readonly load: { readonly limits: LoadLimits; readonly clamped: readonly string[] };
  /** The zones and conduits of a network component (profile `zones`/`conduits`), when the profile has them. */
  readonly boundary?: BoundaryDecl;
  /** The VLANs of a switch and where the bench's endpoints sit on it (profile `vlans`), when the profile has them. */
  readonly vlans?: VlanDecl;
  /** The policy thresholds for this run (profiles/baselines/<name>.yaml, level = SL target), or the
   * profile's own file when it names one. */
  baseline<T = Record<string, unknown>>(name: string): T;
  /** Throws OutOfScope unless `host` is one of the profile's hosts or addresses. */
  assertInScope(host: string): void;
  /** A file named in the profile (an input or a service option): relative paths are relative to the
   * profile's folder. */
  resolvePath(file: string): string;
}

export interface ProbeDefinition<I = Record<string, never>> {
  /** "<protocol>.<name>"; equals the file path probes/<protocol>/<name>.ts. */
  readonly id: string;
  readonly protocol: string;
  readonly title: string;
  /** One paragraph for `iacs-probe probes` and the report: what it does and what it sends. */
  readonly description: string;
  /** Catalog ids this probe can evidence (checked against the catalog by a meta-test). */
  readonly requirements: readonly string[];
  /**
   * Every finding the probe can report, by name, with what it means in one line (the reference with
   * severity and requirements is docs/<protocol>.md). A result's findings carry these names; the runner
   * reports them as `<probe id>.<name>` and refuses a name not declared here.
   */
  readonly findings: Readonly<Record<string, string>>;
  readonly safety: Safety;
  /** host: one attempt per target host; service: one attempt per declared service it applies to. */
  readonly scope: 'host' | 'service';
  /** Declared service protocols this probe runs against (service scope). */
  readonly appliesTo: readonly ServiceProtocol[];
  /** Narrows `appliesTo`, e.g. only TLS-wrapped services. */
  readonly when?: (service: ServiceUnderTest) => boolean;
  readonly inputs?: { readonly schema: InputSchema; readonly defaults: I };
  /** Default time budget for one attempt; a profile can override it. */
  readonly timeoutMs: number;
  /** Ordering: higher phases run after every lower-phase attempt on the same host (lockout last). */
  readonly phase?: number;
  readonly locks?: (plan: PlanInfo<I>) => readonly LockRequest[];
  /** The logins an attempt would spend per account, for `iacs-probe plan` (probes that guess or fail logins). */
  readonly logins?: (plan: PlanInfo<I> & { readonly allowed: ReadonlySet<Safety> }) => readonly PlannedLogins[];
  /**
   * The load an attempt would send at most, for `iacs-probe plan`, which sets it against robustness.maxTotal
   * (`limits`: the profile's caps; `lossAfterMs`: the essential-function monitor's, which lengthens short steps).
   */
  readonly load?: (plan: PlanInfo<I> & { readonly limits: LoadLimits; readonly lossAfterMs?: number }) => PlannedLoad | undefined;
  run(ctx: ProbeContext<I>): Promise<ProbeResult>;
}

/** Identity function that gives probe definitions their types (cf. ESLint's RuleModule). */
export function defineProbe<I = Record<string, never>>(probe: ProbeDefinition<I>): ProbeDefinition<I> {
  return probe;
}

export interface FindingInput {
  /** The finding's name, declared in the probe's `findings` (the report's code is `<probe id>.<name>`). */
  code: string;
  severity: Severity;
  requirements: readonly string[];
  message: string;
  evidence?: readonly string[];
}

export function finding(input: FindingInput): Finding {
  return { ...input, evidence: input.evidence ?? [] };
}

/** A requirement the probe evaluated, with the coverage it had and what counts as failing it. */
export interface Judgement {
  requirement: string;
  coverage: Coverage;
  /** Reason recorded when no finding fails the requirement. */
  passReason: string;
  /** The part of the requirement this judgement covers, where probes examine it in parts (CR 7.7: tcp, udp). */
  part?: CoveragePart;
}

/**
 * Builds the per-requirement outcomes from the findings: a requirement fails when a finding with a
 * severity above `info` references it, and passes otherwise. Only requirements the probe actually
 * evaluated are listed, so a probe that saw nothing relevant leaves the row `not_determined`.
 */
export function judge(judgements: readonly Judgement[], findings: readonly Finding[]): RequirementOutcome[] {
  return judgements.map(({ requirement, coverage, passReason, part }) => {
    const failing = findings.filter((f) => f.severity !== 'info' && f.requirements.includes(requirement));
    const partOf = part ? { part } : {};
    if (failing.length === 0) return { requirement, verdict: 'pass', coverage, reason: passReason, ...partOf };
    return { requirement, verdict: 'fail', coverage, reason: failing.map((f) => f.message).join('; '), ...partOf };
  });
}

export function notApplicable(requirements: readonly string[], reason: string): RequirementOutcome[] {
  return requirements.map((requirement) => ({ requirement, verdict: 'not_applicable', coverage: 'full', reason }));
}

/** "host:port" with IPv6 literals bracketed; the attempt target format of the report contract. */
export function formatTarget(host: string, port?: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}
