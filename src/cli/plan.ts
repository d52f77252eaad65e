import { loadProfile } from '../profile';
import { LOAD_CEILINGS } from '../sdk';
import { describePlan, type AccountLogins, type TestPlan } from '../runner/test-plan';
import { EXIT, parse, type Io } from './common';
import { readReport } from './diff';
import { applySl, toRunOptions } from './run';

export const PLAN_USAGE = `usage: iacs-probe plan <profile.yaml> [--sl N] [--allow CLASS...] [--only PROBE...] [--host HOST...]
                       [--ports LIST|all] [--from RUN_DIR...] [--json]

  What \`iacs-probe run\` with the same options would do, before it touches the device (nothing is sent;
  host names are resolved, as the run resolves them): the attempts per service with their safety class,
  the attempts the run would not make and why, the logins it would spend per account against the
  profile's lockout threshold (lockout, default-credentials and feedback probes), and the duration.
  For the device owner's consent, file the text or --json with the test record.

  --sl N, --allow, --only, --host, --ports   as for run: the plan is the run's plan for these options
  --from RUN_DIR     earlier runs (repeatable): their durations per probe become typical durations;
                     without it the duration comes from the probes' time budgets only
  --json             the plan as JSON`;

const planOptions = {
  sl: { type: 'string' }, allow: { type: 'string', multiple: true }, only: { type: 'string', multiple: true },
  host: { type: 'string', multiple: true }, ports: { type: 'string' }, from: { type: 'string', multiple: true }, json: { type: 'boolean' },
} as const;

/** "1 h 12 min", "14 min 5 s", "45 s". */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
}

function countBy<T>(items: readonly T[], key: (t: T) => string): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(key(i), (counts.get(key(i)) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ${n}`).join(', ');
}

function thresholdText(a: AccountLogins): string {
  return a.threshold.source === 'profile' ? `threshold ${a.threshold.value} (profile)` : `threshold ${a.threshold.value} assumed (the profile documents none)`;
}

const EXPECTATION: Record<AccountLogins['expectation'], string> = {
  below: 'stays below the threshold',
  'locks-on-purpose': 'LOCKED ON PURPOSE by the lockout test (it runs last on the host and waits for the release)',
  'may-lock': 'MAY LOCK: a probe may pass the threshold',
};

function loginLines(plan: TestPlan): string[] {
  if (plan.logins.length === 0) return ['Logins: no probe of this plan makes failed logins'];
  const bases = new Map<string, Set<string>>();
  for (const x of plan.logins.flatMap((a) => a.attempts)) bases.set(x.basis, (bases.get(x.basis) ?? new Set()).add(x.probe));
  return ['Failed logins per account (one login budget per account keeps the probes that guess below the threshold):',
    ...plan.logins.flatMap((a) => [
      `  ${a.account}@${a.host}: at most ${a.consecutiveFailuresMax} in a row, ${a.failuresMax} in total; ${thresholdText(a)}: ${EXPECTATION[a.expectation]}`,
      `      by ${a.attempts.map((x) => `${x.probe}@${x.target} (${x.consecutiveFailuresMax} in a row, ${x.failuresMax} in total)`).join(', ')}`,
    ]),
    'How the bounds follow:',
    ...[...bases].map(([basis, probes]) => `  ${[...probes].join(', ')}: ${basis}`)];
}

const count = (n: number) => n.toLocaleString('en');

/** The load probes' bounds against robustness.maxTotal; a load cut off by it is said plainly (its last steps are not sent). */
function loadLines(plan: TestPlan): string[] {
  if (plan.loads.length === 0) return [];
  return ['Load per attempt (every step at its full rate and length; robustness.maxTotal is each attempt\'s budget):',
    ...plan.loads.flatMap((l) => [
      `  ${l.probe}@${l.target}: at most ${count(l.total)} ${l.unit}; budget ${count(l.budget)}: ${l.fits ? 'fits'
        : `EXCEEDS IT: the load stops when the budget is spent, what comes after is not sent and CR 7.1 cannot pass (raise robustness.maxTotal, at most ${count(LOAD_CEILINGS.maxTotal)}, or lower the rates or the storms)`}`,
      `      ${l.basis}`,
    ])];
}

function durationLine(plan: TestPlan): string {
  const d = plan.duration;
  const basis = d.basis.earlierRuns > 0
    ? `typical durations from ${d.earlierRuns.length} earlier run(s) for ${d.basis.earlierRuns} attempt(s), time budgets for ${d.basis.timeouts}`
    : 'from the time budgets only (no earlier run given: --from)';
  return `Duration, one attempt after another: at most ${humanDuration(d.serialUpperBoundMs)} (every attempt to its time budget); expected ${humanDuration(d.serialExpectedMs)} (${basis}). `
    + `Attempts overlap (limits.perHost ${d.limits.perHost}, global ${d.limits.global}), so the run usually takes less.`;
}

/** The plan as text, for the test record. */
export function renderPlanText(plan: TestPlan): string {
  const c = plan.component;
  const identity = [c.vendor, c.model, c.firmware ? `firmware ${c.firmware}` : undefined].filter(Boolean).join(' ');
  const lines = [
    `Test plan: ${c.name}${identity ? ` (${identity})` : ''}; profile ${plan.profile} (sha256 ${plan.profileSha256.slice(0, 16)}...)`,
    `SL target: ${Object.entries(plan.slTarget).map(([fr, l]) => `${fr} ${l}`).join(', ')}; allowed: ${plan.allowed.join(', ')}`,
    'Nothing has been sent to the device. A run with the same options makes these attempts:',
    '',
    `Attempts: ${plan.attempts.length} (${countBy(plan.attempts, (a) => a.safety) || 'none'}); not made: ${plan.skipped.length}`,
  ];
  const byKey = new Map(plan.attempts.map((a) => [`${a.probe}@${a.target}`, a]));
  for (const s of plan.services.filter((x) => x.attempts.length > 0)) {
    lines.push(`${s.target} ${s.protocol === 'host' ? '(host-wide)' : `${s.protocol} (${s.name})`}`);
    for (const x of s.attempts) {
      const a = byKey.get(`${x.probe}@${s.target}`)!;
      lines.push(`  ${a.probe.padEnd(30)} ${a.safety.padEnd(11)} budget ${humanDuration(a.timeoutMs)}${a.typicalMs !== undefined ? `, typical ${humanDuration(a.typicalMs)}` : ''}`);
    }
  }
  lines.push('', ...loginLines(plan));
  const loads = loadLines(plan);
  if (loads.length > 0) lines.push('', ...loads);
  if (plan.skipped.length > 0) {
    lines.push('', 'Not made:');
    for (const s of plan.skipped) lines.push(`  ${s.probe} @ ${s.target} (${s.safety}): ${s.reason}: ${s.message}`);
  }
  lines.push('', durationLine(plan));
  return lines.join('\n') + '\n';
}

export async function planCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, planOptions, { min: 1, max: 1, names: 'the profile file' });
  const profile = applySl(loadProfile(positionals[0]), values.sl);
  const run = toRunOptions({ allow: values.allow, only: values.only, host: values.host, ports: values.ports });
  const plan = await describePlan(profile, {
    only: run.only, allow: run.allow, hosts: run.hosts, probeInputs: run.probeInputs, earlierRuns: (values.from ?? []).map(readReport),
  });
  io.out.write(values.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlanText(plan));
  return EXIT.ok;
}
