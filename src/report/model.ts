/**
 * The Report (report.json, schemaVersion 1): everything reporters see. Pure data; reporters are pure
 * functions of it. The JSON Schema in schema/report.schema.json describes the same shape.
 */
import type {
  ComponentType, Coverage, Finding, FrId, FunctionVerdict, PhaseJudgement, RequirementOutcome, Safety, SecurityLevel, SlVector, WindowJudgement,
} from '../sdk';

/** not_determined: the attempt ended but judged no requirement (it could not tell; the message says why). */
export type AttemptStatus = 'pass' | 'fail' | 'not_applicable' | 'not_determined' | 'error' | 'skipped';
export type ErrorReason = 'unreachable' | 'timeout' | 'protocol' | 'auth' | 'scope' | 'input' | 'instrument' | 'bug' | 'cancelled';
export type SkipReason = 'not-allowed' | 'below-sl' | 'disabled' | 'target-unhealthy' | 'cancelled' | 'no-credentials';

/** The runner's envelope around one probe on one target. */
export interface Attempt {
  probe: string;
  /** "host:port" for service probes, "host" for host-wide probes (IPv6 in brackets). */
  target: string;
  /** The declared service's protocol, or "host". */
  service: string;
  safety: Safety;
  status: AttemptStatus;
  /** An ErrorReason for errors, a SkipReason for skips; absent otherwise. */
  reason?: string;
  /** Human explanation of an error, a skip, or why nothing was applicable. */
  message?: string;
  startedAt: string;
  durationMs: number;
  observations: Record<string, unknown>;
  findings: Finding[];
  outcomes: RequirementOutcome[];
  /** Evidence files, relative to the run folder. */
  evidence: string[];
}

export type RequirementVerdictValue = 'pass' | 'fail' | 'not_applicable' | 'not_determined';

export interface RequirementVerdict {
  id: string;
  title: string;
  fr: FrId;
  /** Levels at which the row is required. */
  sl: SecurityLevel[];
  verdict: RequirementVerdictValue;
  source: 'probe' | 'manual' | 'none';
  /** "probe@target" for each attempt that evidenced the row (and "manual" for an attestation). */
  basis: string[];
  /** Best coverage among the probe outcomes behind the verdict. */
  coverage?: Coverage;
  /** Why: the outcome reasons, the attestation, or what would be needed. */
  reason: string;
  /** Attempts that should have evidenced the row and did not (errored, skipped, cancelled, or ended without
   * judging it), as "probe@target: status (reason)": why the row is not_determined although something passed. */
  notExamined?: string[];
  /** Codes of the findings that fail the row. */
  findings: string[];
  /** Required at the component's SL target for its FR. */
  requiredAtTarget: boolean;
  /** Catalog confidence of the row's SL assignment (high, medium, conflict). */
  confidence: string;
  attestation?: Attestation;
}

/** A verdict entered by an engineer for a requirement probes cannot evidence. */
export interface Attestation {
  id: string;
  verdict: RequirementVerdictValue;
  reviewer: string;
  date: string;
  evidence?: string;
  remark?: string;
}

export interface FrGap {
  fr: FrId;
  target: SecurityLevel;
  achieved: SecurityLevel;
  /** Rows required at or below the target that failed. */
  failing: string[];
  /** Rows required at or below the target with no verdict yet. */
  undetermined: string[];
  /** What the probe evidence alone supports, and what is left to lift the FR to its target (absent in reports before it existed). */
  readiness?: FrReadiness;
}

/**
 * Readiness of one FR. A row is probe-testable when some probe evidences it. `level` is the highest n such that
 * no row required at n or below fails and no probe-testable one lacks its probe verdict (not evidenced): the
 * level the FR reaches once the rows left to attest are attested pass. It is no verdict: the strict SL-C is
 * `achieved`.
 */
export interface FrReadiness {
  level: SecurityLevel;
  /** The rows required at level + 1 that keep the FR below it (absent at level 4). */
  blockedAt?: { level: SecurityLevel; failing: string[]; notEvidenced: string[] };
  /** Rows required at or below the target that probe evidence alone counts (pass or not applicable, source probe). */
  probeEvidenced: string[];
  /** Rows required at or below the target, not determined, that an attestation lifts: no probe evidences them,
   * or the probes covered them only in part. */
  needAttestation: string[];
  /** Probe-testable rows required at or below the target without a probe verdict (errored, skipped, not run):
   * never counted ready; a rerun (or an attestation) lifts them. */
  notEvidenced: string[];
}

export interface ScopeViolationRecord {
  host: string;
  port?: number;
  at: string;
}

/** Something the run left behind that the lab must act on, e.g. an account a lockout test left locked. */
export interface RunNotice {
  kind: 'account-may-be-locked';
  /** The probe that may have locked it. */
  probe: string;
  /** "host:port" of that attempt. */
  target: string;
  account: string;
  /** Since when (ISO time). */
  since: string;
  message: string;
}

/** `run --shard i/n`: shard `index` (0-based) of `count`, and the profile hosts it assessed (possibly none). */
export interface ShardInfo {
  index: number;
  count: number;
  hosts: string[];
}

/** One shard folder a merged run was joined from. */
export interface MergedShard {
  index: number;
  /** The shard's run id. */
  id: string;
  /** The folder as given to `merge`. */
  dir: string;
  /** Where the merged folder keeps the shard's report.json, journal.ndjson and manifest (e.g. shards/0). */
  copy: string;
  hosts: string[];
  complete: boolean;
  startedAt: string;
  finishedAt: string;
  /** sha256 of the shard's manifest.json and journal.ndjson as they were merged. */
  manifestSha256: string;
  journalSha256: string;
}

export interface MergeInfo {
  count: number;
  shards: MergedShard[];
}

/** `iacs-probe resume`: the interrupted run this one continues, and what it took from there. */
export interface ResumedFrom {
  /** The interrupted folder as given to `resume` (left as it was). */
  dir: string;
  runId: string;
  startedAt: string;
  /** The interrupted folder was closed (report and manifest written after SIGINT/SIGTERM); false after SIGKILL. */
  closed: boolean;
  /** Where this folder keeps the interrupted folder's journal, report, action log and manifest (interrupted). */
  copy: string;
  /** sha256 of the interrupted folder's journal.ndjson and manifest.json (when closed) as they were read. */
  journalSha256: string;
  manifestSha256?: string;
  /** Attempts taken over from the interrupted run (with their evidence), and attempts run again. */
  reused: number;
  rerun: number;
  /** The interrupted run's profile sha256, when it differs from this run's (resume --force). */
  profileSha256?: string;
}

export interface Report {
  schemaVersion: 1;
  tool: { name: string; version: string };
  run: {
    id: string;
    startedAt: string;
    finishedAt: string;
    complete: boolean;
    /** Why the run is incomplete (cancelled, ...). */
    incompleteReason?: string;
    profile: string;
    profileSha256: string;
    options: Record<string, unknown>;
    operator: string;
    /** Safety classes the run allowed. */
    allowed: Safety[];
    /** Connections the scope guard refused (should be empty). */
    scopeViolations: ScopeViolationRecord[];
    /** What the run left behind that needs attention (accounts possibly still locked). Absent: nothing. */
    notices?: RunNotice[];
    /** A shard of a fleet run (`run --shard i/n`): its verdicts cover only its hosts; `merge` joins the shards. */
    shard?: ShardInfo;
    /** A run joined from shards by `iacs-probe merge`: its verdicts are re-assessed from every shard's attempts. */
    merged?: MergeInfo;
    /** A run continued from an interrupted one by `iacs-probe resume`. */
    resumedFrom?: ResumedFrom;
  };
  component: {
    name: string;
    vendor?: string;
    model?: string;
    firmware?: string;
    serial?: string;
    types: ComponentType[];
  };
  targets: {
    host: string; name: string; addresses: string[]; services: { port: number; protocol: string; transport: string; name: string }[];
    /** The essential-function monitor of this host (profile `essentialFunction`), when it ran. */
    monitor?: HostMonitorSummary;
  }[];
  attempts: Attempt[];
  requirements: RequirementVerdict[];
  slAchieved: SlVector;
  slTarget: SlVector;
  gaps: FrGap[];
  summary: {
    attempts: Record<AttemptStatus, number>;
    requirements: Record<RequirementVerdictValue, number>;
    findings: Record<string, number>;
    /** Rows required at the target that failed: a non-zero value makes the exit code 1. */
    failedAtTarget: number;
    errors: number;
  };
}

/** One host's essential-function monitor in report.json (targets[].monitor): the judgement and the series for the chart. */
export interface HostMonitorSummary {
  verdict: FunctionVerdict;
  text: string;
  startedAt: string;
  stoppedAt?: string;
  parameters: { periodMs: number; latencyToleranceMs: number; lossAfterMs: number; stopOnLoss: boolean; recoveryWindowMs: number };
  watches: { name: string; describe: string; counter: boolean }[];
  overall: WindowJudgement;
  phases: PhaseJudgement[];
  /** Every sample (t: epoch ms), without values: monitor/<host>.ndjson and .csv hold them in full. */
  series: { t: number; watch: string; ok: boolean; latencyMs: number; error?: string }[];
  /** monitor/<host>.ndjson and .csv, relative to the run folder. */
  files: string[];
}
