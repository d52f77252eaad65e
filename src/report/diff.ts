/**
 * What changed between two runs (a baseline A and a new run B), for firmware regression gates:
 * requirement verdicts, findings (by code and target), observations (a generic deep diff per
 * probe@target, with lists compared as sets or by a key such as `port`), SL achieved per FR.
 *
 * Emulated devices and DHCP'd benches move services to other ports between runs. An attempt of B whose
 * host:port is not in A is matched by probe + host + the declared service's protocol and name instead,
 * and A's port numbers in observations and finding messages are translated to B's before comparing.
 */
import type { Attempt, Report, RequirementVerdictValue } from './model';
import { FRS, type Finding, type FrId } from '../sdk';
import { VERDICT_WORDS } from './text';

export interface RunRef {
  runId: string;
  component: string;
  firmware?: string;
  finishedAt: string;
  complete: boolean;
}

export interface PortMove {
  host: string;
  service: string;
  from: number;
  to: number;
}

export interface VerdictChange {
  id: string;
  title: string;
  before: RequirementVerdictValue;
  after: RequirementVerdictValue;
  worse: boolean;
  requiredAtTarget: boolean;
}

export interface FindingRef {
  code: string;
  severity: Finding['severity'];
  probe: string;
  target: string;
  message: string;
}

export type ChangeKind = 'added' | 'removed' | 'changed';

export interface ObservationChange {
  /** Where in the observations: `open[port=23]`, `ciphers.TLSv1.2`, `banner`. */
  path: string;
  kind: ChangeKind;
  before?: unknown;
  after?: unknown;
}

export interface AttemptChanges {
  /** probe@target in B's terms. */
  key: string;
  statusBefore?: Attempt['status'];
  statusAfter?: Attempt['status'];
  changes: ObservationChange[];
}

export interface SlChange {
  fr: FrId;
  before: number;
  after: number;
  worse: boolean;
}

export interface ReportDiff {
  a: RunRef;
  b: RunRef;
  portMoves: PortMove[];
  sl: SlChange[];
  slTargetChanged: boolean;
  requirements: VerdictChange[];
  /** Rows in only one run (the component's types or the catalog changed). */
  requirementsOnlyInA: string[];
  requirementsOnlyInB: string[];
  findingsAppeared: FindingRef[];
  findingsGone: FindingRef[];
  /** Attempts whose status or observations changed, and attempts present in one run only. */
  attempts: AttemptChanges[];
  /** Why B is worse than A; empty when it is not. */
  regressions: string[];
}

const RANK: Record<RequirementVerdictValue, number> = { pass: 3, not_applicable: 3, not_determined: 2, fail: 1 };

/** Lists of objects are compared item by item using the first of these keys that identifies every item. */
const IDENTITY_KEYS = ['port', 'id', 'code', 'name', 'endpointUrl', 'url', 'algorithm', 'protocol', 'user', 'username'];

function ref(r: Report): RunRef {
  return { runId: r.run.id, component: r.component.name, firmware: r.component.firmware, finishedAt: r.run.finishedAt, complete: r.run.complete };
}

function splitTarget(target: string): { host: string; port?: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  return m ? { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) } : { host: target.replace(/^\[|\]$/g, '') };
}

function joinTarget(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Declared services of A whose port differs in B, matched by host + protocol + name (unique on both sides). */
function portMoves(a: Report, b: Report): PortMove[] {
  const moves: PortMove[] = [];
  for (const ta of a.targets) {
    const tb = b.targets.find((t) => t.host === ta.host);
    if (!tb) continue;
    const id = (s: { protocol: string; name: string; transport: string }) => `${s.transport}|${s.protocol}|${s.name}`;
    for (const sa of ta.services) {
      const same = (list: typeof ta.services) => list.filter((s) => id(s) === id(sa));
      const [sb, ...more] = same(tb.services);
      if (!sb || more.length > 0 || same(ta.services).length > 1 || sb.port === sa.port) continue;
      if (tb.services.some((s) => s.port === sa.port && s.transport === sa.transport)) continue; // A's port is B's other service
      moves.push({ host: ta.host, service: `${sa.protocol} "${sa.name}"`, from: sa.port, to: sb.port });
    }
  }
  return moves;
}

/** Rewrites A's port numbers into B's: `port` fields, host:port strings and standalone numbers in text. */
function translator(moves: PortMove[]): { target(t: string): string; value<T>(v: T, host: string): T } {
  const byHost = new Map<string, Map<number, number>>();
  for (const m of moves) byHost.set(m.host, (byHost.get(m.host) ?? new Map<number, number>()).set(m.from, m.to));
  const text = (s: string, map: Map<number, number>) => (map.size === 0 ? s : s.replace(/\b\d{1,5}\b/g, (n) => String(map.get(Number(n)) ?? n)));
  const walk = (v: unknown, map: Map<number, number>, key?: string): unknown => {
    if (typeof v === 'number' && key !== undefined && /port$/i.test(key)) return map.get(v) ?? v;
    if (typeof v === 'string') return text(v, map);
    if (Array.isArray(v)) return v.map((x) => walk(x, map, key));
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, map, k)]));
    return v;
  };
  return {
    target(t) {
      const { host, port } = splitTarget(t);
      const to = port === undefined ? undefined : byHost.get(host)?.get(port);
      return to === undefined ? t : joinTarget(host, to);
    },
    value: <T>(v: T, host: string) => walk(v, byHost.get(host) ?? new Map<number, number>()) as T,
  };
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function identityKey(a: unknown[], b: unknown[]): string | undefined {
  const items = [...a, ...b];
  if (items.length === 0 || !items.every(isObject)) return undefined;
  return IDENTITY_KEYS.find((k) => {
    const unique = (list: unknown[]) => {
      const values = list.map((x) => (x as Record<string, unknown>)[k]);
      return values.every((x) => typeof x === 'string' || typeof x === 'number') && new Set(values).size === values.length;
    };
    return unique(a) && unique(b);
  });
}

/** Generic deep diff: objects by key, lists as multisets (or by an identity key), anything else by value. */
export function diffValues(before: unknown, after: unknown, path = ''): ObservationChange[] {
  if (canonical(before) === canonical(after)) return [];
  const at = (p: string) => (path ? (p.startsWith('[') ? `${path}${p}` : `${path}.${p}`) : p);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => {
      if (!(k in before)) return [{ path: at(k), kind: 'added' as const, after: after[k] }];
      if (!(k in after)) return [{ path: at(k), kind: 'removed' as const, before: before[k] }];
      return diffValues(before[k], after[k], at(k));
    });
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const key = identityKey(before, after);
    if (key) {
      const idOf = (x: unknown) => (x as Record<string, unknown>)[key] as string | number;
      const mb = new Map(before.map((x) => [idOf(x), x]));
      const ma = new Map(after.map((x) => [idOf(x), x]));
      const out: ObservationChange[] = [];
      for (const [id, x] of mb) {
        const label = `[${key}=${id}]`;
        out.push(...(ma.has(id) ? diffValues(x, ma.get(id), at(label)) : [{ path: at(label), kind: 'removed' as const, before: x }]));
      }
      for (const [id, x] of ma) if (!mb.has(id)) out.push({ path: at(`[${key}=${id}]`), kind: 'added', after: x });
      return out;
    }
    const remaining = new Map<string, number>();
    for (const x of before) remaining.set(canonical(x), (remaining.get(canonical(x)) ?? 0) + 1);
    const added: unknown[] = [];
    for (const x of after) {
      const c = canonical(x);
      if ((remaining.get(c) ?? 0) > 0) remaining.set(c, remaining.get(c)! - 1);
      else added.push(x);
    }
    const removedKeys = new Map(remaining);
    const removed = before.filter((x) => {
      const c = canonical(x);
      if ((removedKeys.get(c) ?? 0) === 0) return false;
      removedKeys.set(c, removedKeys.get(c)! - 1);
      return true;
    });
    return [
      ...removed.map((x) => ({ path: path || '(list)', kind: 'removed' as const, before: x })),
      ...added.map((x) => ({ path: path || '(list)', kind: 'added' as const, after: x })),
    ];
  }
  return [{ path: path || '(value)', kind: 'changed', before, after }];
}

function findingRefs(attempts: readonly { attempt: Attempt; key: string }[]): Map<string, FindingRef[]> {
  const out = new Map<string, FindingRef[]>();
  for (const { attempt, key } of attempts) {
    const target = key.slice(key.indexOf('@') + 1);
    for (const f of attempt.findings) {
      const id = `${f.code}@${target}`;
      out.set(id, [...(out.get(id) ?? []), { code: f.code, severity: f.severity, probe: attempt.probe, target, message: f.message }]);
    }
  }
  return out;
}

/** Compares run B against baseline A. */
export function diffReports(a: Report, b: Report): ReportDiff {
  const moves = portMoves(a, b);
  const tr = translator(moves);
  const hostOf = (t: string) => splitTarget(t).host;
  // A's attempts in B's coordinates.
  const keyed = (r: Report, translate: boolean) => r.attempts.map((attempt) => {
    const target = translate ? tr.target(attempt.target) : attempt.target;
    return { attempt, key: `${attempt.probe}@${target}` };
  });
  const aAttempts = keyed(a, true).map(({ attempt, key }) => ({
    key,
    attempt: { ...attempt, observations: tr.value(attempt.observations, hostOf(attempt.target)), findings: tr.value(attempt.findings, hostOf(attempt.target)) },
  }));
  const bAttempts = keyed(b, false);

  const attempts: AttemptChanges[] = [];
  const bByKey = new Map(bAttempts.map((x) => [x.key, x.attempt]));
  const aByKey = new Map(aAttempts.map((x) => [x.key, x.attempt]));
  for (const { key, attempt: before } of aAttempts) {
    const after = bByKey.get(key);
    if (!after) {
      attempts.push({ key, statusBefore: before.status, changes: [] });
      continue;
    }
    const changes = diffValues(before.observations, after.observations);
    if (changes.length || before.status !== after.status) attempts.push({ key, statusBefore: before.status, statusAfter: after.status, changes });
  }
  for (const { key, attempt } of bAttempts) if (!aByKey.has(key)) attempts.push({ key, statusAfter: attempt.status, changes: [] });

  const fa = findingRefs(aAttempts);
  const fb = findingRefs(bAttempts);
  const findingsAppeared: FindingRef[] = [];
  const findingsGone: FindingRef[] = [];
  for (const id of new Set([...fa.keys(), ...fb.keys()])) {
    const before = fa.get(id) ?? [];
    const after = fb.get(id) ?? [];
    // Findings are matched by code and target; only a change in their number counts (messages may
    // carry values such as an ephemeral port that differ from run to run).
    const pick = (from: FindingRef[], other: FindingRef[], n: number) => {
      const unmatched = from.filter((f) => !other.some((o) => o.message === f.message));
      return [...unmatched, ...from.filter((f) => !unmatched.includes(f))].slice(0, n);
    };
    if (after.length > before.length) findingsAppeared.push(...pick(after, before, after.length - before.length));
    if (before.length > after.length) findingsGone.push(...pick(before, after, before.length - after.length));
  }

  const rb = new Map(b.requirements.map((r) => [r.id, r]));
  const ra = new Map(a.requirements.map((r) => [r.id, r]));
  const requirements: VerdictChange[] = a.requirements.filter((r) => rb.has(r.id) && rb.get(r.id)!.verdict !== r.verdict).map((r) => {
    const after = rb.get(r.id)!;
    return { id: r.id, title: after.title, before: r.verdict, after: after.verdict, worse: RANK[after.verdict] < RANK[r.verdict], requiredAtTarget: after.requiredAtTarget };
  });
  const sl: SlChange[] = FRS.filter((fr) => a.slAchieved[fr] !== b.slAchieved[fr])
    .map((fr) => ({ fr, before: a.slAchieved[fr], after: b.slAchieved[fr], worse: b.slAchieved[fr] < a.slAchieved[fr] }));

  const regressions = [
    ...sl.filter((s) => s.worse).map((s) => `${s.fr} SL achieved ${s.before} -> ${s.after}`),
    ...requirements.filter((r) => r.worse).map((r) => `${r.id} ${VERDICT_WORDS[r.before]} -> ${VERDICT_WORDS[r.after]}`),
    ...findingsAppeared.filter((f) => f.severity !== 'info').map((f) => `new ${f.severity} finding ${f.code} @ ${f.target}`),
    // Evidence lost is a regression too: a probe that now errors can no longer show what it showed before.
    ...attempts.filter((x) => x.statusAfter === 'error' && x.statusBefore !== undefined && x.statusBefore !== 'error')
      .map((x) => `${x.key} now ends in an error (was ${x.statusBefore})`),
    ...(a.run.complete && !b.run.complete ? ['the run did not complete'] : []),
  ];
  return {
    a: ref(a), b: ref(b), portMoves: moves, sl, slTargetChanged: FRS.some((fr) => a.slTarget[fr] !== b.slTarget[fr]),
    requirements,
    requirementsOnlyInA: a.requirements.filter((r) => !rb.has(r.id)).map((r) => r.id),
    requirementsOnlyInB: b.requirements.filter((r) => !ra.has(r.id)).map((r) => r.id),
    findingsAppeared, findingsGone, attempts, regressions,
  };
}

function brief(v: unknown): string {
  if (isObject(v)) return Object.entries(v).map(([k, x]) => `${k} ${typeof x === 'string' ? x : JSON.stringify(x)}`).join(', ');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A changed value; long comma-separated texts (port lists, ...) as the items that came and went. */
function changeText(before: unknown, after: unknown): string {
  if (typeof before === 'string' && typeof after === 'string' && before.length + after.length > 80 && before.includes(',') && after.includes(',')) {
    const a = before.split(',').map((x) => x.trim());
    const b = after.split(',').map((x) => x.trim());
    const added = b.filter((x) => !a.includes(x));
    const removed = a.filter((x) => !b.includes(x));
    return [added.length ? `+ ${added.join(', ')}` : '', removed.length ? `- ${removed.join(', ')}` : ''].filter(Boolean).join('; ') || 'reordered';
  }
  return `${brief(before)} -> ${brief(after)}`;
}

function run(r: RunRef): string {
  return `run ${r.runId} (${r.component}${r.firmware ? `, firmware ${r.firmware}` : ''}${r.complete ? '' : ', INCOMPLETE'})`;
}

/** The diff for a terminal or a CI log. */
export function renderDiffText(d: ReportDiff): string {
  const lines = [`A: ${run(d.a)}`, `B: ${run(d.b)}`];
  if (d.portMoves.length) {
    lines.push('', 'Services on other ports in B (attempts matched by probe + host + service, A\'s port numbers read as B\'s):');
    for (const m of d.portMoves) lines.push(`  ${m.host} ${m.service}: ${m.from} -> ${m.to}`);
  }
  if (d.slTargetChanged) lines.push('', 'Note: the SL target differs between the runs.');
  const section = (title: string, body: string[]) => {
    if (body.length) lines.push('', title, ...body);
  };
  section('SL achieved:', d.sl.map((s) => `  ${s.fr}  ${s.before} -> ${s.after}${s.worse ? '  WORSE' : ''}`));
  section('Requirements whose verdict changed:', d.requirements.map((r) => `  ${r.id.padEnd(14)} ${VERDICT_WORDS[r.before]} -> ${VERDICT_WORDS[r.after]}${r.worse ? '  WORSE' : ''}  ${r.title}`));
  section('Requirements in one run only:', [
    ...d.requirementsOnlyInA.map((id) => `  - ${id} (only in A)`), ...d.requirementsOnlyInB.map((id) => `  + ${id} (only in B)`),
  ]);
  section('Findings that appeared:', d.findingsAppeared.map((f) => `  + [${f.severity}] ${f.code} @ ${f.target} (${f.probe}): ${f.message}`));
  section('Findings that went away:', d.findingsGone.map((f) => `  - [${f.severity}] ${f.code} @ ${f.target} (${f.probe}): ${f.message}`));
  const body: string[] = [];
  for (const x of d.attempts) {
    if (x.statusBefore === undefined) body.push(`  + ${x.key}: new attempt (${x.statusAfter})`);
    else if (x.statusAfter === undefined) body.push(`  - ${x.key}: not in B (was ${x.statusBefore})`);
    else {
      body.push(`  ${x.key}${x.statusBefore !== x.statusAfter ? `: ${x.statusBefore} -> ${x.statusAfter}` : ''}`);
      for (const c of x.changes) {
        if (c.kind === 'added') body.push(`      + ${c.path}: ${brief(c.after)}`);
        else if (c.kind === 'removed') body.push(`      - ${c.path}: ${brief(c.before)}`);
        else body.push(`      ~ ${c.path}: ${changeText(c.before, c.after)}`);
      }
    }
  }
  section('Attempts and observations:', body);
  lines.push('', d.regressions.length
    ? `WORSE: ${d.regressions.length} regression(s): ${d.regressions.join('; ')}`
    : `No regression${d.requirements.length + d.findingsGone.length + d.sl.length > 0 ? ' (B is as good or better)' : ''}.`);
  return lines.join('\n') + '\n';
}
