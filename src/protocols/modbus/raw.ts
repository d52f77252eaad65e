import type * as net from 'node:net';
import type { Transcript } from '../../sdk';
import { connectTcp, type ModbusEndpoint } from './connect';
import { parseFrame, type MbapFrame } from './frames';

/** What came back after a request: one frame, bytes that are not Modbus/TCP, nothing, or a closed connection. */
export type RawReply =
  | { kind: 'frame'; frame: MbapFrame; bytes: Buffer; elapsedMs: number }
  | { kind: 'invalid'; reason: string; bytes: Buffer; elapsedMs: number }
  /** Nothing complete within the wait; `bytes` holds a partial frame if one started. */
  | { kind: 'no-answer'; bytes: Buffer; elapsedMs: number }
  /** The peer closed (FIN) or reset (RST) the connection before a complete frame arrived. */
  | { kind: 'closed'; reset: boolean; bytes: Buffer; elapsedMs: number };

export interface RawOptions {
  signal: AbortSignal;
  connectTimeoutMs?: number;
  /** Every byte sent and received is appended here in hex. */
  transcript?: Transcript;
}

/**
 * A Modbus/TCP connection that sends exactly the bytes it is given: arbitrary MBAP fields, lengths that
 * do not match, unknown function codes, truncated frames. modbus-serial builds only well-formed
 * requests, so the input-validation probe and Read Device Identification use this instead.
 */
export class RawModbusConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private closed = false;
  private reset = false;
  private wake: (() => void) | undefined;
  private transactionId = 0;
  private readonly onAbort = () => this.socket.destroy();

  private constructor(private readonly socket: net.Socket, private readonly signal: AbortSignal, private readonly transcript?: Transcript) {
    socket.on('data', (chunk: Buffer) => {
      this.transcript?.received(chunk);
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') this.reset = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open(endpoint: ModbusEndpoint, options: RawOptions): Promise<RawModbusConnection> {
    const socket = await connectTcp(endpoint, options.signal, options.connectTimeoutMs ?? 3000);
    options.transcript?.note(`connected to ${endpoint.host}:${endpoint.port}`);
    return new RawModbusConnection(socket, options.signal, options.transcript);
  }

  /** A fresh transaction identifier (1, 2, ...), for callers that build their own frames. */
  nextTransactionId(): number {
    this.transactionId = (this.transactionId % 0xffff) + 1;
    return this.transactionId;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(bytes: Uint8Array): void {
    this.transcript?.sent(bytes);
    if (!this.closed) this.socket.write(bytes);
  }

  /** Waits up to `waitMs` for the next complete frame (rejects with the abort reason on abort).
   * `protocolIds`: protocol identifiers accepted in the answer (default only 0). */
  async receive(waitMs: number, protocolIds?: readonly number[]): Promise<RawReply> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    for (;;) {
      const parsed = parseFrame(this.buffer, protocolIds);
      if (parsed.kind === 'frame') {
        const bytes = Buffer.from(this.buffer.subarray(0, parsed.bytes));
        this.buffer = this.buffer.subarray(parsed.bytes);
        return { kind: 'frame', frame: parsed.frame, bytes, elapsedMs: elapsed() };
      }
      if (parsed.kind === 'invalid') {
        const bytes = this.take();
        this.transcript?.note(`not a Modbus/TCP frame: ${parsed.reason}`);
        return { kind: 'invalid', reason: parsed.reason, bytes, elapsedMs: elapsed() };
      }
      if (this.closed) {
        this.transcript?.note(`connection ${this.reset ? 'reset' : 'closed'} by the peer`);
        return { kind: 'closed', reset: this.reset, bytes: this.take(), elapsedMs: elapsed() };
      }
      const remaining = waitMs - elapsed();
      if (remaining <= 0) {
        this.transcript?.note(`no complete answer within ${waitMs} ms`);
        return { kind: 'no-answer', bytes: Buffer.from(this.buffer), elapsedMs: elapsed() };
      }
      await this.nextEvent(remaining);
    }
  }

  async exchange(bytes: Uint8Array, waitMs: number, protocolIds?: readonly number[]): Promise<RawReply> {
    this.send(bytes);
    return this.receive(waitMs, protocolIds);
  }

  close(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
  }

  private take(): Buffer {
    const bytes = Buffer.from(this.buffer);
    this.buffer = Buffer.alloc(0);
    return bytes;
  }

  /** Resolves on data, close or after `ms`; rejects with the abort reason when the signal aborts. */
  private nextEvent(ms: number): Promise<void> {
    const signal = this.signal;
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

/** Opens a raw connection, runs `fn`, and always closes it. */
export async function withRawModbus<T>(endpoint: ModbusEndpoint, options: RawOptions, fn: (conn: RawModbusConnection) => Promise<T>): Promise<T> {
  const conn = await RawModbusConnection.open(endpoint, options);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
