/**
 * The NTLMSSP messages of an anonymous and of a guest logon ([MS-NLMP] §2.2.1): NEGOTIATE, the server's
 * CHALLENGE, and an AUTHENTICATE that proves nothing — anonymous (§3.2.5.1.2: empty user, empty NT response,
 * one zero byte of LM response) or an unknown user name with a random NTLMv2-shaped response, which only a
 * server that maps bad users to guest accepts. No password is ever used, so no secret reaches the transcript.
 */
import { randomBytes } from 'node:crypto';

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
const FLAGS = {
  unicode: 0x00000001, requestTarget: 0x00000004, ntlm: 0x00000200, anonymous: 0x00000800, alwaysSign: 0x00008000,
  extendedSessionSecurity: 0x00080000, targetInfo: 0x00800000, bits128: 0x20000000, bits56: 0x80000000,
} as const;
const NEGOTIATE_FLAGS = (FLAGS.unicode | FLAGS.requestTarget | FLAGS.ntlm | FLAGS.alwaysSign | FLAGS.extendedSessionSecurity | FLAGS.bits128 | FLAGS.bits56) >>> 0;

export function ntlmNegotiate(): Buffer {
  const msg = Buffer.alloc(32);
  SIGNATURE.copy(msg, 0);
  msg.writeUInt32LE(1, 8);
  msg.writeUInt32LE(NEGOTIATE_FLAGS, 12);
  return msg; // domain and workstation fields empty (offsets 0)
}

export interface NtlmChallenge {
  readonly flags: number;
  readonly serverChallenge: Buffer;
  readonly targetInfo: Buffer;
  /** The server's NetBIOS domain / computer names from the target info (MsvAvNbDomainName 2, MsvAvNbComputerName 1). */
  readonly domain?: string;
  readonly computer?: string;
}

/** Finds the NTLMSSP CHALLENGE in a security blob (raw, or inside an SPNEGO token) and reads it. */
export function parseNtlmChallenge(blob: Buffer): NtlmChallenge | string {
  const at = blob.indexOf(SIGNATURE);
  if (at < 0) return 'no NTLMSSP message in the security blob';
  const msg = blob.subarray(at);
  if (msg.length < 48 || msg.readUInt32LE(8) !== 2) return 'the NTLMSSP message is not a CHALLENGE';
  const infoLength = msg.readUInt16LE(40);
  const infoOffset = msg.readUInt32LE(44);
  const targetInfo = Buffer.from(msg.subarray(infoOffset, infoOffset + infoLength));
  const names = avPairs(targetInfo);
  return {
    flags: msg.readUInt32LE(20), serverChallenge: Buffer.from(msg.subarray(24, 32)), targetInfo,
    ...(names.get(2) ? { domain: names.get(2) } : {}), ...(names.get(1) ? { computer: names.get(1) } : {}),
  };
}

function avPairs(info: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  for (let at = 0; at + 4 <= info.length;) {
    const id = info.readUInt16LE(at);
    const len = info.readUInt16LE(at + 2);
    if (id === 0) break;
    if (id === 1 || id === 2) out.set(id, info.subarray(at + 4, at + 4 + len).toString('utf16le'));
    at += 4 + len;
  }
  return out;
}

export type LogonKind = 'anonymous' | 'guest';

/** AUTHENTICATE for an anonymous logon, or for `userName` (unknown to the server) with a random NTLMv2-shaped proof. */
export function ntlmAuthenticate(kind: LogonKind, challenge: NtlmChallenge, userName = ''): Buffer {
  const anonymous = kind === 'anonymous';
  const lm = anonymous ? Buffer.alloc(1) : randomBytes(24);
  const nt = anonymous ? Buffer.alloc(0) : ntlmv2Blob(challenge.targetInfo);
  const user = Buffer.from(anonymous ? '' : userName, 'utf16le');
  const workstation = Buffer.from('IACS-PROBE', 'utf16le');
  const fields = [lm, nt, Buffer.alloc(0) /* domain */, user, workstation, Buffer.alloc(0) /* session key */];
  const header = Buffer.alloc(64);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(3, 8);
  let offset = header.length;
  fields.forEach((f, i) => {
    header.writeUInt16LE(f.length, 12 + 8 * i);
    header.writeUInt16LE(f.length, 14 + 8 * i);
    header.writeUInt32LE(offset, 16 + 8 * i);
    offset += f.length;
  });
  // The flags both sides agreed on, plus ANONYMOUS for a null logon.
  header.writeUInt32LE(((NEGOTIATE_FLAGS & challenge.flags) | FLAGS.unicode | (anonymous ? FLAGS.anonymous : 0)) >>> 0, 60);
  return Buffer.concat([header, ...fields]);
}

/** NTProofStr (random: we know no password) followed by the NTLMv2 client blob (§2.2.2.7) with the server's target info. */
function ntlmv2Blob(targetInfo: Buffer): Buffer {
  const head = Buffer.alloc(28);
  head.writeUInt8(1, 0);
  head.writeUInt8(1, 1);
  head.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n, 8); // FILETIME
  randomBytes(8).copy(head, 16);
  return Buffer.concat([randomBytes(16), head, targetInfo, Buffer.alloc(4)]);
}
