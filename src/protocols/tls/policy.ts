/**
 * The TLS policy of one security level (profiles/baselines/tls.yaml, read with ctx.baseline('tls')), typed
 * and checked, so that a mistyped threshold fails loudly instead of silently passing everything.
 */
import { BaselineError, checkKeyStrengthPolicy, type KeyStrengthPolicy } from '../x509';
import { PROTOCOLS, SUITE_FLAGS, type SuiteFlag, type TlsProtocol } from './suites';

export interface TlsPolicy {
  /** Protocol versions a server may accept; any other accepted version is a finding. */
  readonly protocols: { readonly allowed: readonly TlsProtocol[] };
  readonly suites: {
    /** Suite flags (cipher-suites.json) that must not be accepted. */
    readonly forbidden: readonly SuiteFlag[];
    /** Every accepted suite must have forward secrecy. */
    readonly requireForwardSecrecy: boolean;
  };
  readonly keyExchange: {
    /** Smallest DHE prime accepted. */
    readonly minDhBits: number;
    /** Smallest ECDHE group accepted (x25519 counts as 255). */
    readonly minEcBits: number;
  };
  /** Key and signature strength (shared with every certificate-judging probe, see src/protocols/x509),
   * plus what only a TLS server certificate is judged on. */
  readonly certificate: KeyStrengthPolicy & {
    readonly selfSignedAllowed: boolean;
    /** Longest validity period; null: not judged. */
    readonly maxLifetimeDays: number | null;
    /** The certificate must name the address or host name the service is reached at. */
    readonly requireNameMatch: boolean;
  };
  readonly requireSecureRenegotiation: boolean;
  readonly forbidCompression: boolean;
  /** A server that accepts more than one version must refuse TLS_FALLBACK_SCSV downgrades (RFC 7507). */
  readonly requireFallbackScsv: boolean;
}

/**
 * Suite flags a policy may forbid: every flag but SCSV, since a signalling value is never offered as a suite
 * (suitesFor leaves it out) and a rule against it could never fire.
 */
export const FORBIDDABLE_SUITE_FLAGS: readonly SuiteFlag[] = SUITE_FLAGS.filter((f) => f !== 'SCSV');

class PolicyError extends BaselineError {}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new PolicyError(`tls baseline: ${where} must be a mapping`);
  return v as Record<string, unknown>;
}
function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw new PolicyError(`tls baseline: ${where} must be true or false`);
  return v;
}
function num(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new PolicyError(`tls baseline: ${where} must be a non-negative number`);
  return v;
}
function list<T extends string>(v: unknown, where: string, allowed?: readonly T[]): T[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new PolicyError(`tls baseline: ${where} must be a list of names`);
  const bad = allowed ? v.filter((x) => !allowed.includes(x as T)) : [];
  if (bad.length) throw new PolicyError(`tls baseline: ${where}: unknown ${bad.join(', ')} (known: ${allowed!.join(', ')})`);
  return v as T[];
}

/** Validates one level of the tls baseline. */
export function checkTlsPolicy(raw: unknown): TlsPolicy {
  const root = obj(raw, 'level');
  const protocols = obj(root.protocols, 'protocols');
  const suites = obj(root.suites, 'suites');
  const kx = obj(root.keyExchange, 'keyExchange');
  const cert = obj(root.certificate, 'certificate');
  const lifetime = cert.maxLifetimeDays;
  return {
    protocols: { allowed: list(protocols.allowed, 'protocols.allowed', PROTOCOLS) },
    suites: {
      forbidden: list(suites.forbidden, 'suites.forbidden', FORBIDDABLE_SUITE_FLAGS),
      requireForwardSecrecy: bool(suites.requireForwardSecrecy, 'suites.requireForwardSecrecy'),
    },
    keyExchange: { minDhBits: num(kx.minDhBits, 'keyExchange.minDhBits'), minEcBits: num(kx.minEcBits, 'keyExchange.minEcBits') },
    certificate: {
      ...checkKeyStrengthPolicy(cert, 'tls baseline: certificate'),
      selfSignedAllowed: bool(cert.selfSignedAllowed, 'certificate.selfSignedAllowed'),
      maxLifetimeDays: lifetime === null ? null : num(lifetime, 'certificate.maxLifetimeDays'),
      requireNameMatch: bool(cert.requireNameMatch, 'certificate.requireNameMatch'),
    },
    requireSecureRenegotiation: bool(root.requireSecureRenegotiation, 'requireSecureRenegotiation'),
    forbidCompression: bool(root.forbidCompression, 'forbidCompression'),
    requireFallbackScsv: bool(root.requireFallbackScsv, 'requireFallbackScsv'),
  };
}
