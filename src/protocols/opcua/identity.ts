import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MissingInput } from '../../sdk';
import { readNamedFile } from '../../sdk/input-file';
import { describeCertificate, makeApplicationCertificate, toPem, type CertificateSummary } from './certificate';

/** The application instance certificate and key the harness presents as an OPC UA client. */
export interface ClientIdentity {
  readonly certificate: Buffer;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly applicationUri: string;
  /** "generated" (per process), "fresh" (made for one test), "expired" (made for one test) or the file path. */
  readonly source: string;
}

export const HARNESS_APPLICATION_NAME = 'iacs-probe';
const DAY = 24 * 3600 * 1000;

function applicationUri(tag: string): string {
  return `urn:iacs-probe:${os.hostname().replace(/[^A-Za-z0-9.-]/g, '-')}:${tag}`;
}

let processIdentity: { identity: ClientIdentity; folder: string } | undefined;

/**
 * The harness's own client certificate: generated once per process (RSA 2048, SHA-256) and kept in a
 * PKI folder under the system temp directory (never the working directory), removed at exit. A device
 * that rejects unknown clients will not trust it: name a certificate the device trusts in the profile
 * (service options `clientCertificate` / `clientPrivateKey`) for tests that need a trusted client.
 */
export function harnessIdentity(): ClientIdentity {
  if (processIdentity) return processIdentity.identity;
  const uri = applicationUri('client');
  const pair = makeApplicationCertificate({ applicationUri: uri, commonName: HARNESS_APPLICATION_NAME, organization: 'iacs-probe', hosts: [os.hostname()] });
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), `iacs-probe-opcua-${process.pid}-`));
  fs.mkdirSync(path.join(folder, 'own', 'certs'), { recursive: true });
  fs.mkdirSync(path.join(folder, 'own', 'private'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(folder, 'own', 'certs', 'client_certificate.pem'), pair.certificatePem);
  fs.writeFileSync(path.join(folder, 'own', 'private', 'private_key.pem'), pair.privateKeyPem, { mode: 0o600 });
  process.once('exit', () => fs.rmSync(folder, { recursive: true, force: true }));
  processIdentity = {
    folder,
    identity: { certificate: pair.certificate, certificatePem: pair.certificatePem, privateKeyPem: pair.privateKeyPem, applicationUri: uri, source: 'generated' },
  };
  return processIdentity.identity;
}

/** A certificate no server can know: new key, self-signed, made now. `expired` backdates it. */
export function throwawayIdentity(kind: 'fresh' | 'expired'): ClientIdentity {
  const uri = applicationUri(kind);
  const now = Date.now();
  const pair = makeApplicationCertificate({
    applicationUri: uri, commonName: `${HARNESS_APPLICATION_NAME} ${kind}`, organization: 'iacs-probe', hosts: [os.hostname()],
    ...(kind === 'expired' ? { notBefore: new Date(now - 730 * DAY), notAfter: new Date(now - 365 * DAY) } : {}),
  });
  return { certificate: pair.certificate, certificatePem: pair.certificatePem, privateKeyPem: pair.privateKeyPem, applicationUri: uri, source: kind };
}

/** A client certificate and key from PEM files (what the profile names). */
export function identityFromFiles(certificateFile: string, privateKeyFile: string): ClientIdentity {
  const certificatePem = readNamedFile(certificateFile, 'OPC UA client certificate (clientCertificate)');
  const privateKeyPem = readNamedFile(privateKeyFile, 'OPC UA client private key (clientPrivateKey)');
  const b64 = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(certificatePem)?.[1];
  if (!b64) throw new MissingInput(`OPC UA client certificate ${certificateFile}: no PEM certificate in it`);
  const certificate = Buffer.from(b64.replace(/\s+/g, ''), 'base64');
  const summary: CertificateSummary = describeCertificate(certificate);
  if (!summary.applicationUri) throw new MissingInput(`OPC UA client certificate ${certificateFile}: no ApplicationUri (URI subjectAltName)`);
  let matches: boolean;
  try {
    const spki = (k: crypto.KeyObject) => k.export({ type: 'spki', format: 'der' });
    matches = spki(crypto.createPublicKey(privateKeyPem)).equals(spki(new crypto.X509Certificate(certificate).publicKey));
  } catch (err) {
    throw new MissingInput(`OPC UA client key ${privateKeyFile}: not a usable unencrypted private key (${(err as Error).message})`);
  }
  if (!matches) throw new MissingInput(`OPC UA client key ${privateKeyFile} does not belong to the certificate ${certificateFile}`);
  return { certificate, certificatePem: toPem(certificate), privateKeyPem, applicationUri: summary.applicationUri, source: certificateFile };
}
