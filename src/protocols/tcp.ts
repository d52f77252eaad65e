import * as net from 'node:net';

export type PortState = 'open' | 'closed' | 'filtered';

/**
 * CR 7.7 (least functionality) on a host is examined in two parts: its TCP ports (ports.tcp) and its UDP ports
 * (ports.udp). The assessment passes the row in full only when both parts have a full-coverage pass there.
 */
export const PORT_EXPOSURE_PARTS = ['tcp', 'udp'] as const;

/**
 * One TCP connect: open (handshake completed), closed (refused/reset) or filtered (no answer in time).
 * The socket is destroyed right after the handshake, before any payload is sent. `track` registers the
 * socket with the scan that owns it, which destroys every socket in flight when its signal aborts (one
 * abort listener per scan, not one per port).
 */
function probePort(host: string, port: number, timeoutMs: number, track: (socket: net.Socket, cancel: (reason: unknown) => void) => () => void): Promise<PortState> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const done = (fn: () => void) => {
      clearTimeout(timer);
      untrack();
      socket.destroy();
      fn();
    };
    const untrack = track(socket, (reason) => done(() => reject(reason)));
    const timer = setTimeout(() => done(() => resolve('filtered')), timeoutMs);
    socket.once('connect', () => done(() => resolve('open')));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET') done(() => resolve('closed'));
      else if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ETIMEDOUT') done(() => resolve('filtered'));
      else done(() => reject(err));
    });
  });
}

export interface ConnectScanResult {
  open: number[];
  filtered: number[];
  closed: number;
  /** Every requested port was probed (false when `stopAt` came first). */
  complete: boolean;
  /** Ports not probed, or whose probe was cut off, because `stopAt` came first. */
  notScanned: number[];
}

/** Marks the probes a scan cuts off at `stopAt` (as opposed to an abort of the signal, which rejects). */
const STOPPED = Symbol('scan stopped');

/**
 * A TCP connect scan with at most `parallel` connections in flight. At `stopAt` (epoch ms) it stops and
 * returns what it saw, with the ports it did not get to in `notScanned`; an aborted signal rejects.
 */
export async function connectScan(
  host: string, ports: readonly number[], options: { parallel: number; timeoutMs: number; signal: AbortSignal; stopAt?: number },
): Promise<ConnectScanResult> {
  const { signal } = options;
  signal.throwIfAborted();
  const result: ConnectScanResult = { open: [], filtered: [], closed: 0, complete: true, notScanned: [] };
  const inFlight = new Map<net.Socket, (reason: unknown) => void>();
  const track = (socket: net.Socket, cancel: (reason: unknown) => void) => {
    inFlight.set(socket, cancel);
    return () => { inFlight.delete(socket); };
  };
  const cancelAll = (reason: unknown) => {
    for (const cancel of [...inFlight.values()]) cancel(reason);
  };
  const onAbort = () => cancelAll(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let stopped = false;
  const stopTimer = options.stopAt === undefined ? undefined : setTimeout(() => {
    stopped = true;
    cancelAll(STOPPED);
  }, Math.max(0, options.stopAt - Date.now()));
  let next = 0;
  const worker = async () => {
    while (next < ports.length && !stopped) {
      signal.throwIfAborted();
      const port = ports[next++];
      let state: PortState;
      try {
        state = await probePort(host, port, options.timeoutMs, track);
      } catch (err) {
        if (err !== STOPPED) throw err;
        result.notScanned.push(port);
        return;
      }
      if (state === 'open') result.open.push(port);
      else if (state === 'filtered') result.filtered.push(port);
      else result.closed += 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel, ports.length)) }, worker));
  } finally {
    clearTimeout(stopTimer);
    signal.removeEventListener('abort', onAbort);
  }
  result.notScanned.push(...ports.slice(next));
  result.complete = result.notScanned.length === 0;
  for (const list of [result.open, result.filtered, result.notScanned]) list.sort((a, b) => a - b);
  return result;
}

/** "1-1024,502,4840" -> sorted unique ports; "all" -> 1..65535. */
export function parsePortSpec(spec: string): number[] {
  if (spec.trim() === 'all') return Array.from({ length: 65535 }, (_, i) => i + 1);
  const ports = new Set<number>();
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`invalid port list "${part}" (use e.g. 22,80,1000-2000 or all)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > 65535 || a > b) throw new Error(`invalid port range "${part}"`);
    for (let p = a; p <= b; p++) ports.add(p);
  }
  return [...ports].sort((x, y) => x - y);
}

/** Inverse of parsePortSpec: compact ranges, for nmap's -p and for evidence. */
export function formatPortSpec(ports: readonly number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(',');
}
