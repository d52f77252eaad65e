import * as net from 'node:net';

/** What became of one connection attempt while the device's connection slots were being filled. */
export type ConnectionFate =
  /** Handshake done, still open. */
  | 'held'
  /** Refused at once (RST to the SYN: ECONNREFUSED, or reset before the handshake completed). */
  | 'refused'
  /** Accepted, then closed or reset by the device (a clean way to refuse a slot). */
  | 'closed-by-device'
  /** No answer to the SYN within the connect timeout: the device hangs instead of refusing. */
  | 'timeout'
  /** Any other local or network error. */
  | 'error';

export interface ConnectionRecord {
  readonly index: number;
  /** ms from the start of the filling to the outcome. */
  readonly atMs: number;
  fate: ConnectionFate;
  detail?: string;
}

export interface FillOptions {
  readonly host: string;
  readonly port: number;
  /** Connections to open at most (already clamped to the attempt's maxConnections). */
  readonly max: number;
  /** Connection attempts per second at most (clamped to maxRate). */
  readonly rate: number;
  readonly connectTimeoutMs: number;
  /** Stop once this many attempts in a row did not end held (the device's limit is reached). */
  readonly stopAfterFailures: number;
  readonly signal: AbortSignal;
}

export interface HeldConnections {
  readonly records: readonly ConnectionRecord[];
  /** Connections open right now. */
  open(): number;
  /** Connections the device closed after they were counted as held (while they were held). */
  closedWhileHeld(): number;
  /** Closes every connection (FIN; RST for those still connecting). */
  release(): void;
}

/** What a held connection reads of what the device sends before it stops reading (the kernel then holds the rest). */
const HELD_READ_CAP = 64 * 1024;

/** Opens connections one after the other at `rate`, each with its own timeout, and keeps the established ones. */
export async function fillConnections(o: FillOptions): Promise<HeldConnections> {
  const sockets = new Set<net.Socket>();
  const records: ConnectionRecord[] = [];
  let closedWhileHeld = 0;
  let failuresInRow = 0;
  let releasing = false;
  const started = Date.now();
  const pending = new Set<Promise<void>>();
  const release = () => {
    releasing = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  o.signal.addEventListener('abort', release, { once: true });
  const attempt = (index: number) => new Promise<void>((resolve) => {
    const socket = net.connect({ host: o.host, port: o.port });
    sockets.add(socket);
    let record: ConnectionRecord | undefined;
    const outcome = (fate: ConnectionFate, detail?: string) => {
      if (record) return;
      record = { index, atMs: Date.now() - started, fate, ...(detail ? { detail } : {}) };
      records.push(record);
      failuresInRow = fate === 'held' ? 0 : failuresInRow + 1;
      resolve();
    };
    const timer = setTimeout(() => { outcome('timeout', `no SYN-ACK within ${o.connectTimeoutMs} ms`); socket.destroy(); sockets.delete(socket); }, o.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      // A device that accepts and closes at once does so within a few ms: give it that long before counting the slot held.
      setTimeout(() => { if (!socket.destroyed) outcome('held'); }, 50);
    });
    // Read what the device says (so its close is seen) but stop after HELD_READ_CAP: a device that streams must
    // not make every held connection drink its stream (a 200 MB answer times the connections held).
    let received = 0;
    socket.on('data', (chunk: Buffer) => { received += chunk.length; if (received > HELD_READ_CAP) socket.pause(); });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (record?.fate === 'held') return;
      const fate: ConnectionFate = err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ECONNRESET' ? (socket.connecting ? 'refused' : 'closed-by-device') : 'error';
      outcome(fate, err.code ?? err.message);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      sockets.delete(socket);
      if (o.signal.aborted || releasing) return;
      if (record?.fate === 'held') { record.fate = 'closed-by-device'; record.detail = 'closed while held'; closedWhileHeld++; failuresInRow++; return; }
      outcome('closed-by-device', 'closed right after the handshake');
    });
  });
  for (let i = 0; i < o.max && !o.signal.aborted && failuresInRow < o.stopAfterFailures; i++) {
    const due = started + (i * 1000) / o.rate;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    if (o.signal.aborted || failuresInRow >= o.stopAfterFailures) break;
    const p = attempt(i);
    pending.add(p);
    void p.finally(() => pending.delete(p));
    // At most 64 handshakes pending: a device that hangs must not make us open thousands of half-open sockets.
    if (pending.size >= 64) await Promise.race(pending);
  }
  await Promise.race([Promise.all(pending), new Promise<void>((r) => { if (o.signal.aborted) r(); else o.signal.addEventListener('abort', () => r(), { once: true }); })]);
  o.signal.removeEventListener('abort', release);
  if (o.signal.aborted) release();
  return {
    records,
    open: () => [...sockets].filter((s) => !s.destroyed && !s.connecting).length,
    closedWhileHeld: () => closedWhileHeld,
    release,
  };
}
