/**
 * The lab (S)NTP server (RFC 5905 server mode, answering mode-3 client requests): stratum 1, serving the lab
 * clock plus a configurable offset, so a test can see whether a device follows its time source. Every
 * request is journaled raw before it is answered; anything that is not a client request is journaled and
 * left unanswered.
 */
import type * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { assertLabAddress, bindUdp } from '../lab/address';
import { buildNtp, parseNtp } from './packet';
import type { NtpRequestRecord } from '../../sdk';

export type { NtpRequestRecord };

export interface NtpServerOptions {
  readonly address: string;
  /** 0: any free port (123 needs privileges). */
  readonly port: number;
  /** Served time = lab clock + offsetMs (default 0). */
  readonly offsetMs?: number;
  /** NDJSON file: every datagram received (hex) and what was answered. */
  readonly journalFile: string;
  readonly signal?: AbortSignal;
}

export interface NtpServer {
  readonly address: string;
  readonly port: number;
  readonly requests: readonly NtpRequestRecord[];
  /** The offset served from now on (ms). */
  offsetMs: number;
  close(): Promise<void>;
}

/** Microsecond-resolution wall clock (Date.now() has only ms). */
export function labClockMs(): number {
  return performance.timeOrigin + performance.now();
}

const PRECISION_LOG2 = -20; // about one microsecond

export async function startNtpServer(options: NtpServerOptions): Promise<NtpServer> {
  assertLabAddress(options.address);
  const socket: dgram.Socket = await bindUdp('the lab NTP server', options.address, options.port);
  const fd = fs.openSync(options.journalFile, 'a');
  const requests: NtpRequestRecord[] = [];
  let closed = false;
  const server: NtpServer = {
    address: options.address, port: socket.address().port, requests, offsetMs: options.offsetMs ?? 0,
    close: async () => {
      if (closed) return;
      closed = true;
      options.signal?.removeEventListener('abort', onAbort);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      fs.closeSync(fd);
    },
  };
  const onAbort = () => void server.close();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  socket.on('message', (msg, rinfo) => {
    const receiveMs = labClockMs() + server.offsetMs;
    const header = parseNtp(msg);
    const answer = header?.mode === 'client';
    const entry: NtpRequestRecord = {
      at: Date.now(), peer: rinfo.address, peerPort: rinfo.port,
      ...(header ? { version: header.version, mode: header.mode, trailerBytes: header.trailerBytes } : {}),
      ...(answer ? { servedOffsetMs: server.offsetMs } : {}),
    };
    fs.writeSync(fd, JSON.stringify({ ...entry, at: new Date(entry.at).toISOString(), hex: msg.toString('hex') }) + '\n');
    requests.push(entry);
    if (!answer || closed) return;
    const reply = buildNtp({
      version: header.version >= 1 && header.version <= 4 ? header.version : 4, mode: 'server', stratum: 1,
      poll: header.poll, precision: PRECISION_LOG2, rootDelay: 0, rootDispersion: 0.0001, refId: 'LAB',
      referenceMs: receiveMs - 1000, originMs: header.transmitMs, originRaw: msg.subarray(40, 48),
      receiveMs, transmitMs: labClockMs() + server.offsetMs,
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  socket.on('error', () => void server.close());
  return server;
}
