import * as dgram from 'node:dgram';
import * as dns from 'node:dns/promises';
import * as net from 'node:net';
import { TargetUnreachable, type Transcript } from '../sdk';

export interface DatagramOptions {
  signal: AbortSignal;
  /** Wait per try (default 1000 ms). */
  timeoutMs?: number;
  /** Tries after the first (default 1). */
  retries?: number;
  transcript?: Transcript;
  /** What is sent, for the transcript ("ListIdentity", "DTLS ClientHello"). */
  what: string;
  /**
   * Which datagrams answer this request (default: the first one). Others from the peer (a late answer to an
   * earlier request, a forwarded broadcast) are written to the transcript as ignored and the wait goes on.
   */
  accept?: (datagram: Buffer) => boolean;
}

export type DatagramAnswer =
  | { kind: 'answer'; bytes: Buffer; tries: number; elapsedMs: number }
  | { kind: 'no-answer'; tries: number; elapsedMs: number };

/** A connected UDP socket to one declared host and port, for exchanges that must come from the same source port. */
export interface DatagramChannel {
  exchange(datagram: Buffer, options: Omit<DatagramOptions, 'signal'>): Promise<DatagramAnswer>;
}

/**
 * Opens a UDP socket connected to the declared host and port (unicast only, never a broadcast), runs `fn` and
 * always closes the socket. Each exchange sends one datagram and resends it on silence; the first datagram
 * back from that address and port is the answer. An ICMP port-unreachable surfaces as TargetUnreachable
 * (the socket is connected), an abort rejects with its reason.
 */
export async function withDatagramChannel<T>(endpoint: { host: string; port: number }, signal: AbortSignal, fn: (channel: DatagramChannel) => Promise<T>): Promise<T> {
  const host = net.isIP(endpoint.host) ? endpoint.host : (await dns.lookup(endpoint.host)).address;
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  socket.on('error', () => undefined); // errors are read per try below; this keeps a late one from going unhandled
  try {
    await connect(socket, host, endpoint.port, signal);
    return await fn({
      async exchange(datagram, options) {
        const timeoutMs = options.timeoutMs ?? 1000;
        const tries = 1 + (options.retries ?? 1);
        const started = Date.now();
        for (let attempt = 1; attempt <= tries; attempt++) {
          options.transcript?.note(`${options.what} to ${host}:${endpoint.port}/udp (try ${attempt} of ${tries})`);
          options.transcript?.sent(datagram);
          const answer = await sendAndWait(socket, datagram, timeoutMs, signal, `${host}:${endpoint.port}/udp`, options.accept, (ignored) => {
            options.transcript?.received(ignored);
            options.transcript?.note('not an answer to this request: ignored');
          });
          if (answer === 'timeout') continue;
          options.transcript?.received(answer);
          return { kind: 'answer', bytes: answer, tries: attempt, elapsedMs: Date.now() - started };
        }
        options.transcript?.note(`no answer to ${tries} tries of ${timeoutMs} ms`);
        return { kind: 'no-answer', tries, elapsedMs: Date.now() - started };
      },
    });
  } finally {
    socket.close();
  }
}

/** One request datagram on a socket of its own (see withDatagramChannel). */
export function datagramExchange(endpoint: { host: string; port: number }, datagram: Buffer, options: DatagramOptions): Promise<DatagramAnswer> {
  return withDatagramChannel(endpoint, options.signal, (channel) => channel.exchange(datagram, options));
}

function connect(socket: dgram.Socket, host: string, port: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.connect(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/** Sends one datagram; resolves with the first (accepted) answer, or 'timeout'. ICMP unreachable and abort reject. */
function sendAndWait(
  socket: dgram.Socket, datagram: Buffer, timeoutMs: number, signal: AbortSignal, where: string,
  accept?: (datagram: Buffer) => boolean, onIgnored?: (datagram: Buffer) => void,
): Promise<Buffer | 'timeout'> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('message', onMessage);
      socket.off('error', onError);
    };
    const onMessage = (msg: Buffer) => {
      if (accept && !accept(msg)) {
        onIgnored?.(msg);
        return;
      }
      cleanup();
      resolve(msg);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      cleanup();
      reject(err.code === 'ECONNREFUSED' ? new TargetUnreachable(`${where}: port unreachable (ICMP): nothing listens there`, { cause: err }) : err);
    };
    const onAbort = () => {
      cleanup();
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      cleanup();
      resolve('timeout');
    }, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('message', onMessage);
    socket.on('error', onError);
    socket.send(datagram, (err) => {
      if (err) onError(err);
    });
  });
}
