import * as net from 'node:net';
import * as tls from 'node:tls';
import { TargetTimeout, type Transcript } from '../../sdk';
import { FramedConnection, type FrameParse } from '../framed';
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
  /** The transcript is kept here, not in `conn`: received bytes are logged per packet, PUBLISH payloads cut short. */
  private constructor(private readonly conn: FramedConnection<RawPacket>, private readonly transcript?: Transcript, private readonly label = '') {}

  static async open(endpoint: MqttEndpoint, options: MqttConnectionOptions): Promise<MqttConnection> {
    const timeout = options.connectTimeoutMs ?? 3000;
    const socket = endpoint.tls ? await connectTls(endpoint, options.signal, timeout) : await connectTcp(endpoint, options.signal, timeout);
    const label = options.label ? `[${options.label}] ` : '';
    options.transcript?.note(`${label}connected to ${endpoint.host}:${endpoint.port}/${endpoint.tls ? 'tls' : 'tcp'}`);
    return new MqttConnection(FramedConnection.over(socket, packetFrame, { signal: options.signal }), options.transcript, label);
  }

  get isClosed(): boolean {
    return this.conn.isClosed;
  }

  /** When the peer (or close()) ended the connection, epoch ms. */
  get closedAt(): number | undefined {
    return this.conn.closedAt;
  }

  /** Sends one packet; the note says what it is, without secrets (a CONNECT's password is in the bytes only when the caller allows it). */
  send(bytes: Buffer, note: string, redactedBytes?: Buffer): void {
    this.transcript?.note(`${this.label}${note}`);
    this.transcript?.sent(redactedBytes ?? bytes);
    this.conn.send(bytes);
  }

  /** The next packet from the broker, or why there is none within `waitMs`. */
  async next(waitMs: number): Promise<MqttEvent> {
    const reply = await this.conn.receive(waitMs);
    switch (reply.kind) {
      case 'frame':
        this.logReceived(reply.frame);
        return { kind: 'packet', packet: reply.frame };
      case 'invalid':
        this.transcript?.note(`${this.label}not MQTT: ${reply.reason}`);
        this.transcript?.received(reply.bytes.subarray(0, 256));
        return { kind: 'invalid', reason: reply.reason, bytes: reply.bytes };
      case 'closed':
        if (reply.bytes.length > 0) this.transcript?.received(reply.bytes.subarray(0, 256));
        this.transcript?.note(`${this.label}connection ${reply.reset ? 'reset' : 'closed'} by the peer`);
        return { kind: 'closed', reset: reply.reset };
      case 'no-answer':
        return { kind: 'no-answer' };
    }
  }

  /** Waits up to `ms` for the peer to close the connection; true when it did. Packets that arrive meanwhile are kept. */
  async closedWithin(ms: number): Promise<boolean> {
    return this.conn.closedWithin(ms);
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
    this.conn.close();
  }
}

/** readPacket in the shape framed.ts reads. */
function packetFrame(buf: Buffer): FrameParse<RawPacket> {
  const read = readPacket(buf);
  return read.kind === 'packet' ? { kind: 'frame', frame: read.packet, bytes: read.length } : read;
}
