/**
 * X.509 parsing for every probe that judges a certificate (TLS, OPC UA, Modbus/TCP Security): the facts a
 * probe reports and judges (key type and size, signature algorithm and hash, names, validity), chains,
 * PEM. The algorithm knowledge lives in algorithms.json; strength.ts judges it against a baseline;
 * issue.ts makes certificates at run time.
 *
 * node-forge holds the ASN.1 (names, extensions, TBSCertificate); node:crypto reads the keys. forge alone
 * can only carry RSA keys, so the SubjectPublicKeyInfo of any other key is swapped out before forge
 * parses the certificate and read by node:crypto. No openssl CLI is used.
 */
import * as crypto from 'node:crypto';
import forge from 'node-forge';
import { InvalidInput } from '../../sdk';
import { readNamedFile } from '../../sdk/input-file';
import { HASH_OIDS, KEY_TYPES, CURVE_BITS, signatureAlgorithmByOid, type KeyFamily } from './algorithms';
import { asn1, asn1ToDer, derToAsn1, pki, placeholder, spkiIndex } from './asn1';

/** What the probes need to know about one certificate. */
export interface CertificateInfo {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltNames: readonly string[];
  /** Issuer name equals the subject and the signature verifies with the certificate's own key. */
  readonly selfSigned: boolean;
  readonly isCa: boolean;
  /** RSA, RSA-PSS, EC, DSA, Ed25519, Ed448; otherwise the key's algorithm OID or node:crypto's name. */
  readonly keyType: string;
  /** null: a key type the table does not know, or an EC curve without a known size. */
  readonly keyFamily: KeyFamily | null;
  /** Modulus (RSA, DSA p), curve field size (EC) or key size (EdDSA); null when not known. */
  readonly keyBits: number | null;
  readonly curve?: string;
  /** Name from algorithms.json (RSASSA-PSS as "RSASSA-PSS(sha256)"), or the OID when unknown. */
  readonly signatureAlgorithm: string;
  /** The hash the signature relies on (EdDSA: its built-in hash); null for an unknown algorithm. */
  readonly signatureHash: string | null;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly lifetimeDays: number;
  readonly serialNumber: string;
  /** SHA-256 of the DER, lowercase hex. */
  readonly sha256: string;
  /** SHA-256 of the SubjectPublicKeyInfo (DER), lowercase hex: the same key in two certificates has the same value. */
  readonly spkiSha256: string;
  readonly extendedKeyUsage: readonly string[];
  readonly ocsp: readonly string[];
  readonly crlDistributionPoints: readonly string[];
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

function verifiesWith(cert: crypto.X509Certificate, key: () => crypto.KeyObject): boolean {
  try {
    return cert.verify(key());
  } catch {
    return false; // an algorithm or key type OpenSSL refuses (e.g. MD2) cannot be verified
  }
}

interface KeyFacts { keyType: string; keyFamily: KeyFamily | null; keyBits: number | null; curve?: string }

/** Key type and size from the DER SubjectPublicKeyInfo; keys node:crypto cannot read keep their OID. */
function keyFacts(spki: forge.asn1.Asn1): KeyFacts {
  let publicKey: crypto.KeyObject;
  try {
    publicKey = crypto.createPublicKey({ key: asn1ToDer(spki), format: 'der', type: 'spki' });
  } catch {
    const algorithm = ((spki.value as forge.asn1.Asn1[])[0].value as forge.asn1.Asn1[])[0];
    return { keyType: asn1.derToOid(String(algorithm.value)), keyFamily: null, keyBits: null };
  }
  const rawType = publicKey.asymmetricKeyType ?? 'unknown';
  const known = KEY_TYPES[rawType];
  const details = publicKey.asymmetricKeyDetails ?? {};
  const curve = details.namedCurve;
  const bits = rawType === 'ec' ? CURVE_BITS[curve ?? ''] : known?.bits ?? details.modulusLength;
  return { keyType: known?.name ?? rawType, keyFamily: known?.family ?? null, keyBits: bits ?? null, ...(curve ? { curve } : {}) };
}

/** Name and hash of the outer signature algorithm, by OID (RSASSA-PSS: the hash from its parameters). */
function signatureFacts(cert: forge.pki.Certificate): { signatureAlgorithm: string; signatureHash: string | null } {
  const oid = cert.signatureOid ?? '';
  const known = signatureAlgorithmByOid(oid);
  if (!known) return { signatureAlgorithm: oid, signatureHash: null };
  if (!known.hashFromParameters) return { signatureAlgorithm: known.name, signatureHash: known.hash };
  const params = cert.signatureParameters as { hash?: { algorithmOid?: string } } | undefined;
  const named = params?.hash?.algorithmOid;
  const hash = named === undefined ? known.hash : HASH_OIDS[named] ?? null;
  return { signatureAlgorithm: `${known.name}(${hash ?? named})`, signatureHash: hash };
}

/** Parses one DER certificate (any key type); for a concatenated chain, the first one. */
export function parseCertificate(input: Uint8Array): CertificateInfo {
  const der = firstCertificate(Buffer.from(input));
  const obj = derToAsn1(der);
  const tbs = (obj.value as forge.asn1.Asn1[])[0];
  const tbsFields = tbs.value as forge.asn1.Asn1[];
  const key = keyFacts(tbsFields[spkiIndex(tbs)]);
  const spkiSha256 = crypto.createHash('sha256').update(asn1ToDer(tbsFields[spkiIndex(tbs)])).digest('hex');
  tbsFields[spkiIndex(tbs)] = pki.publicKeyToAsn1(placeholder());
  const cert = pki.certificateFromAsn1(obj, false);

  const x509 = new crypto.X509Certificate(der);
  // Not checkIssued(): it also demands keyCertSign, which self-signed device certificates often lack.
  const selfSigned = cert.issuer.hash === cert.subject.hash && verifiesWith(x509, () => x509.publicKey);

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
    ...key,
    ...signatureFacts(cert),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    lifetimeDays: Math.round((notAfter.getTime() - notBefore.getTime()) / 86_400_000),
    serialNumber: cert.serialNumber,
    sha256: crypto.createHash('sha256').update(der).digest('hex'),
    spkiSha256,
    extendedKeyUsage,
    ocsp: uris('authorityInfoAccess'),
    crlDistributionPoints: uris('cRLDistributionPoints'),
  };
}

/** The first DER element of a blob that may hold a chain (OPC UA sends chains concatenated). */
export function firstCertificate(der: Buffer): Buffer {
  // SEQUENCE with a short-form length, or a long form: 0x30 0x8N <N length bytes>.
  if (der.length < 4 || der[0] !== 0x30) return der;
  if ((der[1] & 0x80) === 0) return der.subarray(0, 2 + der[1]);
  const n = der[1] & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i];
  return der.subarray(0, 2 + n + len);
}

/** PEM of a DER certificate, or of each certificate of a concatenated chain. */
export function toPem(der: Uint8Array): string {
  let rest = Buffer.from(der);
  let out = '';
  while (rest.length > 0) {
    const one = firstCertificate(rest);
    const b64 = one.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
    out += `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
    rest = rest.subarray(one.length);
  }
  return out;
}

export function pemToDer(pem: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  }
  return out;
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
  const issuedBy = (child: crypto.X509Certificate, parent: crypto.X509Certificate) => child.issuer === parent.subject && verifiesWith(child, () => parent.publicKey);
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
  const found = pemToDer(readNamedFile(file, 'trust anchors'));
  if (found.length === 0) throw new InvalidInput(`trust anchors: ${file} holds no PEM certificate`);
  return found;
}
