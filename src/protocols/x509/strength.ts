/**
 * Key and signature strength of a certificate against a baseline's thresholds: the one judgement every
 * probe that looks at a certificate shares (tls.certificate, opcua.endpoints), so that the same
 * certificate gets the same verdict whichever protocol serves it. Probes turn weaknesses into their own
 * finding codes; a certificate this module cannot judge is reported as such, never as strong.
 */
import type { Severity } from '../../sdk';
import { HASHES, KEY_FAMILIES, keyFamilyOf, type KeyFamily } from './algorithms';
import type { CertificateInfo } from './certificate';

/** The strength thresholds of one baseline level (tls `certificate`, opcua `serverCertificate`). */
export interface KeyStrengthPolicy {
  readonly minRsaBits: number;
  readonly minDsaBits: number;
  /** EC curve field size (P-256: 256). */
  readonly minEcBits: number;
  /** Ed25519: 256, Ed448: 456. */
  readonly minEdDsaBits: number;
  /** Key families not accepted at any size. */
  readonly forbiddenKeyTypes: readonly KeyFamily[];
  /** Hashes that must not sign a certificate a client relies on. */
  readonly forbiddenSignatureHashes: readonly string[];
}

export class BaselineError extends Error {}

/** Reads and checks the strength thresholds of one baseline mapping; `where` prefixes every message. */
export function checkKeyStrengthPolicy(raw: Readonly<Record<string, unknown>>, where: string): KeyStrengthPolicy {
  const bits = (key: string): number => {
    const v = raw[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new BaselineError(`${where}.${key} must be a non-negative integer (bits)`);
    return v;
  };
  const names = <T extends string>(key: string, known: readonly T[]): T[] => {
    const v = raw[key];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new BaselineError(`${where}.${key} must be a list of names`);
    const unknown = v.filter((x) => !known.includes(x as T));
    if (unknown.length) throw new BaselineError(`${where}.${key}: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
    return v as T[];
  };
  return {
    minRsaBits: bits('minRsaBits'),
    minDsaBits: bits('minDsaBits'),
    minEcBits: bits('minEcBits'),
    minEdDsaBits: bits('minEdDsaBits'),
    forbiddenKeyTypes: names('forbiddenKeyTypes', KEY_FAMILIES),
    forbiddenSignatureHashes: names('forbiddenSignatureHashes', Object.keys(HASHES)),
  };
}

/** A reason the certificate is weaker than the baseline allows, or cannot be judged at all. */
export type CertificateWeakness =
  | { kind: 'key-type-forbidden'; family: KeyFamily; keyType: string; keyBits: number | null; severity: Severity; text: string }
  | { kind: 'key-too-short'; family: KeyFamily; keyType: string; keyBits: number; minimumBits: number; severity: Severity; text: string }
  | { kind: 'signature-hash-forbidden'; hash: string; algorithm: string; severity: Severity; text: string }
  /** The key type or size is unknown: strength is not determined (no pass, no finding). */
  | { kind: 'key-unjudged'; keyType: string; text: string }
  /** The signature algorithm or its hash is unknown: not determined either. */
  | { kind: 'signature-unjudged'; algorithm: string; text: string };

export const UNJUDGED_KINDS: ReadonlySet<CertificateWeakness['kind']> = new Set(['key-unjudged', 'signature-unjudged']);

function minimumBits(policy: KeyStrengthPolicy, family: KeyFamily): number {
  return { RSA: policy.minRsaBits, DSA: policy.minDsaBits, EC: policy.minEcBits, EdDSA: policy.minEdDsaBits }[family];
}

/** The subject key against the thresholds: forbidden type, too short, or not judgeable. */
export function keyWeaknesses(cert: CertificateInfo, policy: KeyStrengthPolicy): CertificateWeakness[] {
  const family = cert.keyFamily ?? keyFamilyOf(cert.keyType);
  const described = `${cert.keyType}${cert.curve ? ` ${cert.curve}` : ''}`;
  if (!family) return [{ kind: 'key-unjudged', keyType: cert.keyType, text: `a ${described} key, a type the X.509 table does not know` }];
  if (policy.forbiddenKeyTypes.includes(family)) {
    return [{
      kind: 'key-type-forbidden', family, keyType: cert.keyType, keyBits: cert.keyBits, severity: 'medium',
      text: `a ${described} key${cert.keyBits ? ` (${cert.keyBits} bit)` : ''}, a key type the baseline does not accept`,
    }];
  }
  if (cert.keyBits === null) return [{ kind: 'key-unjudged', keyType: cert.keyType, text: `a ${described} key of unknown size` }];
  const minimum = minimumBits(policy, family);
  if (cert.keyBits >= minimum) return [];
  return [{
    kind: 'key-too-short', family, keyType: cert.keyType, keyBits: cert.keyBits, minimumBits: minimum, severity: 'high',
    text: `a ${cert.keyBits}-bit ${described} key (baseline minimum ${minimum} for ${family})`,
  }];
}

/** The signature on the certificate: a forbidden hash, or an algorithm the table does not know. */
export function signatureWeaknesses(cert: CertificateInfo, policy: KeyStrengthPolicy): CertificateWeakness[] {
  const hash = cert.signatureHash;
  if (hash === null || !HASHES[hash]) {
    return [{ kind: 'signature-unjudged', algorithm: cert.signatureAlgorithm, text: `signed with ${cert.signatureAlgorithm}, an algorithm the X.509 table does not know` }];
  }
  if (!policy.forbiddenSignatureHashes.includes(hash)) return [];
  return [{
    kind: 'signature-hash-forbidden', hash, algorithm: cert.signatureAlgorithm, severity: HASHES[hash].severity,
    text: `signed with ${hash.toUpperCase()} (${cert.signatureAlgorithm})`,
  }];
}

/** Both judgements, as the observations of every certificate-judging probe record them. */
export function certificateStrength(cert: CertificateInfo, policy: KeyStrengthPolicy): CertificateWeakness[] {
  return [...keyWeaknesses(cert, policy), ...signatureWeaknesses(cert, policy)];
}
