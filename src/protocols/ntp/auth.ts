/**
 * NTP symmetric-key authentication (RFC 5905 §7.3 and §9.2 MAC; RFC 8573 AES-CMAC): the MAC trailer of a
 * 48-byte header is `key id (32 bit) || digest`. Digests: MD5 or SHA1 over `key || packet` (as ntpd and
 * chrony compute them; 16 and 20 bytes), AES-128-CMAC over the packet (RFC 4493, 16 bytes).
 */
import { createCipheriv, createHash, timingSafeEqual } from 'node:crypto';
import type { NtpKey, NtpKeyType } from '../../sdk';
import { NTP_HEADER_BYTES } from './packet';

export { NTP_KEY_TYPES, ntpKeyMaterial, ntpKeyProblem, type NtpKey, type NtpKeyType } from '../../sdk';

const DIGEST_BYTES: Record<NtpKeyType, number> = { MD5: 16, SHA1: 20, AES128CMAC: 16 };

function leftShift(block: Buffer): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i += 1) out[i] = ((block[i] << 1) & 0xff) | (i < 15 ? block[i + 1] >> 7 : 0);
  return out;
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i += 1) out[i] = a[i] ^ b[i];
  return out;
}

/** AES-128-CMAC (RFC 4493); Node's crypto has the block cipher, not the MAC. */
export function aesCmac(key: Buffer, message: Buffer): Buffer {
  const cipher = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  const encrypt = (block: Buffer) => cipher.update(block);
  const subkey = (l: Buffer) => {
    const shifted = leftShift(l);
    if (l[0] & 0x80) shifted[15] ^= 0x87;
    return shifted;
  };
  const k1 = subkey(encrypt(Buffer.alloc(16)));
  const k2 = subkey(k1);
  const blocks = Math.max(1, Math.ceil(message.length / 16));
  const complete = message.length > 0 && message.length % 16 === 0;
  const last = Buffer.alloc(16);
  message.copy(last, 0, (blocks - 1) * 16);
  if (!complete) last[message.length - (blocks - 1) * 16] = 0x80;
  let x = Buffer.alloc(16);
  for (let i = 0; i < blocks - 1; i += 1) x = encrypt(xor(x, message.subarray(i * 16, i * 16 + 16)));
  return encrypt(xor(x, xor(last, complete ? k1 : k2)));
}

/** The digest of `data` (the packet before the MAC) with `key`. */
export function ntpDigest(key: NtpKey, data: Buffer): Buffer {
  if (key.type === 'AES128CMAC') return aesCmac(key.secret, data);
  return createHash(key.type === 'MD5' ? 'md5' : 'sha1').update(key.secret).update(data).digest().subarray(0, DIGEST_BYTES[key.type]);
}

/** `packet || key id || digest`. */
export function appendMac(packet: Buffer, key: NtpKey): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(key.id >>> 0, 0);
  return Buffer.concat([packet, id, ntpDigest(key, packet)]);
}

/**
 * What authenticates a datagram: `none` (no trailer), `crypto-nak` (a bare zero key id), `unknown-key`,
 * `valid` or `invalid` (a MAC of a known key that does not verify), `unsupported` (extension fields or NTS:
 * a trailer that is no MAC of 16 or 20 bytes).
 */
export type NtpMacStatus = 'none' | 'crypto-nak' | 'unknown-key' | 'valid' | 'invalid' | 'unsupported';

export interface NtpMacCheck {
  readonly status: NtpMacStatus;
  readonly keyId?: number;
  readonly key?: NtpKey;
}

export function checkMac(datagram: Buffer, keys: readonly NtpKey[]): NtpMacCheck {
  const trailer = datagram.length - NTP_HEADER_BYTES;
  if (trailer <= 0) return { status: 'none' };
  if (trailer === 4) return { status: 'crypto-nak', keyId: datagram.readUInt32BE(NTP_HEADER_BYTES) };
  if (trailer !== 20 && trailer !== 24) return { status: 'unsupported' };
  const keyId = datagram.readUInt32BE(NTP_HEADER_BYTES);
  const key = keys.find((k) => k.id === keyId);
  if (!key) return { status: 'unknown-key', keyId };
  const expected = ntpDigest(key, datagram.subarray(0, NTP_HEADER_BYTES));
  const given = datagram.subarray(NTP_HEADER_BYTES + 4);
  const ok = given.length === expected.length && timingSafeEqual(given, expected);
  return { status: ok ? 'valid' : 'invalid', keyId, key };
}
