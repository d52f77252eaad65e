import type { Severity } from '../../sdk';
import type { HostKeyResult } from './hostkeys';

/**
 * The SSH algorithm policy (profiles/baselines/ssh.yaml): rules as data, evaluated here against what a
 * server offered. Knowledge of which names are weak lives in the YAML, not in this code.
 */

export type PolicyCheck = 'protocol' | 'kex' | 'hostKey' | 'ciphers' | 'macs' | 'compression' | 'hostKeySize' | 'terrapin';

export interface PolicyRule {
  /** The finding's name, one of SSH_POLICY_FINDINGS (reported as ssh.algorithms.<code>). */
  code: string;
  check: PolicyCheck;
  /** Names (or protocol versions) the rule flags; `*` matches any run of characters. */
  match?: string[];
  except?: string[];
  /** hostKeySize: the key type (blob type, e.g. ssh-rsa) and the minimum size in bits. */
  keyType?: string;
  minBits?: number;
  severity: Severity;
  requirements: string[];
  /** Keys of the citations in the baseline's `basis`. */
  basis: string[];
  message: string;
}

export interface SshPolicyLevel {
  rules: PolicyRule[];
}

/** What the server offered, as the policy sees it. */
export interface OfferedAlgorithms {
  protocol: string;
  kex: readonly string[];
  hostKey: readonly string[];
  /** Both directions (server-to-client first); a weak name in either direction counts. */
  ciphers: readonly string[];
  macs: readonly string[];
  compression: readonly string[];
  hostKeys: readonly HostKeyResult[];
}

export interface PolicyViolation {
  rule: PolicyRule;
  /** The offending names, or "<algorithm>: <bits> bits" for key sizes. */
  offending: string[];
}

/**
 * Every finding a policy rule can raise, by name, with its meaning: ssh.algorithms declares exactly these,
 * and a baseline (the shipped one or a profile's own) may only name rules after them, so every code a run
 * can report is declared and documented (docs/ssh.md).
 */
export const SSH_POLICY_FINDINGS: Readonly<Record<string, string>> = {
  'protocol-1': 'the server speaks SSH protocol version 1 (SSH-1.x or SSH-1.99)',
  'kex-dh-1024': 'key exchange over a 1024-bit group is offered',
  'kex-sha1': 'key exchange with a SHA-1 exchange hash is offered',
  'kex-dh-2048': 'key exchange over the 2048-bit group 14 is offered',
  'cipher-none': 'the "none" cipher is offered (no encryption)',
  'cipher-rc4': 'RC4 (arcfour) ciphers are offered',
  'cipher-64bit-block': 'ciphers with a 64-bit block (3DES, DES, Blowfish, CAST-128, IDEA) are offered',
  'cipher-cbc': 'CBC-mode ciphers are offered',
  'mac-none': 'the "none" MAC is offered (no integrity protection)',
  'mac-md5': 'MD5-based MACs are offered',
  'mac-truncated': 'MACs with tags shorter than 128 bits are offered',
  'mac-sha1': 'HMAC-SHA-1 or HMAC-RIPEMD-160 MACs are offered',
  'mac-non-etm': 'MACs in encrypt-and-MAC mode (not encrypt-then-MAC) are offered',
  terrapin: 'chacha20-poly1305 or CBC with an -etm MAC without strict key exchange (Terrapin)',
  'hostkey-dss': 'DSA host keys (ssh-dss) are offered',
  'hostkey-sha1': 'RSA host-key signatures with SHA-1 (ssh-rsa) are offered',
  'hostkey-rsa-short': 'the RSA host key is below the minimum size (2048 bits in the shipped baseline)',
  'hostkey-rsa-below-3072': 'the RSA host key is shorter than 3072 bits',
};

const CHECKS: readonly PolicyCheck[] = ['protocol', 'kex', 'hostKey', 'ciphers', 'macs', 'compression', 'hostKeySize', 'terrapin'];
const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

export function globToRegExp(glob: string): RegExp {
  const body = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`);
}

function matches(name: string, rule: PolicyRule): boolean {
  const hit = (patterns: readonly string[] | undefined) => (patterns ?? []).some((p) => globToRegExp(p).test(name));
  return hit(rule.match) && !hit(rule.except);
}

function codeProblem(code: unknown): string {
  const known = `one of the finding names ssh.algorithms declares: ${Object.keys(SSH_POLICY_FINDINGS).join(', ')}`;
  if (typeof code === 'string' && code.startsWith('ssh.')) return `code is a finding name without the probe id (e.g. ${code.replace(/^ssh\.(algorithms\.)?/, '')}), ${known}`;
  return `code must be ${known}`;
}

/** Checks the shape of a policy level loaded from YAML; returns problems (empty when valid). */
export function validatePolicyLevel(level: unknown): string[] {
  const problems: string[] = [];
  const rules = (level as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return ['"rules" must be a list'];
  rules.forEach((r: Partial<PolicyRule>, i) => {
    const where = `rules[${i}]${typeof r?.code === 'string' ? ` (${r.code})` : ''}`;
    if (typeof r?.code !== 'string' || !Object.hasOwn(SSH_POLICY_FINDINGS, r.code)) problems.push(`${where}: ${codeProblem(r?.code)}`);
    if (!CHECKS.includes(r?.check as PolicyCheck)) problems.push(`${where}: check must be one of ${CHECKS.join(', ')}`);
    if (!SEVERITIES.includes(r?.severity as Severity)) problems.push(`${where}: severity must be one of ${SEVERITIES.join(', ')}`);
    if (!Array.isArray(r?.requirements) || r.requirements.length === 0) problems.push(`${where}: requirements must be a non-empty list`);
    if (!Array.isArray(r?.basis) || r.basis.length === 0) problems.push(`${where}: basis must cite at least one source`);
    if (typeof r?.message !== 'string') problems.push(`${where}: message is required`);
    if (r?.check === 'hostKeySize') {
      if (typeof r.keyType !== 'string' || typeof r.minBits !== 'number') problems.push(`${where}: hostKeySize needs keyType and minBits`);
    } else if (r?.check !== 'terrapin' && (!Array.isArray(r?.match) || r.match.length === 0)) {
      problems.push(`${where}: match must be a non-empty list`);
    }
  });
  return problems;
}

/**
 * Terrapin (CVE-2023-48795) needs chacha20-poly1305, or a CBC cipher together with an encrypt-then-MAC
 * MAC, and no strict key exchange ("kex-strict-s-v00@openssh.com" in the server's kex list).
 */
export function terrapinExposure(offered: Pick<OfferedAlgorithms, 'kex' | 'ciphers' | 'macs'>): string[] {
  if (offered.kex.includes('kex-strict-s-v00@openssh.com')) return [];
  const chacha = offered.ciphers.filter((c) => c === 'chacha20-poly1305@openssh.com');
  const cbc = offered.ciphers.filter((c) => /-cbc($|@)/.test(c));
  const etm = offered.macs.filter((m) => m.endsWith('-etm@openssh.com'));
  return [...chacha, ...(cbc.length > 0 && etm.length > 0 ? [...cbc, ...etm] : [])];
}

/** Evaluates every rule of a level; one violation per rule that matched something. */
export function evaluatePolicy(level: SshPolicyLevel, offered: OfferedAlgorithms): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  for (const rule of level.rules) {
    let offending: string[];
    switch (rule.check) {
      case 'protocol':
        offending = matches(offered.protocol, rule) ? [`SSH-${offered.protocol}`] : [];
        break;
      case 'hostKeySize': {
        const seen = new Set<string>();
        offending = [];
        for (const h of offered.hostKeys) {
          if (!h.key || h.key.keyType !== rule.keyType || h.key.bits >= (rule.minBits ?? 0) || seen.has(h.key.fingerprint)) continue;
          seen.add(h.key.fingerprint);
          offending.push(`${h.key.keyType} ${h.key.bits} bits (${h.key.fingerprint})`);
        }
        break;
      }
      case 'terrapin':
        offending = terrapinExposure(offered);
        break;
      default:
        offending = [...new Set(offered[rule.check])].filter((name) => matches(name, rule));
    }
    if (offending.length > 0) violations.push({ rule, offending });
  }
  return violations;
}
