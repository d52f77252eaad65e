/**
 * X.509 for the TLS probes and the emulator: parse a certificate into the facts the probes judge, and
 * issue certificates at run time (server certificates of the emulated device, deliberately broken client
 * certificates for CR 1.9 tests).
 *
 * node-forge holds the ASN.1 (names, extensions, TBSCertificate); node:crypto makes the keys and the
 * signatures. forge alone can only carry RSA keys, so the SubjectPublicKeyInfo of an EC or EdDSA key is
 * swapped into forge's TBSCertificate after it is built (and swapped out before forge parses one), and
 * the signature is computed by node:crypto over the DER of the TBSCertificate. No openssl CLI is used.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import forge from 'node-forge';

const { asn1 } = forge;

/** forge.pki plus two functions node-forge exports but its type definitions omit. */
const pki = forge.pki as typeof forge.pki & {
  RDNAttributesAsArray(rdn: forge.asn1.Asn1): forge.pki.CertificateField[];
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

export type KeySpec = { type: 'rsa'; bits: number } | { type: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' } | { type: 'ed25519' };

export interface KeyPair {
  readonly publicKey: crypto.KeyObject;
  readonly privateKey: crypto.KeyObject;
}

export function generateKey(spec: KeySpec): KeyPair {
  if (spec.type === 'rsa') return crypto.generateKeyPairSync('rsa', { modulusLength: spec.bits });
  if (spec.type === 'ec') return crypto.generateKeyPairSync('ec', { namedCurve: spec.curve });
  return crypto.generateKeyPairSync('ed25519');
}

export type SignatureHash = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

interface SignatureAlgorithm {
  readonly name: string;
  /** Hash of the signature; null for algorithms with a built-in hash (EdDSA). */
  readonly hash: SignatureHash | 'md2' | null;
}

/** Signature algorithm OIDs (RFC 3279, RFC 4055, RFC 5758, RFC 8410). */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureAlgorithm>> = {
  '1.2.840.113549.1.1.2': { name: 'md2WithRSAEncryption', hash: 'md2' },
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption', hash: 'md5' },
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', hash: 'sha1' },
  '1.3.14.3.2.29': { name: 'sha1WithRSASignature', hash: 'sha1' },
  '1.2.840.113549.1.1.14': { name: 'sha224WithRSAEncryption', hash: 'sha224' },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', hash: 'sha512' },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', hash: 'sha1' },
  '1.2.840.10045.4.3.1': { name: 'ecdsa-with-SHA224', hash: 'sha224' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', hash: 'sha512' },
  '1.2.840.10040.4.3': { name: 'dsa-with-sha1', hash: 'sha1' },
  '2.16.840.1.101.3.4.3.1': { name: 'dsa-with-sha224', hash: 'sha224' },
  '2.16.840.1.101.3.4.3.2': { name: 'dsa-with-sha256', hash: 'sha256' },
  '1.3.101.112': { name: 'Ed25519', hash: null },
  '1.3.101.113': { name: 'Ed448', hash: null },
};

const HASH_OIDS: Readonly<Record<string, SignatureHash>> = {
  '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.4': 'sha224', '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512', '1.2.840.113549.2.5': 'md5',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';

const EC_CURVE_BITS: Readonly<Record<string, number>> = {
  prime256v1: 256, secp256r1: 256, secp384r1: 384, secp521r1: 521, secp224r1: 224, prime192v1: 192, secp192r1: 192,
  secp256k1: 256, brainpoolP256r1: 256, brainpoolP384r1: 384, brainpoolP512r1: 512,
};

/** What the probes need to know about one certificate. */
export interface CertificateInfo {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltNames: readonly string[];
  /** Issuer name equals the subject and the signature verifies with the certificate's own key. */
  readonly selfSigned: boolean;
  readonly isCa: boolean;
  /** RSA, RSA-PSS, EC, DSA, Ed25519, Ed448 */
  readonly keyType: string;
  readonly keyBits: number;
  readonly curve?: string;
  readonly signatureAlgorithm: string;
  readonly signatureHash: string | null;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly lifetimeDays: number;
  readonly serialNumber: string;
  /** SHA-256 of the DER, lowercase hex. */
  readonly sha256: string;
  readonly extendedKeyUsage: readonly string[];
  readonly ocsp: readonly string[];
  readonly crlDistributionPoints: readonly string[];
}

function derToAsn1(der: Uint8Array): forge.asn1.Asn1 {
  return asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')));
}

function asn1ToDer(obj: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(obj).getBytes(), 'binary');
}

/** A throwaway RSA SubjectPublicKeyInfo that stands in for keys forge cannot carry. */
let placeholderKey: forge.pki.rsa.PublicKey | undefined;
function placeholder(): forge.pki.rsa.PublicKey {
  placeholderKey ??= pki.setRsaPublicKey(new forge.jsbn.BigInteger('c5', 16), new forge.jsbn.BigInteger('10001', 16));
  return placeholderKey;
}

/** Index of SubjectPublicKeyInfo in a TBSCertificate (version [0] is optional before it). */
function spkiIndex(tbs: forge.asn1.Asn1): number {
  const first = (tbs.value as forge.asn1.Asn1[])[0];
  return first.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 6 : 5;
}

function decodeValue(attr: { value: unknown; valueTagClass?: unknown }): string {
  const raw = String(attr.value);
  if (attr.valueTagClass === asn1.Type.UTF8) {
    try {
      return forge.util.decodeUtf8(raw);
    } catch {
      return raw;
    }
  }
  if (attr.valueTagClass === asn1.Type.BMPSTRING) {
    let out = '';
    for (let i = 0; i + 1 < raw.length; i += 2) out += String.fromCharCode((raw.charCodeAt(i) << 8) | raw.charCodeAt(i + 1));
    return out;
  }
  return raw;
}

function nameToString(attributes: readonly forge.pki.CertificateField[]): string {
  return attributes.map((a) => `${a.shortName ?? a.name ?? a.type}=${decodeValue(a as { value: unknown; valueTagClass?: unknown })}`).join(', ');
}

/** A DER-encoded distinguished name (as in a CertificateRequest) as "CN=..., O=...". */
export function dnToString(der: Uint8Array): string {
  return nameToString(pki.RDNAttributesAsArray(derToAsn1(der)));
}

/** Every URI ([6] IA5String) in an extension value, e.g. OCSP responders or CRL distribution points. */
function urisIn(node: forge.asn1.Asn1, out: string[] = []): string[] {
  if (node.tagClass === asn1.Class.CONTEXT_SPECIFIC && node.type === 6 && !node.constructed) out.push(String(node.value));
  else if (Array.isArray(node.value)) for (const child of node.value) urisIn(child, out);
  return out;
}

interface ForgeExtension {
  id: string;
  name?: string;
  value?: string;
  cA?: boolean;
  altNames?: { type: number; value?: string; ip?: string }[];
  [purpose: string]: unknown;
}

const EKU_NAMES = ['serverAuth', 'clientAuth', 'codeSigning', 'emailProtection', 'timeStamping', 'OCSPSigning'];

function verifiesWith(cert: crypto.X509Certificate, key: crypto.KeyObject): boolean {
  try {
    return cert.verify(key);
  } catch {
    return false; // an algorithm OpenSSL refuses (e.g. MD2) cannot be verified
  }
}

/** Parses one DER certificate (any key type). */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  const obj = derToAsn1(der);
  const tbs = (obj.value as forge.asn1.Asn1[])[0];
  const tbsFields = tbs.value as forge.asn1.Asn1[];
  const spkiDer = asn1ToDer(tbsFields[spkiIndex(tbs)]);
  tbsFields[spkiIndex(tbs)] = pki.publicKeyToAsn1(placeholder());
  const cert = pki.certificateFromAsn1(obj, false);

  const publicKey = crypto.createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  const details = publicKey.asymmetricKeyDetails ?? {};
  const rawType = publicKey.asymmetricKeyType ?? 'unknown';
  const keyType = ({ rsa: 'RSA', 'rsa-pss': 'RSA-PSS', ec: 'EC', dsa: 'DSA', ed25519: 'Ed25519', ed448: 'Ed448' } as Record<string, string>)[rawType] ?? rawType;
  let keyBits = details.modulusLength ?? 0;
  if (rawType === 'ec') keyBits = EC_CURVE_BITS[details.namedCurve ?? ''] ?? 0;
  if (rawType === 'ed25519') keyBits = 256;
  if (rawType === 'ed448') keyBits = 456;

  const sigOid = cert.signatureOid ?? '';
  const known = SIGNATURE_ALGORITHMS[sigOid];
  let signatureAlgorithm = known?.name ?? sigOid;
  let signatureHash: string | null = known ? known.hash : null;
  if (sigOid === RSASSA_PSS) {
    const params = cert.signatureParameters as { hash?: { algorithmOid?: string } } | undefined;
    signatureHash = HASH_OIDS[params?.hash?.algorithmOid ?? ''] ?? 'sha1'; // RFC 4055: SHA-1 is the default
    signatureAlgorithm = `RSASSA-PSS(${signatureHash})`;
  }

  const x509 = new crypto.X509Certificate(Buffer.from(der));
  // Not checkIssued(): it also demands keyCertSign, which self-signed device certificates often lack.
  const selfSigned = cert.issuer.hash === cert.subject.hash && verifiesWith(x509, x509.publicKey);

  const exts = cert.extensions as ForgeExtension[];
  const san = exts.find((e) => e.name === 'subjectAltName');
  const subjectAltNames = (san?.altNames ?? []).map((n) => {
    if (n.type === 7) return `IP:${n.ip ?? ''}`;
    if (n.type === 2) return `DNS:${n.value ?? ''}`;
    if (n.type === 6) return `URI:${n.value ?? ''}`;
    if (n.type === 1) return `email:${n.value ?? ''}`;
    return `type${n.type}:${n.value ?? ''}`;
  });
  const eku = exts.find((e) => e.name === 'extKeyUsage');
  const extendedKeyUsage = eku ? EKU_NAMES.filter((p) => eku[p] === true) : [];
  const uris = (name: string) => {
    const e = exts.find((x) => x.name === name);
    return e?.value ? urisIn(asn1.fromDer(e.value)) : [];
  };
  const notBefore = cert.validity.notBefore;
  const notAfter = cert.validity.notAfter;
  return {
    subject: nameToString(cert.subject.attributes),
    issuer: nameToString(cert.issuer.attributes),
    subjectAltNames,
    selfSigned,
    isCa: exts.find((e) => e.name === 'basicConstraints')?.cA === true,
    keyType,
    keyBits,
    ...(details.namedCurve ? { curve: details.namedCurve } : {}),
    signatureAlgorithm,
    signatureHash,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    lifetimeDays: Math.round((notAfter.getTime() - notBefore.getTime()) / 86_400_000),
    serialNumber: cert.serialNumber,
    sha256: crypto.createHash('sha256').update(der).digest('hex'),
    extendedKeyUsage,
    ocsp: uris('authorityInfoAccess'),
    crlDistributionPoints: uris('cRLDistributionPoints'),
  };
}

export function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

export function pemToDer(pem: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  }
  return out;
}

// ------------------------------------------------------------------------------------------- issuing

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
  const want = (name: string) => {
    const oid = Object.keys(SIGNATURE_ALGORITHMS).find((k) => SIGNATURE_ALGORITHMS[k].name === name);
    if (!oid) throw new Error(`no OID for ${name}`);
    return oid;
  };
  if (type === 'rsa') return { oid: want(`${hash}WithRSAEncryption`), params: true };
  if (type === 'ec') return { oid: want(`ecdsa-with-${hash.toUpperCase()}`), params: false };
  if (type === 'ed25519') return { oid: '1.3.101.112', params: false };
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
  const signature = crypto.sign(signingKey.asymmetricKeyType === 'ed25519' ? null : hash, tbsDer, signingKey);
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

/** Whether the certificate names this IP address or host name (SAN, or CN when there is no SAN). */
export function certificateMatches(der: Uint8Array, name: string): boolean {
  const x509 = new crypto.X509Certificate(Buffer.from(der));
  const bare = name.replace(/^\[|\]$/g, '');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bare) || bare.includes(':')) return x509.checkIP(bare) !== undefined;
  return x509.checkHost(bare) !== undefined;
}

/**
 * Whether the chain leads to one of the trust anchors: each certificate must be issued and signed by the
 * next one in the chain or by an anchor. Validity dates are judged separately.
 */
export function verifyChain(chain: readonly Uint8Array[], anchors: readonly Uint8Array[]): { trusted: boolean; reason: string } {
  if (chain.length === 0) return { trusted: false, reason: 'no certificate' };
  const certs = chain.map((d) => new crypto.X509Certificate(Buffer.from(d)));
  const roots = anchors.map((d) => new crypto.X509Certificate(Buffer.from(d)));
  const issuedBy = (child: crypto.X509Certificate, parent: crypto.X509Certificate) => child.issuer === parent.subject && verifiesWith(child, parent.publicKey);
  for (let i = 0; i < certs.length; i++) {
    const anchor = roots.find((r) => r.fingerprint256 === certs[i].fingerprint256 || issuedBy(certs[i], r));
    if (anchor) return { trusted: true, reason: `chains to ${anchor.subject.replace(/\n/g, ', ')}` };
    if (i + 1 >= certs.length || !issuedBy(certs[i], certs[i + 1])) {
      return { trusted: false, reason: `no trust anchor issued ${certs[i].subject.replace(/\n/g, ', ')}` };
    }
  }
  return { trusted: false, reason: 'the chain ends without a trust anchor' };
}

/** Reads a PEM file with one or more certificates (trust anchors given in a profile). */
export function readCertificates(file: string): Buffer[] {
  const found = pemToDer(fs.readFileSync(file, 'utf8'));
  if (found.length === 0) throw new Error(`${file}: no PEM certificate`);
  return found;
}

/** Reads a CA certificate and its private key from PEM files (a test CA the device trusts). */
export function readIssuer(certFile: string, keyFile: string): IssuedCertificate {
  return loadIssuer(fs.readFileSync(certFile, 'utf8'), fs.readFileSync(keyFile, 'utf8'));
}
