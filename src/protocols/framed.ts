import type * as net from 'node:net';
import type { Transcript } from '../sdk';
import { connectTcp } from './modbus/connect';

/** How a framing reads the start of a receive buffer: one whole frame, not enough bytes yet, or not this protocol. */
export type FrameParse<F> =
  | { kind: 'frame'; frame: F; bytes: number }
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string };

/** What came back while waiting: one frame, bytes that are not the protocol, nothing in time, or a hang-up. */
export type FramedReply<F> =
  | { kind: 'frame'; frame: F; bytes: Buffer }
  | { kind: 'invalid'; reason: string; bytes: Buffer }
  | { kind: 'no-answer'; bytes: Buffer }
  | { kind: 'closed'; reset: boolean; bytes: Buffer };

export interface FramedOptions {
  signal: AbortSignal;
  /** How long one answer may take (default 3000 ms); receive() may be given another. */
  waitMs?: number;
  connectTimeoutMs?: number;
  /** Every byte sent and received is appended here in hex. */
  transcript?: Transcript;
  /** Names the protocol in the transcript note on bytes that are not it ("not <protocolName>: ..."). */
  protocolName?: string;
  /** Called after each received chunk is buffered, for protocols that act on frames as they arrive (DNP3 link confirms). */
  onData?: () => void;
}

const DEFAULT_WAIT_MS = 3000;

/**
 * A TCP (or TLS) connection for request/answer protocols with length-prefixed frames (SMB over direct TCP,
 * TPKT, MBAP, IEC 104 APDUs, EtherNet/IP, MQTT, DNP3 link frames): sends the bytes it is given and reads whole
 * frames with `parse`. Every wait is bounded by `waitMs` and the attempt's signal; close() always destroys the
 * socket.
 */
export class FramedConnection<F> {
  private buffer = Buffer.alloc(0);
  private closed = false;
  private reset = false;
  private closedAtMs: number | undefined;
  private wake: (() => void) | undefined;
  private readonly onAbort = () => this.socket.destroy();
  private readonly onData = (chunk: Buffer) => {
    this.options.transcript?.received(chunk);
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.options.onData?.();
    this.wake?.();
  };
  private readonly onError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET') this.reset = true;
  };
  private readonly onClose = () => {
    this.closed = true;
    this.closedAtMs = Date.now();
    this.wake?.();
  };

  private constructor(private readonly socket: net.Socket, private readonly parse: (buf: Buffer) => FrameParse<F>, readonly options: FramedOptions) {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    options.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open<F>(endpoint: { host: string; port: number }, parse: (buf: Buffer) => FrameParse<F>, options: FramedOptions): Promise<FramedConnection<F>> {
    const socket = await connectTcp(endpoint, options.signal, options.connectTimeoutMs ?? 3000);
    options.transcript?.note(`connected to ${endpoint.host}:${endpoint.port}/tcp`);
    return new FramedConnection(socket, parse, options);
  }

  /** Takes over a socket connected elsewhere (TLS, or a connect with its own transcript note). */
  static over<F>(socket: net.Socket, parse: (buf: Buffer) => FrameParse<F>, options: FramedOptions): FramedConnection<F> {
    return new FramedConnection(socket, parse, options);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** When the peer (or close()) ended the connection, epoch ms. */
  get closedAt(): number | undefined {
    return this.closedAtMs;
  }

  send(bytes: Uint8Array, note?: string): void {
    if (note) this.options.transcript?.note(note);
    this.options.transcript?.sent(bytes);
    if (!this.closed) this.socket.write(bytes);
  }

  /** Sends `bytes` and waits for the next whole frame. */
  async exchange(bytes: Uint8Array, note?: string, waitMs?: number): Promise<FramedReply<F>> {
    this.send(bytes, note);
    return this.receive(waitMs);
  }

  /** The next whole frame within `waitMs`; `parse` replaces the connection's for this read (e.g. the expected reply). */
  async receive(waitMs = this.options.waitMs ?? DEFAULT_WAIT_MS, parse = this.parse): Promise<FramedReply<F>> {
    return this.waitFor(() => {
      const taken = this.takeFrame(parse);
      if (taken?.kind === 'invalid') this.options.transcript?.note(`not ${this.options.protocolName ?? 'the expected protocol'}: ${taken.reason}`);
      return taken;
    }, waitMs);
  }

  /**
   * Removes the first whole frame from the receive buffer; on bytes that are not the protocol, the whole
   * buffer. Undefined while a frame is incomplete.
   */
  takeFrame(parse = this.parse): Extract<FramedReply<F>, { kind: 'frame' | 'invalid' }> | undefined {
    const parsed = parse(this.buffer);
    if (parsed.kind === 'incomplete') return undefined;
    if (parsed.kind === 'invalid') return { kind: 'invalid', reason: parsed.reason, bytes: this.drain() };
    const bytes = Buffer.from(this.buffer.subarray(0, parsed.bytes));
    this.buffer = this.buffer.subarray(parsed.bytes);
    return { kind: 'frame', frame: parsed.frame, bytes };
  }

  /**
   * Waits until `take` returns something, the peer hangs up, or `waitMs` passes: the one bounded wait every
   * read is built on. Rejects with the abort reason when the attempt's signal aborts.
   */
  async waitFor<T>(take: () => T | undefined, waitMs: number, silence = 'no complete answer'): Promise<T | Extract<FramedReply<F>, { kind: 'closed' | 'no-answer' }>> {
    const started = Date.now();
    for (;;) {
      const got = take();
      if (got !== undefined) return got;
      if (this.closed) {
        this.options.transcript?.note(`connection ${this.reset ? 'reset' : 'closed'} by the peer`);
        return { kind: 'closed', reset: this.reset, bytes: this.drain() };
      }
      const remaining = waitMs - (Date.now() - started);
      if (remaining <= 0) {
        this.options.transcript?.note(`${silence} within ${waitMs} ms`);
        return { kind: 'no-answer', bytes: Buffer.from(this.buffer) };
      }
      await this.nextEvent(remaining);
    }
  }

  /** Waits up to `ms` for the peer to close the connection (a device going down); true when it did. */
  async closedWithin(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.closed && Date.now() < until) await this.nextEvent(until - Date.now());
    return this.closed;
  }

  /**
   * Hands the socket over (e.g. to node:tls after an RDP negotiation): this object stops reading it and no
   * longer destroys it on abort. The caller owns and destroys it.
   */
  detach(): net.Socket {
    this.options.signal.removeEventListener('abort', this.onAbort);
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    this.closed = true;
    return this.socket;
  }

  close(): void {
    this.options.signal.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
  }

  /** Removes and returns whatever is buffered (bytes a caller judged not to be the protocol). */
  drain(): Buffer {
    const bytes = Buffer.from(this.buffer);
    this.buffer = Buffer.alloc(0);
    return bytes;
  }

  /** Resolves on data, close or after `ms`; rejects with the abort reason when the signal aborts. */
  private nextEvent(ms: number): Promise<void> {
    const signal = this.options.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.wake = undefined;
      };
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, ms);
      this.wake = () => {
        done();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Opens a connection, runs `fn`, and always closes it. */
export async function withFramed<F, T>(
  endpoint: { host: string; port: number }, parse: (buf: Buffer) => FrameParse<F>, options: FramedOptions, fn: (conn: FramedConnection<F>) => Promise<T>,
): Promise<T> {
  const conn = await FramedConnection.open(endpoint, parse, options);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
