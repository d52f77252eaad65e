import * as net from 'node:net';
import * as tls from 'node:tls';
import { TargetTimeout, type Transcript } from '../../sdk';
import { connectTcp } from '../modbus/connect';
import { PACKET, PACKET_NAMES, readPacket, type RawPacket } from './frames';

/** Bytes of a received PUBLISH kept in the transcript after its topic name (packet id, properties, payload start). */
const PUBLISH_TAIL_BYTES = 8;

export interface MqttEndpoint {
  host: string;
  port: number;
  /** MQTT over TLS (8883): the handshake accepts any certificate; certificates are the tls.* probes' business. */
  tls?: boolean;
}

/** What came back while waiting: one packet, bytes that are no MQTT, nothing in time, or a hang-up. */
export type MqttEvent =
  | { kind: 'packet'; packet: RawPacket }
  | { kind: 'invalid'; reason: string; bytes: Buffer }
  | { kind: 'no-answer' }
  | { kind: 'closed'; reset: boolean };

export interface MqttConnectionOptions {
  signal: AbortSignal;
  connectTimeoutMs?: number;
  /** Every byte sent and received is appended here in hex, with a note per packet. */
  transcript?: Transcript;
  /** Label for transcript notes when one attempt holds several connections ("A", "B"). */
  label?: string;
}

function connectTls(endpoint: MqttEndpoint, signal: AbortSignal, timeoutMs: number): Promise<tls.TLSSocket> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const socket = tls.connect({
      host: endpoint.host, port: endpoint.port, rejectUnauthorized: false, ...(net.isIP(endpoint.host) ? {} : { servername: endpoint.host }),
    });
    const timer = setTimeout(() => fail(new TargetTimeout(`TLS connection to ${endpoint.host}:${endpoint.port} not established within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => fail(signal.reason);
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      socket.off('secureConnect', onSecure);
    };
    function fail(err: unknown) {
      cleanup();
      socket.destroy();
      reject(err);
    }
    function onSecure() {
      cleanup();
      socket.setNoDelay(true);
      resolve(socket);
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', fail);
    socket.once('secureConnect', onSecure);
  });
}

/**
 * One MQTT network connection (TCP or TLS): sends packets and reads whatever the broker sends, one packet at
 * a time, every wait bounded and ended by the signal. close() always destroys the socket and removes the
 * abort listener.
 */
export class MqttConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private closed = false;
  private reset = false;
  private closedAtMs: number | undefined;
  private wake: (() => void) | undefined;
  private readonly onAbort = () => this.socket.destroy();

  private constructor(private readonly socket: net.Socket, private readonly signal: AbortSignal, private readonly transcript?: Transcript, private readonly label = '') {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') this.reset = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.closedAtMs = Date.now();
      this.wake?.();
    });
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open(endpoint: MqttEndpoint, options: MqttConnectionOptions): Promise<MqttConnection> {
    const timeout = options.connectTimeoutMs ?? 3000;
    const socket = endpoint.tls ? await connectTls(endpoint, options.signal, timeout) : await connectTcp(endpoint, options.signal, timeout);
    const label = options.label ? `[${options.label}] ` : '';
    options.transcript?.note(`${label}connected to ${endpoint.host}:${endpoint.port}/${endpoint.tls ? 'tls' : 'tcp'}`);
    return new MqttConnection(socket, options.signal, options.transcript, label);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** When the peer (or close()) ended the connection, epoch ms. */
  get closedAt(): number | undefined {
    return this.closedAtMs;
  }

  /** Sends one packet; the note says what it is, without secrets (a CONNECT's password is in the bytes only when the caller allows it). */
  send(bytes: Buffer, note: string, redactedBytes?: Buffer): void {
    this.transcript?.note(`${this.label}${note}`);
    this.transcript?.sent(redactedBytes ?? bytes);
    if (!this.closed) this.socket.write(bytes);
  }

  /** The next packet from the broker, or why there is none within `waitMs`. */
  async next(waitMs: number): Promise<MqttEvent> {
    const until = Date.now() + waitMs;
    for (;;) {
      const read = readPacket(this.buffer);
      if (read.kind === 'packet') {
        this.buffer = this.buffer.subarray(read.length);
        this.logReceived(read.packet);
        return { kind: 'packet', packet: read.packet };
      }
      if (read.kind === 'invalid') {
        this.transcript?.note(`${this.label}not MQTT: ${read.reason}`);
        this.transcript?.received(this.buffer.subarray(0, 256));
        const bytes = this.buffer;
        this.buffer = Buffer.alloc(0);
        return { kind: 'invalid', reason: read.reason, bytes };
      }
      if (this.closed) {
        if (this.buffer.length > 0) this.transcript?.received(this.buffer.subarray(0, 256));
        this.transcript?.note(`${this.label}connection ${this.reset ? 'reset' : 'closed'} by the peer`);
        return { kind: 'closed', reset: this.reset };
      }
      const remaining = until - Date.now();
      if (remaining <= 0) return { kind: 'no-answer' };
      await this.nextEvent(remaining);
    }
  }

  /** Waits up to `ms` for the peer to close the connection; true when it did. Packets that arrive meanwhile are kept. */
  async closedWithin(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.closed && Date.now() < until) await this.nextEvent(until - Date.now());
    return this.closed;
  }

  /**
   * Received packets go to the transcript whole, except PUBLISH: its topic and at most a few bytes after it
   * (packet id, properties, payload), so that process data read off a broker never fills the evidence.
   */
  private logReceived(packet: RawPacket): void {
    if (!this.transcript) return;
    const name = PACKET_NAMES[packet.type] ?? `type ${packet.type}`;
    if (packet.type !== PACKET.publish || packet.body.length < 2) {
      this.transcript.note(`${this.label}received ${name}`);
      this.transcript.received(packet.bytes);
      return;
    }
    const headerLength = packet.bytes.length - packet.body.length;
    const keep = Math.min(packet.bytes.length, headerLength + 2 + packet.body.readUInt16BE(0) + PUBLISH_TAIL_BYTES);
    this.transcript.note(`${this.label}received PUBLISH${keep < packet.bytes.length ? ` (first ${keep} of ${packet.bytes.length} bytes kept)` : ''}`);
    this.transcript.received(packet.bytes.subarray(0, keep));
  }

  close(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
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
