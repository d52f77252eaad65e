import * as fs from 'node:fs';
import { writeLabKey } from '../evidence/signing';
import { EXIT, UsageError, parse, type Io } from './common';

export const KEYGEN_USAGE = `usage: iacs-probe keygen --out DIR [--name "Lab X"] [--bits 2048|3072|4096]

  Makes a lab key pair for signing evidence folders (run --sign): an RSA key (default 3072 bits) and a
  self-signed certificate for it, valid 10 years, subject CN=O=<name>:
    DIR/lab-key.pem      private key (PKCS#8) followed by the certificate; mode 0600 - keep it secret
    DIR/lab-cert.pem     the certificate, for \`verify --cert\`
    DIR/lab-public.pem   the public key, for \`verify --key\` or openssl
  Existing files are never replaced.`;

export function keygenCommand(args: string[], io: Io): number {
  const { values } = parse(args, { out: { type: 'string' }, name: { type: 'string' }, bits: { type: 'string' } }, { min: 0, max: 0, names: '' });
  if (typeof values.out !== 'string') throw new UsageError('--out DIR is required');
  const bits = values.bits === undefined ? 3072 : Number(values.bits);
  if (![2048, 3072, 4096].includes(bits)) throw new UsageError('--bits must be 2048, 3072 or 4096');
  if (fs.existsSync(values.out) && !fs.statSync(values.out).isDirectory()) throw new UsageError(`${values.out} is not a folder`);
  const name = typeof values.name === 'string' && values.name.trim() ? values.name.trim() : 'iacs-probe lab';
  const files = writeLabKey(values.out, name, bits);
  io.out.write(`Lab key "${name}" (RSA ${bits}, key sha256 ${files.fingerprint}):\n`
    + `  private key + certificate (mode 0600, keep secret): ${files.privateKey}\n      iacs-probe run ... --sign ${files.privateKey}\n`
    + `  certificate: ${files.certificate}\n      iacs-probe verify <run-dir> --cert ${files.certificate}\n`
    + `  public key:  ${files.publicKey}\n      iacs-probe verify <run-dir> --key ${files.publicKey}\n`);
  return EXIT.ok;
}
