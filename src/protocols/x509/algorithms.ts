/**
 * Typed access to algorithms.json, the X.509 knowledge base: signature algorithms by OID (with the key
 * type they need and the hash they rely on), hash facts, key types and EC curve sizes.
 */
import type { Severity } from '../../sdk';
import data from './algorithms.json';

/** Key families the baselines set thresholds for. */
export const KEY_FAMILIES = ['RSA', 'DSA', 'EC', 'EdDSA'] as const;
export type KeyFamily = (typeof KEY_FAMILIES)[number];

export interface HashFacts {
  /** Collisions (or worse) are shown in practice: never acceptable in a signature. */
  readonly weak: boolean;
  /** Collision resistance in bits (NIST SP 800-57); null for weak hashes. */
  readonly securityBits: number | null;
  /** Severity of a finding when a baseline forbids this hash. */
  readonly severity: Severity;
  readonly basis: string;
}

export interface SignatureAlgorithm {
  readonly oid: string;
  readonly name: string;
  /** The key family that makes this signature. */
  readonly keyType: KeyFamily;
  /** The hash the signature relies on (for RSASSA-PSS: the default when the parameters name none). */
  readonly hash: string;
  /** The hash is given in the AlgorithmIdentifier parameters (RSASSA-PSS). */
  readonly hashFromParameters?: boolean;
  readonly basis: string;
}

export interface KeyTypeFacts {
  /** Name used in observations: RSA, RSA-PSS, DSA, EC, Ed25519, Ed448. */
  readonly name: string;
  readonly family: KeyFamily;
  /** Fixed size of the key type (EdDSA); others are read from the key. */
  readonly bits?: number;
}

export const HASHES: Readonly<Record<string, HashFacts>> = data.hashes as Record<string, HashFacts>;
export const HASH_OIDS: Readonly<Record<string, string>> = data.hashOids;
export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = data.signatureAlgorithms as SignatureAlgorithm[];
/** By node:crypto's asymmetricKeyType ("rsa", "ec", "ed25519", ...). */
export const KEY_TYPES: Readonly<Record<string, KeyTypeFacts>> = data.keyTypes as Record<string, KeyTypeFacts>;
/** Field size in bits by the curve names OpenSSL reports (prime256v1, secp384r1, brainpoolP256r1, ...). */
export const CURVE_BITS: Readonly<Record<string, number>> = data.curveBits;

const BY_OID = new Map(SIGNATURE_ALGORITHMS.map((a) => [a.oid, a]));

export function signatureAlgorithmByOid(oid: string): SignatureAlgorithm | undefined {
  return BY_OID.get(oid);
}

/** The OID that signs with this key family and hash (the first row of the table that matches). */
export function signatureOidFor(keyType: KeyFamily, hash: string): string {
  const found = SIGNATURE_ALGORITHMS.find((a) => a.keyType === keyType && a.hash === hash && !a.hashFromParameters);
  if (!found) throw new Error(`no signature algorithm for ${keyType} with ${hash}`);
  return found.oid;
}

/** The family of an observed key type name ("RSA-PSS" -> RSA); undefined for key types the table does not know. */
export function keyFamilyOf(keyType: string): KeyFamily | undefined {
  return Object.values(KEY_TYPES).find((k) => k.name === keyType)?.family;
}
