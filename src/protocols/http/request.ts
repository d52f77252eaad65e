import * as http from 'node:http';
import * as https from 'node:https';
import { ProtocolViolation, TargetTimeout, type ServiceUnderTest } from '../../sdk';

export interface HttpResponse {
  status: number;
  statusMessage: string;
  /** Header names lower-cased; repeated headers (set-cookie) as arrays, as node:http gives them. */
  headers: http.IncomingHttpHeaders;
  /** Raw header lines as received (name, value pairs), for evidence. */
  rawHeaders: string[];
  body: Buffer;
  /** True when the body was cut at maxBodyBytes. */
  truncated: boolean;
  durationMs: number;
  httpVersion: string;
}

export interface HttpRequestOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal: AbortSignal;
  /** Per-request bound (the attempt's signal bounds everything anyway). Default 10 s. */
  timeoutMs?: number;
  /** Default 256 KiB; the rest of a larger body is not read. */
  maxBodyBytes?: number;
}

/** Where a declared HTTP(S) service is reached: always the declared host and port. */
export interface HttpEndpoint {
  host: string;
  port: number;
  tls: boolean;
}

export function httpEndpoint(service: ServiceUnderTest): HttpEndpoint {
  return { host: service.host, port: service.port, tls: service.tls || service.protocol === 'https' };
}

export function baseUrl(endpoint: HttpEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.tls ? 'https' : 'http'}://${host}:${endpoint.port}`;
}

/**
 * One HTTP request to the declared endpoint. Redirects are not followed (a 3xx is a result: where it
 * points is evidence, and following it could leave the declared scope). TLS certificates are not
 * verified here: trust is judged by the tls.* probes, and a device's self-signed certificate must not
 * hide its web UI from the HTTP checks. No agent keep-alive: every request has its own connection,
 * closed when the response ends or the signal aborts.
 */
export function httpRequest(endpoint: HttpEndpoint, options: HttpRequestOptions): Promise<HttpResponse> {
  const started = Date.now();
  const maxBody = options.maxBodyBytes ?? 256 * 1024;
  const lib = endpoint.tls ? https : http;
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body);
  return new Promise((resolve, reject) => {
    options.signal.throwIfAborted();
    const req = lib.request({
      host: endpoint.host,
      port: endpoint.port,
      method: options.method ?? 'GET',
      path: options.path ?? '/',
      headers: {
        'user-agent': 'iacs-probe',
        connection: 'close',
        ...(body ? { 'content-length': String(body.length) } : {}),
        ...options.headers,
      },
      agent: false,
      signal: options.signal,
      ...(endpoint.tls ? { rejectUnauthorized: false, servername: undefined, minVersion: 'TLSv1' as const, ciphers: 'ALL:@SECLEVEL=0' } : {}),
    });
    const timer = setTimeout(() => req.destroy(new TargetTimeout(`no HTTP response from ${baseUrl(endpoint)}${options.path ?? '/'} within ${options.timeoutMs ?? 10_000} ms`)), options.timeoutMs ?? 10_000);
    req.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'HPE_INVALID_CONSTANT' || err.code?.startsWith('HPE_')) reject(new ProtocolViolation(`not an HTTP response from ${baseUrl(endpoint)}: ${err.message}`, { cause: err }));
      else reject(err);
    });
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      res.on('data', (chunk: Buffer) => {
        if (size >= maxBody) {
          truncated = true;
          res.destroy();
          return;
        }
        chunks.push(chunk.subarray(0, maxBody - size));
        size += chunk.length;
        if (size > maxBody) truncated = true;
      });
      const done = () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks), truncated, durationMs: Date.now() - started, httpVersion: res.httpVersion,
        });
      };
      res.once('end', done);
      res.once('close', () => {
        if (truncated || res.complete) done();
        else {
          clearTimeout(timer);
          reject(new ProtocolViolation(`${baseUrl(endpoint)} closed the connection in the middle of the response`));
        }
      });
      res.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end(body);
  });
}

/** Set-Cookie headers of a response as name=value pairs, for a Cookie header on the next request. */
export function cookiesOf(response: Pick<HttpResponse, 'headers'>): Record<string, string> {
  const out: Record<string, string> = {};
  const setCookie = response.headers['set-cookie'] ?? [];
  for (const line of setCookie) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

export function cookieHeader(cookies: Record<string, string>): string {
  return Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join('; ');
}
