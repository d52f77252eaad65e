/**
 * SSH wire-format helpers (RFC 4251 §5): uint32, string, name-list, mpint, and the binary packet of
 * RFC 4253 §6 without encryption (everything before NEWKEYS is sent in the clear).
 */

export class WireReader {
  private offset: number;

  constructor(private readonly buf: Buffer, offset = 0) {
    this.offset = offset;
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  byte(): number {
    this.need(1);
    return this.buf[this.offset++];
  }

  bool(): boolean {
    return this.byte() !== 0;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  string(): Buffer {
    return this.bytes(this.uint32());
  }

  /** A comma-separated list of US-ASCII names; an empty string is an empty list. */
  nameList(): string[] {
    const raw = this.string().toString('latin1');
    return raw === '' ? [] : raw.split(',');
  }

  /** An mpint as an unsigned big-endian magnitude (leading sign byte dropped). */
  mpint(): Buffer {
    const raw = this.string();
    let i = 0;
    while (i < raw.length && raw[i] === 0) i++;
    return raw.subarray(i);
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) {
      throw new RangeError(`truncated SSH data: need ${n} byte(s) at offset ${this.offset} of ${this.buf.length}`);
    }
  }
}

export function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([uint32(b.length), b]);
}

export function nameList(names: readonly string[]): Buffer {
  return sshString(names.join(','));
}

/** Wraps a payload into an unencrypted binary packet (block size 8, at least 4 bytes of padding). */
export function packet(payload: Buffer, padByte = 0): Buffer {
  let padding = 8 - ((payload.length + 5) % 8);
  if (padding < 4) padding += 8;
  return Buffer.concat([uint32(payload.length + padding + 1), Buffer.from([padding]), payload, Buffer.alloc(padding, padByte)]);
}

/** Number of significant bits of an unsigned big-endian magnitude. */
export function bitLength(magnitude: Buffer): number {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  if (i === magnitude.length) return 0;
  return (magnitude.length - i - 1) * 8 + (32 - Math.clz32(magnitude[i]));
}
