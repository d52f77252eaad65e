import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  MANIFEST, MANIFEST_DIGEST, MANIFEST_FILES, MANIFEST_SIGNATURE, listFiles, sha256,
} from './store';

export interface ManifestEntry {
  path: string;
  sha256: string;
  bytes: number;
}

export interface Manifest {
  schemaVersion: 1;
  runId: string;
  createdAt: string;
  complete: boolean;
  tool: { name: string; version: string };
  environment: {
    node: string;
    platform: string;
    hostname: string;
    operator: string;
    /** Versions of the protocol libraries the tool was built with. */
    libraries: Record<string, string>;
    /** External programs probes ran (nmap, ...). */
    externalTools: Record<string, string>;
  };
  /** Who signs the folder (--sign): manifest.sig must match it, so the signature covers the signer too. */
  signer?: ManifestSigner;
  files: ManifestEntry[];
}

export interface ManifestSigner {
  algorithm: string;
  /** sha256 (hex) of the signing key's SubjectPublicKeyInfo (DER). */
  publicKeySha256: string;
  /** sha256 (hex) of the signer certificate (DER), when one comes with the key. */
  certificateSha256?: string;
  name?: string;
}

export type ManifestHeader = Omit<Manifest, 'schemaVersion' | 'files' | 'createdAt'>;

/**
 * Hashes every file of the folder into manifest.json and writes manifest.sha256, which holds the
 * digest of manifest.json's exact bytes in sha256sum format, so that a change of any byte anywhere in
 * the folder is detected (`sha256sum -c manifest.sha256` works too).
 */
export function writeManifest(dir: string, header: ManifestHeader): Manifest {
  const files = listFiles(dir)
    .filter((rel) => !MANIFEST_FILES.has(rel))
    .map((rel) => {
      const data = fs.readFileSync(path.join(dir, rel));
      return { path: rel, sha256: sha256(data), bytes: data.length };
    });
  const manifest: Manifest = { schemaVersion: 1, createdAt: new Date().toISOString(), ...header, files };
  const text = JSON.stringify(manifest, null, 2) + '\n';
  fs.writeFileSync(path.join(dir, MANIFEST), text);
  fs.writeFileSync(path.join(dir, MANIFEST_DIGEST), `${sha256(text)}  ${MANIFEST}\n`);
  return manifest;
}

export type VerifyProblemKind = 'modified' | 'missing' | 'unexpected' | 'manifest' | 'signature';

export interface VerifyProblem {
  path: string;
  kind: VerifyProblemKind;
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  manifest?: Manifest;
  checkedFiles: number;
  signed: boolean;
  /** What the signature check said (when the folder is signed and a checker was given). */
  signature?: { ok: boolean; detail: string };
  problems: VerifyProblem[];
}

/** Checks a signature over manifest.json's bytes; installed by the signing module when present. */
export type SignatureChecker = (manifestBytes: Buffer, signature: Buffer) => { ok: boolean; detail: string };

export function verifyFolder(dir: string, checkSignature?: SignatureChecker): VerifyResult {
  const problems: VerifyProblem[] = [];
  const manifestPath = path.join(dir, MANIFEST);
  if (!fs.existsSync(manifestPath)) {
    return { ok: false, checkedFiles: 0, signed: false, problems: [{ path: MANIFEST, kind: 'missing', detail: 'no manifest.json: not an evidence folder, or the run never finished writing' }] };
  }
  const manifestBytes = fs.readFileSync(manifestPath);
  const digestPath = path.join(dir, MANIFEST_DIGEST);
  if (!fs.existsSync(digestPath)) {
    problems.push({ path: MANIFEST_DIGEST, kind: 'missing', detail: 'the digest of manifest.json is missing' });
  } else {
    const expected = `${sha256(manifestBytes)}  ${MANIFEST}\n`;
    if (fs.readFileSync(digestPath, 'utf8') !== expected) {
      problems.push({ path: MANIFEST, kind: 'manifest', detail: 'manifest.json does not match manifest.sha256 (one of them was changed)' });
    }
  }
  let manifest: Manifest | undefined;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
  } catch (err) {
    problems.push({ path: MANIFEST, kind: 'manifest', detail: `not valid JSON: ${(err as Error).message}` });
  }
  let signed = false;
  let signature: VerifyResult['signature'];
  const sigPath = path.join(dir, MANIFEST_SIGNATURE);
  if (fs.existsSync(sigPath)) {
    signed = true;
    if (!checkSignature) {
      problems.push({ path: MANIFEST_SIGNATURE, kind: 'signature', detail: 'signed folder, but no key was given to check the signature' });
    } else {
      const res = checkSignature(manifestBytes, fs.readFileSync(sigPath));
      signature = res;
      if (!res.ok) problems.push({ path: MANIFEST_SIGNATURE, kind: 'signature', detail: res.detail });
    }
  }
  if (!manifest || !Array.isArray(manifest.files)) {
    return { ok: false, manifest, checkedFiles: 0, signed, signature, problems };
  }
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  const present = new Set(listFiles(dir).filter((rel) => !MANIFEST_FILES.has(rel)));
  for (const [rel, entry] of listed) {
    if (!present.has(rel)) {
      problems.push({ path: rel, kind: 'missing', detail: 'listed in the manifest but not in the folder' });
      continue;
    }
    const data = fs.readFileSync(path.join(dir, rel));
    if (data.length !== entry.bytes || sha256(data) !== entry.sha256) {
      problems.push({ path: rel, kind: 'modified', detail: `sha256 ${sha256(data)} (${data.length} bytes), manifest says ${entry.sha256} (${entry.bytes} bytes)` });
    }
  }
  for (const rel of present) {
    if (!listed.has(rel)) problems.push({ path: rel, kind: 'unexpected', detail: 'in the folder but not in the manifest' });
  }
  return { ok: problems.length === 0, manifest, checkedFiles: listed.size, signed, signature, problems };
}
