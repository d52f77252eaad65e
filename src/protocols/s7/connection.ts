import { ProtocolViolation, TargetTimeout, type Transcript } from '../../sdk';
import { FramedConnection, type FrameParse } from '../framed';
import { connectTcp } from '../modbus/connect';
import {
  ROSCTR, encodeConnectionRequest, encodeDataTpdu, encodeS7, parseCotp, parseS7, parseTpkt, setupCommunicationParam, tsapText,
  type ConnectionRequest, type CotpTpdu, type S7Pdu, type Tsap,
} from './frames';

export interface S7Endpoint {
  host: string;
  port: number;
}

export interface IsoOptions {
  signal: AbortSignal;
  /** How long one answer may take (each request waits at most this long). */
  waitMs: number;
  connectTimeoutMs?: number;
  /** Every byte sent and received is appended here in hex. */
  transcript?: Transcript;
}

/** What came back: one COTP TPDU, bytes that are not TPKT/COTP, nothing, or a closed connection. */
export type TpduReply =
  | { kind: 'tpdu'; tpdu: CotpTpdu }
  | { kind: 'invalid'; reason: string; bytes: Buffer }
  | { kind: 'no-answer'; bytes: Buffer }
  | { kind: 'closed'; reset: boolean };

/** TPKT frames whose payload is a COTP TPDU: a TPDU that does not parse makes the buffer not ISO-on-TCP. */
function parseIsoFrame(buf: Buffer): FrameParse<CotpTpdu> {
  const parsed = parseTpkt(buf);
  if (parsed.kind !== 'frame') return parsed;
  const tpdu = parseCotp(parsed.tpdu);
  return typeof tpdu === 'string' ? { kind: 'invalid', reason: tpdu } : { kind: 'frame', frame: tpdu, bytes: parsed.bytes };
}

/**
 * An ISO-on-TCP (RFC 1006) connection that sends exactly the TPDUs it is given. Every wait is bounded by
 * `waitMs` and the attempt's signal (framed.ts); the abort listener is removed on close.
 */
export class IsoConnection {
  private constructor(private readonly conn: FramedConnection<CotpTpdu>, readonly options: IsoOptions) {}

  static async open(endpoint: S7Endpoint, options: IsoOptions): Promise<IsoConnection> {
    const socket = await connectTcp(endpoint, options.signal, options.connectTimeoutMs ?? 3000);
    options.transcript?.note(`connected to ${endpoint.host}:${endpoint.port}`);
    return new IsoConnection(FramedConnection.over(socket, parseIsoFrame, { ...options, protocolName: 'ISO-on-TCP' }), options);
  }

  get isClosed(): boolean {
    return this.conn.isClosed;
  }

  send(bytes: Buffer): void {
    this.conn.send(bytes);
  }

  /** The next TPKT frame's TPDU, within `waitMs` (default the connection's). */
  async receive(waitMs = this.options.waitMs): Promise<TpduReply> {
    const reply = await this.conn.receive(waitMs);
    switch (reply.kind) {
      case 'frame': return { kind: 'tpdu', tpdu: reply.frame };
      case 'closed': return { kind: 'closed', reset: reply.reset };
      default: return reply;
    }
  }

  /** The next complete TSDU: DT fragments joined until one carries EOT (at most `maxFragments`). */
  async receiveData(waitMs = this.options.waitMs, maxFragments = 64): Promise<{ kind: 'data'; payload: Buffer } | Exclude<TpduReply, { kind: 'tpdu' }> | { kind: 'tpdu'; tpdu: CotpTpdu }> {
    const parts: Buffer[] = [];
    for (let i = 0; i < maxFragments; i++) {
      const reply = await this.receive(waitMs);
      if (reply.kind !== 'tpdu') return reply;
      if (reply.tpdu.kind !== 'DT') return reply;
      parts.push(reply.tpdu.payload);
      if (reply.tpdu.eot) return { kind: 'data', payload: Buffer.concat(parts) };
    }
    const reason = `no end of TSDU after ${maxFragments} DT fragments`;
    this.options.transcript?.note(`not ISO-on-TCP: ${reason}`);
    return { kind: 'invalid', reason, bytes: this.conn.drain() };
  }

  close(): void {
    this.conn.close();
  }
}

/** How a COTP connection request ended. */
export type CotpConnect =
  | { status: 'accepted'; srcTsap?: string; dstTsap?: string; tpduSize?: number }
  /** Disconnect Request (with its reason), Error TPDU, or a hang-up: the TSAP is not served. */
  | { status: 'refused'; how: string };

/** Sends a COTP CR and reads the answer; silence is a timeout and non-COTP bytes a protocol violation. */
export async function cotpConnect(conn: IsoConnection, request: ConnectionRequest): Promise<CotpConnect> {
  conn.options.transcript?.note(`COTP connection request, calling TSAP ${describeTsap(request.srcTsap)}, called TSAP ${describeTsap(request.dstTsap)}`);
  conn.send(encodeConnectionRequest(request));
  const reply = await conn.receive();
  if (reply.kind === 'no-answer') throw new TargetTimeout(`no answer to a COTP connection request within ${conn.options.waitMs} ms`);
  if (reply.kind === 'invalid') throw new ProtocolViolation(`the service does not speak ISO-on-TCP (RFC 1006): ${reply.reason}`);
  if (reply.kind === 'closed') return { status: 'refused', how: reply.reset ? 'connection reset' : 'connection closed' };
  const { tpdu } = reply;
  if (tpdu.kind === 'CC') {
    const size = tpdu.params.get(0xc0);
    return { status: 'accepted', srcTsap: tsapText(tpdu.params.get(0xc1)), dstTsap: tsapText(tpdu.params.get(0xc2)), ...(size?.length ? { tpduSize: 1 << size[0] } : {}) };
  }
  if (tpdu.kind === 'DR') return { status: 'refused', how: `COTP disconnect request, reason ${tpdu.reason}` };
  if (tpdu.kind === 'ER') return { status: 'refused', how: 'COTP error TPDU' };
  throw new ProtocolViolation(`COTP ${tpdu.kind} (0x${tpdu.code.toString(16)}) in answer to a connection request`);
}

const describeTsap = (t: Tsap) => (typeof t === 'string' ? `"${t}"` : `0x${t.toString(16).padStart(4, '0')}`);

/** The answer to one S7comm request. */
export type S7Reply =
  | { kind: 'pdu'; pdu: S7Pdu }
  /** A TSDU that is not S7comm (another protocol id, lengths that do not add up). */
  | { kind: 'not-s7'; reason: string; payload: Buffer }
  | Exclude<TpduReply, { kind: 'tpdu' }>
  | { kind: 'tpdu'; tpdu: CotpTpdu };

/** An S7comm session on a connected ISO transport: PDU references, bounded waits, every frame in the transcript. */
export class S7Session {
  private pduRef = 0;
  pduSize = 240;

  constructor(readonly iso: IsoConnection) {}

  nextRef(): number {
    this.pduRef = (this.pduRef % 0xffff) + 1;
    return this.pduRef;
  }

  async request(rosctr: number, param: Buffer, data: Buffer = Buffer.alloc(0), note?: string): Promise<S7Reply> {
    if (note) this.iso.options.transcript?.note(note);
    const pduRef = this.nextRef();
    this.iso.send(encodeDataTpdu(encodeS7({ rosctr, pduRef, param, data })));
    for (;;) {
      const reply = await this.iso.receiveData();
      if (reply.kind !== 'data') return reply;
      const pdu = parseS7(reply.payload);
      if (typeof pdu === 'string') return { kind: 'not-s7', reason: pdu, payload: reply.payload };
      // An answer to an earlier request that arrived late is skipped, not taken for this one.
      if (pdu.pduRef !== pduRef && pdu.rosctr !== ROSCTR.userData) continue;
      return { kind: 'pdu', pdu };
    }
  }

  /** Setup communication; a device that does not answer it with S7comm is not an S7 device. */
  async setup(pduSize = 480): Promise<S7Pdu> {
    const reply = await this.request(ROSCTR.job, setupCommunicationParam(pduSize), undefined, `S7 setup communication, PDU size ${pduSize}`);
    const pdu = expectPdu(reply, 'setup communication', this.iso.options.waitMs);
    if (pdu.rosctr !== ROSCTR.ackData || pdu.param[0] !== 0xf0) {
      throw new ProtocolViolation(`setup communication answered with ROSCTR ${pdu.rosctr}, error 0x${(pdu.error ?? 0).toString(16)}`);
    }
    if (pdu.param.length >= 8) this.pduSize = pdu.param.readUInt16BE(6);
    return pdu;
  }
}

/** The S7 PDU of a reply, or the typed error that a missing or foreign answer means. */
export function expectPdu(reply: S7Reply, what: string, waitMs: number): S7Pdu {
  switch (reply.kind) {
    case 'pdu': return reply.pdu;
    case 'no-answer': throw new TargetTimeout(`no answer to ${what} within ${waitMs} ms`);
    case 'closed': throw new ProtocolViolation(`the device ${reply.reset ? 'reset' : 'closed'} the connection on ${what}`);
    case 'invalid': throw new ProtocolViolation(`the answer to ${what} is not ISO-on-TCP: ${reply.reason}`);
    case 'not-s7': throw new ProtocolViolation(`the answer to ${what} is not S7comm: ${reply.reason}`);
    case 'tpdu': throw new ProtocolViolation(`COTP ${reply.tpdu.kind} in answer to ${what}`);
  }
}

export interface SessionOptions extends IsoOptions {
  /** Called TSAPs tried in order (each on a fresh connection) until one is accepted. */
  tsaps: readonly Tsap[];
  srcTsap?: Tsap;
  pduSize?: number;
}

export interface OpenedSession {
  session: S7Session;
  tsap: Tsap;
  refusals: { tsap: string; how: string }[];
}

export type ClassicConnect = ({ status: 'accepted' } & OpenedSession) | { status: 'refused'; refusals: { tsap: string; how: string }[] };

/**
 * TCP connect, COTP connect to the first TSAP the device accepts (nmap's s7-info tries 0x0102 then 0x0200;
 * S7-1200/1500 serve rack 0 slot 1), setup communication. Each TSAP is tried on a fresh connection, since a
 * CPU hangs up after refusing one.
 */
export async function connectClassic(endpoint: S7Endpoint, options: SessionOptions): Promise<ClassicConnect> {
  const refusals: { tsap: string; how: string }[] = [];
  for (const tsap of options.tsaps) {
    const iso = await IsoConnection.open(endpoint, options);
    let keep = false;
    try {
      const cc = await cotpConnect(iso, { srcTsap: options.srcTsap ?? 0x0100, dstTsap: tsap });
      if (cc.status === 'refused') {
        refusals.push({ tsap: describeTsap(tsap), how: cc.how });
        continue;
      }
      const session = new S7Session(iso);
      await session.setup(options.pduSize);
      keep = true;
      return { status: 'accepted', session, tsap, refusals };
    } finally {
      if (!keep) iso.close();
    }
  }
  return { status: 'refused', refusals };
}

export const refusalText = (refusals: readonly { tsap: string; how: string }[]) => refusals.map((r) => `${r.tsap} (${r.how})`).join(', ');

/** connectClassic, or a protocol violation when no TSAP is accepted. */
export async function openSession(endpoint: S7Endpoint, options: SessionOptions): Promise<OpenedSession> {
  const result = await connectClassic(endpoint, options);
  if (result.status === 'refused') throw new ProtocolViolation(`the device accepts no COTP connection on the S7 TSAPs tried: ${refusalText(result.refusals)}`);
  return result;
}

/** Opens a session, runs `fn`, and always closes the connection. */
export async function withSession<T>(endpoint: S7Endpoint, options: SessionOptions, fn: (opened: OpenedSession) => Promise<T>): Promise<T> {
  const opened = await openSession(endpoint, options);
  try {
    return await fn(opened);
  } finally {
    opened.session.iso.close();
  }
}

/** Called TSAPs tried by default: rack 0 slot 2 (S7-300) and connection type 2 slot 0, as nmap's s7-info,
 * then rack 0 slot 1 (S7-1200/1500, S7-400 varies: name others in the probe's `tsaps` input). */
export const DEFAULT_TSAPS: readonly number[] = [0x0102, 0x0200, 0x0101];

/** JSON Schema of the inputs every s7 probe shares. */
export const S7_COMMON_INPUTS = {
  tsaps: { type: 'array', minItems: 1, maxItems: 8, items: { type: 'integer', minimum: 0, maximum: 65535 } },
  requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
} as const;
