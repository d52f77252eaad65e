import type * as net from 'node:net';
import { ProtocolViolation, TargetTimeout, type Transcript } from '../../sdk';
import { connectTcp } from '../modbus/connect';
import { FUNCTION, FUNCTION_NAMES, encodeRequest, iinNames, parseResponse, type AppResponse } from './application';
import { LINK, Reassembler, encodeLinkFrame, isPrimary, linkFunction, parseLinkFrame, segment, type LinkFrame } from './link';

export interface Dnp3Endpoint {
  host: string;
  port: number;
}

export interface Dnp3Options {
  signal: AbortSignal;
  /** How long one answer may take. */
  waitMs: number;
  connectTimeoutMs?: number;
  /** Link address this master uses (source of every frame). */
  master: number;
  /** Link address of the outstation (destination of every frame). */
  outstation: number;
  /** Every octet sent and received, in hex, with notes. */
  transcript?: Transcript;
}

/** The answer to an application request: a response fragment, or what came instead. */
export type AppReply =
  | { kind: 'response'; response: AppResponse }
  | { kind: 'no-answer' }
  | { kind: 'closed'; reset: boolean }
  | { kind: 'invalid'; reason: string };

export type LinkReply =
  | { kind: 'secondary'; function: number; frame: LinkFrame }
  | Exclude<AppReply, { kind: 'response' }>;

/**
 * A DNP3 master's TCP connection to one outstation: link frames with CRCs, transport segments, application
 * fragments. It confirms link frames sent as CONFIRMED_USER_DATA but never confirms application fragments
 * (so events a poll reads stay in the outstation's buffer for its real master). Every wait is bounded by
 * `waitMs` and the signal; the abort listener is removed on close.
 */
export class Dnp3Connection {
  private buffer = Buffer.alloc(0);
  private readonly secondaries: LinkFrame[] = [];
  private readonly fragments: Buffer[] = [];
  private readonly reassembler = new Reassembler();
  private invalid: string | undefined;
  private closed = false;
  private reset = false;
  private appSeq = 0;
  private transportSeq = 0;
  private wake: (() => void) | undefined;
  private readonly onAbort = () => this.socket.destroy();

  private constructor(private readonly socket: net.Socket, readonly options: Dnp3Options) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') this.reset = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    options.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open(endpoint: Dnp3Endpoint, options: Dnp3Options): Promise<Dnp3Connection> {
    const socket = await connectTcp(endpoint, options.signal, options.connectTimeoutMs ?? 3000);
    options.transcript?.note(`connected to ${endpoint.host}:${endpoint.port}; master address ${options.master}, outstation address ${options.outstation}`);
    return new Dnp3Connection(socket, options);
  }

  close(): void {
    this.options.signal.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
  }

  private send(frame: Omit<LinkFrame, 'destination' | 'source'>): void {
    const bytes = encodeLinkFrame({ ...frame, destination: this.options.outstation, source: this.options.master });
    this.options.transcript?.sent(bytes);
    if (!this.closed) this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    this.options.transcript?.received(chunk);
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const parsed = parseLinkFrame(this.buffer);
      if (parsed.kind === 'incomplete') break;
      if (parsed.kind === 'invalid') {
        this.invalid = parsed.reason;
        this.buffer = Buffer.alloc(0);
        break;
      }
      this.buffer = this.buffer.subarray(parsed.bytes);
      this.onFrame(parsed.frame);
    }
    this.wake?.();
  }

  private onFrame(frame: LinkFrame): void {
    const t = this.options.transcript;
    if (frame.control & LINK.dir) {
      t?.note(`ignored a frame with DIR=1 (from a master) to ${frame.destination}`);
      return;
    }
    if (frame.destination !== this.options.master) {
      t?.note(`ignored a frame to address ${frame.destination} (this master is ${this.options.master})`);
      return;
    }
    if (!isPrimary(frame.control)) {
      this.secondaries.push(frame);
      return;
    }
    const fn = linkFunction(frame.control);
    if (fn === LINK.confirmedUserData) this.send({ control: LINK.dir | LINK.ack, userData: Buffer.alloc(0) });
    if (fn !== LINK.confirmedUserData && fn !== LINK.unconfirmedUserData) return;
    const fragment = this.reassembler.push(frame.userData);
    if (fragment) this.fragments.push(fragment);
  }

  /** Link-layer REQUEST_LINK_STATUS; the answer is a secondary frame (LINK_STATUS 11, or NOT_SUPPORTED 15). */
  async linkStatus(): Promise<LinkReply> {
    this.options.transcript?.note('link layer: REQUEST_LINK_STATUS');
    this.secondaries.length = 0;
    this.send({ control: LINK.dir | LINK.prm | LINK.requestLinkStatus, userData: Buffer.alloc(0) });
    return this.waitFor(() => {
      const frame = this.secondaries.shift();
      return frame ? { kind: 'secondary', function: linkFunction(frame.control), frame } : undefined;
    });
  }

  /**
   * One application request (one fragment, unconfirmed link frames) and its response: the first response
   * fragment with the request's sequence number. Unsolicited responses and stale answers are skipped.
   */
  async request(fn: number, objects: Buffer, note?: string): Promise<AppReply> {
    const seq = this.appSeq;
    this.appSeq = (this.appSeq + 1) & 0x0f;
    this.options.transcript?.note(`${FUNCTION_NAMES[fn] ?? `function 0x${fn.toString(16)}`} seq ${seq}${note ? `: ${note}` : ''}`);
    this.fragments.length = 0;
    for (const s of segment(encodeRequest({ seq, fn, objects }), this.transportSeq)) {
      this.transportSeq = (this.transportSeq + 1) & 0x3f;
      this.send({ control: LINK.dir | LINK.prm | LINK.unconfirmedUserData, userData: s });
    }
    const reply = await this.waitFor<AppReply>(() => {
      for (let f = this.fragments.shift(); f; f = this.fragments.shift()) {
        const response = parseResponse(f);
        if (typeof response === 'string') return { kind: 'invalid', reason: response };
        if (response.uns || response.fn === FUNCTION.unsolicitedResponse) continue;
        if (response.seq === seq) return { kind: 'response', response };
        this.options.transcript?.note(`skipped a response with seq ${response.seq}`);
      }
      return undefined;
    });
    if (reply.kind === 'response') {
      const r = reply.response;
      this.options.transcript?.note(`${FUNCTION_NAMES[r.fn]} seq ${r.seq}, IIN ${iinNames(r.iin).join(' ') || 'none'}, ${r.objects.length} octets of objects${r.fin ? '' : ' (more fragments follow, not confirmed)'}`);
    }
    return reply;
  }

  private async waitFor<T>(take: () => T | undefined): Promise<T | Exclude<AppReply, { kind: 'response' }>> {
    const started = Date.now();
    for (;;) {
      const got = take();
      if (got !== undefined) return got;
      if (this.invalid !== undefined) {
        this.options.transcript?.note(`not DNP3: ${this.invalid}`);
        return { kind: 'invalid', reason: this.invalid };
      }
      if (this.closed) {
        this.options.transcript?.note(`connection ${this.reset ? 'reset' : 'closed'} by the peer`);
        return { kind: 'closed', reset: this.reset };
      }
      const remaining = this.options.waitMs - (Date.now() - started);
      if (remaining <= 0) {
        this.options.transcript?.note(`no answer within ${this.options.waitMs} ms`);
        return { kind: 'no-answer' };
      }
      await this.nextEvent(remaining);
    }
  }

  /** Resolves on data, close or after `ms`; rejects with the abort reason when the signal aborts. */
  private nextEvent(ms: number): Promise<void> {
    const signal = this.options.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.wake = undefined;
      };
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, ms);
      this.wake = () => {
        done();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** The response of a reply, or the typed error that a missing or foreign answer means. */
export function expectResponse(reply: AppReply, what: string, waitMs: number): AppResponse {
  switch (reply.kind) {
    case 'response': return reply.response;
    case 'no-answer': throw new TargetTimeout(`no DNP3 answer to ${what} within ${waitMs} ms (is the outstation address right?)`);
    case 'closed': throw new ProtocolViolation(`the outstation ${reply.reset ? 'reset' : 'closed'} the connection on ${what}`);
    case 'invalid': throw new ProtocolViolation(`the answer to ${what} is not DNP3: ${reply.reason}`);
  }
}

/** Opens a connection, runs `fn`, and always closes it. */
export async function withConnection<T>(endpoint: Dnp3Endpoint, options: Dnp3Options, fn: (c: Dnp3Connection) => Promise<T>): Promise<T> {
  const conn = await Dnp3Connection.open(endpoint, options);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
