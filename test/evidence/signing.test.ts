import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { verifyFolder, writeManifest } from '../../src/evidence/manifest';
import {
  KeyError, PASSPHRASE_ENV, loadSigningKey, loadTrustedKey, manifestSigner, signManifest, signatureChecker, writeLabKey,
  type LabKeyFiles, type ManifestSignature,
} from '../../src/evidence/signing';
import { RunStore } from '../../src/evidence/store';
import { findExecutable, requirePeer } from '../helpers/peers';

/** (Re)writes the manifest naming the key's owner as signer, as a run with --sign does, and signs it. */
function sign(dir: string, keyFile: string): void {
  const key = loadSigningKey(keyFile);
  const old = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Parameters<typeof writeManifest>[1];
  writeManifest(dir, { ...old, signer: manifestSigner(key) });
  signManifest(dir, key);
}

function makeFolder(dir: string): void {
  const store = RunStore.create(dir, { overwrite: true });
  store.journal({ type: 'run-start' });
  store.recorder('ssh.algorithms', '127.0.0.1:22').save('lists.json', { kex: ['curve25519-sha256'] });
  store.writeFile('report.json', '{"schemaVersion":1}\n');
  store.close();
  writeManifest(dir, {
    runId: 'r', complete: true, tool: { name: 'iacs-probe', version: '0' },
    environment: { node: 'v20', platform: 'x', hostname: 'h', operator: 'o', libraries: {}, externalTools: {} },
  });
}

describe('evidence signing (manifest.sig)', function () {
  this.timeout(30_000);
  let root: string;
  let lab: LabKeyFiles;
  let other: LabKeyFiles;
  let folder: string;

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-sign-'));
    // 2048-bit keys keep the suite fast; keygen's default is 3072.
    lab = writeLabKey(path.join(root, 'lab'), 'Prüflabor X «Lab»', 2048);
    other = writeLabKey(path.join(root, 'other'), 'Someone else', 2048);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  beforeEach(() => {
    folder = path.join(root, 'run');
    makeFolder(folder);
    sign(folder, lab.privateKey);
  });

  it('keygen writes a 0600 private key with its certificate, a certificate and a public key, and never overwrites', () => {
    expect(fs.statSync(lab.privateKey).mode & 0o777).to.equal(0o600);
    const key = loadSigningKey(lab.privateKey);
    expect(key.certificate?.subject.getField('CN')?.value).to.equal('Prüflabor X «Lab»');
    expect(key.fingerprint).to.equal(lab.fingerprint);
    expect(loadTrustedKey(lab.certificate).fingerprint).to.equal(lab.fingerprint);
    expect(loadTrustedKey(lab.publicKey).fingerprint).to.equal(lab.fingerprint);
    expect(() => writeLabKey(path.join(root, 'lab'), 'again', 2048)).to.throw(KeyError, /exists/);
  });

  it('a signed folder verifies with the certificate, the public key, and (untrusted) with the key it carries', () => {
    for (const trusted of [loadTrustedKey(lab.certificate), loadTrustedKey(lab.publicKey)]) {
      const r = verifyFolder(folder, signatureChecker(trusted));
      expect(r.ok, JSON.stringify(r.problems)).to.equal(true);
      expect(r.signed).to.equal(true);
      expect(r.signature?.detail).to.match(/^valid RSASSA-PKCS1-v1_5-SHA256 signature by lab-(cert|public)\.pem/);
    }
    const untrusted = verifyFolder(folder, signatureChecker());
    expect(untrusted.ok).to.equal(true);
    expect(untrusted.signature?.detail).to.contain('"Prüflabor X «Lab»"').and.to.contain('give --key or --cert');
    const sig = JSON.parse(fs.readFileSync(path.join(folder, 'manifest.sig'), 'utf8')) as ManifestSignature;
    expect(sig).to.include({ algorithm: 'RSASSA-PKCS1-v1_5-SHA256', publicKeySha256: lab.fingerprint, signer: 'Prüflabor X «Lab»' });
    expect(sig.certificate).to.match(/^-----BEGIN CERTIFICATE-----/);
  });

  it('OpenSSL checks the signature and computes the same key fingerprint', function () {
    const openssl = requirePeer(this, 'openssl', findExecutable('openssl'), 'Debian package openssl');
    const sig = JSON.parse(fs.readFileSync(path.join(folder, 'manifest.sig'), 'utf8')) as ManifestSignature;
    const bin = path.join(root, 'manifest.sig.bin');
    fs.writeFileSync(bin, Buffer.from(sig.signature, 'base64'));
    const out = execFileSync(openssl, ['dgst', '-sha256', '-verify', lab.publicKey, '-signature', bin, path.join(folder, 'manifest.json')], { encoding: 'utf8' });
    expect(out.trim()).to.equal('Verified OK');
    const der = execFileSync(openssl, ['pkey', '-pubin', '-in', lab.publicKey, '-outform', 'der']);
    expect(createHash('sha256').update(der).digest('hex')).to.equal(sig.publicKeySha256);
  });

  it('a changed file is named; a rewritten manifest, a forged signature and another key are each told apart', () => {
    const trusted = signatureChecker(loadTrustedKey(lab.certificate));
    fs.appendFileSync(path.join(folder, 'report.json'), ' ');
    expect(verifyFolder(folder, trusted).problems.map((p) => `${p.kind}:${p.path}`)).to.deep.equal(['modified:report.json']);

    // Someone re-hashes the folder after the change: the manifest no longer matches what was signed.
    writeManifest(folder, JSON.parse(fs.readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as Parameters<typeof writeManifest>[1]);
    const rewritten = verifyFolder(folder, trusted);
    expect(rewritten.problems.map((p) => p.kind)).to.deep.equal(['signature']);
    expect(rewritten.problems[0].detail).to.match(/^manifest\.json changed after it was signed/);
    expect(verifyFolder(folder, signatureChecker()).ok).to.equal(false);

    // ... and re-signs it with their own key.
    sign(folder, other.privateKey);
    expect(verifyFolder(folder, signatureChecker()).ok, 'untrusted check only proves consistency').to.equal(true);
    expect(verifyFolder(folder, trusted).problems[0].detail).to.match(/^signed by another key \("Someone else"/);

    // A signature that is not over these bytes.
    const sigFile = path.join(folder, 'manifest.sig');
    const sig = JSON.parse(fs.readFileSync(sigFile, 'utf8')) as ManifestSignature;
    const bytes = Buffer.from(sig.signature, 'base64');
    bytes[10] ^= 1;
    fs.writeFileSync(sigFile, JSON.stringify({ ...sig, signature: bytes.toString('base64') }, null, 2) + '\n');
    expect(verifyFolder(folder, signatureChecker(loadTrustedKey(other.publicKey))).problems[0].detail).to.match(/^the signature is wrong/);
  });

  it('flipping any bit of manifest.sig is detected (unused base64 bits included)', () => {
    const manifest = fs.readFileSync(path.join(folder, 'manifest.json'));
    const original = fs.readFileSync(path.join(folder, 'manifest.sig'));
    // The untrusted check is the weaker one (the trusted one also pins the key): it must catch every edit.
    const checks = [signatureChecker()];
    for (const check of checks) expect(check(manifest, original).ok).to.equal(true);
    const missed: string[] = [];
    for (let at = 0; at < original.length; at++) {
      for (const bit of at % 2 ? [0x01] : [0x20]) {
        const changed = Buffer.from(original);
        changed[at] ^= bit;
        if (checks.some((check) => check(manifest, changed).ok)) missed.push(`byte ${at} bit ${bit}`);
      }
    }
    expect(missed).to.deep.equal([]);
  });

  it('an unsigned folder checked with a key, or a signed one without a checker, is reported', () => {
    fs.rmSync(path.join(folder, 'manifest.sig'));
    expect(verifyFolder(folder, signatureChecker(loadTrustedKey(lab.publicKey))).signed).to.equal(false);
    expect(() => signManifest(folder, loadSigningKey(other.privateKey))).to.throw(KeyError, /does not name/);
    signManifest(folder, loadSigningKey(lab.privateKey));
    expect(verifyFolder(folder).problems[0]).to.include({ kind: 'signature' });
  });

  it('reads PKCS#8 keys OpenSSL made, encrypted ones with the passphrase from the environment; refuses EC keys and garbage', function () {
    const openssl = requirePeer(this, 'openssl', findExecutable('openssl'), 'Debian package openssl');
    const enc = path.join(root, 'enc.pem');
    const ec = path.join(root, 'ec.pem');
    execFileSync(openssl, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-aes-256-cbc', '-pass', 'pass:s3cret', '-out', enc], { stdio: 'ignore' });
    execFileSync(openssl, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', ec], { stdio: 'ignore' });
    const saved = process.env[PASSPHRASE_ENV];
    try {
      delete process.env[PASSPHRASE_ENV];
      expect(() => loadSigningKey(enc)).to.throw(KeyError, /IACS_PROBE_KEY_PASSPHRASE/);
      process.env[PASSPHRASE_ENV] = 'wrong';
      expect(() => loadSigningKey(enc)).to.throw(KeyError, /wrong passphrase/);
      process.env[PASSPHRASE_ENV] = 's3cret';
      sign(folder, enc);
      const pub = path.join(root, 'enc-pub.pem');
      execFileSync(openssl, ['pkey', '-in', enc, '-passin', 'pass:s3cret', '-pubout', '-out', pub]);
      expect(verifyFolder(folder, signatureChecker(loadTrustedKey(pub))).ok).to.equal(true);
    } finally {
      if (saved === undefined) delete process.env[PASSPHRASE_ENV];
      else process.env[PASSPHRASE_ENV] = saved;
    }
    expect(() => loadSigningKey(ec)).to.throw(KeyError, /only RSA keys/);
    expect(() => loadSigningKey(path.join(folder, 'report.json'))).to.throw(KeyError, /no private key/);
    expect(() => loadTrustedKey(path.join(folder, 'report.json'))).to.throw(KeyError, /no PUBLIC KEY or CERTIFICATE/);
  });
});
