import type { Transcript } from '../../sdk';
import { FramedConnection, type FrameParse } from '../framed';
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
  private contextCounter = 0;

  private constructor(private readonly conn: FramedConnection<EncapMessage>) {}

  static async open(endpoint: EnipEndpoint, options: EnipConnectionOptions): Promise<EnipConnection> {
    return new EnipConnection(await FramedConnection.open(endpoint, (buf) => encapFrame(buf), { ...options, protocolName: 'an EtherNet/IP reply' }));
  }

  get isClosed(): boolean {
    return this.conn.isClosed;
  }

  /** Sends one encapsulation message (a fresh sender context unless given) and waits up to `waitMs` for its reply. */
  async exchange(spec: EncapSpec, waitMs: number, note?: string): Promise<EnipReply> {
    const context = spec.context ?? this.nextContext();
    this.conn.send(encodeEncap({ ...spec, context }), note ?? `${COMMAND_NAMES[spec.command] ?? `command 0x${spec.command.toString(16)}`}${spec.session ? ` (session 0x${spec.session.toString(16)})` : ''}`);
    const started = Date.now();
    const reply = await this.conn.receive(waitMs, (buf) => encapFrame(buf, [spec.command]));
    const elapsedMs = Date.now() - started;
    return reply.kind === 'frame' ? { kind: 'frame', ...reply.frame, bytes: reply.bytes, elapsedMs } : { ...reply, elapsedMs };
  }

  /** Sends bytes without waiting (UnRegisterSession has no reply). */
  send(spec: EncapSpec, note: string): void {
    this.conn.send(encodeEncap({ ...spec, context: spec.context ?? this.nextContext() }), note);
  }

  /** Waits up to `ms` for the peer to close the connection (a device going down); true when it did. */
  async closedWithin(ms: number): Promise<boolean> {
    return this.conn.closedWithin(ms);
  }

  close(): void {
    this.conn.close();
  }

  private nextContext(): Buffer {
    const context = Buffer.from('iacs\0\0\0\0', 'latin1');
    context.writeUInt32LE(++this.contextCounter, 4);
    return context;
  }
}

interface EncapMessage {
  header: EncapHeader;
  data: Buffer;
}

/** parseEncap in the shape framed.ts reads; `expected` are the commands a reply may carry. */
function encapFrame(buf: Buffer, expected?: readonly number[]): FrameParse<EncapMessage> {
  const parsed = parseEncap(buf, expected);
  return parsed.kind === 'frame' ? { kind: 'frame', frame: { header: parsed.header, data: parsed.data }, bytes: parsed.bytes } : parsed;
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
