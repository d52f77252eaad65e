import * as net from 'node:net';
import type * as Ssh2 from 'ssh2';
import type { ConnectConfig } from 'ssh2';
import { lazyModule } from '../lazy';

const ssh2 = lazyModule<typeof Ssh2>('ssh2');
import { ProtocolViolation, TargetTimeout } from '../../sdk';

/** ssh2 attaches a `level` to its errors telling where they arose. */
export interface Ssh2Error extends Error {
  level?: string;
  code?: string | number;
}

/** Turns an ssh2 error into the SDK's typed errors; socket errors keep their Node code for the runner. */
export function mapSsh2Error(err: Ssh2Error, timeoutMs: number): Error {
  switch (err.level) {
    case 'client-socket':
      return err;
    case 'client-timeout':
      return new TargetTimeout(`the SSH handshake did not finish within ${timeoutMs} ms`, { cause: err });
    case 'handshake':
    case 'protocol':
    case 'client-ssh':
      return new ProtocolViolation(`SSH ${err.level === 'handshake' ? 'handshake failed' : 'protocol error'}: ${err.message}`, { cause: err });
    default:
      return typeof err.code === 'number' ? new ProtocolViolation(`the server disconnected: ${err.message}`, { cause: err }) : err;
  }
}

export interface ClientRunOptions {
  host: string;
  port: number;
  signal: AbortSignal;
  /** Bound on the whole exchange (ssh2's readyTimeout covers connect, key exchange and authentication). */
  timeoutMs: number;
  config: Omit<ConnectConfig, 'host' | 'port' | 'sock' | 'readyTimeout'>;
}

export interface ClientControl<T> {
  finish(value: T): void;
  fail(err: unknown): void;
  /** Called on an ssh2 error; return true when handled (e.g. an expected authentication failure). */
  onError?: (err: Ssh2Error) => boolean;
}

/**
 * Runs one ssh2 client connection on a socket we own, so that abort and every exit path destroy it.
 * `setup` wires events and calls finish/fail; the connection is ended and destroyed in `finally`.
 */
export async function runSsh2Client<T>(opts: ClientRunOptions, setup: (client: Ssh2.Client, ctl: ClientControl<T>) => void): Promise<T> {
  opts.signal.throwIfAborted();
  const socket = net.connect({ host: opts.host, port: opts.port, noDelay: true }); // no Nagle: the exchange is many small packets
  socket.on('error', () => undefined); // reported through ssh2's 'error' event
  const client = new ssh2.Client();
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      let settled = false;
      const ctl: ClientControl<T> = {
        finish: (value) => {
          if (settled) return;
          settled = true;
          resolve(value);
        },
        fail: (err) => {
          if (settled) return;
          settled = true;
          reject(err);
        },
      };
      onAbort = () => ctl.fail(opts.signal.reason);
      opts.signal.addEventListener('abort', onAbort, { once: true });
      client.on('error', (err: Ssh2Error) => {
        if (ctl.onError?.(err)) return;
        ctl.fail(mapSsh2Error(err, opts.timeoutMs));
      });
      client.on('close', () => ctl.fail(new ProtocolViolation('the server closed the SSH connection')));
      setup(client, ctl);
      client.connect({ ...opts.config, host: opts.host, port: opts.port, sock: socket, readyTimeout: opts.timeoutMs });
    });
  } finally {
    if (onAbort) opts.signal.removeEventListener('abort', onAbort);
    client.end();
    await new Promise<void>((r) => setImmediate(r));
    socket.destroy();
  }
}

/**
 * Per-step budgets carved from an attempt's deadline: one connection gets what is left (at most
 * `maxConnectionMs`), and the wait for an identification after non-SSH text a quarter of it (≤ 3 s).
 */
export function stepBudgets(deadline: number, maxConnectionMs: number): { connectionMs: number; preBannerGraceMs: number } {
  const left = deadline - Date.now() - 250;
  return {
    connectionMs: Math.max(500, Math.min(maxConnectionMs, left)),
    preBannerGraceMs: Math.max(200, Math.min(3000, Math.floor(left / 4))),
  };
}
