import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { TargetTimeout, type Transcript } from '../../sdk';
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
  private buffer = Buffer.alloc(0);
  private closed = false;
  private reset = false;
  private wake: (() => void) | undefined;
  private sendSeq = 0;
  private recvSeq = 0;
  private unacked = 0;
  private readonly onAbort = () => this.socket.destroy();

  private constructor(private readonly socket: net.Socket, readonly options: LinkOptions) {
    socket.on('data', (chunk: Buffer) => {
      options.transcript?.received(chunk);
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
    options.signal.addEventListener('abort', this.onAbort, { once: true });
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
    return this.closed;
  }

  private write(bytes: Buffer, what: string): void {
    this.options.transcript?.note(what);
    this.options.transcript?.sent(bytes);
    if (!this.closed) this.socket.write(bytes);
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
    if (this.unacked === 0 || this.closed) return;
    this.unacked = 0;
    this.write(encodeS(this.recvSeq), `S N(R)=${this.recvSeq}`);
  }

  /** The next APDU within `waitMs`; received I-frames are counted and acknowledged every eight. */
  async receive(waitMs = this.options.waitMs): Promise<LinkReply> {
    const started = Date.now();
    for (;;) {
      const parsed = parseApdu(this.buffer);
      if (parsed.kind === 'apdu') {
        this.buffer = this.buffer.subarray(parsed.bytes);
        this.options.transcript?.note(`received ${describeApdu(parsed.apdu)}`);
        if (parsed.apdu.format === 'I') {
          this.recvSeq = (parsed.apdu.sendSeq + 1) & 0x7fff;
          if (++this.unacked >= ACK_EVERY) this.acknowledge();
        }
        return { kind: 'apdu', apdu: parsed.apdu };
      }
      if (parsed.kind === 'invalid') {
        const bytes = Buffer.from(this.buffer);
        this.buffer = Buffer.alloc(0);
        this.options.transcript?.note(`not IEC 60870-5-104: ${parsed.reason}`);
        return { kind: 'invalid', reason: parsed.reason, bytes };
      }
      if (this.closed) {
        this.options.transcript?.note(`connection ${this.reset ? 'reset' : 'closed'} by the peer`);
        return { kind: 'closed', reset: this.reset };
      }
      const remaining = waitMs - (Date.now() - started);
      if (remaining <= 0) {
        this.options.transcript?.note(`no complete answer within ${waitMs} ms`);
        return { kind: 'no-answer', bytes: Buffer.from(this.buffer) };
      }
      await this.nextEvent(remaining);
    }
  }

  close(): void {
    this.options.signal.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
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

/**
 * TLS over an open TCP socket with the profile's client certificate. The server certificate is not judged
 * here (tls.* probes assess it); a refused handshake rejects with the TLS error for the caller to classify.
 */
function handshake(tcp: net.Socket, config: Iec104Tls, options: LinkOptions): Promise<tls.TLSSocket> {
  const { signal } = options;
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const secure = tls.connect({
      socket: tcp, cert: fs.readFileSync(config.certFile), key: fs.readFileSync(config.keyFile), rejectUnauthorized: false,
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
