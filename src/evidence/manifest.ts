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

export type VerifyProblemKind = 'modified' | 'missing' | 'unexpected' | 'manifest' | 'signature' | 'not-a-file';

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

/**
 * The bytes of one file of the folder, or undefined with a problem when it is not a regular file: a symlink
 * could stand for a file with the same content kept elsewhere, and a FIFO would block the read.
 */
function readRegular(dir: string, rel: string, problems: VerifyProblem[]): Buffer | undefined {
  const stat = fs.lstatSync(path.join(dir, rel));
  if (stat.isFile()) return fs.readFileSync(path.join(dir, rel));
  const what = stat.isSymbolicLink() ? `a symlink (to ${fs.readlinkSync(path.join(dir, rel))})` : stat.isDirectory() ? 'a folder' : 'not a regular file';
  problems.push({ path: rel, kind: 'not-a-file', detail: `is ${what}; an evidence folder holds regular files only` });
  return undefined;
}

const validEntry = (f: unknown): f is ManifestEntry => {
  const e = f as Partial<ManifestEntry> | null;
  return typeof e?.path === 'string' && typeof e.sha256 === 'string' && typeof e.bytes === 'number';
};

export function verifyFolder(dir: string, checkSignature?: SignatureChecker): VerifyResult {
  const problems: VerifyProblem[] = [];
  const exists = (rel: string) => fs.lstatSync(path.join(dir, rel), { throwIfNoEntry: false }) !== undefined;
  if (!exists(MANIFEST)) {
    return { ok: false, checkedFiles: 0, signed: false, problems: [{ path: MANIFEST, kind: 'missing', detail: 'no manifest.json: not an evidence folder, or the run never finished writing' }] };
  }
  const manifestBytes = readRegular(dir, MANIFEST, problems);
  if (!manifestBytes) return { ok: false, checkedFiles: 0, signed: false, problems };
  if (!exists(MANIFEST_DIGEST)) {
    problems.push({ path: MANIFEST_DIGEST, kind: 'missing', detail: 'the digest of manifest.json is missing' });
  } else {
    const digest = readRegular(dir, MANIFEST_DIGEST, problems)?.toString('utf8');
    if (digest !== undefined && digest !== `${sha256(manifestBytes)}  ${MANIFEST}\n`) {
      problems.push(/^[0-9a-f]{64} {2}manifest\.json\n$/.test(digest)
        ? { path: MANIFEST, kind: 'manifest', detail: `manifest.json does not match the digest in ${MANIFEST_DIGEST} (one of them was changed)` }
        : { path: MANIFEST_DIGEST, kind: 'manifest', detail: `not a sha256sum line for ${MANIFEST} ("<64 hex digits>  manifest.json")` });
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
  if (exists(MANIFEST_SIGNATURE)) {
    signed = true;
    const signatureBytes = readRegular(dir, MANIFEST_SIGNATURE, problems);
    if (!checkSignature) {
      problems.push({ path: MANIFEST_SIGNATURE, kind: 'signature', detail: 'signed folder, but no key was given to check the signature' });
    } else if (signatureBytes) {
      const res = checkSignature(manifestBytes, signatureBytes);
      signature = res;
      if (!res.ok) problems.push({ path: MANIFEST_SIGNATURE, kind: 'signature', detail: res.detail });
    }
  }
  if (!signed && manifest?.signer) {
    problems.push({ path: MANIFEST_SIGNATURE, kind: 'missing', detail: 'manifest.json names a signer, but the signature is gone' });
  }
  if (!manifest || !Array.isArray(manifest.files) || !manifest.files.every(validEntry)) {
    if (manifest) problems.push({ path: MANIFEST, kind: 'manifest', detail: 'its "files" list is not a list of { path, sha256, bytes }' });
    return { ok: false, manifest, checkedFiles: 0, signed, signature, problems };
  }
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  const present = new Set(listFiles(dir).filter((rel) => !MANIFEST_FILES.has(rel)));
  for (const [rel, entry] of listed) {
    if (!present.has(rel)) {
      problems.push({ path: rel, kind: 'missing', detail: 'listed in the manifest but not in the folder' });
      continue;
    }
    const data = readRegular(dir, rel, problems);
    if (data && (data.length !== entry.bytes || sha256(data) !== entry.sha256)) {
      problems.push({ path: rel, kind: 'modified', detail: `sha256 ${sha256(data)} (${data.length} bytes), manifest says ${entry.sha256} (${entry.bytes} bytes)` });
    }
  }
  for (const rel of present) {
    if (listed.has(rel)) continue;
    problems.push({ path: rel, kind: 'unexpected', detail: 'in the folder but not in the manifest' });
  }
  return { ok: problems.length === 0, manifest, checkedFiles: listed.size, signed, signature, problems };
}
