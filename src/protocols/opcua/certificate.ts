import * as crypto from 'node:crypto';
import * as net from 'node:net';
import forge from 'node-forge';

/**
 * X.509 material for OPC UA: application instance certificates made with Node's RSA key generation
 * (native, fast) and node-forge (certificate building, any key size and hash, which node-opcua-pki
 * does not offer), and a summary of a certificate for observations.
 */

export type CertificateHash = 'sha1' | 'sha256';

export interface ApplicationCertificateOptions {
  /** OPC UA ApplicationUri, carried in subjectAltName as a URI (Part 6 §6.2.2). */
  applicationUri: string;
  commonName: string;
  organization?: string;
  /** Host names and IP addresses for subjectAltName. */
  hosts?: readonly string[];
  keyBits?: number;
  hash?: CertificateHash;
  notBefore?: Date;
  notAfter?: Date;
}

export interface CertificateKeyPair {
  /** DER of the certificate. */
  certificate: Buffer;
  certificatePem: string;
  /** PKCS#1 PEM of the RSA private key. */
  privateKeyPem: string;
}

const DAY = 24 * 3600 * 1000;

/** A self-signed OPC UA application instance certificate (client and server use). */
export function makeApplicationCertificate(options: ApplicationCertificateOptions): CertificateKeyPair {
  const keyBits = options.keyBits ?? 2048;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: keyBits, publicExponent: 0x10001 });
  const privateKeyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.rsa.setPublicKey(key.n, key.e);
  // Positive serial: clear the top bit of the first byte.
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * DAY);
  const attrs: forge.pki.CertificateField[] = [{ name: 'commonName', value: options.commonName }];
  if (options.organization) attrs.push({ name: 'organizationName', value: options.organization });
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  const altNames: { type: number; value?: string; ip?: string }[] = [{ type: 6, value: options.applicationUri }];
  for (const h of options.hosts ?? []) altNames.push(net.isIP(h) ? { type: 7, ip: h } : { type: 2, value: h });
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    {
      name: 'keyUsage', critical: true, digitalSignature: true, nonRepudiation: true, keyEncipherment: true,
      dataEncipherment: true, keyCertSign: true,
    },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: true },
  ]);
  cert.sign(key, (options.hash === 'sha1' ? forge.md.sha1 : forge.md.sha256).create());
  const certificatePem = forge.pki.certificateToPem(cert);
  const certificate = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { certificate, certificatePem, privateKeyPem };
}

/** The certificate facts the observations report (same shape as the tls.* `certificate`). */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  selfSigned: boolean;
  keyType: string;
  keyBits: number | null;
  signatureAlgorithm: string;
  /** Hash of the signature, lower case ("sha1", "sha256"), or null when unknown. */
  signatureHash: string | null;
  notBefore: string;
  notAfter: string;
  sha256: string;
  sha1: string;
  applicationUri: string | null;
}

const SIGNATURE_OIDS: Record<string, { name: string; hash: string | null }> = {
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption', hash: 'md5' },
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', hash: 'sha1' },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', hash: 'sha512' },
  '1.2.840.113549.1.1.10': { name: 'rsassaPss', hash: null },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', hash: 'sha1' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', hash: 'sha512' },
  '1.3.101.112': { name: 'Ed25519', hash: null },
};

/** Reads the outer signatureAlgorithm OID of a DER certificate (Node's X509Certificate does not expose it). */
function signatureOid(der: Buffer): string {
  const asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
  const seq = asn1.value as forge.asn1.Asn1[];
  const alg = (seq[1].value as forge.asn1.Asn1[])[0];
  return forge.asn1.derToOid(alg.value as string);
}

/** The first certificate of a DER blob that may hold a chain (OPC UA sends chains concatenated). */
export function firstCertificate(der: Buffer): Buffer {
  // SEQUENCE with a long-form length: 0x30 0x8N <N length bytes>.
  if (der.length < 4 || der[0] !== 0x30) return der;
  if ((der[1] & 0x80) === 0) return der.subarray(0, 2 + der[1]);
  const n = der[1] & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i];
  return der.subarray(0, 2 + n + len);
}

export function describeCertificate(der: Buffer): CertificateSummary {
  const leaf = firstCertificate(der);
  const x = new crypto.X509Certificate(leaf);
  const oid = signatureOid(leaf);
  const sig = SIGNATURE_OIDS[oid] ?? { name: oid, hash: null };
  const details = x.publicKey.asymmetricKeyDetails;
  const keyBits = details?.modulusLength ?? (details?.namedCurve ? curveBits(details.namedCurve) : null);
  const uri = /URI:([^,\s]+)/.exec(x.subjectAltName ?? '')?.[1] ?? null;
  const selfSigned = x.subject === x.issuer && safeVerify(x);
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    selfSigned,
    keyType: (x.publicKey.asymmetricKeyType ?? 'unknown').toUpperCase(),
    keyBits,
    signatureAlgorithm: sig.name,
    signatureHash: sig.hash,
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    sha256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
    sha1: x.fingerprint.replace(/:/g, '').toLowerCase(),
    applicationUri: uri,
  };
}

function safeVerify(x: crypto.X509Certificate): boolean {
  try {
    return x.verify(x.publicKey);
  } catch {
    return false;
  }
}

function curveBits(curve: string): number | null {
  const m = /(\d{3})/.exec(curve);
  return m ? Number(m[1]) : null;
}

export function toPem(der: Buffer): string {
  const b64 = firstCertificate(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}
