import type * as net from 'node:net';
import { TargetTimeout, hex, isAbort } from '../../sdk';
import { connectTcp } from '../modbus/connect';
import type { DeviceReaction, NormalCheck, ReactionKind } from './target';

/**
 * One TCP connection that sends exactly the bytes it is given and keeps everything the peer sends, for the
 * fuzz targets whose frames no library would build (a ClientHello with a wrong length, a KEXINIT with a
 * broken name-list, an OPC UA Hello of the wrong size). An abort of the signal destroys the socket.
 */
export class RawTcpSession {
  received: Buffer = Buffer.alloc(0);
  closed = false;
  reset = false;
  private wake: (() => void) | undefined;
  private readonly onAbort = () => this.socket.destroy();

  private constructor(private readonly socket: net.Socket, private readonly signal: AbortSignal) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake?.();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') this.reset = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open(endpoint: { host: string; port: number }, signal: AbortSignal, connectTimeoutMs: number): Promise<RawTcpSession> {
    return new RawTcpSession(await connectTcp(endpoint, signal, connectTimeoutMs), signal);
  }

  send(bytes: Uint8Array): void {
    if (!this.closed && bytes.length > 0) this.socket.write(bytes);
  }

  /** Waits until `done(received)` holds, the peer closes, or `ms` pass; rejects with the abort reason on abort. */
  async until(done: (received: Buffer) => boolean, ms: number): Promise<'done' | 'closed' | 'timeout'> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (done(this.received)) return 'done';
      if (this.closed) return 'closed';
      const remaining = deadline - Date.now();
      if (remaining <= 0) return 'timeout';
      await this.nextEvent(remaining);
    }
  }

  close(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
  }

  private nextEvent(ms: number): Promise<void> {
    const signal = this.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.wake = undefined;
        fn();
      };
      const onAbort = () => finish(() => reject(signal.reason));
      const timer = setTimeout(() => finish(resolve), ms);
      this.wake = () => finish(resolve);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** A reaction of `kind` with the bytes received since `from` (what the peer said to the case). */
export function reactionOf(session: RawTcpSession, kind: ReactionKind, detail: string, started: number, from = 0): DeviceReaction {
  return { kind, hex: hex(session.received.subarray(from)), detail, elapsedMs: Date.now() - started };
}

/** The reaction when the peer ended the connection: close or reset, with what it said first. */
export function endReaction(session: RawTcpSession, started: number, from: number, said = ''): DeviceReaction {
  const how = session.reset ? 'reset' : 'close';
  return reactionOf(session, how, `connection ${how === 'reset' ? 'reset' : 'closed'} by the device${said ? ` after ${said}` : ''}`, started, from);
}

/**
 * Opens a connection for one case, runs `exchange` on it and always closes it. A refused or timed-out connect
 * is the reaction `connect-failed` (the previous case may have killed the device); an abort rejects.
 */
export async function withCaseSession(
  endpoint: { host: string; port: number }, waitMs: number, signal: AbortSignal,
  exchange: (session: RawTcpSession, started: number) => Promise<DeviceReaction>,
): Promise<DeviceReaction> {
  const started = Date.now();
  let session: RawTcpSession;
  try {
    session = await RawTcpSession.open(endpoint, signal, Math.max(waitMs, 1000));
  } catch (err) {
    if (signal.aborted || isAbort(err, signal)) throw err;
    return { kind: 'connect-failed', hex: '', detail: err instanceof Error ? err.message : String(err), elapsedMs: Date.now() - started };
  }
  try {
    return await exchange(session, started);
  } finally {
    session.close();
  }
}

/**
 * A normal request that threw instead of being answered: a timeout, a refused connection, a reset. Only an
 * abort of `signal` (Ctrl-C, the deadline, the monitor) is rethrown; the rest is a failed check.
 */
export function failedCheck(err: unknown, signal: AbortSignal): NormalCheck {
  if (signal.aborted || isAbort(err, signal)) throw err;
  const detail = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (err instanceof TargetTimeout) return { ok: false, kind: 'timeout', detail };
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { ok: false, kind: 'connect-failed', detail };
  if (code === 'ECONNRESET' || code === 'EPIPE') return { ok: false, kind: 'reset', detail };
  return { ok: false, kind: 'invalid', detail };
}
