/**
 * Syslog over a byte stream (TCP, RFC 6587; TLS, RFC 5425): each frame is either octet-counted
 * ("MSG-LEN SP MSG") or terminated by LF (non-transparent framing, which many devices and rsyslog's default
 * forwarding use). The choice is made per frame from its first byte, as rsyslog's imtcp does. Nothing is
 * dropped and memory stays bounded: an oversized frame comes out in pieces of at most `maxBytes`, each with
 * a `problem`.
 */

export interface StreamFrame {
  readonly bytes: Buffer;
  readonly framing: 'octet-counted' | 'lf' | 'none';
  /** Why this frame is not a well-formed syslog frame (kept raw all the same). */
  readonly problem?: string;
}

const SP = 0x20;
const LF = 0x0a;
/** MSG-LEN is at most 9 digits here: larger declared lengths are bad framing, not a frame to wait for. */
const MAX_LENGTH_DIGITS = 9;

export class StreamDeframer {
  private buffer: Buffer = Buffer.alloc(0);
  /** An oversized frame whose first maxBytes were emitted: its rest follows as continuation frames. */
  private continuing: { remaining: number; untilLf: boolean } | undefined;

  constructor(private readonly maxBytes: number) {}

  /** Adds received bytes; returns the frames they complete. */
  push(chunk: Buffer): StreamFrame[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: StreamFrame[] = [];
    for (;;) {
      if (this.buffer.length === 0) break;
      const frame = this.continuing ? this.continuation() : this.next();
      if (!frame) break;
      out.push(frame);
    }
    return out;
  }

  /** At end of stream: what is left is one unterminated frame. */
  end(): StreamFrame[] {
    if (this.buffer.length === 0) return [];
    const bytes = this.buffer;
    this.buffer = Buffer.alloc(0);
    return [{ bytes, framing: 'none', problem: 'the connection ended inside a frame' }];
  }

  /** The next piece of an oversized frame (maxBytes, or what is left of it), or undefined until it is complete. */
  private continuation(): StreamFrame | undefined {
    const c = this.continuing!;
    let take: number;
    let done: boolean;
    if (c.untilLf) {
      const lf = this.buffer.indexOf(LF);
      done = lf >= 0 && lf <= this.maxBytes;
      if (!done && this.buffer.length < this.maxBytes) return undefined;
      take = done ? lf : this.maxBytes;
    } else {
      take = Math.min(c.remaining, this.maxBytes);
      if (this.buffer.length < take) return undefined;
      c.remaining -= take;
      done = c.remaining === 0;
    }
    const bytes = Buffer.from(this.buffer.subarray(0, take));
    this.buffer = this.buffer.subarray(take + (done && c.untilLf ? 1 : 0));
    if (done) this.continuing = undefined;
    return { bytes, framing: c.untilLf ? 'lf' : 'octet-counted', problem: 'continuation of an oversized frame' };
  }

  private next(): StreamFrame | undefined {
    const first = this.buffer[0];
    if (first >= 0x31 && first <= 0x39) {
      const counted = this.octetCounted();
      if (counted !== 'not-counted') return counted;
    }
    return this.lfTerminated();
  }

  /** "123 <msg>"; 'not-counted' when the digits are not followed by a space (then LF framing applies). */
  private octetCounted(): StreamFrame | undefined | 'not-counted' {
    let i = 0;
    while (i < this.buffer.length && i < MAX_LENGTH_DIGITS + 1 && this.buffer[i] >= 0x30 && this.buffer[i] <= 0x39) i++;
    if (i === this.buffer.length) return undefined; // need more bytes
    if (this.buffer[i] !== SP || i > MAX_LENGTH_DIGITS) return 'not-counted';
    const length = Number(this.buffer.subarray(0, i).toString('latin1'));
    const start = i + 1;
    if (length > this.maxBytes) {
      if (this.buffer.length - start < this.maxBytes) return undefined;
      const bytes = Buffer.from(this.buffer.subarray(start, start + this.maxBytes));
      this.buffer = this.buffer.subarray(start + this.maxBytes);
      this.continuing = { remaining: length - this.maxBytes, untilLf: false };
      return { bytes, framing: 'octet-counted', problem: `declared length ${length} exceeds ${this.maxBytes} bytes; the rest follows in pieces` };
    }
    if (this.buffer.length - start < length) return undefined;
    const bytes = Buffer.from(this.buffer.subarray(start, start + length));
    this.buffer = this.buffer.subarray(start + length);
    return { bytes, framing: 'octet-counted' };
  }

  private lfTerminated(): StreamFrame | undefined {
    const lf = this.buffer.indexOf(LF);
    if (lf >= 0 && lf <= this.maxBytes) {
      const bytes = Buffer.from(this.buffer.subarray(0, lf));
      this.buffer = this.buffer.subarray(lf + 1);
      return { bytes, framing: 'lf' };
    }
    if (this.buffer.length <= this.maxBytes) return undefined;
    const bytes = Buffer.from(this.buffer.subarray(0, this.maxBytes));
    this.buffer = this.buffer.subarray(this.maxBytes);
    this.continuing = { remaining: 0, untilLf: true };
    return { bytes, framing: 'lf', problem: `no frame end within ${this.maxBytes} bytes; the rest follows in pieces` };
  }
}

/** Octet-counting framing of one message (RFC 5425 §4.3 / RFC 6587 §3.4.1). */
export function octetCount(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return Buffer.concat([Buffer.from(`${body.length} `, 'latin1'), body]);
}
