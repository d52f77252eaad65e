import * as fs from 'node:fs';
import { verifyFolder } from '../evidence/manifest';
import { KeyError, loadTrustedKey, signatureChecker, type TrustedKey } from '../evidence/signing';
import { EXIT, UsageError, parse, type Io } from './common';

export const VERIFY_USAGE = `usage: iacs-probe verify <run-dir> [--key PUBLIC.pem | --cert CERT.pem]

  Checks the evidence folder: manifest.json against manifest.sha256, every file's sha256 and size,
  no file missing or added, and the signature in manifest.sig when there is one. With --key or --cert
  the folder must be signed by that key; without, a signature is checked against the public key it
  carries (which shows the manifest is unchanged since signing, not who signed it).
  Exit 0 when intact, 1 when anything changed (each file is named) or the signature is wrong.`;

export function verifyCommand(args: string[], io: Io): number {
  const { values, positionals } = parse(args, { key: { type: 'string' }, cert: { type: 'string' } }, { min: 1, max: 1, names: 'the run folder' });
  const dir = positionals[0];
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder`);
  if (values.key !== undefined && values.cert !== undefined) throw new UsageError('give --key or --cert, not both');
  const keyFile = values.key ?? values.cert;
  let trusted: TrustedKey | undefined;
  if (typeof keyFile === 'string') {
    try {
      trusted = loadTrustedKey(keyFile);
    } catch (err) {
      if (err instanceof KeyError) throw new UsageError(err.message);
      throw err;
    }
  }
  const result = verifyFolder(dir, signatureChecker(trusted));
  if (trusted && !result.signed) {
    result.problems.push({ path: 'manifest.sig', kind: 'missing', detail: `the folder is not signed (a key was given to check its signature: ${trusted.label})` });
    result.ok = false;
  }
  if (result.ok) {
    io.out.write(`OK: ${dir}: ${result.checkedFiles} files match manifest.json (run ${result.manifest?.runId}${result.manifest?.complete === false ? ', incomplete run' : ''})\n`);
    io.out.write(result.signature ? `Signature: ${result.signature.detail}\n` : 'Not signed (no manifest.sig).\n');
    return EXIT.ok;
  }
  io.out.write(`FAILED: ${dir}: ${result.problems.length} problem(s)\n`);
  for (const p of result.problems) io.out.write(`  ${p.kind.padEnd(10)} ${p.path}: ${p.detail}\n`);
  return EXIT.failed;
}
