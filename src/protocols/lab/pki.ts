/**
 * A lab PKI made at run time (demo, tests, a bench without its own CA): a lab CA, the collector's server
 * certificate and, for mutual TLS, a sender (device) certificate. A real lab installs its own CA on the
 * device and names the files in the profile's `lab.tls` block instead.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey, issueCertificate, type IssuedCertificate } from '../x509';

const DAY = 86_400_000;

export interface LabPki {
  readonly ca: IssuedCertificate;
  readonly collector: IssuedCertificate;
  /** A certificate a device (syslog sender) presents for mutual TLS. */
  readonly sender: IssuedCertificate;
  /** PEM files written: caFile, collectorCert/Key, senderCert/Key. */
  readonly files: Readonly<Record<'caFile' | 'collectorCert' | 'collectorKey' | 'senderCert' | 'senderKey', string>>;
}

/** Makes the lab PKI (P-256, valid from yesterday for `validDays`, default 30) and writes it under `dir` (keys 0600). */
export function makeLabPki(dir: string, options: { address: string; collectorName?: string; senderName?: string; validDays?: number }): LabPki {
  const now = Date.now();
  const validity = { notBefore: new Date(now - DAY), notAfter: new Date(now + (options.validDays ?? 30) * DAY) };
  const ca = issueCertificate({ commonName: 'iacs-probe lab CA', key: generateKey({ type: 'ec', curve: 'P-256' }), isCa: true, ...validity });
  const collectorName = options.collectorName ?? 'collector.lab';
  const collector = issueCertificate({
    commonName: collectorName, key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, ...validity,
    altNames: [collectorName, options.address, 'localhost'], extendedKeyUsage: ['serverAuth'],
  });
  const senderName = options.senderName ?? 'device.lab';
  const sender = issueCertificate({
    commonName: senderName, key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca, ...validity,
    altNames: [senderName], extendedKeyUsage: ['clientAuth'],
  });
  fs.mkdirSync(dir, { recursive: true });
  const write = (name: string, text: string, secret = false) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: secret ? 0o600 : 0o644 });
    return file;
  };
  return {
    ca, collector, sender,
    files: {
      caFile: write('lab-ca.crt', ca.pem), collectorCert: write('collector.crt', collector.pem), collectorKey: write('collector.key', collector.keyPem, true),
      senderCert: write('sender.crt', sender.pem), senderKey: write('sender.key', sender.keyPem, true),
    },
  };
}
