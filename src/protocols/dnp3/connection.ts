import type * as net from 'node:net';
import { ProtocolViolation, TargetTimeout, type Transcript } from '../../sdk';
import { FramedConnection } from '../framed';
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
  private readonly conn: FramedConnection<LinkFrame>;
  private readonly secondaries: LinkFrame[] = [];
  private readonly fragments: Buffer[] = [];
  private readonly reassembler = new Reassembler();
  private invalid: string | undefined;
  private appSeq = 0;
  private transportSeq = 0;

  /** Frames are handled as they arrive (not when a caller waits), so link frames are confirmed at once. */
  private constructor(socket: net.Socket, readonly options: Dnp3Options) {
    this.conn = FramedConnection.over(socket, parseLinkFrame, { ...options, onData: () => this.onData() });
  }

  static async open(endpoint: Dnp3Endpoint, options: Dnp3Options): Promise<Dnp3Connection> {
    const socket = await connectTcp(endpoint, options.signal, options.connectTimeoutMs ?? 3000);
    options.transcript?.note(`connected to ${endpoint.host}:${endpoint.port}; master address ${options.master}, outstation address ${options.outstation}`);
    return new Dnp3Connection(socket, options);
  }

  close(): void {
    this.conn.close();
  }

  private send(frame: Omit<LinkFrame, 'destination' | 'source'>): void {
    this.conn.send(encodeLinkFrame({ ...frame, destination: this.options.outstation, source: this.options.master }));
  }

  private onData(): void {
    for (let taken = this.conn.takeFrame(); taken; taken = this.conn.takeFrame()) {
      if (taken.kind === 'invalid') {
        this.invalid = taken.reason;
        return;
      }
      this.onFrame(taken.frame);
    }
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

  private async waitFor<T extends { kind: string }>(take: () => T | undefined): Promise<T | Exclude<AppReply, { kind: 'response' }>> {
    const reply = await this.conn.waitFor<T | Exclude<AppReply, { kind: 'response' }>>(() => take() ?? this.invalidReply(), this.options.waitMs, 'no answer');
    // framed.ts's hang-up and silence carry the buffered bytes; DNP3 replies never did (they are dropped).
    if (!('bytes' in reply)) return reply;
    return reply.kind === 'closed' ? { kind: 'closed', reset: reply.reset } : { kind: 'no-answer' };
  }

  /** Bytes that were not DNP3 end every wait (the receive buffer was dropped). */
  private invalidReply(): { kind: 'invalid'; reason: string } | undefined {
    if (this.invalid === undefined) return undefined;
    this.options.transcript?.note(`not DNP3: ${this.invalid}`);
    return { kind: 'invalid', reason: this.invalid };
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
