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

/** Sends one ClientHello and reads the answer. Rejects with TargetTimeout, ProtocolViolation, a Node
 * connection error (ECONNREFUSED, ...) or the signal's abort reason; the socket is always destroyed. */
export async function helloExchange(endpoint: TlsEndpoint, request: HelloRequest, options: ExchangeOptions): Promise<HelloOutcome> {
  const { signal } = options;
  signal.throwIfAborted();
  const message = clientHelloMessage({ ...request, keyShares: request.keyShares?.map(({ group, key }) => ({ group, key })) });
  const sent = record(ContentType.handshake, request.recordVersion ?? (request.version <= 0x0300 ? 0x0300 : 0x0301), message);
  const socket = new net.Socket();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<HelloOutcome>((resolve, reject) => {
      let pending: Buffer = Buffer.alloc(0);
      let received: Buffer = Buffer.alloc(0);
      const handshake = new HandshakeBuffer();
      const inner = new HandshakeBuffer();
      let serverHello: ServerHello | undefined;
      let serverHelloRaw: Buffer | undefined;
      let decrypter: HandshakeDecrypter | undefined;
      let certificates: Buffer[] | undefined;
      let keyExchange: ServerKeyExchange | undefined;
      let certificateRequest: CertificateRequest | null | undefined;
      let ocspStapled: boolean | undefined;
      let settled = false;
      let connected = false;

      const done = (outcome: Omit<HelloOutcome, 'sent' | 'received'>) => {
        if (settled) return;
        settled = true;
        resolve({ ...outcome, sent, received });
      };
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const helloDone = (complete: boolean) => done({
        kind: 'hello', serverHello, certificates, keyExchange, ocspStapled,
        certificateRequest: certificateRequest ?? (complete ? null : undefined),
      });

      const onHandshake = (msg: { type: number; body: Buffer; raw: Buffer }) => {
        if (!serverHello) {
          if (msg.type !== HandshakeType.serverHello) throw new TlsDecodeError(`expected ServerHello, got handshake type ${msg.type}`);
          serverHello = parseServerHello(msg.body);
          serverHelloRaw = msg.raw;
          if (serverHello.helloRetryRequest) return helloDone(false);
          if (serverHello.version >= 0x0304) {
            const share = request.keyShares?.find((k) => k.group === serverHello?.keyShareGroup);
            if (!options.decrypt || !share || !serverHello.keyShare || !canDecrypt(serverHello.suite)) return helloDone(false);
            decrypter = new HandshakeDecrypter(serverHello.suite, share.secret(serverHello.keyShare), Buffer.concat([message, serverHelloRaw]));
            return undefined;
          }
          if (!options.flight) return helloDone(false);
          return undefined;
        }
        const version = serverHello.version;
        switch (msg.type) {
          case HandshakeType.certificate:
            certificates = parseCertificateMessage(msg.body, version >= 0x0304);
            if (version >= 0x0304) return helloDone(true); // CertificateRequest, if any, came before
            return undefined;
          case HandshakeType.serverKeyExchange: {
            const suite = suiteByCode(serverHello.suite);
            if (suite) keyExchange = parseServerKeyExchange(msg.body, suite.kex, version);
            return undefined;
          }
          case HandshakeType.certificateRequest:
            certificateRequest = parseCertificateRequest(msg.body, version);
            return undefined;
          case HandshakeType.certificateStatus:
            ocspStapled = true;
            return undefined;
          case HandshakeType.serverHelloDone:
          case HandshakeType.finished:
            return helloDone(true);
          default:
            return undefined;
        }
      };

      const onData = (chunk: Buffer) => {
        if (!serverHello && received.length < RECEIVED_CAP) received = Buffer.concat([received, chunk]).subarray(0, RECEIVED_CAP);
        pending = Buffer.concat([pending, chunk]);
        const { records, rest } = takeRecords(pending);
        pending = rest;
        for (const rec of records) {
          if (settled) return;
          if (rec.type === ContentType.alert) {
            const alert = alertOf(rec.body);
            if (!serverHello) return done({ kind: 'alert', alert });
            return done({ kind: 'hello', serverHello, certificates, keyExchange, alert });
          }
          if (rec.type === ContentType.handshake) {
            for (const msg of handshake.push(rec.body)) {
              onHandshake(msg);
              if (settled) return;
            }
          } else if (rec.type === ContentType.applicationData && decrypter) {
            let opened: { type: number; content: Buffer };
            try {
              opened = decrypter.open(rec.header, rec.body);
            } catch {
              return helloDone(false); // cannot read the encrypted flight: keep what the ServerHello said
            }
            const { type, content } = opened;
            if (type === ContentType.alert) return done({ kind: 'hello', serverHello, alert: alertOf(content) });
            if (type === ContentType.handshake) {
              for (const msg of inner.push(content)) {
                onHandshake(msg);
                if (settled) return;
              }
            }
          } else if (rec.type === ContentType.applicationData) {
            throw new TlsDecodeError('application data before the handshake');
          }
          // change_cipher_spec (TLS 1.3 middlebox compatibility) is ignored.
        }
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
        try {
          onData(chunk);
        } catch (err) {
          socket.destroy();
          if (err instanceof TlsDecodeError) {
            fail(new ProtocolViolation(`${endpoint.host}:${endpoint.port} does not answer as TLS: ${err.message}`, { cause: err }));
          } else {
            fail(err);
          }
        }
      });
      const onEnd = (reset: boolean) => {
        if (serverHello) return helloDone(false);
        return done({ kind: 'closed', reset });
      };
      socket.on('end', () => onEnd(false));
      socket.on('close', () => onEnd(false));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        // A reset means the TCP connection was up (refusal is ECONNREFUSED), even if 'connect' was not seen yet.
        const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
        if (!connected && !reset) return fail(err);
        return onEnd(reset);
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
