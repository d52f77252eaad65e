/**
 * Certificates of the emulated device, made at start in device.workDir (never the working directory):
 * one device CA shared by its services (files pki/ca.crt and pki/ca.key, so tests and a lab can trust it or
 * issue client certificates under it), and a server certificate per service as the posture describes it.
 * X.509 is built with node-forge and signed with node:crypto (src/protocols/x509): forge alone can
 * only carry RSA keys, and the posture also asks for EC P-256. No openssl CLI is used.
 */
import * as os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  generateKey, issueCertificate, readIssuer, type IssuedCertificate, type KeySpec,
} from '../protocols/x509';
import type { DeviceContext } from './types';
import { PostureError } from './errors';

const DAY = 86_400_000;

/** Posture knobs of a service certificate. */
export interface CertificatePosture {
  /** rsa (default) or ec. */
  key?: 'rsa' | 'ec';
  /** RSA modulus bits (default 2048). */
  bits?: number;
  /** EC curve (default P-256). */
  curve?: 'P-256' | 'P-384';
  /** Signature hash (default sha256). */
  hash?: 'sha1' | 'sha256' | 'sha384' | 'md5';
  /** self: self-signed; ca: issued by the device CA (default ca). */
  issuer?: 'self' | 'ca';
  /** Validity in days from notBefore (default 365). */
  validDays?: number;
  /** notBefore relative to now in days (default -1; e.g. -400 with validDays 30 gives an expired certificate). */
  notBeforeDays?: number;
  commonName?: string;
  /** Extra DNS names or addresses (the bind address and "localhost" are always included). */
  altNames?: string[];
  /** Use these PEM files instead of generating (the posture points to files). */
  certFile?: string;
  keyFile?: string;
}

export interface ServerCredentials {
  readonly certPem: string;
  readonly keyPem: string;
  /** The device CA, PEM (trust anchor for client certificates and for clients). */
  readonly caPem: string;
}

/** The device CA: loaded from workDir/pki when an earlier service (or run) made it, else created there. */
export function deviceCa(device: DeviceContext): IssuedCertificate {
  const dir = path.join(device.workDir, 'pki');
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return readIssuer(certFile, keyFile);
  fs.mkdirSync(dir, { recursive: true });
  const now = Date.now();
  const ca = issueCertificate({
    commonName: `${device.identity.vendor} device CA`, organization: device.identity.vendor, key: generateKey({ type: 'rsa', bits: 2048 }),
    isCa: true, notBefore: new Date(now - DAY), notAfter: new Date(now + 3650 * DAY),
  });
  fs.writeFileSync(certFile, ca.pem);
  fs.writeFileSync(keyFile, ca.keyPem, { mode: 0o600 });
  return ca;
}

/** The server certificate of one service, written to workDir/<service>/server.{crt,key}. */
export function serverCredentials(device: DeviceContext, service: string, spec: CertificatePosture = {}): ServerCredentials {
  const ca = deviceCa(device);
  if (spec.certFile || spec.keyFile) {
    if (!spec.certFile || !spec.keyFile) throw new PostureError(`${service}.certificate: certFile and keyFile go together`);
    return { certPem: fs.readFileSync(spec.certFile, 'utf8'), keyPem: fs.readFileSync(spec.keyFile, 'utf8'), caPem: ca.pem };
  }
  const keySpec: KeySpec = spec.key === 'ec' ? { type: 'ec', curve: spec.curve ?? 'P-256' } : { type: 'rsa', bits: spec.bits ?? 2048 };
  const notBefore = new Date(Date.now() + (spec.notBeforeDays ?? -1) * DAY);
  const leaf = issueCertificate({
    commonName: spec.commonName ?? `${device.identity.model} ${device.identity.serial}`,
    organization: device.identity.vendor,
    key: generateKey(keySpec),
    issuer: spec.issuer === 'self' ? undefined : ca,
    hash: spec.hash ?? 'sha256',
    notBefore,
    notAfter: new Date(notBefore.getTime() + (spec.validDays ?? 365) * DAY),
    // The device names itself as a real one does: its address and its host name (in a container, the
    // name the bench network resolves it by).
    altNames: [...new Set([device.host, 'localhost', os.hostname(), ...(spec.altNames ?? [])])],
    extendedKeyUsage: ['serverAuth'],
  });
  const dir = path.join(device.workDir, service);
  fs.mkdirSync(dir, { recursive: true });
  // The leaf alone, as a device with a one-tier PKI serves it (the root is the client's trust anchor).
  fs.writeFileSync(path.join(dir, 'server.crt'), leaf.pem);
  fs.writeFileSync(path.join(dir, 'server.key'), leaf.keyPem, { mode: 0o600 });
  return { certPem: leaf.pem, keyPem: leaf.keyPem, caPem: ca.pem };
}

/** OpenSSL refuses TLS 1.0/1.1, SHA-1/MD5 certificates and short keys at its default security level. */
export function needsSecurityLevel0(minVersion: string | undefined, spec: CertificatePosture = {}): boolean {
  return (minVersion !== undefined && minVersion < 'TLSv1.2') || (spec.key !== 'ec' && (spec.bits ?? 2048) < 2048)
    || spec.hash === 'sha1' || spec.hash === 'md5';
}
