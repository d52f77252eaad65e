import { setMaxListeners } from 'node:events';
import { InstrumentFailure, type BoundaryDecl } from '../../sdk';
import { hping3, startAgent, type Agent, type Endpoint } from './endpoint';
import { allowed, isSyn, startFarCapture, stopFarCapture, tempCaptureFile } from './flows';
import type { CapturedPacket } from './pcap';

/**
 * A steady stream from one endpoint to another across the device, for as long as an outage lasts: SYNs and
 * datagrams to undeclared ports (hping3 walking the port space), and to every declared port of that direction,
 * while the far endpoint captures what arrives. A witness flow (a TCP connect or a UDP datagram the far
 * agent receives, on a declared conduit) tells on demand whether the device forwards right now.
 */

export interface StreamPlan {
  /** Gap between two packets of one sender (µs); 3 undeclared senders and one per declared port run at once. */
  intervalMicros: number;
  /** First port of the undeclared walks (TCP and UDP); hping3 wraps after 65535. */
  firstPort: number;
}

/** What the near endpoint may open towards the far one: the declared ports and ICMP types of that direction. */
export interface DeclaredSet {
  tcp: Set<number>;
  udp: Set<number>;
  icmp: Set<number>;
}

export interface Witness {
  protocol: 'tcp' | 'udp';
  port: number;
}

export interface RunningStream {
  readonly declared: DeclaredSet;
  readonly witness: Witness;
  /** One witness flow now: true when it arrived at the far agent (through the device). */
  probe(timeoutMs: number): Promise<boolean>;
  /** Stops the senders and the capture; the packets the far endpoint saw and how many were sent. */
  stop(): Promise<{ packets: CapturedPacket[]; file: string; sent: number }>;
  /** Stops everything without reading the capture (abort paths). */
  abandon(): Promise<void>;
}

export function declaredSet(decl: BoundaryDecl, near: Endpoint, far: Endpoint): DeclaredSet {
  const of = (protocol: 'tcp' | 'udp' | 'icmp') => allowed(decl, near.zone.name, far.zone.name, protocol);
  return { tcp: of('tcp'), udp: of('udp'), icmp: of('icmp') };
}

/** A declared tcp/udp port of this direction to test forwarding with, or undefined when there is none. */
export function witnessOf(declared: DeclaredSet): Witness | undefined {
  const [tcp] = declared.tcp;
  if (tcp !== undefined) return { protocol: 'tcp', port: tcp };
  const [udp] = declared.udp;
  return udp !== undefined ? { protocol: 'udp', port: udp } : undefined;
}

/** True when the packet is one of the declared flows (SYN to a declared TCP port, ...). */
export function isDeclared(p: CapturedPacket, declared: DeclaredSet): boolean {
  if (p.protocol === 'tcp') return declared.tcp.has(p.dport!);
  if (p.protocol === 'udp') return declared.udp.has(p.dport!);
  if (p.protocol === 'icmp') return declared.icmp.has(p.icmpType!);
  return false;
}

/** The packets of the stream that count as crossings: SYNs (not replies or RSTs), datagrams, ICMP. */
export const isStreamPacket = (p: CapturedPacket) => (p.protocol === 'tcp' ? isSyn(p) : p.protocol !== 'other');

/** Undeclared ICMP types to stream (timestamp, address mask, information request): the first one not declared. */
const UNDECLARED_ICMP = [13, 17, 15];
/** Senders per protocol for declared ports (the undeclared walk still reaches the others, classified as declared). */
const MAX_DECLARED_SENDERS = 16;

function senders(far: Endpoint, declared: DeclaredSet, plan: StreamPlan): string[][] {
  const gap = ['-i', `u${plan.intervalMicros}`, far.address];
  const icmp = UNDECLARED_ICMP.find((t) => !declared.icmp.has(t));
  return [
    ['-S', '-p', `++${plan.firstPort}`, ...gap],
    ['--udp', '-p', `++${plan.firstPort}`, ...gap],
    ...(icmp !== undefined ? [['--icmp', '-C', String(icmp), ...gap]] : []),
    ...[...declared.tcp].slice(0, MAX_DECLARED_SENDERS).map((port) => ['-S', '-p', String(port), ...gap]),
    ...[...declared.udp].slice(0, MAX_DECLARED_SENDERS).map((port) => ['--udp', '-p', String(port), ...gap]),
    ...[...declared.icmp].slice(0, MAX_DECLARED_SENDERS).map((type) => ['--icmp', '-C', String(type), ...gap]),
  ];
}

async function witnessProbe(nearAgent: Agent, farAgent: Agent, near: Endpoint, far: Endpoint, witness: Witness, timeoutMs: number): Promise<boolean> {
  if (witness.protocol === 'tcp') {
    const r = await nearAgent.call<{ connected: boolean }>({ op: 'connect', host: far.address, port: witness.port, localAddress: near.address, timeoutMs });
    return r.connected;
  }
  const key = `udp/${witness.port}`;
  const before = (await farAgent.received())[key]?.count ?? 0;
  await nearAgent.call({ op: 'udp', host: far.address, ports: [witness.port], localAddress: near.address, payload: 'iacs-probe fail-close witness' });
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (((await farAgent.received())[key]?.count ?? 0) > before) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Starts the capture on `far`, the agents and the senders on `near`; the stream runs until stop(). */
export async function startStream(near: Endpoint, far: Endpoint, declared: DeclaredSet, witness: Witness, plan: StreamPlan, signal: AbortSignal): Promise<RunningStream> {
  const file = tempCaptureFile(`stream-${near.zone.name}-to-${far.zone.name}`);
  const capture = await startFarCapture(far, `src host ${near.address} and dst host ${far.address}`, file, signal);
  const halt = new AbortController();
  const onAbort = () => halt.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let agents: Agent[] = [];
  const abandon = async () => {
    halt.abort();
    signal.removeEventListener('abort', onAbort);
    await Promise.all([capture.stop().catch(() => undefined), ...agents.map((a) => a.close())]);
  };
  try {
    agents = await Promise.all([startAgent(near, signal), startAgent(far, signal)]);
    await agents[1].call({ op: 'listen', protocol: witness.protocol, address: far.address, ports: [witness.port] });
  } catch (err) {
    await abandon();
    throw err;
  }
  const argvs = senders(far, declared, plan);
  setMaxListeners(argvs.length + 2, halt.signal);
  // A sender that ends on its own leaves part of the outage unwatched: that must not read as "nothing crossed".
  let endedEarly: string | undefined;
  const running = argvs.map((argv) => hping3(near, argv, halt.signal).then((r) => {
    if (!halt.signal.aborted) endedEarly ??= `hping3 ${argv.join(' ')} ended (exit ${r.code}) before the stream was stopped`;
    return r;
  }));
  return {
    declared, witness,
    probe: (timeoutMs) => witnessProbe(agents[0], agents[1], near, far, witness, timeoutMs),
    async stop() {
      halt.abort();
      const sent = (await Promise.all(running)).reduce((a, r) => a + r.sent, 0);
      signal.removeEventListener('abort', onAbort);
      if (endedEarly) {
        await abandon();
        throw new InstrumentFailure(`${endedEarly}: the stream did not cover the outage`);
      }
      await new Promise((r) => setTimeout(r, 300)); // packets still crossing
      try {
        const { packets } = await stopFarCapture(capture, far);
        return { packets, file, sent };
      } finally {
        await Promise.all(agents.map((a) => a.close()));
      }
    },
    async abandon() {
      await abandon();
      await Promise.all(running);
    },
  };
}

// ------------------------------------------------------------------------------------------------
// The outage timeline: which captured packet crossed in which phase

/** Epoch ms of the hook events around an outage. */
export interface OutageTimeline {
  stopStarted: number;
  /** stop returned + settleMs: from here the filter is down, and even declared flows must not cross. */
  downFrom: number;
  startStarted: number;
  /** The first witness flow that crossed after start; undefined when the device never forwarded again. */
  recoveredAt?: number;
}

export type OutagePhase = 'before' | 'stopping' | 'down' | 'restarting' | 'after';

export interface Crossing {
  /** ms after the stop hook began (negative: before it). */
  at: number;
  phase: OutagePhase;
  protocol: CapturedPacket['protocol'];
  port?: number;
  icmpType?: number;
  declared: boolean;
}

export function phaseOf(time: number, t: OutageTimeline): OutagePhase {
  if (time < t.stopStarted) return 'before';
  if (time < t.downFrom) return 'stopping';
  if (time < t.startStarted) return 'down';
  return t.recoveredAt === undefined || time < t.recoveredAt ? 'restarting' : 'after';
}

/**
 * Fail open: an undeclared packet that crossed while the filter was stopping, down or restarting, or a declared
 * one while it was down (a filter that is not running must not forward at all).
 */
export const isFailOpen = (c: Crossing) => (c.declared ? c.phase === 'down' : c.phase !== 'before' && c.phase !== 'after');

/** The stream's packets the far endpoint captured, placed on the timeline. */
export function crossingsOf(packets: readonly CapturedPacket[], declared: DeclaredSet, t: OutageTimeline): Crossing[] {
  return packets.filter(isStreamPacket).map((p) => ({
    at: Math.round((p.time ?? 0) - t.stopStarted), phase: phaseOf(p.time ?? 0, t), protocol: p.protocol,
    ...(p.protocol === 'icmp' ? { icmpType: p.icmpType } : { port: p.dport }), declared: isDeclared(p, declared),
  }));
}
