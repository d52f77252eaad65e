import * as net from 'node:net';
import * as tls from 'node:tls';
import type { HttpWatchConfig, TcpWatchConfig } from '../../sdk';
import { httpRequest } from '../http/request';
import { connectTcp } from '../modbus/connect';
import { timed, type Watch } from './watch';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

const NOT_A_COUNTER = { counter: false, stallAfterMs: 0 } as const;

/** Resolves with the first bytes the peer sends; rejects when it closes first or the signal aborts. */
function firstBytes(socket: net.Socket, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (fn: () => void) => {
      signal.removeEventListener('abort', onAbort);
      socket.off('data', onData).off('end', onEnd).off('error', onError);
      fn();
    };
    const onAbort = () => done(() => reject(signal.reason));
    const onData = (d: Buffer) => done(() => resolve(d));
    const onEnd = () => done(() => reject(new Error('closed by the device before it answered')));
    const onError = (err: Error) => done(() => reject(err));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData).once('end', onEnd).once('error', onError);
  });
}

/** A fresh TCP connection per sample; with `send`, one line is sent; with `awaitReply`, the first bytes must come. */
export function tcpWatch(endpoint: Endpoint, config: TcpWatchConfig, name = 'tcp'): Watch {
  const awaitReply = config.awaitReply ?? config.send !== undefined;
  return {
    spec: { name, ...NOT_A_COUNTER },
    describe: `tcp ${endpoint.host}:${endpoint.port} connect${config.send !== undefined ? ' + send' : ''}${awaitReply ? ' + first bytes' : ''}`,
    sample: (timeoutMs, signal) => timed(timeoutMs, signal, async (bounded) => {
      const socket = await connectTcp(endpoint, bounded, timeoutMs);
      try {
        const reply = awaitReply ? firstBytes(socket, bounded) : undefined;
        if (config.send !== undefined) socket.write(`${config.send}\r\n`);
        const bytes = reply ? await reply : undefined;
        return { ok: true, ...(bytes ? { value: bytes.toString('latin1').split(/\r?\n/)[0].slice(0, 80) } : {}) };
      } finally {
        socket.destroy();
      }
    }),
    close: async () => undefined,
  };
}

/** A full TLS handshake per sample (certificate not verified: trust is the tls.* probes' subject). */
export function tlsWatch(endpoint: Endpoint, name = 'tls'): Watch {
  return {
    spec: { name, ...NOT_A_COUNTER },
    describe: `tls ${endpoint.host}:${endpoint.port} handshake`,
    sample: (timeoutMs, signal) => timed(timeoutMs, signal, (bounded) => new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: endpoint.host, port: endpoint.port, rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0',
        ...(net.isIP(endpoint.host) ? {} : { servername: endpoint.host }),
      });
      const onAbort = () => {
        socket.destroy();
        reject(bounded.reason);
      };
      bounded.addEventListener('abort', onAbort, { once: true });
      socket.once('secureConnect', () => {
        bounded.removeEventListener('abort', onAbort);
        const version = socket.getProtocol() ?? 'TLS';
        socket.destroy();
        resolve({ ok: true, value: version });
      });
      socket.once('error', (err) => {
        bounded.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(err);
      });
    })),
    close: async () => undefined,
  };
}

/** One request per sample on its own connection; the answer's status must be expected (default: below 500). */
export function httpWatch(endpoint: Endpoint, useTls: boolean, config: HttpWatchConfig, name = useTls ? 'https' : 'http'): Watch {
  const path = config.path ?? '/';
  const expected = (status: number) => (config.expectStatus ? config.expectStatus.includes(status) : status < 500);
  return {
    spec: { name, ...NOT_A_COUNTER },
    describe: `${useTls ? 'https' : 'http'} ${endpoint.host}:${endpoint.port} GET ${path}`,
    sample: (timeoutMs, signal) => timed(timeoutMs, signal, async (bounded) => {
      const response = await httpRequest({ ...endpoint, tls: useTls }, { path, signal: bounded, timeoutMs, maxBodyBytes: 64 * 1024 });
      return expected(response.status)
        ? { ok: true, value: response.status }
        : { ok: false, value: response.status, error: `HTTP ${response.status} ${response.statusMessage}` };
    }),
    close: async () => undefined,
  };
}
