/**
 * Full TLS handshakes through node:tls: what a real client negotiates, the peer chain, and how the server
 * reacts to a client certificate (CR 1.9). In TLS 1.3 the client finishes before the server has judged
 * its certificate, so the server's verdict is read after the handshake: an alert or a close means
 * rejected; an answer to a request (when one is sent), a session ticket (when none is), or a connection
 * that stays open means accepted.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { TargetTimeout } from '../../sdk';
import type { TlsEndpoint } from './hello';

export interface FullHandshakeOptions {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** Default TLSv1 (with @SECLEVEL=0 so that legacy servers still complete a handshake). */
  readonly minVersion?: tls.SecureVersion;
  readonly maxVersion?: tls.SecureVersion;
  /** OpenSSL cipher string; default 'ALL:@SECLEVEL=0'. */
  readonly ciphers?: string;
  /** Client certificate chain and key (PEM). */
  readonly cert?: string;
  readonly key?: string;
  /** Trust anchors (PEM) for `authorized`; the default store when absent. */
  readonly ca?: readonly string[];
  /** After the handshake: an application request to send, and how long to wait for the server's verdict. */
  readonly settle?: { readonly payload?: Buffer; readonly ms: number };
  /** A connected socket to run the handshake on (a protocol that starts TLS after its own exchange, e.g. RDP); destroyed at the end. */
  readonly socket?: net.Socket;
}

export type ServerVerdict =
  | { readonly accepted: true; readonly evidence: 'response' | 'session-ticket' | 'stayed-open' | 'handshake' }
  | { readonly accepted: false; readonly evidence: 'alert' | 'closed'; readonly alert?: string };

export type FullHandshakeResult =
  | {
    readonly ok: true;
    readonly protocol: string;
    /** IANA name of the negotiated suite. */
    readonly cipher: string;
    readonly ephemeralKey?: { readonly type: string; readonly name?: string; readonly size?: number };
    /** Peer chain, leaf first, as node:tls reports it. */
    readonly peerChain: readonly Buffer[];
    readonly authorized: boolean;
    readonly authorizationError?: string;
    readonly verdict?: ServerVerdict;
    /** First bytes the server answered to the settle payload. */
    readonly response?: Buffer;
  }
  | { readonly ok: false; readonly alert?: string; readonly code?: string; readonly message: string };

/** "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" -> "certificate_required" */
export function alertFromError(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const text = typeof code === 'string' ? code : err instanceof Error ? err.message : '';
  const m = /ALERT_([A-Z_]+)$/.exec(text) ?? /alert ([a-z ]+)/i.exec(text);
  return m ? m[1].trim().toLowerCase().replace(/ /g, '_') : undefined;
}

/** Errors that mean "the TLS exchange failed" rather than "the target is unreachable". */
function isTlsFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('ERR_SSL') || code === 'ECONNRESET' || code === 'EPROTO' || code === 'EPIPE')) return true;
  return err instanceof Error && /socket disconnected|socket hang up|alert/i.test(err.message);
}

function peerChain(socket: tls.TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let cert = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  const seen = new Set<string>();
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    out.push(Buffer.from(cert.raw));
    cert = cert.issuerCertificate;
  }
  return out;
}

/** One full handshake. Rejects on connection errors, timeouts and aborts; returns `ok: false` when the TLS
 * negotiation itself failed (with the alert when there was one). The socket is always destroyed. */
export async function fullHandshake(endpoint: TlsEndpoint, options: FullHandshakeOptions): Promise<FullHandshakeResult> {
  const { signal } = options;
  signal.throwIfAborted();
  let socket: tls.TLSSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settleTimer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<FullHandshakeResult>((resolve, reject) => {
      let settled = false;
      let secure = false;
      let connected = options.socket !== undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
      };
      onAbort = () => finish(() => reject(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => finish(() => reject(new TargetTimeout(`TLS handshake with ${endpoint.host}:${endpoint.port} took longer than ${options.timeoutMs} ms`))), Math.max(1, options.timeoutMs));
      socket = tls.connect({
        ...(options.socket ? { socket: options.socket } : { host: endpoint.host, port: endpoint.port }), servername: endpoint.serverName,
        rejectUnauthorized: false,
        minVersion: options.minVersion ?? 'TLSv1', maxVersion: options.maxVersion,
        ciphers: options.ciphers ?? 'ALL:@SECLEVEL=0',
        ...(options.cert ? { cert: options.cert, key: options.key } : {}),
        ...(options.ca ? { ca: [...options.ca] } : {}),
      });
      const s = socket;
      s.on('connect', () => {
        connected = true;
      });
      let response: Buffer | undefined;
      const summary = (verdict?: ServerVerdict): FullHandshakeResult => {
        const cipher = s.getCipher();
        const eph = s.getEphemeralKeyInfo();
        return {
          ok: true, protocol: s.getProtocol() ?? 'unknown', cipher: cipher.standardName ?? cipher.name,
          ...(eph && 'type' in eph && eph.type ? { ephemeralKey: { type: eph.type, name: eph.name, size: eph.size } } : {}),
          peerChain: peerChain(s), authorized: s.authorized,
          ...(s.authorizationError ? { authorizationError: String(s.authorizationError) } : {}),
          ...(verdict ? { verdict } : {}), ...(response ? { response } : {}),
        };
      };
      let snapshot: FullHandshakeResult | undefined;
      const verdict = (v: ServerVerdict) => finish(() => resolve(snapshot ? { ...snapshot, verdict: v, ...(response ? { response } : {}) } as FullHandshakeResult : { ok: false, message: 'no handshake' }));
      s.on('secureConnect', () => {
        secure = true;
        snapshot = summary();
        if (!options.settle) return finish(() => resolve(snapshot!));
        if (options.settle.payload) s.write(options.settle.payload);
        settleTimer = setTimeout(() => verdict({ accepted: true, evidence: 'stayed-open' }), Math.max(1, options.settle.ms));
        return undefined;
      });
      s.on('session', () => {
        // A ticket shows the TLS layer accepted the certificate; with a request pending, wait for the application's
        // answer instead (a device may check the certificate's content after the handshake and close).
        if (secure && s.getProtocol() === 'TLSv1.3' && !options.settle?.payload) verdict({ accepted: true, evidence: 'session-ticket' });
      });
      s.on('data', (d: Buffer) => {
        response = Buffer.concat([response ?? Buffer.alloc(0), d]).subarray(0, 512);
        verdict({ accepted: true, evidence: 'response' });
      });
      s.on('error', (err) => {
        if (secure) {
          const alert = alertFromError(err);
          return verdict(alert ? { accepted: false, evidence: 'alert', alert } : { accepted: false, evidence: 'closed' });
        }
        if (connected && isTlsFailure(err)) {
          return finish(() => resolve({ ok: false, alert: alertFromError(err), code: (err as NodeJS.ErrnoException).code, message: err.message }));
        }
        return finish(() => reject(err));
      });
      s.on('close', () => {
        if (secure) return verdict({ accepted: false, evidence: 'closed' });
        if (connected) return finish(() => resolve({ ok: false, message: 'the server closed the connection during the handshake' }));
        return undefined;
      });
    });
  } finally {
    clearTimeout(timer);
    clearTimeout(settleTimer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    socket?.destroy();
    options.socket?.destroy();
  }
}
