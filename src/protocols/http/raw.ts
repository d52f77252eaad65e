import * as net from 'node:net';
import * as tls from 'node:tls';
import { TargetTimeout } from '../../sdk';
import type { HttpEndpoint } from './request';

export interface RawExchange {
  /** Everything the server sent, up to maxBytes. */
  response: Buffer;
  /** Why reading stopped: the server closed, the byte limit, or quiet for quietMs after data came. */
  ended: 'closed' | 'limit' | 'quiet';
}

/**
 * Sends bytes exactly as given (for requests node:http refuses to build, e.g. a malformed header line) and
 * reads the answer until the server closes, `maxBytes` arrive, or it is quiet for `quietMs` after answering.
 * TLS endpoints get the same lenient handshake as httpRequest (no certificate check). Nothing at all within
 * `timeoutMs` is a TargetTimeout; the socket is destroyed in every case.
 */
export function rawExchange(
  endpoint: HttpEndpoint, request: Buffer,
  options: { signal: AbortSignal; timeoutMs?: number; quietMs?: number; maxBytes?: number },
): Promise<RawExchange> {
  const maxBytes = options.maxBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) return reject(options.signal.reason);
    const socket: net.Socket = endpoint.tls
      ? tls.connect({ host: endpoint.host, port: endpoint.port, rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0' })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    const chunks: Buffer[] = [];
    let size = 0;
    let quiet: NodeJS.Timeout | undefined;
    const finish = (result: Error | RawExchange['ended']) => {
      clearTimeout(timer);
      clearTimeout(quiet);
      options.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (typeof result === 'string') resolve({ response: Buffer.concat(chunks).subarray(0, maxBytes), ended: result });
      else reject(result);
    };
    const onAbort = () => finish(options.signal.reason instanceof Error ? options.signal.reason : new Error(String(options.signal.reason)));
    options.signal.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = options.timeoutMs ?? 10_000;
    const timer = setTimeout(() => finish(size > 0 ? 'quiet' : new TargetTimeout(`no answer from ${endpoint.host}:${endpoint.port} within ${timeoutMs} ms`)), timeoutMs);
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size >= maxBytes) return finish('limit');
      clearTimeout(quiet);
      quiet = setTimeout(() => finish('quiet'), options.quietMs ?? 1000);
      return undefined;
    });
    socket.once('end', () => finish('closed'));
    socket.once('close', () => finish('closed'));
    socket.once('error', (err) => (size > 0 ? finish('closed') : finish(err)));
  });
}

export interface RawResponse {
  httpVersion: string;
  status: number;
  reason: string;
  /** Header fields in order, names as sent. */
  headers: [string, string][];
  body: Buffer;
}

/** Reads a status line and header block; undefined when the bytes are not an HTTP/1.x response. */
export function parseRawResponse(bytes: Buffer): RawResponse | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, end < 0 ? bytes.length : end).toString('latin1');
  const [statusLine, ...lines] = head.split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) return undefined;
  const headers: [string, string][] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return { httpVersion: m[1], status: Number(m[2]), reason: m[3] ?? '', headers, body: end < 0 ? Buffer.alloc(0) : bytes.subarray(end + 4) };
}
