/**
 * The lab syslog collector: UDP (RFC 5426), TCP (RFC 6587, octet counting or LF) and TLS (RFC 5425, the lab
 * CA, mutual TLS on request), on one given address. Every record is written to the raw journal before it is
 * parsed, so the evidence holds what the device sent even where our reading of it is wrong; malformed input
 * (binary, oversized, badly framed, invalid UTF-8) is kept the same way and never stops the collector.
 */
import type * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { StreamDeframer, type StreamFrame } from './framing';
import { parseSyslog } from './parse';
import type { CollectorOutage, SyslogRecord } from '../../sdk';

export type { CollectorOutage, SyslogRecord };
import { assertLabAddress, bindUdp, listenTcp } from '../lab/address';

export type SyslogTransport = 'udp' | 'tcp' | 'tls';

export interface SyslogTlsOptions {
  readonly port: number;
  readonly certPem: string;
  readonly keyPem: string;
  /** The lab CA: trust anchor for client certificates (mutual TLS). */
  readonly caPem?: string;
  /** Mutual TLS: a sender without a certificate from `caPem` is refused. */
  readonly requireClientCert?: boolean;
}

export interface SyslogCollectorOptions {
  /** The lab address; never a wildcard. */
  readonly address: string;
  /** Ports to listen on (0: any free port); a transport without a port is not started. */
  readonly udpPort?: number;
  readonly tcpPort?: number;
  readonly tls?: SyslogTlsOptions;
  /** NDJSON file that receives every record raw, before parsing, and connection events. */
  readonly journalFile: string;
  /** Longest stream frame kept in one record (default 128 KiB); longer ones follow in pieces. */
  readonly maxRecordBytes?: number;
  /** Closes the collector when it aborts. */
  readonly signal?: AbortSignal;
}

export interface SyslogCollector {
  readonly address: string;
  /** Bound ports by transport (only the started transports). */
  readonly ports: Readonly<Partial<Record<SyslogTransport, number>>>;
  /** Every record so far, in order. */
  readonly records: readonly SyslogRecord[];
  /** Resolves with the first record (already received or arriving) that matches, or undefined after timeoutMs. */
  waitFor(match: (r: SyslogRecord) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<SyslogRecord | undefined>;
  /**
   * Makes the collector unreachable (CR 2.10 audit outage): stops listening on `transports` (default: every
   * started one) and destroys the stream connections on them, so that a sender's reconnects are refused.
   * `resume()` listens again on the same ports; after `maxMs` the collector resumes by itself (a probe that
   * dies mid-outage does not leave the run without its collector). Journaled (`outage-start`).
   */
  suspend(options?: { transports?: readonly SyslogTransport[]; maxMs?: number; reason?: string }): Promise<CollectorOutage>;
  /** Listens again on the suspended ports; journaled (`outage-end`). Resolves with the outage, or undefined when none was on. */
  resume(): Promise<CollectorOutage | undefined>;
  /** The outage in progress, if any. */
  readonly outage: CollectorOutage | undefined;
  /** Stops listening and destroys every connection; idempotent. */
  close(): Promise<void>;
}

/** A safety net only: no outage is meant to last this long. */
const DEFAULT_MAX_OUTAGE_MS = 10 * 60_000;
const REBIND_ATTEMPTS = 20;

const DEFAULT_MAX_RECORD = 128 * 1024;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decode(raw: Buffer): { text: string; valid: boolean } {
  try {
    return { text: strictUtf8.decode(raw), valid: true };
  } catch {
    return { text: raw.toString('latin1'), valid: false };
  }
}

/** Opens the journal and returns the writer (sync writes: what arrived survives a crash). */
function openJournal(file: string): { write(entries: object | readonly object[]): void; close(): void } {
  const fd = fs.openSync(file, 'a');
  let open = true;
  return {
    write: (entries) => {
      const list: readonly object[] = Array.isArray(entries) ? entries : [entries];
      if (open) fs.writeSync(fd, list.map((e) => JSON.stringify(e) + '\n').join(''));
    },
    close: () => {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

class Collector implements SyslogCollector {
  readonly records: SyslogRecord[] = [];
  readonly ports: Partial<Record<SyslogTransport, number>> = {};
  private readonly listeners = new Set<(r: SyslogRecord) => void>();
  private readonly sockets = new Map<net.Socket, 'tcp' | 'tls'>();
  /** Raw TCP connections per stream server, handshakes included (destroyed at an outage's start). */
  private readonly raw = new Map<net.Socket, 'tcp' | 'tls'>();
  private readonly servers = new Map<'tcp' | 'tls', net.Server>();
  private udp: dgram.Socket | undefined;
  private closed = false;
  private current: (CollectorOutage & { timer: NodeJS.Timeout }) | undefined;
  private readonly journal: ReturnType<typeof openJournal>;

  constructor(readonly address: string, private readonly options: SyslogCollectorOptions) {
    this.journal = openJournal(options.journalFile);
  }

  async start(): Promise<void> {
    const o = this.options;
    if (o.udpPort !== undefined) await this.listenUdp(o.udpPort);
    if (o.tcpPort !== undefined) {
      const server = net.createServer((socket) => this.stream(socket, 'tcp'));
      this.track(server, 'tcp');
      this.ports.tcp = await listenTcp(server, 'the syslog collector (TCP)', this.address, o.tcpPort);
    }
    if (o.tls) {
      const server = tls.createServer({
        cert: o.tls.certPem, key: o.tls.keyPem, ca: o.tls.caPem, minVersion: 'TLSv1.2',
        requestCert: o.tls.requireClientCert ?? false, rejectUnauthorized: o.tls.requireClientCert ?? false,
      }, (socket) => this.stream(socket, 'tls'));
      server.on('tlsClientError', (err, socket) => this.journal.write({
        type: 'tls-refused', at: new Date().toISOString(), peer: socket.remoteAddress, peerPort: socket.remotePort, error: err.message,
      }));
      this.track(server, 'tls');
      this.ports.tls = await listenTcp(server, 'the syslog collector (TLS)', this.address, o.tls.port);
    }
    o.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private async listenUdp(port: number): Promise<void> {
    const udp = await bindUdp('the syslog collector (UDP)', this.address, port);
    this.udp = udp;
    this.ports.udp = udp.address().port;
    udp.on('message', (msg, rinfo) => this.accept([{ bytes: msg, framing: 'none' }], 'udp', rinfo.address, rinfo.port));
    udp.on('error', (err) => this.journal.write({ type: 'error', transport: 'udp', at: new Date().toISOString(), error: err.message }));
  }

  private track(server: net.Server, transport: 'tcp' | 'tls'): void {
    this.servers.set(transport, server);
    server.on('connection', (socket: net.Socket) => {
      this.raw.set(socket, transport);
      socket.once('close', () => this.raw.delete(socket));
    });
  }

  get outage(): CollectorOutage | undefined {
    if (!this.current) return undefined;
    const { timer: _t, ...outage } = this.current;
    return outage;
  }

  async suspend(options: { transports?: readonly SyslogTransport[]; maxMs?: number; reason?: string } = {}): Promise<CollectorOutage> {
    if (this.closed) throw new Error('the syslog collector is closed');
    if (this.current) throw new Error('the syslog collector is already suspended');
    const started = Object.keys(this.ports) as SyslogTransport[];
    const transports = started.filter((t) => !options.transports || options.transports.includes(t));
    const startedAt = Date.now();
    const timer = setTimeout(() => void this.resumeBy('timer'), options.maxMs ?? DEFAULT_MAX_OUTAGE_MS);
    this.current = { startedAt, transports, connectionsDestroyed: 0, timer, ...(options.reason ? { reason: options.reason } : {}) };
    const doomed = [...this.raw].filter(([, t]) => transports.includes(t)).map(([socket]) => socket);
    const closing: Promise<void>[] = [];
    for (const t of transports) {
      const server = t === 'udp' ? undefined : this.servers.get(t);
      if (server) closing.push(new Promise<void>((resolve) => server.close(() => resolve())));
    }
    if (transports.includes('udp') && this.udp) {
      const udp = this.udp;
      this.udp = undefined;
      closing.push(new Promise<void>((resolve) => udp.close(() => resolve())));
    }
    for (const [socket, t] of this.sockets) if (transports.includes(t)) socket.destroy();
    for (const socket of doomed) socket.destroy();
    await Promise.all(closing);
    this.current = { ...this.current, connectionsDestroyed: doomed.length };
    this.journal.write({ type: 'outage-start', at: new Date(startedAt).toISOString(), transports, ports: this.portsOf(transports), connectionsDestroyed: doomed.length, ...(options.reason ? { reason: options.reason } : {}) });
    return this.outage!;
  }

  resume(): Promise<CollectorOutage | undefined> {
    return this.resumeBy('resume');
  }

  private portsOf(transports: readonly SyslogTransport[]): Partial<Record<SyslogTransport, number>> {
    return Object.fromEntries(transports.map((t) => [t, this.ports[t]]));
  }

  /** Listens again on the outage's ports (the same numbers: senders are configured with them). */
  private async resumeBy(endedBy: 'resume' | 'timer' | 'close'): Promise<CollectorOutage | undefined> {
    const current = this.current;
    if (!current) return undefined;
    this.current = undefined;
    clearTimeout(current.timer);
    if (endedBy !== 'close') {
      for (const t of current.transports) await this.relisten(t);
    }
    const { timer: _t, ...outage } = current;
    const ended: CollectorOutage = { ...outage, endedAt: Date.now(), endedBy };
    this.journal.write({ type: 'outage-end', at: new Date(ended.endedAt!).toISOString(), startedAt: new Date(ended.startedAt).toISOString(), transports: ended.transports, endedBy, durationMs: ended.endedAt! - ended.startedAt });
    return ended;
  }

  /** Binds a transport's port again; a port taken meanwhile is retried for a while, then a LabSetupError. */
  private async relisten(t: SyslogTransport): Promise<void> {
    const port = this.ports[t]!;
    for (let attempt = 1; ; attempt++) {
      try {
        if (t === 'udp') await this.listenUdp(port);
        else await listenTcp(this.servers.get(t)!, `the syslog collector (${t.toUpperCase()})`, this.address, port);
        return;
      } catch (err) {
        if (attempt >= REBIND_ATTEMPTS || this.closed) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  private readonly onAbort = () => void this.close();

  private stream(socket: net.Socket, transport: 'tcp' | 'tls'): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (this.current?.transports.includes(transport)) {
      socket.destroy();
      return;
    }
    this.sockets.set(socket, transport);
    const peer = socket.remoteAddress ?? '';
    const peerPort = socket.remotePort ?? 0;
    const cert = transport === 'tls' ? (socket as tls.TLSSocket).getPeerCertificate() : undefined;
    const clientCertificate = cert && typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined;
    this.journal.write({ type: 'connection', transport, at: new Date().toISOString(), peer, peerPort, ...(clientCertificate ? { clientCertificate } : {}) });
    const deframer = new StreamDeframer(this.options.maxRecordBytes ?? DEFAULT_MAX_RECORD);
    socket.on('data', (chunk: Buffer) => {
      this.accept(deframer.push(chunk), transport, peer, peerPort, clientCertificate);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.accept(deframer.end(), transport, peer, peerPort, clientCertificate);
      this.sockets.delete(socket);
      this.journal.write({ type: 'disconnection', transport, at: new Date().toISOString(), peer, peerPort });
    });
  }

  /**
   * Journals the frames raw (one write for all frames of one chunk), then parses them and hands them to
   * waiters: the raw bytes are on disk before our reading of them exists.
   */
  private accept(frames: readonly StreamFrame[], transport: SyslogTransport, peer: string, peerPort: number, clientCertificate?: string): void {
    if (frames.length === 0) return;
    const receivedAt = Date.now();
    const at = new Date(receivedAt).toISOString();
    const framing = transport === 'udp' ? 'datagram' : undefined;
    const decoded = frames.map((frame, i) => ({ frame, seq: this.records.length + 1 + i, ...decode(frame.bytes) }));
    this.journal.write(decoded.map(({ frame, seq, text, valid }) => ({
      type: 'record', seq, at, transport, peer, peerPort, framing: framing ?? frame.framing,
      ...(frame.problem ? { problem: frame.problem } : {}), ...(valid ? { utf8: text } : { base64: frame.bytes.toString('base64') }),
    })));
    for (const { frame, seq, text, valid } of decoded) {
      const record: SyslogRecord = {
        seq, receivedAt, transport, peer, peerPort, framing: framing ?? frame.framing, raw: frame.bytes, utf8Valid: valid,
        ...(frame.problem ? { problem: frame.problem } : {}), ...(clientCertificate ? { clientCertificate } : {}),
        message: parseSyslog(text, receivedAt),
      };
      this.records.push(record);
      for (const listener of this.listeners) listener(record);
    }
  }

  waitFor(match: (r: SyslogRecord) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<SyslogRecord | undefined> {
    const found = this.records.find(match);
    if (found || this.closed || signal?.aborted) return Promise.resolve(found);
    return new Promise((resolve) => {
      const done = (r: SyslogRecord | undefined) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const listener = (r: SyslogRecord) => {
        if (match(r)) done(r);
      };
      const onAbort = () => done(undefined);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.listeners.add(listener);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    const suspended = new Set(this.current?.transports ?? []);
    await this.resumeBy('close');
    for (const socket of [...this.sockets.keys(), ...this.raw.keys()]) socket.destroy();
    const closing = [...this.servers].filter(([t]) => !suspended.has(t)).map(([, s]) => new Promise<void>((resolve) => s.close(() => resolve())));
    if (this.udp) closing.push(new Promise<void>((resolve) => this.udp!.close(() => resolve())));
    await Promise.all(closing);
    this.journal.close();
  }
}

/**
 * Starts the collector on the lab address. Every transport binds before this resolves; when one cannot (a
 * wildcard address, a port in use) the others are closed again and a LabSetupError says which and why.
 */
export async function startSyslogCollector(options: SyslogCollectorOptions): Promise<SyslogCollector> {
  assertLabAddress(options.address);
  const collector = new Collector(options.address, options);
  try {
    await collector.start();
  } catch (err) {
    await collector.close();
    throw err;
  }
  return collector;
}
