import * as tls from 'node:tls';
import { TargetTimeout } from '../../sdk';
import type { Dnp3Endpoint } from './connection';

/** Whether a port speaks TLS: a handshake that completes, or a TLS alert (e.g. "certificate required") from the server. */
export type TlsAnswer =
  | { status: 'tls'; protocol?: string; alert?: string }
  | { status: 'not-tls'; reason: string };

/**
 * One TLS handshake without a client certificate and without checking the server's: only whether the port
 * answers as a TLS server does. Certificates, versions and suites are the `tls.*` probes' business.
 */
export function tlsAnswer(endpoint: Dnp3Endpoint, signal: AbortSignal, timeoutMs: number): Promise<TlsAnswer> {
  signal.throwIfAborted();
  return new Promise<TlsAnswer>((resolve, reject) => {
    const socket = tls.connect({ host: endpoint.host, port: endpoint.port, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    const timer = setTimeout(() => finish(undefined, new TargetTimeout(`no TLS handshake on ${endpoint.port} within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => finish(undefined, signal.reason);
    let protocol: string | undefined;
    function finish(answer?: TlsAnswer, err?: unknown) {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      if (err !== undefined) reject(err);
      else resolve(answer!);
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => {
      protocol = socket.getProtocol() ?? undefined;
      // A server that wants a client certificate says so with an alert just after (TLS 1.3): wait a moment for it.
      setTimeout(() => finish({ status: 'tls', ...(protocol ? { protocol } : {}) }), 200);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const alert = /alert/i.test(err.code ?? '') || /alert/i.test(err.message) ? (err.code ?? err.message) : undefined;
      if (alert) return finish({ status: 'tls', ...(protocol ? { protocol } : {}), alert });
      if (protocol) return finish({ status: 'tls', protocol });
      if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH') return finish(undefined, err);
      finish({ status: 'not-tls', reason: err.code ?? err.message });
    });
    socket.on('close', () => finish(protocol ? { status: 'tls', protocol } : { status: 'not-tls', reason: 'closed before a TLS handshake' }));
  });
}
