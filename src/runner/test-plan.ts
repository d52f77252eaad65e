/**
 * `iacs-probe plan`: what a run of a profile would do, before anything is sent: the run's own plan (buildPlan,
 * the same call runAssessment makes), the safety class of each attempt, the logins it would spend per account
 * against the lockout threshold (declared by the probes that fail logins), and the expected duration.
 */
import { loadCatalog } from '../catalog';
import type { Profile } from '../profile';
import { thresholdOf, type ThresholdInfo } from '../protocols/auth/ledger';
import type { Report } from '../report/model';
import type { PlanInfo, PlannedLoad, PlannedLogins, ProbeDefinition, Safety } from '../sdk';
import { resolveNamedFile } from '../sdk/input-file';
import { attemptTarget, type PlannedAttempt } from './attempt';
import { Vault } from './credentials';
import { buildPlan, type PlanOptions } from './plan';
import { loadProbes } from './registry';

export interface PlannedAttemptSummary {
  probe: string;
  /** As report.json's attempts[].target: "host:port", or "host" for host-wide probes. */
  target: string;
  /** The declared service's protocol, or "host". */
  service: string;
  safety: Safety;
  timeoutMs: number;
  /** Median duration of this probe in the earlier runs given (--from), when it ran there. */
  typicalMs?: number;
}

export interface AccountLogins {
  host: string;
  account: string;
  threshold: ThresholdInfo;
  attempts: (PlannedLogins & { probe: string; target: string })[];
  /** Most failed logins in a row: the largest single attempt's, since the run's login budget is shared. */
  consecutiveFailuresMax: number;
  /** Most failed logins the whole run may spend on the account. */
  failuresMax: number;
  /** below: stays under the threshold; locks-on-purpose: a lockout test locks it; may-lock: a probe may pass the threshold. */
  expectation: 'below' | 'locks-on-purpose' | 'may-lock';
}

/** The load one destructive attempt would send at most, set against robustness.maxTotal (the attempt's budget). */
export interface AttemptLoad {
  probe: string;
  target: string;
  unit: PlannedLoad['unit'];
  /** At most this many by the inputs: every step at its full rate and length, after the profile's caps. */
  total: number;
  /** robustness.maxTotal: what one attempt may send in all. */
  budget: number;
  /** false: the load is cut off when the budget is spent, so what comes after is not sent. */
  fits: boolean;
  basis: string;
}

export interface TestPlan {
  profile: string;
  profileSha256: string;
  component: { name: string; vendor?: string; model?: string; firmware?: string; types: string[] };
  slTarget: Profile['component']['slTarget'];
  allowed: Safety[];
  /** Per declared service (and "host" for host-wide probes), the attempts the run would make there. */
  services: { host: string; target: string; protocol: string; name: string; attempts: { probe: string; safety: Safety }[] }[];
  attempts: PlannedAttemptSummary[];
  /** Attempts the run decides not to make, with the reason (as they appear in report.json, status skipped). */
  skipped: { probe: string; target: string; safety: Safety; reason: string; message: string }[];
  logins: AccountLogins[];
  /** The attempts that declare their load (robustness probes), with their bound and the budget. */
  loads: AttemptLoad[];
  duration: {
    /** Every attempt run to its time budget one after another: the run ends sooner (attempts overlap, most end early). */
    serialUpperBoundMs: number;
    /** One after another, typical durations where earlier runs give one, time budgets otherwise. */
    serialExpectedMs: number;
    /** How many attempts each estimate comes from. */
    basis: { earlierRuns: number; timeouts: number };
    /** The earlier runs' ids (--from). */
    earlierRuns: string[];
    limits: { perHost: number; global: number };
  };
}

export interface TestPlanOptions extends PlanOptions {
  /** Probes to use instead of the discovered ones (tests). */
  probes?: readonly ProbeDefinition<unknown>[];
  /** Earlier runs' reports: their durations become typical durations. */
  earlierRuns?: readonly Report[];
  /** Extra probe inputs from the command line, as `run` passes them (--ports). */
  probeInputs?: Readonly<Record<string, Record<string, unknown>>>;
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

/** Median duration per probe over the attempts that ran (not skipped) in the earlier runs. */
function typicalDurations(reports: readonly Report[]): Map<string, number> {
  const byProbe = new Map<string, number[]>();
  for (const a of reports.flatMap((r) => r.attempts)) {
    if (a.status === 'skipped') continue;
    byProbe.set(a.probe, [...(byProbe.get(a.probe) ?? []), a.durationMs]);
  }
  return new Map([...byProbe].map(([probe, list]) => [probe, median(list)!]));
}

function servicesOf(attempts: readonly PlannedAttempt[], hosts: Awaited<ReturnType<typeof buildPlan>>['hosts']): TestPlan['services'] {
  return hosts.flatMap((h) => [
    { host: h.host, target: h.host, protocol: 'host', name: h.name, attempts: attempts.filter((a) => a.host === h && !a.service) },
    ...h.services.map((s) => ({ host: h.host, target: attemptTarget({ host: h, service: s }), protocol: s.protocol, name: s.name, attempts: attempts.filter((a) => a.service === s) })),
  ]).map((s) => ({ ...s, attempts: s.attempts.map((a) => ({ probe: a.probe.id, safety: a.probe.safety })) }));
}

/** What a probe's plan-time declarations (locks, logins, load) are given about one planned attempt. */
function planInfoOf(profile: Profile, credentials: Vault, a: PlannedAttempt): PlanInfo<unknown> {
  return { host: a.host, service: a.service, inputs: a.inputs, credentials, policy: profile.policy, resolvePath: (f) => resolveNamedFile(profile.dir, f) };
}

/** The load each attempt declares, against the profile's robustness.maxTotal (plan lists them; run warns of those over it). */
export function attemptLoads(profile: Profile, attempts: readonly PlannedAttempt[]): AttemptLoad[] {
  const credentials = new Vault(profile.credentials);
  const { limits } = profile.robustness;
  return attempts.flatMap((a) => {
    const declared = a.probe.load?.({ ...planInfoOf(profile, credentials, a), limits, ...(profile.monitor ? { lossAfterMs: profile.monitor.lossAfterMs } : {}) });
    return declared ? [{ probe: a.probe.id, target: attemptTarget(a), ...declared, budget: limits.maxTotal, fits: declared.total <= limits.maxTotal }] : [];
  });
}

/** The logins each attempt declares, grouped per host and account and set against the threshold. */
function loginsOf(profile: Profile, attempts: readonly PlannedAttempt[], allowed: ReadonlySet<Safety>): AccountLogins[] {
  const credentials = new Vault(profile.credentials);
  const threshold = thresholdOf(profile.policy);
  const byAccount = new Map<string, AccountLogins>();
  for (const a of attempts) {
    const declared = a.probe.logins?.({ ...planInfoOf(profile, credentials, a), allowed }) ?? [];
    for (const d of declared) {
      const key = JSON.stringify([a.host.host, d.account]);
      const entry = byAccount.get(key) ?? { host: a.host.host, account: d.account, threshold, attempts: [], consecutiveFailuresMax: 0, failuresMax: 0, expectation: 'below' as const };
      entry.attempts.push({ ...d, probe: a.probe.id, target: attemptTarget(a) });
      entry.consecutiveFailuresMax = Math.max(entry.consecutiveFailuresMax, d.consecutiveFailuresMax);
      entry.failuresMax += d.failuresMax;
      byAccount.set(key, entry);
    }
  }
  for (const e of byAccount.values()) {
    e.expectation = e.attempts.some((a) => a.locksOnPurpose) ? 'locks-on-purpose' : e.consecutiveFailuresMax >= e.threshold.value ? 'may-lock' : 'below';
  }
  return [...byAccount.values()];
}

/** What a run of the profile would do; sends nothing (host names are resolved, as the run resolves them). */
export async function describePlan(profile: Profile, options: TestPlanOptions = {}): Promise<TestPlan> {
  const probes = options.probes ?? loadProbes();
  const plan = await buildPlan(profile, probes, loadCatalog(), options, options.probeInputs);
  const typical = typicalDurations(options.earlierRuns ?? []);
  const attempts: PlannedAttemptSummary[] = plan.attempts.map((a) => {
    const typicalMs = typical.get(a.probe.id);
    return {
      probe: a.probe.id, target: attemptTarget(a), service: a.service?.protocol ?? 'host', safety: a.probe.safety, timeoutMs: a.timeoutMs,
      ...(typicalMs !== undefined ? { typicalMs: Math.min(typicalMs, a.timeoutMs) } : {}),
    };
  });
  const withTypical = attempts.filter((a) => a.typicalMs !== undefined).length;
  return {
    profile: profile.file,
    profileSha256: profile.sha256,
    component: {
      name: profile.component.name, vendor: profile.component.vendor, model: profile.component.model, firmware: profile.component.firmware,
      types: [...profile.component.types],
    },
    slTarget: profile.component.slTarget,
    allowed: [...plan.allowed],
    services: servicesOf(plan.attempts, plan.hosts),
    attempts,
    skipped: plan.skipped.map((s) => ({ probe: s.probe, target: s.target, safety: s.safety, reason: s.reason ?? '', message: s.message ?? '' })),
    logins: loginsOf(profile, plan.attempts, plan.allowed),
    loads: attemptLoads(profile, plan.attempts),
    duration: {
      serialUpperBoundMs: attempts.reduce((sum, a) => sum + a.timeoutMs, 0),
      serialExpectedMs: attempts.reduce((sum, a) => sum + (a.typicalMs ?? a.timeoutMs), 0),
      basis: { earlierRuns: withTypical, timeouts: attempts.length - withTypical },
      earlierRuns: (options.earlierRuns ?? []).map((r) => r.run.id),
      limits: { perHost: profile.limits.perHost, global: profile.limits.global },
    },
  };
}
