import type { Transcript } from '../../sdk';
import { FramedConnection } from '../framed';
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
  private transactionId = 0;

  private constructor(private readonly conn: FramedConnection<MbapFrame>) {}

  static async open(endpoint: ModbusEndpoint, options: RawOptions): Promise<RawModbusConnection> {
    const socket = await connectTcp(endpoint, options.signal, options.connectTimeoutMs ?? 3000);
    options.transcript?.note(`connected to ${endpoint.host}:${endpoint.port}`);
    return new RawModbusConnection(FramedConnection.over(socket, (buf) => parseFrame(buf), { ...options, protocolName: 'a Modbus/TCP frame' }));
  }

  /** A fresh transaction identifier (1, 2, ...), for callers that build their own frames. */
  nextTransactionId(): number {
    this.transactionId = (this.transactionId % 0xffff) + 1;
    return this.transactionId;
  }

  get isClosed(): boolean {
    return this.conn.isClosed;
  }

  send(bytes: Uint8Array): void {
    this.conn.send(bytes);
  }

  /** Waits up to `waitMs` for the next complete frame (rejects with the abort reason on abort).
   * `protocolIds`: protocol identifiers accepted in the answer (default only 0). */
  async receive(waitMs: number, protocolIds?: readonly number[]): Promise<RawReply> {
    const started = Date.now();
    const reply = await this.conn.receive(waitMs, (buf) => parseFrame(buf, protocolIds));
    return { ...reply, elapsedMs: Date.now() - started };
  }

  async exchange(bytes: Uint8Array, waitMs: number, protocolIds?: readonly number[]): Promise<RawReply> {
    this.send(bytes);
    return this.receive(waitMs, protocolIds);
  }

  close(): void {
    this.conn.close();
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
