import type { Coverage, Severity } from '../../sdk';
import { globToRegExp } from '../ssh/policy';
import { commandProblems } from './commands';
import { PARSERS, type FactValue, type ParsedSource } from './parsers';

/**
 * The host audit's rules as data (profiles/baselines/host.yaml): which command reads what (sources), and
 * what each rule expects of one fact at each security level. Evaluated here; knowledge of good values
 * lives in the YAML, with its sources.
 */

export interface HostSource {
  /** argv of an allow-listed read-only command (src/protocols/host/commands.ts). */
  argv: string[];
  /** One of PARSERS. */
  parser: string;
  /** Needs root: run through `sudo -n` when the login user is not root. */
  privileged?: boolean;
}

export type Expectation =
  | { atLeast: number } | { atMost: number } | { oneOf: string[] } | { equals: string | boolean }
  | { configured: true } | { empty: true } | { notEmpty: true } | { includesAny: string[] } | { noneMatch: string[] } | { declared: 'accounts' };

export interface HostRule {
  /** The finding's name, one of HOST_RULE_FINDINGS (reported as host.audit.<id>). */
  id: string;
  /** Source ids; the first whose output determines the fact is used (e.g. sshd -T, else sshd_config). */
  source: string | string[];
  fact: string;
  /** Expectation by security level: the highest level at or below the SL target of the rule's FR applies. */
  expect: Record<string, Expectation>;
  requirements: string[];
  coverage: Coverage;
  /** The rule can show a requirement failed but never that it is met (e.g. MaxAuthTries is no lockout). */
  failOnly?: boolean;
  severity: Severity;
  message: string;
  rationale: string;
  /** Keys of the citations in the baseline's `basis`. */
  basis: string[];
}

export interface HostBaselineLevel {
  sources: Record<string, HostSource>;
  rules: HostRule[];
}

/**
 * Every finding a rule can raise, by name: host.audit declares exactly these, and a baseline (shipped or a
 * profile's own) may only name rules after them, so every code a run reports is documented (docs/host.md).
 */
export const HOST_RULE_FINDINGS: Readonly<Record<string, string>> = {
  'password-quality-module': 'no password quality module (pam_pwquality, pam_cracklib, pam_passwdqc) in PAM\'s password stack',
  'password-min-length': 'the minimum password length the quality module enforces is below the baseline',
  'password-max-age': 'passwords never expire or live longer than the baseline (login.defs PASS_MAX_DAYS)',
  'password-min-age': 'passwords may be changed again at once (login.defs PASS_MIN_DAYS)',
  'empty-passwords': 'accounts with an empty password field in /etc/shadow',
  'uid0-only-root': 'accounts other than root have user id 0',
  'unique-uids': 'several accounts share one user id',
  'declared-accounts': 'accounts with a login shell that the profile does not declare (policy.host.accounts)',
  'declared-listeners': 'sockets listen on ports the profile does not declare',
  'time-sources': 'no time source configured (chrony, systemd-timesyncd)',
  'time-synchronised': 'the clock is not synchronised to its time source',
  'audit-daemon': 'the Linux audit daemon (auditd) is not installed',
  'audit-space-left-action': 'auditd does not warn when its storage runs low (space_left_action)',
  'audit-max-log-file-action': 'auditd does not rotate or keep its logs when a log file is full (max_log_file_action)',
  'audit-disk-full-action': 'auditd neither alerts nor keeps running when its disk is full (disk_full_action)',
  'journal-max-use': 'the systemd journal has no configured storage limit (SystemMaxUse)',
  'integrity-tool': 'no file integrity checker (AIDE, Tripwire) is installed',
  'apt-authenticated': 'APT accepts unsigned packages or repositories',
  'sshd-root-login': 'sshd lets root log in (PermitRootLogin)',
  'sshd-max-auth-tries': 'sshd allows more password tries per connection than the baseline (MaxAuthTries)',
  'sshd-empty-passwords': 'sshd accepts empty passwords (PermitEmptyPasswords)',
  'sshd-ciphers': 'the sshd configuration enables weak ciphers (CBC, 3DES, RC4)',
};

const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
const OPS = ['atLeast', 'atMost', 'oneOf', 'equals', 'configured', 'empty', 'notEmpty', 'includesAny', 'noneMatch', 'declared'];

/** Checks a baseline level loaded from YAML; returns problems (empty when valid). */
export function validateHostBaseline(level: unknown, knownRequirements: readonly string[]): string[] {
  const problems: string[] = [];
  const { sources, rules } = (level ?? {}) as Partial<HostBaselineLevel>;
  if (!sources || typeof sources !== 'object') return ['"sources" must be a map of id -> { argv, parser }'];
  if (!Array.isArray(rules)) return ['"rules" must be a list'];
  for (const [id, s] of Object.entries(sources)) {
    if (!Array.isArray(s?.argv) || !s.argv.every((a) => typeof a === 'string')) problems.push(`sources.${id}: argv must be a list of strings`);
    else problems.push(...commandProblems(s.argv).map((p) => `sources.${id}: ${p}`));
    if (!Object.hasOwn(PARSERS, s?.parser)) problems.push(`sources.${id}: parser must be one of ${Object.keys(PARSERS).join(', ')}`);
  }
  rules.forEach((r: Partial<HostRule>, i) => {
    const where = `rules[${i}]${typeof r?.id === 'string' ? ` (${r.id})` : ''}`;
    if (typeof r?.id !== 'string' || !Object.hasOwn(HOST_RULE_FINDINGS, r.id)) problems.push(`${where}: id must be one of ${Object.keys(HOST_RULE_FINDINGS).join(', ')}`);
    const ids = typeof r?.source === 'string' ? [r.source] : r?.source;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((s) => Object.hasOwn(sources, s))) problems.push(`${where}: source must name sources of this baseline`);
    if (typeof r?.fact !== 'string') problems.push(`${where}: fact is required`);
    const levels = Object.entries(r?.expect ?? {});
    if (levels.length === 0) problems.push(`${where}: expect needs at least one level`);
    for (const [l, e] of levels) {
      if (!/^[1-4]$/.test(l)) problems.push(`${where}: expect level ${l} is not 1..4`);
      const keys = Object.keys(e ?? {});
      if (keys.length !== 1 || !OPS.includes(keys[0])) problems.push(`${where}: expect.${l} must be one of ${OPS.join(', ')}`);
    }
    if (!Array.isArray(r?.requirements) || r.requirements.length === 0) problems.push(`${where}: requirements must be a non-empty list`);
    else for (const req of r.requirements.filter((x) => !knownRequirements.includes(x))) problems.push(`${where}: ${req} is not a requirement host.audit evidences`);
    if (r?.coverage !== 'full' && r?.coverage !== 'partial') problems.push(`${where}: coverage must be full or partial`);
    if (!SEVERITIES.includes(r?.severity as Severity)) problems.push(`${where}: severity must be one of ${SEVERITIES.join(', ')}`);
    if (!Array.isArray(r?.basis) || r.basis.length === 0) problems.push(`${where}: basis must cite at least one source`);
    if (typeof r?.message !== 'string' || typeof r?.rationale !== 'string') problems.push(`${where}: message and rationale are required`);
  });
  return problems;
}

export function ruleSources(rule: HostRule): string[] {
  return typeof rule.source === 'string' ? [rule.source] : rule.source;
}

/** "CR 1.7 RE(1)" -> 1, "HDR 3.10" -> 3: the foundational requirement whose SL target applies. */
export function frOf(requirement: string): number {
  return Number(/^[A-Z]+ (\d+)\./.exec(requirement)?.[1] ?? 0);
}

/** The expectation that applies at `sl`, with its level; undefined when the rule starts above it. */
export function expectationAt(rule: HostRule, sl: number): { level: number; expect: Expectation } | undefined {
  const levels = Object.keys(rule.expect).map(Number).filter((l) => l <= sl).sort((a, b) => b - a);
  return levels.length > 0 ? { level: levels[0], expect: rule.expect[String(levels[0])] } : undefined;
}

export type RuleStatus = 'pass' | 'fail' | 'not_determined' | 'not_required';

export interface RuleResult {
  id: string;
  status: RuleStatus;
  requirements: readonly string[];
  level?: number;
  expected?: Expectation;
  value?: FactValue;
  /** The source whose output decided, or the reasons none could. */
  source?: string;
  reason: string;
}

export interface Declared {
  /** policy.host.accounts: the login accounts the vendor documents. */
  accounts?: readonly string[];
}

const show = (v: FactValue) => (v === null ? 'not configured' : Array.isArray(v) ? (v.length === 0 ? 'none' : v.join(', ')) : String(v));

/** Checks one value against an expectation: met, or what is wrong, or why it cannot tell. */
function check(e: Expectation, v: FactValue, declared: Declared): { ok: true } | { ok: false; why: string } | { undetermined: string } {
  const list = Array.isArray(v) ? (v as readonly string[]) : undefined;
  if ('atLeast' in e) return typeof v === 'number' && v >= e.atLeast ? { ok: true } : { ok: false, why: `${show(v)}, at least ${e.atLeast} expected` };
  if ('atMost' in e) return typeof v === 'number' && v <= e.atMost ? { ok: true } : { ok: false, why: `${show(v)}, at most ${e.atMost} expected` };
  if ('oneOf' in e) return typeof v === 'string' && e.oneOf.includes(v.toLowerCase()) ? { ok: true } : { ok: false, why: `${show(v)}, one of ${e.oneOf.join(', ')} expected` };
  if ('equals' in e) return v === e.equals ? { ok: true } : { ok: false, why: `${show(v)}, ${String(e.equals)} expected` };
  if ('configured' in e) return v !== null ? { ok: true } : { ok: false, why: 'not configured' };
  if (!list) return { undetermined: `fact is not a list: ${show(v)}` };
  if ('notEmpty' in e) return list.length > 0 ? { ok: true } : { ok: false, why: 'none' };
  if ('empty' in e) return list.length === 0 ? { ok: true } : { ok: false, why: list.join('; ') };
  if ('includesAny' in e) return list.some((x) => e.includesAny.includes(x)) ? { ok: true } : { ok: false, why: `none of ${e.includesAny.join(', ')} found` };
  if ('noneMatch' in e) {
    const bad = list.filter((x) => e.noneMatch.some((g) => globToRegExp(g).test(x)));
    return bad.length === 0 ? { ok: true } : { ok: false, why: bad.join(', ') };
  }
  if (!declared.accounts) return { undetermined: 'the profile declares no accounts (policy.host.accounts)' };
  const extra = list.filter((x) => !declared.accounts!.includes(x));
  return extra.length === 0 ? { ok: true } : { ok: false, why: `${extra.join(', ')} (declared: ${declared.accounts.join(', ')})` };
}

/** Evaluates one rule at the SL target `sl` of its FR against the parsed sources. */
export function evaluateRule(rule: HostRule, parsed: ReadonlyMap<string, ParsedSource>, sl: number, declared: Declared): RuleResult {
  const base = { id: rule.id, requirements: rule.requirements };
  const at = expectationAt(rule, sl);
  if (!at) return { ...base, status: 'not_required', reason: `first required at SL ${Math.min(...Object.keys(rule.expect).map(Number))}` };
  const reasons: string[] = [];
  for (const id of ruleSources(rule)) {
    const p = parsed.get(id);
    if (!p) { reasons.push(`${id}: not run`); continue; }
    if ('undetermined' in p) { reasons.push(`${id}: ${p.undetermined}`); continue; }
    if (!Object.hasOwn(p.facts, rule.fact)) { reasons.push(`${id}: does not tell ${rule.fact}`); continue; }
    const value = p.facts[rule.fact];
    const result = check(at.expect, value, declared);
    const common = { ...base, level: at.level, expected: at.expect, value, source: id };
    if ('undetermined' in result) return { ...common, status: 'not_determined', reason: result.undetermined };
    return result.ok ? { ...common, status: 'pass', reason: `${rule.fact}: ${show(value)}` } : { ...common, status: 'fail', reason: `${rule.fact}: ${result.why}` };
  }
  return { ...base, level: at.level, expected: at.expect, status: 'not_determined', reason: reasons.join('; ') };
}
