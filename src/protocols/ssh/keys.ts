import { createHash } from 'node:crypto';
import { WireReader, bitLength } from './wire';

/** A server host key as sent in the key exchange (RFC 4253 §6.6 public key format). */
export interface HostKeyInfo {
  /** Key type in the blob: ssh-rsa, ssh-dss, ssh-ed25519, ecdsa-sha2-nistp256, ... */
  keyType: string;
  /** RSA modulus / DSA p bits, or the curve size for ECDSA/EdDSA keys. */
  bits: number;
  /** ECDSA curve (nistp256 ...) or EdDSA curve (ed25519, ed448). */
  curve?: string;
  /** OpenSSH-style fingerprint: "SHA256:" + unpadded base64 of the blob's SHA-256. */
  fingerprint: string;
}

const EC_BITS: Record<string, number> = { nistp256: 256, nistp384: 384, nistp521: 521 };

export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Reads type and size from a public key blob; throws RangeError on a truncated blob. */
export function describeHostKey(blob: Buffer): HostKeyInfo {
  const r = new WireReader(blob);
  const keyType = r.string().toString('latin1');
  const fp = fingerprint(blob);
  switch (keyType) {
    case 'ssh-rsa': {
      r.mpint(); // e
      return { keyType, bits: bitLength(r.mpint()), fingerprint: fp };
    }
    case 'ssh-dss':
      return { keyType, bits: bitLength(r.mpint()), fingerprint: fp };
    case 'ssh-ed25519':
      return { keyType, bits: 256, curve: 'ed25519', fingerprint: fp };
    case 'ssh-ed448':
      return { keyType, bits: 448, curve: 'ed448', fingerprint: fp };
    default: {
      if (keyType.startsWith('ecdsa-sha2-')) {
        const curve = r.string().toString('latin1');
        return { keyType, bits: EC_BITS[curve] ?? 0, curve, fingerprint: fp };
      }
      return { keyType, bits: 0, fingerprint: fp };
    }
  }
}

/**
 * The key a host-key algorithm signs with: rsa-sha2-256/512 and ssh-rsa all use the same RSA key, so
 * one retrieval serves the three. Certificates and other formats are their own family.
 */
export function hostKeyFamily(algorithm: string): string {
  if (algorithm === 'ssh-rsa' || algorithm === 'rsa-sha2-256' || algorithm === 'rsa-sha2-512') return 'rsa';
  return algorithm;
}
