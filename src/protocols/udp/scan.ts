import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { UdpPayload } from './payloads';

/**
 * nmap's UDP states: `open` (a datagram came back from the port), `closed` (ICMP port unreachable),
 * `filtered` (another ICMP unreachable: host, net, administratively prohibited) and `open|filtered` (no answer
 * at all: a service that ignored the request, a firewall that dropped it, or an ICMP error the device did not
 * send because it rate-limits them).
 */
export type UdpPortState = 'open' | 'closed' | 'filtered' | 'open|filtered';

/** What one probe of one port saw. */
type Observation =
  | { kind: 'answer'; bytes: Buffer; from: number; tid?: true }
  | { kind: 'refused' }
  | { kind: 'unreachable'; code: string }
  | { kind: 'silent'; otherPorts: { port: number; bytes: Buffer }[] };

export interface UdpTarget {
  port: number;
  /** Sent together in each probe of the port; an empty list sends one empty datagram. */
  payloads: readonly UdpPayload[];
}

export interface UdpPortResult {
  port: number;
  state: UdpPortState;
  /** nmap's reason words: udp-response, port-unreach, host-unreach, net-unreach, no-response (tftp-tid: see below). */
  reason: string;
  /** Names of the payloads sent. */
  payloads: string[];
  /** How many times the port was probed (fast round plus paced re-probes). */
  probes: number;
  /** The first answer (at most 64 bytes in hex) and its length. */
  answer?: { bytes: number; hex: string };
  /** Datagrams from other ports of the host, in answer to this port's probe (the port itself stayed silent). */
  otherPortAnswers?: { port: number; bytes: number; hex: string }[];
}

export interface UdpScanRound {
  /** 0: the fast round over every port; 1..: paced re-probes of the ports still silent. */
  round: number;
  /** Milliseconds between two probe starts (0: as fast as `parallel` allows). */
  intervalMs: number;
  probed: number;
  /** Ports that answered (open) or were refused (closed) in this round after being silent before. */
  resolved: number;
  ms: number;
}

export interface UdpScanResult {
  ports: UdpPortResult[];
  rounds: UdpScanRound[];
  /** Every port was probed and every silent one re-probed at the paced interval (false when `stopAt` came first). */
  complete: boolean;
  /** Ports never probed (or whose only probe `stopAt` cut off). */
  notScanned: number[];
  /** Ports silent in the fast round whose paced re-probe never ran because `stopAt` came first: their silence proves nothing. */
  notReprobed: number[];
  /** Ports silent in the fast round that a paced re-probe found closed: the device rate-limits its ICMP errors. */
  closedOnlyWhenPaced: number[];
}

export interface UdpScanOptions {
  /** Probes in flight at once in the fast round. */
  parallel: number;
  /** How long one probe waits for an answer or an ICMP error. */
  responseTimeoutMs: number;
  /** Paced re-probe rounds of the ports that stayed silent (a round that resolves nothing ends them). */
  retries: number;
  /** Spacing of the paced re-probes: at least the device's ICMP rate limit (Linux: 1 per 1000 ms per destination). */
  retryIntervalMs: number;
  signal: AbortSignal;
  /** Epoch ms at which the scan stops and reports what it saw. */
  stopAt?: number;
}

const HEX_LIMIT = 64;
const hexOf = (b: Buffer) => b.subarray(0, HEX_LIMIT).toString('hex');
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH']);

/** Cuts off a probe or a pacing wait: the signal's reason on abort, STOPPED at `stopAt`. */
type Cancel = (reason: unknown) => void;
const STOPPED = Symbol('udp scan stopped');

/** An answer from another port counts for TFTP only: RFC 1350 §4 servers answer from a new port (TID) with DATA or ERROR. */
function isTftpTidAnswer(target: UdpTarget, bytes: Buffer): boolean {
  if (!target.payloads.some((p) => p.kind === 'tftp') || bytes.length < 4) return false;
  const opcode = bytes.readUInt16BE(0);
  return opcode === 3 || opcode === 5;
}

function bindSocket(socket: dgram.Socket, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });
}

/**
 * One probe of one port: a socket connected to host:port, so that the kernel reports the ICMP error
 * (ECONNREFUSED for port unreachable) and drops datagrams from other sources; beside it an unconnected socket
 * on the same local port (SO_REUSEADDR) that sees answers from the host's other ports, which the connected one
 * never receives. Both are closed before the promise settles.
 */
async function probeOnce(host: string, target: UdpTarget, timeoutMs: number, track: (cancel: Cancel) => () => void): Promise<Observation> {
  const type = net.isIPv6(host) ? 'udp6' : 'udp4';
  const connected = dgram.createSocket({ type, reuseAddr: true });
  const others = dgram.createSocket({ type, reuseAddr: true });
  const otherPorts: { port: number; bytes: Buffer }[] = [];
  let cleanup = () => undefined as void;
  try {
    await bindSocket(connected, 0);
    await bindSocket(others, connected.address().port);
    return await new Promise<Observation>((resolve, reject) => {
      let settled = false;
      const done = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        untrack();
        fn();
      };
      const untrack = track((reason) => done(() => reject(reason)));
      const timer = setTimeout(() => done(() => resolve({ kind: 'silent', otherPorts })), timeoutMs);
      const onError = (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') done(() => resolve({ kind: 'refused' }));
        else if (err.code && UNREACHABLE.has(err.code)) done(() => resolve({ kind: 'unreachable', code: err.code! }));
        else done(() => reject(err));
      };
      connected.on('error', onError);
      others.on('error', () => undefined);
      connected.on('message', (bytes) => done(() => resolve({ kind: 'answer', bytes, from: target.port })));
      others.on('message', (bytes, rinfo) => {
        if (rinfo.address !== connected.remoteAddress().address) return; // not the host under test
        if (isTftpTidAnswer(target, bytes)) done(() => resolve({ kind: 'answer', bytes, from: rinfo.port, tid: true }));
        else otherPorts.push({ port: rinfo.port, bytes });
      });
      cleanup = () => {
        connected.removeAllListeners('message');
        others.removeAllListeners('message');
      };
      connected.connect(target.port, host, (err?: Error) => {
        if (err) return onError(err as NodeJS.ErrnoException);
        const payloads = target.payloads.length > 0 ? target.payloads.map((p) => p.bytes) : [Buffer.alloc(0)];
        for (const bytes of payloads) connected.send(bytes, (e) => e && onError(e as NodeJS.ErrnoException));
      });
    });
  } finally {
    cleanup();
    for (const s of [connected, others]) {
      try {
        s.close();
      } catch {
        // never bound or already closed
      }
    }
  }
}

function resultOf(target: UdpTarget, seen: Observation, probes: number): UdpPortResult {
  const base = { port: target.port, payloads: target.payloads.map((p) => p.name), probes };
  switch (seen.kind) {
    case 'answer':
      return { ...base, state: 'open', reason: seen.tid ? 'tftp-tid' : 'udp-response', answer: { bytes: seen.bytes.length, hex: hexOf(seen.bytes) } };
    case 'refused':
      return { ...base, state: 'closed', reason: 'port-unreach' };
    case 'unreachable':
      return { ...base, state: 'filtered', reason: seen.code === 'ENETUNREACH' ? 'net-unreach' : 'host-unreach' };
    default:
      return {
        ...base, state: 'open|filtered', reason: 'no-response',
        ...(seen.otherPorts.length > 0 ? { otherPortAnswers: seen.otherPorts.map((o) => ({ port: o.port, bytes: o.bytes.length, hex: hexOf(o.bytes) })) } : {}),
      };
  }
}

/** Runs probes over `targets`, at most `parallel` at a time and one start per `intervalMs`; stops at STOPPED. */
async function runRound(
  host: string, targets: readonly UdpTarget[], opts: { parallel: number; intervalMs: number; timeoutMs: number },
  scan: { track: (cancel: Cancel) => () => void; stopped: () => boolean; signal: AbortSignal },
  onResult: (target: UdpTarget, seen: Observation) => void,
): Promise<UdpTarget[]> {
  const notDone: UdpTarget[] = [];
  let next = 0;
  let nextStart = Date.now();
  const waitTurn = () => new Promise<void>((resolve, reject) => {
    const at = nextStart;
    nextStart = Math.max(Date.now(), at) + opts.intervalMs;
    const delay = at - Date.now();
    if (delay <= 0) return resolve();
    const timer = setTimeout(() => {
      untrack();
      resolve();
    }, delay);
    const untrack = scan.track((reason) => {
      clearTimeout(timer);
      untrack();
      reject(reason);
    });
  });
  const worker = async () => {
    while (next < targets.length && !scan.stopped()) {
      scan.signal.throwIfAborted();
      const target = targets[next++];
      try {
        await waitTurn();
        onResult(target, await probeOnce(host, target, opts.timeoutMs, scan.track));
      } catch (err) {
        if (err !== STOPPED) throw err;
        notDone.push(target);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.parallel, targets.length)) }, worker));
  return [...notDone, ...targets.slice(next)];
}

/**
 * A UDP scan with protocol payloads. A fast round probes every port (`parallel` at a time); the ports that
 * stayed silent are probed again in paced rounds, one probe start per `retryIntervalMs`, because a device that
 * rate-limits its ICMP errors (Linux: a burst of 6, then 1 per second per destination) leaves closed ports
 * silent in a fast round. Silence counts as open|filtered only after a paced probe. At `stopAt` the scan
 * stops and reports what it saw; an aborted signal rejects.
 */
export async function udpScan(host: string, targets: readonly UdpTarget[], options: UdpScanOptions): Promise<UdpScanResult> {
  const { signal } = options;
  signal.throwIfAborted();
  const inFlight = new Set<Cancel>();
  const track = (cancel: Cancel) => {
    inFlight.add(cancel);
    return () => { inFlight.delete(cancel); };
  };
  const cancelAll = (reason: unknown) => { for (const cancel of [...inFlight]) cancel(reason); };
  const onAbort = () => cancelAll(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let stopped = false;
  const stopTimer = options.stopAt === undefined ? undefined : setTimeout(() => {
    stopped = true;
    cancelAll(STOPPED);
  }, Math.max(0, options.stopAt - Date.now()));
  const scan = { track, stopped: () => stopped, signal };
  const results = new Map<number, UdpPortResult>();
  const probes = new Map<number, number>();
  const rounds: UdpScanRound[] = [];
  const closedOnlyWhenPaced: number[] = [];
  let notScanned: number[] = [];
  try {
    let pending: readonly UdpTarget[] = targets;
    for (let round = 0; round <= options.retries && pending.length > 0; round++) {
      const started = Date.now();
      const intervalMs = round === 0 ? 0 : options.retryIntervalMs;
      let resolved = 0;
      const cut = await runRound(host, pending, { parallel: round === 0 ? options.parallel : Number.MAX_SAFE_INTEGER, intervalMs, timeoutMs: options.responseTimeoutMs }, scan, (target, seen) => {
        const count = (probes.get(target.port) ?? 0) + 1;
        probes.set(target.port, count);
        const result = resultOf(target, seen, count);
        if (round > 0 && result.state !== 'open|filtered') {
          resolved += 1;
          if (result.state === 'closed') closedOnlyWhenPaced.push(target.port);
        }
        if (round === 0 || result.state !== 'open|filtered' || !results.has(target.port)) results.set(target.port, result);
        else results.set(target.port, { ...results.get(target.port)!, probes: count, ...(result.otherPortAnswers ? { otherPortAnswers: result.otherPortAnswers } : {}) });
      });
      rounds.push({ round, intervalMs, probed: pending.length - cut.length, resolved, ms: Date.now() - started });
      if (cut.length > 0) {
        notScanned = cut.map((t) => t.port);
        break;
      }
      // A paced round that resolved nothing shows the silence is the ports' own: no further round.
      if (round > 0 && resolved === 0) break;
      pending = pending.filter((t) => results.get(t.port)?.state === 'open|filtered');
    }
  } finally {
    clearTimeout(stopTimer);
    signal.removeEventListener('abort', onAbort);
  }
  const ports = targets.filter((t) => results.has(t.port)).map((t) => results.get(t.port)!).sort((a, b) => a.port - b.port);
  const notReprobed = options.retries > 0 ? ports.filter((p) => p.state === 'open|filtered' && p.probes < 2).map((p) => p.port) : [];
  return {
    ports, rounds, complete: notScanned.length === 0 && notReprobed.length === 0, notScanned: notScanned.sort((a, b) => a - b), notReprobed,
    closedOnlyWhenPaced: closedOnlyWhenPaced.sort((a, b) => a - b),
  };
}
