import * as net from 'node:net';
import * as tls from 'node:tls';

/** What one identification request saw: the bytes received before `enough`, the timeout or the peer's close. */
export interface ExchangeResult {
  bytes: Buffer;
  /** The peer closed (or reset) the connection. */
  closed: boolean;
  /** TLS only: the handshake completed. */
  secured: boolean;
  /** The connection could not be made (or the TLS handshake failed): the reason. */
  failed?: string;
}

export interface ExchangeOptions {
  host: string;
  port: number;
  /** Sent once connected; nothing is sent for a banner read. */
  request?: Buffer;
  /** Wrap the connection in TLS (certificate not verified: identification only). */
  tls?: boolean;
  timeoutMs: number;
  signal: AbortSignal;
  /** Stop reading as soon as this is true of the bytes received (default: the first chunk). */
  enough?: (bytes: Buffer) => boolean;
}

const MAX_BYTES = 16 * 1024;

/** One connection, at most one request, the answer read until enough, closed, or timed out; never throws on the peer's behaviour. */
export function exchange(options: ExchangeOptions): Promise<ExchangeResult> {
  options.signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket: net.Socket = options.tls
      ? tls.connect({ host: options.host, port: options.port, rejectUnauthorized: false, servername: net.isIP(options.host) ? undefined : options.host })
      : net.connect({ host: options.host, port: options.port });
    const bytes = () => Buffer.concat(chunks);
    let secured = false;
    const finish = (result: Partial<ExchangeResult>) => {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ bytes: bytes(), closed: false, secured, ...result });
    };
    const onAbort = () => {
      clearTimeout(timer);
      socket.destroy();
      reject(options.signal.reason);
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => finish({}), options.timeoutMs);
    socket.once(options.tls ? 'secureConnect' : 'connect', () => {
      secured = options.tls === true;
      if (options.request?.length) socket.write(options.request);
      else if (secured && options.enough?.(Buffer.alloc(0))) finish({});
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const received = bytes();
      if (received.length >= MAX_BYTES || (options.enough ?? (() => true))(received)) finish({});
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (chunks.length > 0 || err.code === 'ECONNRESET') finish({ closed: true });
      else finish({ failed: err.code ?? err.message });
    });
    socket.once('end', () => finish({ closed: true }));
  });
}
