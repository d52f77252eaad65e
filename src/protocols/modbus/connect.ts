import * as net from 'node:net';
import { TargetTimeout } from '../../sdk';

export interface ModbusEndpoint {
  host: string;
  port: number;
}

/**
 * Opens a TCP connection with a connect deadline; an abort of `signal` destroys the socket and rejects
 * with the abort reason. Node's own errors (ECONNREFUSED, ...) pass through for the runner to classify.
 */
export function connectTcp(endpoint: ModbusEndpoint, signal: AbortSignal, connectTimeoutMs: number): Promise<net.Socket> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    const timer = setTimeout(() => fail(new TargetTimeout(`TCP connect to ${endpoint.host}:${endpoint.port} did not complete within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    const onAbort = () => fail(signal.reason);
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      socket.off('connect', onConnect);
    };
    function fail(err: unknown) {
      cleanup();
      socket.destroy();
      reject(err);
    }
    function onConnect() {
      cleanup();
      socket.setNoDelay(true);
      resolve(socket);
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', fail);
    socket.once('connect', onConnect);
  });
}

