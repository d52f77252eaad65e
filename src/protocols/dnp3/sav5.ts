/**
 * Secure Authentication version 5 objects (IEEE 1815-2012 clause 7, group 120), in the layout opendnp3 and
 * Wireshark's dnp3 dissector use: every multi-octet field little-endian, objects in free format (qualifier
 * 0x5B, one object, 2-octet size prefix) except the key status request (g120v4, count qualifier).
 */
import { QUALIFIER, header, type ObjectBlock } from './application';

/** MAC algorithms (MAL) of table 7-4. */
export const MAC_ALGORITHMS: Readonly<Record<number, string>> = {
  0: 'none', 1: 'HMAC-SHA-1 truncated to 4 octets (serial)', 2: 'HMAC-SHA-1 truncated to 10 octets', 3: 'HMAC-SHA-256 truncated to 8 octets',
  4: 'HMAC-SHA-256 truncated to 16 octets', 5: 'AES-GMAC',
};
export const KEY_WRAP_ALGORITHMS: Readonly<Record<number, string>> = { 1: 'AES-128 key wrap', 2: 'AES-256 key wrap' };
export const KEY_STATUS: Readonly<Record<number, string>> = { 1: 'OK', 2: 'NOT_INIT', 3: 'COMM_FAIL', 4: 'AUTH_FAIL' };
export const CHALLENGE_REASONS: Readonly<Record<number, string>> = { 1: 'critical' };
export const AUTH_ERRORS: Readonly<Record<number, string>> = {
  1: 'authentication failed', 2: 'unexpected response', 3: 'no response', 4: 'aggressive mode not supported', 5: 'MAC algorithm not supported',
  6: 'key wrap algorithm not supported', 7: 'authorization failed', 8: 'update key change method not permitted', 9: 'invalid signature',
  10: 'invalid certification data', 11: 'unknown user', 12: 'max session key status requests exceeded',
};

const freeFormat = (variation: number, body: Buffer): Buffer => {
  const size = Buffer.alloc(2);
  size.writeUInt16LE(body.length, 0);
  return Buffer.concat([header(120, variation, QUALIFIER.freeFormat16, [1]), size, body]);
};

export interface Challenge {
  /** CSQ: challenge sequence number. */
  sequence: number;
  user: number;
  macAlgorithm: number;
  reason: number;
  challengeData: Buffer;
}

export function challengeObject(c: Challenge): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt32LE(c.sequence >>> 0, 0);
  fixed.writeUInt16LE(c.user, 4);
  fixed[6] = c.macAlgorithm;
  fixed[7] = c.reason;
  return freeFormat(1, Buffer.concat([fixed, c.challengeData]));
}

export interface KeyStatus {
  /** KSQ: key change sequence number. */
  sequence: number;
  user: number;
  keyWrapAlgorithm: number;
  keyStatus: number;
  macAlgorithm: number;
  challengeData: Buffer;
  mac: Buffer;
}

export function keyStatusObject(k: KeyStatus): Buffer {
  const fixed = Buffer.alloc(11);
  fixed.writeUInt32LE(k.sequence >>> 0, 0);
  fixed.writeUInt16LE(k.user, 4);
  fixed[6] = k.keyWrapAlgorithm;
  fixed[7] = k.keyStatus;
  fixed[8] = k.macAlgorithm;
  fixed.writeUInt16LE(k.challengeData.length, 9);
  return freeFormat(5, Buffer.concat([fixed, k.challengeData, k.mac]));
}

export interface AuthError {
  sequence: number;
  user: number;
  association: number;
  code: number;
  /** DNP3 time: milliseconds since 1970, 48 bits. */
  timeMs: number;
  text?: string;
}

export function authErrorObject(e: AuthError): Buffer {
  const fixed = Buffer.alloc(15);
  fixed.writeUInt32LE(e.sequence >>> 0, 0);
  fixed.writeUInt16LE(e.user, 4);
  fixed.writeUInt16LE(e.association, 6);
  fixed[8] = e.code;
  fixed.writeUIntLE(e.timeMs, 9, 6);
  return freeFormat(7, Buffer.concat([fixed, Buffer.from(e.text ?? '', 'latin1')]));
}

/** What an outstation's group 120 object says, decoded for the evidence. */
export type SaObject =
  | { kind: 'challenge'; sequence: number; user: number; macAlgorithm: string; reason: string; challengeOctets: number }
  | { kind: 'key-status'; sequence: number; user: number; keyWrapAlgorithm: string; keyStatus: string; macAlgorithm: string; challengeOctets: number; macOctets: number }
  | { kind: 'error'; sequence: number; user: number; association: number; code: number; error: string }
  | { kind: 'other'; variation: number; octets: number }
  | { kind: 'malformed'; variation: number; reason: string };

const named = (table: Readonly<Record<number, string>>, v: number) => table[v] ?? `unknown (${v})`;

export function decodeSaObject(block: ObjectBlock): SaObject | undefined {
  if (block.group !== 120 || block.values.length === 0) return undefined;
  const v = block.values[0];
  const malformed = (reason: string): SaObject => ({ kind: 'malformed', variation: block.variation, reason });
  switch (block.variation) {
    case 1:
      if (v.length < 12) return malformed(`g120v1 of ${v.length} octets (at least 8 + 4 of challenge data)`);
      return { kind: 'challenge', sequence: v.readUInt32LE(0), user: v.readUInt16LE(4), macAlgorithm: named(MAC_ALGORITHMS, v[6]), reason: named(CHALLENGE_REASONS, v[7]), challengeOctets: v.length - 8 };
    case 5: {
      if (v.length < 11) return malformed(`g120v5 of ${v.length} octets (at least 11)`);
      const cdl = v.readUInt16LE(9);
      if (11 + cdl > v.length) return malformed(`g120v5 challenge data length ${cdl} runs past the object`);
      return {
        kind: 'key-status', sequence: v.readUInt32LE(0), user: v.readUInt16LE(4), keyWrapAlgorithm: named(KEY_WRAP_ALGORITHMS, v[6]),
        keyStatus: named(KEY_STATUS, v[7]), macAlgorithm: named(MAC_ALGORITHMS, v[8]), challengeOctets: cdl, macOctets: v.length - 11 - cdl,
      };
    }
    case 7:
      if (v.length < 15) return malformed(`g120v7 of ${v.length} octets (at least 15)`);
      return { kind: 'error', sequence: v.readUInt32LE(0), user: v.readUInt16LE(4), association: v.readUInt16LE(6), code: v[8], error: named(AUTH_ERRORS, v[8]) };
    default:
      return { kind: 'other', variation: block.variation, octets: v.length };
  }
}
