/**
 * One raw hello exchange: connect, send a hand-built ClientHello, read the server's answer (ServerHello and
 * the rest of its first flight, or an alert), close. No handshake is completed, so versions and suites that
 * no local TLS library can negotiate (SSLv3, EXPORT, RC4, 3DES, NULL, anon) are still observed.
 */
import * as net from 'node:net';
import { ProtocolViolation, TargetTimeout } from '../../sdk';
import { suiteByCode } from './suites';
import { HandshakeDecrypter, canDecrypt, type KeyShare } from './tls13';
import {
  AlertDescription, ContentType, HandshakeBuffer, HandshakeType, TlsDecodeError, clientHelloMessage,
  parseCertificateMessage, parseCertificateRequest, parseServerHello, parseServerKeyExchange, record, takeRecords,
  type CertificateRequest, type ClientHelloOptions, type ServerHello, type ServerKeyExchange,
} from './wire';

export interface TlsEndpoint {
  readonly host: string;
  readonly port: number;
  /** SNI host name; never an IP literal (RFC 6066 §3). */
  readonly serverName?: string;
}

export interface HelloRequest extends Omit<ClientHelloOptions, 'keyShares'> {
  /** Key shares whose private half is known, so a TLS 1.3 flight can be decrypted. */
  readonly keyShares?: readonly KeyShare[];
}

export interface ExchangeOptions {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** ≤1.2: read the whole first flight (to ServerHelloDone) instead of stopping after ServerHello. */
  readonly flight?: boolean;
  /** TLS 1.3: decrypt the server's handshake flight up to its Certificate (needs a matching key share). */
  readonly decrypt?: boolean;
}

export interface TlsAlert {
  readonly level: number;
  readonly description: number;
  readonly name: string;
}

export interface HelloOutcome {
  /** hello: a ServerHello (or HelloRetryRequest) came; alert: an alert came first; closed: EOF/reset first. */
  readonly kind: 'hello' | 'alert' | 'closed';
  readonly serverHello?: ServerHello;
  readonly alert?: TlsAlert;
  /** The connection was reset rather than closed. */
  readonly reset?: boolean;
  /** Certificate chain exactly as the server sent it (DER), when the flight was read. */
  readonly certificates?: readonly Buffer[];
  readonly keyExchange?: ServerKeyExchange;
  /** The CertificateRequest; null when the flight was read to its end and held none. */
  readonly certificateRequest?: CertificateRequest | null;
  readonly ocspStapled?: boolean;
  /** The ClientHello record as sent. */
  readonly sent: Buffer;
  /** Bytes received up to and including the ServerHello (or alert), for the transcript. */
  readonly received: Buffer;
}

const RECEIVED_CAP = 4096;

function alertOf(body: Buffer): TlsAlert {
  const description = body.length > 1 ? body[1] : -1;
  return { level: body[0] ?? 0, description, name: AlertDescription[description] ?? `alert_${description}` };
}

type FlightOutcome = Omit<HelloOutcome, 'sent' | 'received'>;

/**
 * The server's answer to one ClientHello, read record by record: the ServerHello, then (when asked for) the
 * rest of the first flight — certificates, key exchange, CertificateRequest, OCSP staple — decrypting a TLS
 * 1.3 flight with the client's own key share. `push` returns the outcome as soon as there is one.
 */
class ServerFlight {
  /** What the server sent before its ServerHello was complete (capped), for evidence. */
  received: Buffer = Buffer.alloc(0);
  private pending: Buffer = Buffer.alloc(0);
  private readonly handshake = new HandshakeBuffer();
  private readonly inner = new HandshakeBuffer();
  private serverHello: ServerHello | undefined;
  private decrypter: HandshakeDecrypter | undefined;
  private certificates: Buffer[] | undefined;
  private keyExchange: ServerKeyExchange | undefined;
  private certificateRequest: CertificateRequest | null | undefined;
  private ocspStapled: boolean | undefined;

  constructor(private readonly request: HelloRequest, private readonly clientHello: Buffer, private readonly options: Pick<ExchangeOptions, 'flight' | 'decrypt'>) {}

  /** Throws TlsDecodeError when the bytes are not TLS. */
  push(chunk: Buffer): FlightOutcome | undefined {
    if (!this.serverHello && this.received.length < RECEIVED_CAP) this.received = Buffer.concat([this.received, chunk]).subarray(0, RECEIVED_CAP);
    this.pending = Buffer.concat([this.pending, chunk]);
    const { records, rest } = takeRecords(this.pending);
    this.pending = rest;
    for (const rec of records) {
      const outcome = this.record(rec);
      if (outcome) return outcome;
    }
    return undefined;
  }

  /** The connection ended: what was read so far, or "closed" when no ServerHello came. */
  end(reset: boolean): FlightOutcome {
    return this.serverHello ? this.helloDone(false) : { kind: 'closed', reset };
  }

  private record(rec: { type: number; header: Buffer; body: Buffer }): FlightOutcome | undefined {
    if (rec.type === ContentType.alert) {
      const alert = alertOf(rec.body);
      if (!this.serverHello) return { kind: 'alert', alert };
      return { kind: 'hello', serverHello: this.serverHello, certificates: this.certificates, keyExchange: this.keyExchange, alert };
    }
    if (rec.type === ContentType.handshake) return this.messages(this.handshake, rec.body);
    if (rec.type === ContentType.applicationData && this.decrypter) {
      let opened: { type: number; content: Buffer };
      try {
        opened = this.decrypter.open(rec.header, rec.body);
      } catch {
        return this.helloDone(false); // cannot read the encrypted flight: keep what the ServerHello said
      }
      if (opened.type === ContentType.alert) return { kind: 'hello', serverHello: this.serverHello, alert: alertOf(opened.content) };
      if (opened.type === ContentType.handshake) return this.messages(this.inner, opened.content);
      return undefined;
    }
    if (rec.type === ContentType.applicationData) throw new TlsDecodeError('application data before the handshake');
    return undefined; // change_cipher_spec (TLS 1.3 middlebox compatibility) is ignored
  }

  private messages(buffer: HandshakeBuffer, data: Buffer): FlightOutcome | undefined {
    for (const msg of buffer.push(data)) {
      const outcome = this.message(msg);
      if (outcome) return outcome;
    }
    return undefined;
  }

  private message(msg: { type: number; body: Buffer; raw: Buffer }): FlightOutcome | undefined {
    if (!this.serverHello) return this.first(msg);
    const version = this.serverHello.version;
    switch (msg.type) {
      case HandshakeType.certificate:
        this.certificates = parseCertificateMessage(msg.body, version >= 0x0304);
        return version >= 0x0304 ? this.helloDone(true) : undefined; // a TLS 1.3 CertificateRequest came before
      case HandshakeType.serverKeyExchange: {
        const suite = suiteByCode(this.serverHello.suite);
        if (suite) this.keyExchange = parseServerKeyExchange(msg.body, suite.kex, version);
        return undefined;
      }
      case HandshakeType.certificateRequest:
        this.certificateRequest = parseCertificateRequest(msg.body, version);
        return undefined;
      case HandshakeType.certificateStatus:
        this.ocspStapled = true;
        return undefined;
      case HandshakeType.serverHelloDone:
      case HandshakeType.finished:
        return this.helloDone(true);
      default:
        return undefined;
    }
  }

  /** The ServerHello: done unless the rest of the flight is wanted (and, in TLS 1.3, can be decrypted). */
  private first(msg: { type: number; body: Buffer; raw: Buffer }): FlightOutcome | undefined {
    if (msg.type !== HandshakeType.serverHello) throw new TlsDecodeError(`expected ServerHello, got handshake type ${msg.type}`);
    const serverHello = parseServerHello(msg.body);
    this.serverHello = serverHello;
    if (serverHello.helloRetryRequest) return this.helloDone(false);
    if (serverHello.version >= 0x0304) {
      const share = this.request.keyShares?.find((k) => k.group === serverHello.keyShareGroup);
      if (!this.options.decrypt || !share || !serverHello.keyShare || !canDecrypt(serverHello.suite)) return this.helloDone(false);
      this.decrypter = new HandshakeDecrypter(serverHello.suite, share.secret(serverHello.keyShare), Buffer.concat([this.clientHello, msg.raw]));
      return undefined;
    }
    return this.options.flight ? undefined : this.helloDone(false);
  }

  private helloDone(complete: boolean): FlightOutcome {
    return {
      kind: 'hello', serverHello: this.serverHello, certificates: this.certificates, keyExchange: this.keyExchange, ocspStapled: this.ocspStapled,
      certificateRequest: this.certificateRequest ?? (complete ? null : undefined),
    };
  }
}

/** Sends one ClientHello and reads the answer. Rejects with TargetTimeout, ProtocolViolation, a Node
 * connection error (ECONNREFUSED, ...) or the signal's abort reason; the socket is always destroyed. */
export async function helloExchange(endpoint: TlsEndpoint, request: HelloRequest, options: ExchangeOptions): Promise<HelloOutcome> {
  const { signal } = options;
  signal.throwIfAborted();
  const message = clientHelloMessage({ ...request, keyShares: request.keyShares?.map(({ group, key }) => ({ group, key })) });
  const sent = record(ContentType.handshake, request.recordVersion ?? (request.version <= 0x0300 ? 0x0300 : 0x0301), message);
  const flight = new ServerFlight(request, message, options);
  const socket = new net.Socket();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<HelloOutcome>((resolve, reject) => {
      let settled = false;
      let connected = false;
      const done = (outcome: FlightOutcome) => {
        if (settled) return;
        settled = true;
        resolve({ ...outcome, sent, received: flight.received });
      };
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      onAbort = () => {
        socket.destroy();
        fail(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => {
        socket.destroy();
        fail(new TargetTimeout(`no TLS answer from ${endpoint.host}:${endpoint.port} within ${options.timeoutMs} ms`));
      }, Math.max(1, options.timeoutMs));
      socket.on('data', (chunk: Buffer) => {
        if (settled) return;
        try {
          const outcome = flight.push(chunk);
          if (outcome) done(outcome);
        } catch (err) {
          socket.destroy();
          fail(err instanceof TlsDecodeError ? new ProtocolViolation(`${endpoint.host}:${endpoint.port} does not answer as TLS: ${err.message}`, { cause: err }) : err);
        }
      });
      socket.on('end', () => done(flight.end(false)));
      socket.on('close', () => done(flight.end(false)));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        // A reset means the TCP connection was up (refusal is ECONNREFUSED), even if 'connect' was not seen yet.
        const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
        if (!connected && !reset) return fail(err);
        return done(flight.end(reset));
      });
      socket.connect({ host: endpoint.host, port: endpoint.port }, () => {
        connected = true;
        socket.write(sent);
      });
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    socket.destroy();
  }
}
