import * as http from 'node:http';
import * as https from 'node:https';
import type { LoadGenerator, RequestOutcome } from './steps';

export interface HttpFloodOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly path: string;
  /** Keep-alive connections the requests share. */
  readonly connections: number;
  readonly requestTimeoutMs: number;
}

/**
 * HTTP GETs over a few keep-alive connections. A status below 500 other than 429 is an answer; 429 and 503
 * (the device shedding load) are refusals; other 5xx and socket failures are errors. Certificates are not
 * verified (the tls.* probes judge them).
 */
export function httpGetFlood(options: HttpFloodOptions): LoadGenerator {
  const kinds: Record<string, number> = {};
  const fail = (kind: string) => { kinds[kind] = (kinds[kind] ?? 0) + 1; };
  const agent = options.tls
    ? new https.Agent({ keepAlive: true, maxSockets: options.connections, rejectUnauthorized: false })
    : new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const controller = new AbortController();
  let inFlight = 0;
  const send = (): Promise<RequestOutcome> => new Promise((resolve) => {
    if (controller.signal.aborted) return resolve('error');
    inFlight++;
    let settled = false;
    const settle = (o: RequestOutcome, kind?: string) => {
      if (settled) return;
      settled = true;
      inFlight--;
      if (kind) fail(kind);
      resolve(o);
    };
    const request = (options.tls ? https : http).request({
      host: options.host, port: options.port, path: options.path, method: 'GET', agent, signal: controller.signal,
      timeout: options.requestTimeoutMs, headers: { 'User-Agent': 'iacs-probe robustness.app-flood' },
    }, (res) => {
      res.resume();
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status === 429 || status === 503) settle('refused', `HTTP ${status}`);
        else if (status >= 500) settle('error', `HTTP ${status}`);
        else settle('answered');
      });
      res.on('error', (err: NodeJS.ErrnoException) => settle('error', err.code ?? 'response error'));
    });
    request.on('timeout', () => { request.destroy(); settle('error', 'timeout'); });
    request.on('error', (err: NodeJS.ErrnoException) => settle('error', controller.signal.aborted ? 'stopped' : (err.code ?? 'request error')));
    request.end();
  });
  return {
    // A few requests queued per socket keep each connection busy without piling up in the client.
    maxInFlight: options.connections * 2,
    inFlight: () => inFlight,
    send,
    close: () => {
      controller.abort();
      agent.destroy();
    },
    errorKinds: () => ({ ...kinds }),
  };
}
