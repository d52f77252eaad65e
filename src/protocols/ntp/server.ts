/**
 * The lab (S)NTP server (RFC 5905 server mode, answering mode-3 client requests): stratum 1, serving the lab
 * clock plus a configurable offset, so a test can see whether a device follows its time source. Every
 * request is journaled raw before it is answered; anything that is not a client request is journaled and
 * left unanswered. With symmetric keys (RFC 5905 §7.3, RFC 8573) it verifies a request's MAC and answers
 * with one; `setMode` switches to the CR 2.11 RE(2) test answers (no MAC, a wrong MAC, always a valid MAC).
 */
import type * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { assertLabAddress, bindUdp } from '../lab/address';
import { appendMac, checkMac, type NtpKey, type NtpMacCheck } from './auth';
import { buildNtp, parseNtp } from './packet';
import type { NtpAnswerMac, NtpRequestRecord, NtpServeMode } from '../../sdk';

export type { NtpAnswerMac, NtpRequestRecord, NtpServeMode };

export interface NtpServerOptions {
  readonly address: string;
  /** 0: any free port (123 needs privileges). */
  readonly port: number;
  /** Served time = lab clock + offsetMs (default 0). */
  readonly offsetMs?: number;
  /** Symmetric keys (their secrets are never journaled). */
  readonly keys?: readonly NtpKey[];
  /** NDJSON file: every datagram received (hex) and what was answered. */
  readonly journalFile: string;
  readonly signal?: AbortSignal;
}

export interface NtpServer {
  readonly address: string;
  readonly port: number;
  readonly requests: readonly NtpRequestRecord[];
  readonly keyIds: readonly number[];
  /** The offset served from now on (ms); setting it keeps the MAC mode. */
  offsetMs: number;
  readonly mode: NtpServeMode;
  setMode(mode: NtpServeMode, why: string): void;
  close(): Promise<void>;
}

/** Microsecond-resolution wall clock (Date.now() has only ms). */
export function labClockMs(): number {
  return performance.timeOrigin + performance.now();
}

const PRECISION_LOG2 = -20; // about one microsecond

/** The MAC an answer gets in `mode` for a request whose own MAC is `request`; undefined: no answer at all. */
function answerMacFor(mode: NtpAnswerMac, request: NtpMacCheck, keys: readonly NtpKey[]): { mac: 'valid' | 'wrong' | 'none'; key?: NtpKey } | undefined {
  const key = request.key ?? keys[0];
  switch (mode) {
    case 'none': return { mac: 'none' };
    case 'wrong': return key ? { mac: 'wrong', key } : { mac: 'none' };
    case 'valid': return key ? { mac: 'valid', key } : { mac: 'none' };
    case 'auto':
      if (request.status === 'valid') return { mac: 'valid', key: request.key };
      // A MAC that does not verify (or names a key we lack) is not answered: RFC 5905 would send a
      // crypto-NAK, which clients ignore; a missing or unsupported trailer gets a plain answer.
      return request.status === 'invalid' || request.status === 'unknown-key' ? undefined : { mac: 'none' };
  }
}

/** `reply` with the MAC chosen; a wrong MAC is a valid one with its digest bits inverted. */
function authenticate(reply: Buffer, answer: { mac: 'valid' | 'wrong' | 'none'; key?: NtpKey }): Buffer {
  if (answer.mac === 'none' || !answer.key) return reply;
  const signed = appendMac(reply, answer.key);
  if (answer.mac === 'wrong') for (let i = reply.length + 4; i < signed.length; i += 1) signed[i] ^= 0xff;
  return signed;
}

export async function startNtpServer(options: NtpServerOptions): Promise<NtpServer> {
  assertLabAddress(options.address);
  const socket: dgram.Socket = await bindUdp('the lab NTP server', options.address, options.port);
  const fd = fs.openSync(options.journalFile, 'a');
  const keys = options.keys ?? [];
  const requests: NtpRequestRecord[] = [];
  let mode: NtpServeMode = { offsetMs: options.offsetMs ?? 0, mac: 'auto' };
  let closed = false;
  const journal = (line: object) => {
    if (!closed) fs.writeSync(fd, JSON.stringify(line) + '\n');
  };
  const server: NtpServer = {
    address: options.address, port: socket.address().port, requests, keyIds: keys.map((k) => k.id),
    get offsetMs() { return mode.offsetMs; },
    set offsetMs(offsetMs: number) { mode = { ...mode, offsetMs }; },
    get mode() { return mode; },
    setMode(next, why) {
      mode = { offsetMs: next.offsetMs, mac: next.mac };
      journal({ event: 'serve-mode', at: new Date().toISOString(), offsetMs: mode.offsetMs, mac: mode.mac, why });
    },
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
    const served = mode;
    const receiveMs = labClockMs() + served.offsetMs;
    const header = parseNtp(msg);
    const macCheck = header ? checkMac(msg, keys) : { status: 'none' as const };
    const answer = header?.mode === 'client' ? answerMacFor(served.mac, macCheck, keys) : undefined;
    const entry: NtpRequestRecord = {
      at: Date.now(), peer: rinfo.address, peerPort: rinfo.port,
      ...(header ? { version: header.version, mode: header.mode, trailerBytes: header.trailerBytes, requestMac: macCheck.status } : {}),
      ...(macCheck.keyId !== undefined ? { keyId: macCheck.keyId } : {}),
      ...(answer ? { servedOffsetMs: served.offsetMs, answerMac: answer.mac } : {}),
    };
    journal({ ...entry, at: new Date(entry.at).toISOString(), hex: msg.toString('hex') });
    requests.push(entry);
    if (!answer || !header || closed) return;
    const reply = buildNtp({
      version: header.version >= 1 && header.version <= 4 ? header.version : 4, mode: 'server', stratum: 1,
      poll: header.poll, precision: PRECISION_LOG2, rootDelay: 0, rootDispersion: 0.0001, refId: 'LAB',
      referenceMs: receiveMs - 1000, originMs: header.transmitMs, originRaw: msg.subarray(40, 48),
      receiveMs, transmitMs: labClockMs() + served.offsetMs,
    });
    socket.send(authenticate(reply, answer), rinfo.port, rinfo.address);
  });
  socket.on('error', () => void server.close());
  return server;
}
