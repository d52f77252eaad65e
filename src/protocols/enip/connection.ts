import type * as net from 'node:net';
import type { Transcript } from '../../sdk';
import { connectTcp } from '../modbus/connect';
import { COMMAND_NAMES, encodeEncap, parseEncap, type EncapHeader, type EncapSpec } from './frames';

export interface EnipEndpoint {
  host: string;
  port: number;
}

/** What came back after a request: one encapsulation message, bytes that are not one, nothing, or a hang-up. */
export type EnipReply =
  | { kind: 'frame'; header: EncapHeader; data: Buffer; bytes: Buffer; elapsedMs: number }
  | { kind: 'invalid'; reason: string; bytes: Buffer; elapsedMs: number }
  /** Nothing complete within the wait; `bytes` holds a partial message if one started. */
  | { kind: 'no-answer'; bytes: Buffer; elapsedMs: number }
  /** The peer closed (FIN) or reset (RST) the connection before a complete message arrived. */
  | { kind: 'closed'; reset: boolean; bytes: Buffer; elapsedMs: number };

export interface EnipConnectionOptions {
  signal: AbortSignal;
  connectTimeoutMs?: number;
  /** Every byte sent and received is appended here in hex, with a note per request. */
  transcript?: Transcript;
}

/**
 * An EtherNet/IP encapsulation session over TCP that sends the messages it is given and reads the replies:
 * a reply must echo the request's command, so a banner or garbage is recognised at once. Every wait is
 * bounded and ends on abort; close() always destroys the socket.
 */
export class EnipConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private closed = false;
  private reset = false;
  private wake: (() => void) | undefined;
  private contextCounter = 0;
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

  static async open(endpoint: EnipEndpoint, options: EnipConnectionOptions): Promise<EnipConnection> {
    const socket = await connectTcp(endpoint, options.signal, options.connectTimeoutMs ?? 3000);
    options.transcript?.note(`connected to ${endpoint.host}:${endpoint.port}/tcp`);
    return new EnipConnection(socket, options.signal, options.transcript);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends one encapsulation message (a fresh sender context unless given) and waits up to `waitMs` for its reply. */
  async exchange(spec: EncapSpec, waitMs: number, note?: string): Promise<EnipReply> {
    const context = spec.context ?? this.nextContext();
    this.transcript?.note(note ?? `${COMMAND_NAMES[spec.command] ?? `command 0x${spec.command.toString(16)}`}${spec.session ? ` (session 0x${spec.session.toString(16)})` : ''}`);
    const bytes = encodeEncap({ ...spec, context });
    this.transcript?.sent(bytes);
    if (!this.closed) this.socket.write(bytes);
    return this.receive(spec.command, waitMs);
  }

  /** Sends bytes without waiting (UnRegisterSession has no reply). */
  send(spec: EncapSpec, note: string): void {
    this.transcript?.note(note);
    const bytes = encodeEncap({ ...spec, context: spec.context ?? this.nextContext() });
    this.transcript?.sent(bytes);
    if (!this.closed) this.socket.write(bytes);
  }

  /** Waits up to `ms` for the peer to close the connection (a device going down); true when it did. */
  async closedWithin(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.closed && Date.now() < until) await this.nextEvent(until - Date.now());
    return this.closed;
  }

  close(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
  }

  private nextContext(): Buffer {
    const context = Buffer.from('iacs\0\0\0\0', 'latin1');
    context.writeUInt32LE(++this.contextCounter, 4);
    return context;
  }

  private async receive(command: number, waitMs: number): Promise<EnipReply> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    for (;;) {
      const parsed = parseEncap(this.buffer, [command]);
      if (parsed.kind === 'frame') {
        const bytes = Buffer.from(this.buffer.subarray(0, parsed.bytes));
        this.buffer = this.buffer.subarray(parsed.bytes);
        return { kind: 'frame', header: parsed.header, data: parsed.data, bytes, elapsedMs: elapsed() };
      }
      if (parsed.kind === 'invalid') {
        this.transcript?.note(`not an EtherNet/IP reply: ${parsed.reason}`);
        return { kind: 'invalid', reason: parsed.reason, bytes: this.take(), elapsedMs: elapsed() };
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

/** Opens a connection, runs `fn`, and always closes it. */
export async function withEnip<T>(endpoint: EnipEndpoint, options: EnipConnectionOptions, fn: (conn: EnipConnection) => Promise<T>): Promise<T> {
  const conn = await EnipConnection.open(endpoint, options);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
