import type * as net from 'node:net';
import * as tls from 'node:tls';
import { TargetTimeout, type Transcript } from '../../sdk';
import { readNamedFile } from '../../sdk/input-file';
import { FramedConnection, type FrameParse } from '../framed';
import { connectTcp } from '../modbus/connect';
import { describeApdu, encodeI, encodeS, encodeU, parseApdu, type Apdu, type UFunction } from './frames';

export interface Iec104Endpoint {
  host: string;
  port: number;
}

/** IEC 62351-3: TLS with the client certificate the outstation trusts (PEM files). */
export interface Iec104Tls {
  certFile: string;
  keyFile: string;
  serverName?: string;
}

export interface LinkOptions {
  signal: AbortSignal;
  /** How long one answer may take (each wait is bounded by it). */
  waitMs: number;
  connectTimeoutMs?: number;
  /** Every APDU sent and received is appended here in hex (inside TLS: the plaintext APDUs). */
  transcript?: Transcript;
  tls?: Iec104Tls;
}

/** What came back: one APDU, bytes that are not IEC 104, nothing within the wait, or a hang-up. */
export type LinkReply =
  | { kind: 'apdu'; apdu: Apdu }
  | { kind: 'invalid'; reason: string; bytes: Buffer }
  | { kind: 'no-answer'; bytes: Buffer }
  | { kind: 'closed'; reset: boolean };

/** I-frames received before the link acknowledges them with an S-frame (the parameter w of clause 5.5). */
const ACK_EVERY = 8;

/**
 * One IEC 104 connection seen from the controlling station: it sends exactly the frames it is asked to,
 * numbers I-frames (N(S), N(R)) and acknowledges received ones with S-frames. Every wait is bounded by
 * `waitMs` and the signal; the abort listener is removed on close.
 */
export class Iec104Link {
  private readonly conn: FramedConnection<Apdu>;
  private sendSeq = 0;
  private recvSeq = 0;
  private unacked = 0;

  private constructor(socket: net.Socket, readonly options: LinkOptions) {
    this.conn = FramedConnection.over(socket, parseApduFrame, { ...options, protocolName: 'IEC 60870-5-104' });
  }

  static async open(endpoint: Iec104Endpoint, options: LinkOptions): Promise<Iec104Link> {
    const tcp = await connectTcp(endpoint, options.signal, options.connectTimeoutMs ?? 3000);
    if (!options.tls) {
      options.transcript?.note(`connected to ${endpoint.host}:${endpoint.port}/tcp`);
      return new Iec104Link(tcp, options);
    }
    const secure = await handshake(tcp, options.tls, options);
    options.transcript?.note(`TLS (IEC 62351-3) to ${endpoint.host}:${endpoint.port}: ${secure.getProtocol()} ${secure.getCipher()?.name}, client certificate ${options.tls.certFile}; APDUs below are the plaintext inside TLS`);
    return new Iec104Link(secure, options);
  }

  get isClosed(): boolean {
    return this.conn.isClosed;
  }

  private write(bytes: Buffer, what: string): void {
    this.conn.send(bytes, what);
  }

  sendU(fn: UFunction): void {
    this.write(encodeU(fn), `U ${fn}`);
  }

  /** Sends an I-frame carrying `asdu`, acknowledging every I-frame received so far. */
  sendI(asdu: Buffer, what: string): void {
    this.unacked = 0;
    this.write(encodeI(this.sendSeq, this.recvSeq, asdu), what);
    this.sendSeq = (this.sendSeq + 1) & 0x7fff;
  }

  /** Acknowledges the I-frames received so far (when any is unacknowledged). */
  acknowledge(): void {
    if (this.unacked === 0 || this.conn.isClosed) return;
    this.unacked = 0;
    this.write(encodeS(this.recvSeq), `S N(R)=${this.recvSeq}`);
  }

  /** The next APDU within `waitMs`; received I-frames are counted and acknowledged every eight. */
  async receive(waitMs = this.options.waitMs): Promise<LinkReply> {
    const reply = await this.conn.receive(waitMs);
    if (reply.kind === 'closed') return { kind: 'closed', reset: reply.reset };
    if (reply.kind !== 'frame') return reply;
    const apdu = reply.frame;
    this.options.transcript?.note(`received ${describeApdu(apdu)}`);
    if (apdu.format === 'I') {
      this.recvSeq = (apdu.sendSeq + 1) & 0x7fff;
      if (++this.unacked >= ACK_EVERY) this.acknowledge();
    }
    return { kind: 'apdu', apdu };
  }

  close(): void {
    this.conn.close();
  }
}

/** parseApdu in the shape framed.ts reads. */
function parseApduFrame(buf: Buffer): FrameParse<Apdu> {
  const parsed = parseApdu(buf);
  return parsed.kind === 'apdu' ? { kind: 'frame', frame: parsed.apdu, bytes: parsed.bytes } : parsed;
}

/**
 * TLS over an open TCP socket with the profile's client certificate. The server certificate is not judged
 * here (tls.* probes assess it); a refused handshake rejects with the TLS error for the caller to classify.
 */
function handshake(tcp: net.Socket, config: Iec104Tls, options: LinkOptions): Promise<tls.TLSSocket> {
  const { signal } = options;
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const secure = tls.connect({
      socket: tcp, cert: readNamedFile(config.certFile, 'IEC 62351-3 client certificate'), key: readNamedFile(config.keyFile, 'IEC 62351-3 client private key'), rejectUnauthorized: false,
      minVersion: 'TLSv1.2', ...(config.serverName ? { servername: config.serverName } : {}),
    });
    const timeoutMs = options.connectTimeoutMs ?? 3000;
    const timer = setTimeout(() => fail(new TargetTimeout(`TLS handshake did not complete within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => fail(signal.reason);
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      secure.off('error', fail);
    };
    function fail(err: unknown) {
      cleanup();
      secure.destroy();
      tcp.destroy();
      reject(err);
    }
    signal.addEventListener('abort', onAbort, { once: true });
    secure.once('error', fail);
    secure.once('secureConnect', () => {
      cleanup();
      resolve(secure);
    });
  });
}
