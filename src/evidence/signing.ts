/**
 * Lab signatures over manifest.json (node-forge). The manifest holds the sha256 of every file of the
 * folder, so a valid signature over its exact bytes vouches for the whole folder.
 *
 * Algorithm: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2), the scheme of X.509 and CMS signatures:
 * deterministic (the same key and manifest give the same signature) and checkable without this tool:
 *   jq -r .signature manifest.sig | base64 -d > manifest.sig.bin
 *   openssl dgst -sha256 -verify lab-public.pem -signature manifest.sig.bin manifest.json
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import forge from 'node-forge';
import { MANIFEST, MANIFEST_SIGNATURE, sha256 } from './store';
import type { Manifest, ManifestSigner, SignatureChecker } from './manifest';
import { InputRejected } from '../sdk';

export const SIGNATURE_ALGORITHM = 'RSASSA-PKCS1-v1_5-SHA256';
/** Environment variable holding the passphrase of an encrypted private key. */
export const PASSPHRASE_ENV = 'IACS_PROBE_KEY_PASSPHRASE';

/** A key file that cannot be used; the CLI reports it as a usage error (exit 3, nothing written). */
export class KeyError extends InputRejected {}

/** manifest.sig (JSON). */
export interface ManifestSignature {
  schemaVersion: 1;
  algorithm: typeof SIGNATURE_ALGORITHM;
  signedFile: typeof MANIFEST;
  /** sha256 of manifest.json's bytes at signing time (tells "manifest changed" from "wrong key"). */
  signedSha256: string;
  /** Base64 of the RSA signature over manifest.json's bytes. */
  signature: string;
  /** sha256 of the signer's SubjectPublicKeyInfo (DER), hex: `openssl pkey -pubin -outform der | sha256sum`. */
  publicKeySha256: string;
  publicKey: string;
  /** The lab certificate (PEM) when the key file holds one. */
  certificate?: string;
  /** Subject common name of the certificate. */
  signer?: string;
}

export interface SigningKey {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
  certificate?: forge.pki.Certificate;
  fingerprint: string;
  file: string;
}

/** A key the verifier trusts: from a public key, a certificate or a private key file. */
export interface TrustedKey {
  publicKey: forge.pki.rsa.PublicKey;
  fingerprint: string;
  /** How to name it in messages: "lab-cert.pem (CN=Lab X)". */
  label: string;
}

/** sha256 (hex) of the SubjectPublicKeyInfo DER of an RSA public key. */
export function publicKeyFingerprint(key: forge.pki.rsa.PublicKey): string {
  const der = forge.asn1.toDer(forge.pki.publicKeyToAsn1(key)).getBytes();
  return createHash('sha256').update(Buffer.from(der, 'binary')).digest('hex');
}

function pemBlocks(text: string): { type: string; pem: string }[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)].map((m) => ({ type: m[1], pem: m[0] }));
}

function isRsaPublic(key: unknown): key is forge.pki.rsa.PublicKey {
  return typeof key === 'object' && key !== null && 'n' in key && 'e' in key;
}

function commonName(cert: forge.pki.Certificate): string | undefined {
  const cn = cert.subject.getField('CN') as { value?: string } | null;
  return cn?.value;
}

function readPem(file: string): string {
  if (!fs.existsSync(file)) throw new KeyError(`${file} does not exist`);
  return fs.readFileSync(file, 'utf8');
}

/**
 * Loads a lab private key (PEM: PKCS#8 or PKCS#1 RSA; encrypted PKCS#8 with the passphrase in
 * IACS_PROBE_KEY_PASSPHRASE) and the certificate the same file may hold after it.
 */
export function loadSigningKey(file: string): SigningKey {
  const blocks = pemBlocks(readPem(file));
  const keyBlock = blocks.find((b) => /PRIVATE KEY$/.test(b.type));
  if (!keyBlock) throw new KeyError(`${file} holds no private key (PEM "PRIVATE KEY" block); \`iacs-probe keygen\` makes one`);
  let privateKey: forge.pki.rsa.PrivateKey | null;
  try {
    if (keyBlock.type === 'ENCRYPTED PRIVATE KEY') {
      const passphrase = process.env[PASSPHRASE_ENV];
      if (!passphrase) throw new KeyError(`${file} is encrypted: put its passphrase in the environment variable ${PASSPHRASE_ENV}`);
      privateKey = forge.pki.decryptRsaPrivateKey(keyBlock.pem, passphrase) as forge.pki.rsa.PrivateKey | null;
      if (!privateKey) throw new KeyError(`${file}: wrong passphrase in ${PASSPHRASE_ENV}, or not an RSA key`);
    } else {
      privateKey = forge.pki.privateKeyFromPem(keyBlock.pem) as forge.pki.rsa.PrivateKey;
    }
  } catch (err) {
    if (err instanceof KeyError) throw err;
    throw new KeyError(`${file}: not a usable RSA private key (${(err as Error).message}); only RSA keys are supported`);
  }
  const publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  const fingerprint = publicKeyFingerprint(publicKey);
  let certificate: forge.pki.Certificate | undefined;
  const certBlock = blocks.find((b) => b.type === 'CERTIFICATE');
  if (certBlock) {
    certificate = forge.pki.certificateFromPem(certBlock.pem);
    if (!isRsaPublic(certificate.publicKey) || publicKeyFingerprint(certificate.publicKey) !== fingerprint) {
      throw new KeyError(`${file}: the certificate in the file is not for this private key`);
    }
  }
  return { privateKey, publicKey, certificate, fingerprint, file };
}

/** Loads the key a verifier trusts: a PUBLIC KEY, a CERTIFICATE or (for convenience) a private key PEM. */
export function loadTrustedKey(file: string): TrustedKey {
  const text = readPem(file);
  const blocks = pemBlocks(text);
  const name = path.basename(file);
  const cert = blocks.find((b) => b.type === 'CERTIFICATE');
  try {
    if (cert) {
      const c = forge.pki.certificateFromPem(cert.pem);
      if (!isRsaPublic(c.publicKey)) throw new KeyError(`${file}: only RSA certificates are supported`);
      return { publicKey: c.publicKey, fingerprint: publicKeyFingerprint(c.publicKey), label: `${name} (CN=${commonName(c) ?? '?'})` };
    }
    const pub = blocks.find((b) => b.type === 'PUBLIC KEY' || b.type === 'RSA PUBLIC KEY');
    if (pub) {
      const key = forge.pki.publicKeyFromPem(pub.pem); // SubjectPublicKeyInfo or PKCS#1 RSAPublicKey
      if (!isRsaPublic(key)) throw new KeyError(`${file}: only RSA public keys are supported`);
      return { publicKey: key, fingerprint: publicKeyFingerprint(key), label: name };
    }
  } catch (err) {
    if (err instanceof KeyError) throw err;
    throw new KeyError(`${file}: cannot read the key (${(err as Error).message})`);
  }
  if (blocks.some((b) => /PRIVATE KEY$/.test(b.type))) {
    const k = loadSigningKey(file);
    return { publicKey: k.publicKey, fingerprint: k.fingerprint, label: name };
  }
  throw new KeyError(`${file} holds no PUBLIC KEY or CERTIFICATE (PEM)`);
}

function rsaSign(key: forge.pki.rsa.PrivateKey, data: Buffer): string {
  const md = forge.md.sha256.create();
  md.update(data.toString('binary'));
  return Buffer.from(key.sign(md), 'binary').toString('base64');
}

function rsaVerify(key: forge.pki.rsa.PublicKey, data: Buffer, signatureB64: string): boolean {
  const md = forge.md.sha256.create();
  md.update(data.toString('binary'));
  try {
    return key.verify(md.digest().bytes(), Buffer.from(signatureB64, 'base64').toString('binary'));
  } catch {
    return false; // forge throws on a malformed signature block: that is a bad signature, nothing else
  }
}

/**
 * manifest.sig's exact text for these fields. Every field is checkable (against the manifest, the key or
 * the certificate) and the file must be byte for byte this text, so no edit of manifest.sig goes unseen.
 */
function signatureText(sig: ManifestSignature): string {
  const ordered: ManifestSignature = {
    schemaVersion: sig.schemaVersion, algorithm: sig.algorithm, signedFile: sig.signedFile, signedSha256: sig.signedSha256,
    signature: sig.signature, publicKeySha256: sig.publicKeySha256, publicKey: sig.publicKey,
    ...(sig.certificate !== undefined ? { certificate: sig.certificate } : {}), ...(sig.signer !== undefined ? { signer: sig.signer } : {}),
  };
  return JSON.stringify(ordered, null, 2) + '\n';
}

function certificateSha256(cert: forge.pki.Certificate): string {
  return createHash('sha256').update(Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary')).digest('hex');
}

/** The manifest's `signer` entry for a key: written into manifest.json before it is signed. */
export function manifestSigner(key: SigningKey): ManifestSigner {
  return {
    algorithm: SIGNATURE_ALGORITHM, publicKeySha256: key.fingerprint,
    ...(key.certificate ? { certificateSha256: certificateSha256(key.certificate), name: commonName(key.certificate) } : {}),
  };
}

const sameSigner = (a: ManifestSigner | undefined, b: ManifestSigner) => a !== undefined && canonicalSigner(a) === canonicalSigner(b);
const canonicalSigner = (x: ManifestSigner) => JSON.stringify([x.algorithm, x.publicKeySha256, x.certificateSha256 ?? null, x.name ?? null]);

/**
 * Signs the folder's manifest.json into manifest.sig. The manifest must name this key as its signer
 * (writeManifest with `signer: manifestSigner(key)`); the time of signing is the manifest's createdAt.
 */
export function signManifest(dir: string, key: SigningKey): ManifestSignature {
  const bytes = fs.readFileSync(path.join(dir, MANIFEST));
  const named = (JSON.parse(bytes.toString('utf8')) as Manifest).signer;
  if (!sameSigner(named, manifestSigner(key))) throw new KeyError(`${MANIFEST} does not name ${key.file} as its signer`);
  const sig: ManifestSignature = {
    schemaVersion: 1, algorithm: SIGNATURE_ALGORITHM, signedFile: MANIFEST, signedSha256: sha256(bytes),
    signature: rsaSign(key.privateKey, bytes), publicKeySha256: key.fingerprint, publicKey: forge.pki.publicKeyToPem(key.publicKey).trim(),
    ...(key.certificate ? { certificate: forge.pki.certificateToPem(key.certificate).trim(), signer: commonName(key.certificate) } : {}),
  };
  fs.writeFileSync(path.join(dir, MANIFEST_SIGNATURE), signatureText(sig));
  return sig;
}

/**
 * Checks that manifest.sig is exactly as iacs-probe writes it and that its parts agree (key, fingerprint,
 * certificate, signer name); returns the signer it describes, or what is wrong.
 */
function readSignature(sig: ManifestSignature, bytes: Buffer): { signer: ManifestSigner } | { problem: string } {
  if (sig.schemaVersion !== 1 || sig.signedFile !== MANIFEST || typeof sig.signature !== 'string' || typeof sig.publicKeySha256 !== 'string') {
    return { problem: 'manifest.sig is not an iacs-probe signature of manifest.json' };
  }
  let key: forge.pki.rsa.PublicKey;
  try {
    key = forge.pki.publicKeyFromPem(sig.publicKey) as forge.pki.rsa.PublicKey;
  } catch {
    return { problem: 'manifest.sig carries no readable public key' };
  }
  if (publicKeyFingerprint(key) !== sig.publicKeySha256) return { problem: 'manifest.sig: the public key does not match its fingerprint' };
  // Base64 has spare bits: only the canonical encodings count, so that no byte can change unseen.
  const edited = { problem: 'manifest.sig was edited (it is not as iacs-probe wrote it)' };
  if (forge.pki.publicKeyToPem(key).trim() !== sig.publicKey || Buffer.from(sig.signature, 'base64').toString('base64') !== sig.signature) return edited;
  const signer: ManifestSigner = { algorithm: sig.algorithm, publicKeySha256: sig.publicKeySha256 };
  if (sig.certificate !== undefined) {
    let cert: forge.pki.Certificate;
    try {
      cert = forge.pki.certificateFromPem(sig.certificate);
    } catch {
      return { problem: 'manifest.sig carries an unreadable certificate' };
    }
    if (!isRsaPublic(cert.publicKey) || publicKeyFingerprint(cert.publicKey) !== sig.publicKeySha256) return { problem: 'manifest.sig: the certificate is not for the signing key' };
    if (forge.pki.certificateToPem(cert).trim() !== sig.certificate) return edited;
    if (sig.signer !== commonName(cert)) return { problem: 'manifest.sig: the signer name does not match the certificate' };
    signer.certificateSha256 = certificateSha256(cert);
    signer.name = commonName(cert);
  } else if (sig.signer !== undefined) return { problem: 'manifest.sig names a signer without a certificate' };
  if (signatureText(sig) !== bytes.toString('utf8')) return edited;
  return { signer };
}

const short = (fp: string) => `${fp.slice(0, 16)}…`;

/**
 * Checks manifest.sig. With a trusted key the signature must be by that key; without one it is
 * checked against the public key it carries, which proves the manifest is unchanged since signing
 * but not who signed it (the result says so, with the fingerprint to compare).
 */
export function signatureChecker(trusted?: TrustedKey): SignatureChecker {
  return (manifestBytes, signatureBytes) => {
    let sig: ManifestSignature;
    try {
      sig = JSON.parse(signatureBytes.toString('utf8')) as ManifestSignature;
    } catch {
      return { ok: false, detail: 'manifest.sig is not valid JSON' };
    }
    if (sig?.algorithm !== SIGNATURE_ALGORITHM) {
      return { ok: false, detail: `unsupported signature (algorithm ${String(sig?.algorithm)}; expected ${SIGNATURE_ALGORITHM})` };
    }
    const read = readSignature(sig, signatureBytes);
    if ('problem' in read) return { ok: false, detail: read.problem };
    const by = `${sig.signer ? `"${sig.signer}", ` : ''}key sha256 ${short(sig.publicKeySha256)}`;
    if (sig.signedSha256 !== sha256(manifestBytes)) {
      return { ok: false, detail: `manifest.json changed after it was signed (signed by ${by})` };
    }
    // The manifest names its signer, so the signature covers who signed (key, certificate, name) too.
    let named: ManifestSigner | undefined;
    try {
      named = (JSON.parse(manifestBytes.toString('utf8')) as Manifest).signer;
    } catch {
      return { ok: false, detail: 'manifest.json is not valid JSON' };
    }
    if (!sameSigner(named, read.signer)) return { ok: false, detail: 'manifest.sig is not by the signer manifest.json names (key or certificate differ)' };
    if (trusted && trusted.fingerprint !== sig.publicKeySha256) {
      return { ok: false, detail: `signed by another key (${by}), not by ${trusted.label} (key sha256 ${short(trusted.fingerprint)})` };
    }
    const key = trusted?.publicKey ?? (forge.pki.publicKeyFromPem(sig.publicKey) as forge.pki.rsa.PublicKey);
    if (!rsaVerify(key, manifestBytes, sig.signature)) return { ok: false, detail: `the signature is wrong: it was not made over this manifest.json by ${by}` };
    return trusted
      ? { ok: true, detail: `valid ${SIGNATURE_ALGORITHM} signature by ${trusted.label} (key sha256 ${sig.publicKeySha256})` }
      : { ok: true, detail: `valid ${SIGNATURE_ALGORITHM} signature by ${by}, checked with the key it carries (full fingerprint ${sig.publicKeySha256}); give --key or --cert to check it is your lab's` };
  };
}

export interface LabKeyFiles {
  privateKey: string;
  certificate: string;
  publicKey: string;
  fingerprint: string;
}

/**
 * Makes a lab key pair and a self-signed certificate (10 years, digitalSignature + nonRepudiation):
 * `lab-key.pem` (private key PKCS#8 followed by the certificate; mode 0600), `lab-cert.pem` and
 * `lab-public.pem` to hand to whoever verifies. Refuses to replace existing files.
 */
export function writeLabKey(dir: string, name: string, bits = 3072, now = new Date()): LabKeyFiles {
  const files = { privateKey: path.join(dir, 'lab-key.pem'), certificate: path.join(dir, 'lab-cert.pem'), publicKey: path.join(dir, 'lab-public.pem') };
  for (const f of Object.values(files)) if (fs.existsSync(f)) throw new KeyError(`${f} exists; choose another --out (a lab key is never overwritten)`);
  const keys = forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  // A positive serial of 16 random bytes.
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = now;
  cert.validity.notAfter = new Date(now.getTime() + 10 * 365.25 * 24 * 3600 * 1000);
  const subject = [{ name: 'commonName', value: name }, { name: 'organizationName', value: name }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const keyPem = forge.pki.privateKeyInfoToPem(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keys.privateKey)));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(files.privateKey, keyPem + certPem, { mode: 0o600, flag: 'wx' });
  fs.chmodSync(files.privateKey, 0o600); // the umask may have masked bits out, never in; make it exact
  fs.writeFileSync(files.certificate, certPem, { flag: 'wx' });
  fs.writeFileSync(files.publicKey, forge.pki.publicKeyToPem(keys.publicKey), { flag: 'wx' });
  return { ...files, fingerprint: publicKeyFingerprint(keys.publicKey) };
}
