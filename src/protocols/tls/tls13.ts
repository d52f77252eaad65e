/**
 * Just enough of the TLS 1.3 key schedule (RFC 8446 §7) to read the server's encrypted handshake flight
 * (EncryptedExtensions, CertificateRequest, Certificate) after a raw ClientHello: the certificate chain as
 * sent and whether a client certificate is requested are otherwise invisible in TLS 1.3.
 */
import * as crypto from 'node:crypto';
import type { KeyShareOffer } from './wire';

/** A key share the scanner can complete (the private half stays here). */
export interface KeyShare extends KeyShareOffer {
  /** Computes the shared secret from the server's key_share. */
  secret(serverKey: Buffer): Buffer;
}

const X_SPKI_PREFIX: Record<string, Buffer> = {
  x25519: Buffer.from('302a300506032b656e032100', 'hex'),
  x448: Buffer.from('3042300506032b656f033900', 'hex'),
};

function xShare(group: number, curve: 'x25519' | 'x448'): KeyShare {
  const { publicKey, privateKey } = curve === 'x25519' ? crypto.generateKeyPairSync('x25519') : crypto.generateKeyPairSync('x448');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const key = spki.subarray(X_SPKI_PREFIX[curve].length);
  return {
    group, key,
    secret: (serverKey) => crypto.diffieHellman({
      privateKey,
      publicKey: crypto.createPublicKey({ key: Buffer.concat([X_SPKI_PREFIX[curve], serverKey]), format: 'der', type: 'spki' }),
    }),
  };
}

function ecShare(group: number, curve: string): KeyShare {
  const ecdh = crypto.createECDH(curve);
  const key = ecdh.generateKeys();
  return { group, key, secret: (serverKey) => ecdh.computeSecret(serverKey) };
}

/** Groups for which the scanner can make a key share and complete the key exchange. */
const SHARE_MAKERS: Readonly<Record<number, () => KeyShare>> = {
  29: () => xShare(29, 'x25519'),
  30: () => xShare(30, 'x448'),
  23: () => ecShare(23, 'prime256v1'),
  24: () => ecShare(24, 'secp384r1'),
  25: () => ecShare(25, 'secp521r1'),
};

export function canMakeKeyShare(group: number): boolean {
  return group in SHARE_MAKERS;
}

export function makeKeyShare(group: number): KeyShare {
  const make = SHARE_MAKERS[group];
  if (!make) throw new Error(`no key share for group ${group}`);
  return make();
}

interface SuiteParams {
  readonly hash: 'sha256' | 'sha384';
  readonly cipher: crypto.CipherGCMTypes | crypto.CipherCCMTypes | 'chacha20-poly1305';
  readonly keyLength: number;
  readonly tagLength: number;
}

/** TLS 1.3 suites whose records this module can decrypt (RFC 8446 B.4). */
const SUITES: Readonly<Record<number, SuiteParams>> = {
  0x1301: { hash: 'sha256', cipher: 'aes-128-gcm', keyLength: 16, tagLength: 16 },
  0x1302: { hash: 'sha384', cipher: 'aes-256-gcm', keyLength: 32, tagLength: 16 },
  0x1303: { hash: 'sha256', cipher: 'chacha20-poly1305', keyLength: 32, tagLength: 16 },
  0x1304: { hash: 'sha256', cipher: 'aes-128-ccm', keyLength: 16, tagLength: 16 },
  0x1305: { hash: 'sha256', cipher: 'aes-128-ccm', keyLength: 16, tagLength: 8 },
};

export function canDecrypt(suite: number): boolean {
  return suite in SUITES;
}

function hkdfExtract(hash: string, salt: Buffer, ikm: Buffer): Buffer {
  return crypto.createHmac(hash, salt).update(ikm).digest();
}

function hkdfExpand(hash: string, prk: Buffer, info: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let prev = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    prev = crypto.createHmac(hash, prk).update(Buffer.concat([prev, info, Buffer.from([i])])).digest();
    blocks.push(prev);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** HKDF-Expand-Label (RFC 8446 7.1). */
export function expandLabel(hash: string, secret: Buffer, label: string, context: Buffer, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'ascii');
  const info = Buffer.concat([
    Buffer.from([length >> 8, length & 0xff, full.length]), full, Buffer.from([context.length]), context,
  ]);
  return hkdfExpand(hash, secret, info, length);
}

/** Decrypts the server's handshake records, given the ECDHE secret and the ClientHello..ServerHello transcript. */
export class HandshakeDecrypter {
  private readonly params: SuiteParams;
  private readonly key: Buffer;
  private readonly iv: Buffer;
  private seq = 0n;

  constructor(suite: number, sharedSecret: Buffer, transcript: Buffer) {
    const params = SUITES[suite];
    if (!params) throw new Error(`cannot decrypt TLS 1.3 suite 0x${suite.toString(16)}`);
    this.params = params;
    const { hash } = params;
    const hashLen = hash === 'sha256' ? 32 : 48;
    const zeros = Buffer.alloc(hashLen);
    const early = hkdfExtract(hash, zeros, zeros);
    const emptyHash = crypto.createHash(hash).digest();
    const derived = expandLabel(hash, early, 'derived', emptyHash, hashLen);
    const handshakeSecret = hkdfExtract(hash, derived, sharedSecret);
    const transcriptHash = crypto.createHash(hash).update(transcript).digest();
    const serverSecret = expandLabel(hash, handshakeSecret, 's hs traffic', transcriptHash, hashLen);
    this.key = expandLabel(hash, serverSecret, 'key', Buffer.alloc(0), params.keyLength);
    this.iv = expandLabel(hash, serverSecret, 'iv', Buffer.alloc(0), 12);
  }

  /** Opens one application_data record; returns the inner content type and content. Throws on a bad tag. */
  open(header: Buffer, body: Buffer): { type: number; content: Buffer } {
    const { cipher, tagLength } = this.params;
    const nonce = Buffer.from(this.iv);
    const seq = this.seq++;
    for (let i = 0; i < 8; i++) nonce[11 - i] ^= Number((seq >> BigInt(8 * i)) & 0xffn);
    const ciphertext = body.subarray(0, body.length - tagLength);
    const tag = body.subarray(body.length - tagLength);
    let plain: Buffer;
    if (cipher === 'aes-128-ccm') {
      const d = crypto.createDecipheriv(cipher, this.key, nonce, { authTagLength: tagLength });
      d.setAuthTag(tag);
      d.setAAD(header, { plaintextLength: ciphertext.length });
      plain = Buffer.concat([d.update(ciphertext), d.final()]);
    } else {
      const d = crypto.createDecipheriv(cipher as crypto.CipherGCMTypes, this.key, nonce, { authTagLength: tagLength });
      d.setAuthTag(tag);
      d.setAAD(header);
      plain = Buffer.concat([d.update(ciphertext), d.final()]);
    }
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (end < 0) throw new Error('TLS 1.3 record without a content type');
    return { type: plain[end], content: plain.subarray(0, end) };
  }
}
