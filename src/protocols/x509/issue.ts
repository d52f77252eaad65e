/**
 * Certificates made at run time: server certificates of the emulated device, deliberately broken client
 * certificates for CR 1.9 tests. node-forge builds the TBSCertificate around a placeholder RSA key, the
 * real SubjectPublicKeyInfo (any key type) is swapped in, and node:crypto signs the DER of it.
 */
import * as crypto from 'node:crypto';
import forge from 'node-forge';
import { InvalidInput } from '../../sdk';
import { readNamedFile } from '../../sdk/input-file';
import { signatureOidFor } from './algorithms';
import { asn1, asn1ToDer, derToAsn1, pki, placeholder, spkiIndex } from './asn1';
import { pemToDer, toPem } from './certificate';

export type KeySpec =
  | { type: 'rsa'; bits: number }
  | { type: 'ec'; curve: 'P-192' | 'P-224' | 'P-256' | 'P-384' | 'P-521' }
  | { type: 'dsa'; bits: number }
  | { type: 'ed25519' }
  | { type: 'ed448' };

export interface KeyPair {
  readonly publicKey: crypto.KeyObject;
  readonly privateKey: crypto.KeyObject;
}

export function generateKey(spec: KeySpec): KeyPair {
  if (spec.type === 'rsa') return crypto.generateKeyPairSync('rsa', { modulusLength: spec.bits });
  if (spec.type === 'ec') return crypto.generateKeyPairSync('ec', { namedCurve: spec.curve });
  if (spec.type === 'dsa') return crypto.generateKeyPairSync('dsa', { modulusLength: spec.bits, divisorLength: spec.bits >= 2048 ? 256 : 160 });
  if (spec.type === 'ed448') return crypto.generateKeyPairSync('ed448');
  return crypto.generateKeyPairSync('ed25519');
}

/** Hashes node:crypto signs with (EdDSA ignores it: its hash is built in). */
export type SignatureHash = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** A certificate with its private key, as the emulator and the client-certificate tests use them. */
export interface IssuedCertificate {
  readonly der: Buffer;
  readonly pem: string;
  readonly keyPem: string;
  readonly key: KeyPair;
}

export interface IssueOptions {
  readonly commonName: string;
  readonly organization?: string;
  readonly key: KeyPair;
  /** The issuing CA; absent: self-signed. */
  readonly issuer?: IssuedCertificate;
  /** Sign with this key instead of the issuer's (a certificate whose signature does not verify). */
  readonly signWith?: crypto.KeyObject;
  readonly hash?: SignatureHash;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCa?: boolean;
  /** DNS names and IP addresses. */
  readonly altNames?: readonly string[];
  readonly extendedKeyUsage?: readonly ('serverAuth' | 'clientAuth')[];
  /** Issuer name (DER) to write when there is no `issuer` certificate, e.g. a CA named by the server. */
  readonly issuerName?: Buffer;
  /** Write an authorityKeyIdentifier (default true). */
  readonly authorityKeyId?: boolean;
  /** Further extensions, value = DER of the extnValue contents. */
  readonly extensions?: readonly { id: string; critical?: boolean; value: Buffer }[];
}

function signatureAlgorithmFor(key: crypto.KeyObject, hash: SignatureHash): { oid: string; params: boolean } {
  const type = key.asymmetricKeyType;
  // RFC 4055: the RSA PKCS#1 v1.5 AlgorithmIdentifiers carry NULL parameters; DSA, ECDSA and EdDSA carry none.
  if (type === 'rsa') return { oid: signatureOidFor('RSA', hash), params: true };
  if (type === 'ec') return { oid: signatureOidFor('EC', hash), params: false };
  if (type === 'dsa') return { oid: signatureOidFor('DSA', hash), params: false };
  if (type === 'ed25519') return { oid: signatureOidFor('EdDSA', 'sha512'), params: false };
  if (type === 'ed448') return { oid: signatureOidFor('EdDSA', 'shake256'), params: false };
  throw new Error(`cannot sign with a ${String(type)} key`);
}

function algorithmIdentifier(oid: string, params: boolean): forge.asn1.Asn1 {
  const parts = [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes())];
  if (params) parts.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''));
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, parts);
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1). */
function keyIdentifier(spkiDer: Buffer): string {
  const spki = derToAsn1(spkiDer);
  const bits = String((spki.value as forge.asn1.Asn1[])[1].value).slice(1);
  return crypto.createHash('sha1').update(Buffer.from(bits, 'binary')).digest().toString('binary');
}

function isIp(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
}

/** Issues a certificate; the issuer's name and key come from `issuer` (self-signed without one). */
export function issueCertificate(o: IssueOptions): IssuedCertificate {
  const hash = o.hash ?? 'sha256';
  const spkiDer = o.key.publicKey.export({ type: 'spki', format: 'der' });
  const issuerKey = o.issuer?.key ?? o.key;
  const signingKey = o.signWith ?? issuerKey.privateKey;
  const issuerSpki = issuerKey.publicKey.export({ type: 'spki', format: 'der' });

  const cert = pki.createCertificate();
  cert.publicKey = placeholder();
  cert.serialNumber = `01${crypto.randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = o.notBefore;
  cert.validity.notAfter = o.notAfter;
  const subject = [{ shortName: 'CN', value: o.commonName }, ...(o.organization ? [{ shortName: 'O', value: o.organization }] : [])];
  cert.setSubject(subject);
  if (o.issuer) {
    const issuerTbs = (derToAsn1(o.issuer.der).value as forge.asn1.Asn1[])[0];
    const issuerName = (issuerTbs.value as forge.asn1.Asn1[])[spkiIndex(issuerTbs) - 1];
    cert.issuer.attributes = pki.RDNAttributesAsArray(issuerName);
  } else if (o.issuerName) {
    cert.issuer.attributes = pki.RDNAttributesAsArray(derToAsn1(o.issuerName));
  } else {
    cert.setIssuer(subject);
  }
  const extensions: Record<string, unknown>[] = [
    { name: 'basicConstraints', cA: o.isCa === true, critical: o.isCa === true },
    o.isCa
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: o.key.publicKey.asymmetricKeyType === 'rsa', critical: true },
    { name: 'subjectKeyIdentifier', value: asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, keyIdentifier(spkiDer))).getBytes() },
  ];
  if (o.authorityKeyId !== false) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: keyIdentifier(issuerSpki) });
  if (o.extendedKeyUsage?.length) {
    extensions.push({ name: 'extKeyUsage', ...Object.fromEntries(o.extendedKeyUsage.map((u) => [u, true])) });
  }
  if (o.altNames?.length) {
    extensions.push({ name: 'subjectAltName', altNames: o.altNames.map((n) => (isIp(n) ? { type: 7, ip: n } : { type: 2, value: n })) });
  }
  for (const e of o.extensions ?? []) extensions.push({ id: e.id, critical: e.critical === true, value: e.value.toString('binary') });
  cert.setExtensions(extensions);

  const alg = signatureAlgorithmFor(signingKey, hash);
  cert.siginfo.algorithmOid = alg.oid;
  const tbs = pki.getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  fields[2] = algorithmIdentifier(alg.oid, alg.params);
  fields[spkiIndex(tbs)] = derToAsn1(spkiDer);
  const tbsDer = asn1ToDer(tbs);
  const eddsa = signingKey.asymmetricKeyType === 'ed25519' || signingKey.asymmetricKeyType === 'ed448';
  const signature = crypto.sign(eddsa ? null : hash, tbsDer, signingKey);
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(alg.oid, alg.params),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\x00${signature.toString('binary')}`),
  ]);
  const der = asn1ToDer(certificate);
  return { der, pem: toPem(der), keyPem: o.key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), key: o.key };
}

/** The issuer name of a DER certificate, as DER (to name the same CA in another certificate). */
export function issuerNameDer(der: Uint8Array): Buffer {
  const tbs = (derToAsn1(der).value as forge.asn1.Asn1[])[0];
  return asn1ToDer((tbs.value as forge.asn1.Asn1[])[spkiIndex(tbs) - 3]);
}

/** A DER UTF8String, e.g. the value of the Modbus/TCP Security role extension. */
export function utf8StringDer(text: string): Buffer {
  return asn1ToDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(text)));
}

/** Reads a UTF8String-valued extension of a DER certificate (undefined when absent). */
export function utf8Extension(der: Uint8Array, oid: string): string | undefined {
  const tbs = (derToAsn1(der).value as forge.asn1.Asn1[])[0];
  for (const node of tbs.value as forge.asn1.Asn1[]) {
    if (node.tagClass !== asn1.Class.CONTEXT_SPECIFIC || node.type !== 3) continue;
    for (const ext of ((node.value as forge.asn1.Asn1[])[0].value as forge.asn1.Asn1[])) {
      const parts = ext.value as forge.asn1.Asn1[];
      if (asn1.derToOid(String(parts[0].value)) !== oid) continue;
      const inner = asn1.fromDer(String(parts[parts.length - 1].value));
      return forge.util.decodeUtf8(String(inner.value));
    }
  }
  return undefined;
}

/** Loads a CA (certificate PEM and private key PEM) so test certificates can be issued under it. */
export function loadIssuer(certPem: string, keyPem: string): IssuedCertificate {
  const der = pemToDer(certPem)[0];
  if (!der) throw new Error('no certificate in the CA file');
  const privateKey = crypto.createPrivateKey(keyPem);
  return { der, pem: toPem(der), keyPem, key: { privateKey, publicKey: crypto.createPublicKey(privateKey) } };
}

/** Reads a CA certificate and its private key from PEM files (a test CA the device trusts). */
export function readIssuer(certFile: string, keyFile: string): IssuedCertificate {
  const certPem = readNamedFile(certFile, 'CA certificate');
  const keyPem = readNamedFile(keyFile, 'CA private key');
  try {
    return loadIssuer(certPem, keyPem);
  } catch (err) {
    // The files were read but are no CA (no PEM certificate, no usable private key): the profile's input, not a bug.
    throw new InvalidInput(`CA ${certFile} with key ${keyFile}: ${(err as Error).message}`);
  }
}
