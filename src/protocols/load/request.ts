import * as net from 'node:net';
import * as tls from 'node:tls';
import { ProtocolViolation, TargetTimeout, TargetUnreachable, type ServiceUnderTest } from '../../sdk';
import { httpGetFlood } from './http';
import { modbusReadFlood } from './modbus';

/**
 * One normal request to a declared service, as a client would make it after a load: a Modbus read of holding
 * register 0, an HTTP GET /, a TLS handshake, else a TCP connect. Resolves with what happened (never rejects).
 */
export async function normalRequest(service: ServiceUnderTest, timeoutMs: number, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
  if (signal.aborted) return { ok: false, detail: 'aborted' };
  if (service.protocol === 'modbus') {
    const gen = modbusReadFlood({ host: service.host, port: service.port, unitId: service.unitId ?? 1, address: 0, connections: 1, window: 1, requestTimeoutMs: timeoutMs });
    return oneOf(gen, 'Modbus read of holding register 0');
  }
  if (service.protocol === 'http' || service.protocol === 'https') {
    const gen = httpGetFlood({ host: service.host, port: service.port, tls: service.tls, path: '/', connections: 1, requestTimeoutMs: timeoutMs });
    return oneOf(gen, 'HTTP GET /');
  }
  return connectOnce(service, timeoutMs, signal);
}

/**
 * One normal request before any load, for load probes: loading a service that does not work is no evidence either
 * way, so a closed, hung or foreign service ends the attempt as the error it is (never as a loss under load).
 * UDP services are left to the probe (a normal request here is TCP).
 */
export async function requireNormalAnswer(service: ServiceUnderTest, timeoutMs: number, signal: AbortSignal): Promise<void> {
  if (service.transport === 'udp') return;
  const r = await normalRequest(service, timeoutMs, signal);
  signal.throwIfAborted();
  if (r.ok) return;
  const message = `before any load, ${r.detail}`;
  if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(r.detail)) throw new TargetUnreachable(message);
  if (/timeout|timed out|no answer/i.test(r.detail)) throw new TargetTimeout(message);
  throw new ProtocolViolation(message);
}

async function oneOf(gen: ReturnType<typeof modbusReadFlood>, what: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const outcome = await gen.send();
    const kinds = Object.keys(gen.errorKinds());
    return { ok: outcome === 'answered', detail: outcome === 'answered' ? `${what} answered` : `${what}: ${outcome}${kinds.length ? ` (${kinds.join(', ')})` : ''}` };
  } finally {
    gen.close();
  }
}

function connectOnce(service: ServiceUnderTest, timeoutMs: number, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const what = service.tls ? 'TLS handshake' : 'TCP connect';
    const socket = service.tls
      ? tls.connect({ host: service.host, port: service.port, rejectUnauthorized: false, servername: net.isIP(service.host) ? undefined : service.host })
      : net.connect({ host: service.host, port: service.port });
    const done = (ok: boolean, detail: string) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ ok, detail });
    };
    const onAbort = () => done(false, 'aborted');
    const timer = setTimeout(() => done(false, `${what}: no answer within ${timeoutMs} ms`), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(service.tls ? 'secureConnect' : 'connect', () => done(true, `${what} succeeded`));
    socket.once('error', (err: NodeJS.ErrnoException) => done(false, `${what}: ${err.code ?? err.message}`));
  });
}
