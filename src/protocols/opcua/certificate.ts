import * as crypto from 'node:crypto';
import * as net from 'node:net';
import forge from 'node-forge';
import { firstCertificate, parseCertificate, toPem } from '../x509';

/**
 * X.509 material for OPC UA: application instance certificates made with Node's RSA key generation
 * (native, fast) and node-forge (certificate building, any key size and hash, which node-opcua-pki
 * does not offer), and a summary of a certificate for observations. Parsing and judging a certificate
 * is src/protocols/x509, the same module the TLS probes use.
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

/** The certificate facts the observations report (the tls.* `certificate` shape, from the same X.509 module). */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  selfSigned: boolean;
  keyType: string;
  keyBits: number | null;
  curve?: string;
  signatureAlgorithm: string;
  /** The hash the signature relies on, lower case ("sha1", "sha256"), or null when the algorithm is unknown. */
  signatureHash: string | null;
  notBefore: string;
  notAfter: string;
  sha256: string;
  /** SHA-256 of the SubjectPublicKeyInfo: the key, whatever certificate carries it. */
  spkiSha256: string;
  sha1: string;
  applicationUri: string | null;
}

/** Summary of the first certificate of a DER blob (OPC UA sends chains concatenated). */
export function describeCertificate(der: Buffer): CertificateSummary {
  const leaf = firstCertificate(der);
  const info = parseCertificate(leaf);
  const uri = info.subjectAltNames.find((n) => n.startsWith('URI:'))?.slice(4) ?? null;
  return {
    subject: info.subject,
    issuer: info.issuer,
    selfSigned: info.selfSigned,
    keyType: info.keyType,
    keyBits: info.keyBits,
    ...(info.curve ? { curve: info.curve } : {}),
    signatureAlgorithm: info.signatureAlgorithm,
    signatureHash: info.signatureHash,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    sha256: info.sha256,
    spkiSha256: info.spkiSha256,
    sha1: crypto.createHash('sha1').update(leaf).digest('hex'),
    applicationUri: uri,
  };
}

export { firstCertificate, toPem };
