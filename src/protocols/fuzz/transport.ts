import * as net from 'node:net';
import * as tls from 'node:tls';
import { TargetUnreachable, hex, isAbort } from '../../sdk';
import { datagramExchange } from '../datagram';
import type { DeviceReaction, ReactionKind } from './target';

/**
 * Senders for one fuzz case over TCP, TLS or UDP, shared by the protocol adapters. Each case gets a
 * connection (socket) of its own, as a malformed length desynchronises a stream for whatever follows. The
 * adapter says what the bytes that came back mean (`classify`) and, for streams, when an answer is complete.
 */

/** What the device's bytes mean to the protocol: a normal reply, a protocol error answer, or garbage. */
export type Classification = { kind: Extract<ReactionKind, 'reply' | 'exception' | 'invalid'>; detail: string };

export interface StreamEndpoint {
  host: string;
  port: number;
  /** Send the case inside a TLS connection (lenient: any certificate, old versions allowed). */
  tls?: boolean;
}

export interface StreamCaseOptions {
  waitMs: number;
  signal: AbortSignal;
  classify: (received: Buffer) => Classification;
  /** True once `received` holds a whole answer: stop waiting (default: wait for close or waitMs). */
  complete?: (received: Buffer) => boolean;
  /** Stop reading after this many bytes (default 64 KiB). */
  maxBytes?: number;
  /**
   * Sent first, for cases that only mean something inside a started session (an SSH KEXINIT after the
   * identification, an OPC UA OpenSecureChannel after Hello/Acknowledge): the case follows once `answered` holds
   * for what came back. `classify` and `complete` still see everything received on the connection.
   */
  preamble?: { bytes: Buffer; answered: (received: Buffer) => boolean; what: string };
}

/** Host and port only: a declared service carries `tls: true` for https, and a ClientHello or an SSH line
 * must not be sent inside a TLS connection of the harness's own. */
export const plain = (endpoint: { host: string; port: number }): StreamEndpoint => ({ host: endpoint.host, port: endpoint.port });

type Ending = 'complete' | 'closed' | 'reset' | 'quiet';

/**
 * Connects (within max(waitMs, 1000) ms), sends the preamble if any (its answer within the same budget), sends `bytes`,
 * and reads until the answer is complete, the device closes or resets, or `waitMs` passes. A refused connection or a
 * failed TLS handshake is the reaction 'connect-failed'; that and an unanswered preamble carry `notSent`. An abort
 * rejects with the signal's reason.
 */
export function sendStreamCase(endpoint: StreamEndpoint, bytes: Buffer, options: StreamCaseOptions): Promise<DeviceReaction> {
  const { signal, waitMs } = options;
  if (signal.aborted) return Promise.reject(signal.reason);
  const started = Date.now();
  const maxBytes = options.maxBytes ?? 64 * 1024;
  // The preamble is the protocol's normal opening, not the case: it gets the connection's budget, not the reaction wait
  // (with a 100 ms wait, a slow ACK under load left cases unsent).
  const preambleMs = Math.max(waitMs, 1000);
  return new Promise((resolve, reject) => {
    const socket: net.Socket = endpoint.tls
      ? tls.connect({ host: endpoint.host, port: endpoint.port, rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0' })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    const chunks: Buffer[] = [];
    const { preamble } = options;
    let caseSent = !preamble;
    let connected = false;
    let finished = false;
    let timer = setTimeout(() => done({ connectFailed: `no connection within ${Math.max(waitMs, 1000)} ms` }), Math.max(waitMs, 1000));
    const done = (how: Ending | { connectFailed: string; code?: string } | { error: unknown }) => {
      if (finished) return undefined;
      finished = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (typeof how === 'object' && 'error' in how) return reject(how.error);
      const elapsedMs = Date.now() - started;
      if (typeof how === 'object') return resolve({ kind: 'connect-failed', hex: '', detail: how.connectFailed, elapsedMs, ...(how.code ? { code: how.code } : {}), notSent: 'no connection' });
      const r = reaction(Buffer.concat(chunks).subarray(0, maxBytes), how, caseSent ? waitMs : preambleMs, elapsedMs, options.classify);
      return resolve(caseSent ? r : { ...r, detail: `the case was not sent (no answer to the ${preamble?.what}): ${r.detail}`, notSent: `no answer to the ${preamble?.what}` });
    };
    const onAbort = () => done({ error: signal.reason });
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(() => done('quiet'), preamble ? preambleMs : waitMs);
      socket.write(preamble ? preamble.bytes : bytes, () => undefined);
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const received = Buffer.concat(chunks);
      if (!caseSent && preamble?.answered(received)) {
        caseSent = true;
        clearTimeout(timer);
        timer = setTimeout(() => done('quiet'), waitMs);
        socket.write(bytes, () => undefined);
      }
      if (received.length >= maxBytes || (caseSent && options.complete?.(received))) done('complete');
    });
    socket.once('end', () => done('closed'));
    socket.once('close', () => done('closed'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (isAbort(err, signal)) return done({ error: signal.reason });
      if (!connected) return done({ connectFailed: err.message, ...(err.code ? { code: err.code } : {}) });
      return done(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : 'closed');
    });
  });
}

function reaction(received: Buffer, ending: Ending, waitMs: number, elapsedMs: number, classify: StreamCaseOptions['classify']): DeviceReaction {
  const base = { hex: hex(received), elapsedMs };
  if (received.length > 0) {
    const meaning = classify(received);
    const after = ending === 'complete' ? '' : ending === 'quiet' ? ' (then silence)' : ` (then connection ${ending === 'reset' ? 'reset' : 'closed'})`;
    return { ...base, kind: meaning.kind, detail: `${meaning.detail}${after}` };
  }
  if (ending === 'quiet') return { ...base, kind: 'timeout', detail: `no answer within ${waitMs} ms` };
  if (ending === 'reset') return { ...base, kind: 'reset', detail: 'connection reset by the device' };
  return { ...base, kind: 'close', detail: 'connection closed by the device' };
}

/**
 * Sends one datagram from a socket of its own and waits `waitMs` for one back. Silence is the reaction
 * 'timeout' (for UDP the usual answer to a malformed request); an ICMP port-unreachable is 'connect-failed'
 * (nothing listens any more).
 */
export async function sendDatagramCase(endpoint: { host: string; port: number }, bytes: Buffer, options: Omit<StreamCaseOptions, 'complete' | 'maxBytes'>): Promise<DeviceReaction> {
  const started = Date.now();
  try {
    const answer = await datagramExchange(endpoint, bytes, { signal: options.signal, timeoutMs: options.waitMs, retries: 0, what: 'fuzz case' });
    if (answer.kind === 'no-answer') return { kind: 'timeout', hex: '', detail: `no datagram within ${options.waitMs} ms`, elapsedMs: answer.elapsedMs };
    const meaning = options.classify(answer.bytes);
    return { kind: meaning.kind, hex: hex(answer.bytes), detail: meaning.detail, elapsedMs: answer.elapsedMs };
  } catch (err) {
    if (options.signal.aborted || !(err instanceof TargetUnreachable)) throw err;
    return { kind: 'connect-failed', hex: '', detail: err.message, elapsedMs: Date.now() - started, code: 'ECONNREFUSED' };
  }
}
