import { setMaxListeners } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InstrumentFailure, type BoundaryDecl, type Conduit, type ConduitProtocol } from '../../sdk';
import { startAgent, startCapture, hping3, type Endpoint, type Capture } from './endpoint';
import type { CapturedPacket } from './pcap';

/**
 * The flows of the boundary tester: what is sent from one endpoint, and what the far endpoint saw arrive.
 * The evidence that a flow crossed the device is its packets captured on the far endpoint, never an answer
 * the device itself could have made.
 */

/** One row of the conduit matrix (report.json observations.matrix; docs/boundary.md). */
export interface MatrixRow {
  /** The conduit's name, or "undeclared" for a sweep row. */
  conduit: string;
  from: string;
  to: string;
  protocol: ConduitProtocol;
  /** Destination port (tcp/udp) or ICMP type (icmp). */
  port?: number;
  icmpType?: number;
  /** forward: from the conduit's `from` side; reverse: opened from its `to` side. */
  way: 'forward' | 'reverse';
  declared: 'allow' | 'deny';
  observed: 'pass' | 'blocked';
  /** Packets the near endpoint sent for this flow and the far endpoint captured. */
  sent: number;
  seen: number;
  /** tcp: the far endpoint's listener accepted a connection from the near endpoint's address. */
  handshake?: boolean;
}

export interface FlowRun {
  rows: MatrixRow[];
  /** The far endpoint's capture (pcap) per direction, a temporary file for the evidence. */
  captures: { from: string; to: string; file: string; packets: number }[];
}

export interface PlannedFlow {
  conduit: Conduit;
  way: 'forward' | 'reverse';
  declared: 'allow' | 'deny';
}

/** The flows to try from zone `from` to zone `to`: every conduit's forward flow, and the reverse of every conduit. */
function flowsBetween(decl: BoundaryDecl, from: string, to: string): PlannedFlow[] {
  return decl.conduits.flatMap((c): PlannedFlow[] => {
    if (c.from === from && c.to === to) return [{ conduit: c, way: 'forward', declared: 'allow' }];
    if (c.from === to && c.to === from) return [{ conduit: c, way: 'reverse', declared: c.direction === 'both' ? 'allow' : 'deny' }];
    return [];
  });
}

const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
export const isSyn = (p: CapturedPacket) => p.protocol === 'tcp' && (p.tcpFlags! & (TCP_SYN | TCP_ACK)) === TCP_SYN;

export function tempCaptureFile(label: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-boundary-')), `${label}.pcap`);
}

/** Stops a capture and refuses its verdict if dumpcap dropped packets (a missed packet would read as blocked). */
export async function stopCapture(capture: Capture): Promise<{ packets: CapturedPacket[]; file: string }> {
  const result = await capture.stop();
  if (result.dropped === undefined || result.dropped > 0) {
    throw new InstrumentFailure(`the far endpoint's capture ${result.dropped === undefined ? 'gave no drop count' : `dropped ${result.dropped} packets`}: the flows' receipt cannot be told`);
  }
  return result;
}

/** The discard port (RFC 863) of the marker datagram every far capture must hold. */
const MARKER_PORT = 9;

/**
 * Starts the far endpoint's capture (`filter`: what it counts) and proves it is live before anything is sent:
 * dumpcap prints "Capturing on" a little before it captures (about 250 ms measured, more under load), and a flow
 * that crossed in those instants would read as blocked: a false pass. So the far endpoint sends marker
 * datagrams out of its interface (to its gateway's discard port), which the capture also takes; every flow is
 * sent after them, and stopFarCapture refuses a capture without any.
 */
export async function startFarCapture(far: Endpoint, filter: string, file: string, signal: AbortSignal): Promise<Capture> {
  const capture = await startCapture(far, `(${filter}) or (src host ${far.address} and udp dst port ${MARKER_PORT})`, file, signal);
  try {
    // Three markers 300 ms apart: any one captured proves the capture was live before the first flow (all come after).
    await new Promise((r) => setTimeout(r, 250));
    await hping3(far, ['--udp', '-p', String(MARKER_PORT), '-c', '3', '-i', 'u300000', far.zone.endpoint.gateway], signal);
  } catch (err) {
    await capture.stop().catch(() => undefined);
    throw err;
  }
  return capture;
}

/** stopCapture for a startFarCapture capture: refuses one without its marker, and leaves the marker out of the packets. */
export async function stopFarCapture(capture: Capture, far: Endpoint): Promise<{ packets: CapturedPacket[]; file: string }> {
  const result = await stopCapture(capture);
  const isMarker = (p: CapturedPacket) => p.src === far.address && p.protocol === 'udp' && p.dport === MARKER_PORT;
  if (!result.packets.some(isMarker)) {
    throw new InstrumentFailure(`the far endpoint's capture (${far.zone.name}) does not hold its own marker datagram: it may have missed the first flows, so their receipt cannot be told`);
  }
  return { ...result, packets: result.packets.filter((p) => !isMarker(p)) };
}

/** How long the far side keeps capturing after the last flow was sent (packets still crossing). */
const SETTLE_MS = 300;

/**
 * Tries every conduit flow from `near` to `far`: TCP connects to a listener the far endpoint opens, UDP
 * datagrams to a socket it binds, ICMP packets of the declared type (hping3), all while the far endpoint
 * captures what arrives from the near endpoint's address.
 */
export async function tryFlows(near: Endpoint, far: Endpoint, flows: readonly PlannedFlow[], signal: AbortSignal, connectTimeoutMs: number): Promise<FlowRun> {
  const file = tempCaptureFile(`${near.zone.name}-to-${far.zone.name}`);
  const capture = await startFarCapture(far, `src host ${near.address} and dst host ${far.address}`, file, signal);
  const [nearAgent, farAgent] = await Promise.all([startAgent(near, signal), startAgent(far, signal)]);
  const rows: MatrixRow[] = [];
  try {
    const ports = (p: ConduitProtocol) => [...new Set(flows.filter((f) => f.conduit.protocol === p).flatMap((f) => f.conduit.ports))];
    for (const protocol of ['tcp', 'udp'] as const) {
      if (ports(protocol).length > 0) await farAgent.call({ op: 'listen', protocol, address: far.address, ports: ports(protocol) });
    }
    const tries: { flow: PlannedFlow; port?: number; sent: number; handshake?: boolean }[] = [];
    for (const flow of flows) {
      const c = flow.conduit;
      if (c.protocol === 'tcp') {
        for (const port of c.ports) {
          const r = await nearAgent.call<{ connected: boolean }>({ op: 'connect', host: far.address, port, localAddress: near.address, timeoutMs: connectTimeoutMs });
          tries.push({ flow, port, sent: 1, handshake: r.connected });
        }
      } else if (c.protocol === 'udp') {
        for (const port of c.ports) {
          const r = await nearAgent.call<{ sent: number }>({ op: 'udp', host: far.address, ports: [port, port, port], localAddress: near.address, payload: 'iacs-probe boundary' });
          tries.push({ flow, port, sent: r.sent });
        }
      } else {
        const r = await hping3(near, ['--icmp', '-C', String(c.icmpType), '-c', '3', '-i', 'u20000', far.address], signal);
        tries.push({ flow, sent: r.sent });
      }
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const received = await farAgent.received();
    const { packets } = await stopFarCapture(capture, far);
    for (const t of tries) {
      const c = t.flow.conduit;
      const seen = packets.filter((p) => p.protocol === c.protocol && (c.protocol === 'icmp' ? p.icmpType === c.icmpType : p.dport === t.port && (c.protocol !== 'tcp' || isSyn(p)))).length;
      const accepted = c.protocol === 'tcp' ? (received[`tcp/${t.port}`]?.from ?? []).includes(near.address) : undefined;
      rows.push({
        conduit: c.name, from: near.zone.name, to: far.zone.name, protocol: c.protocol,
        ...(c.protocol === 'icmp' ? { icmpType: c.icmpType } : { port: t.port }),
        way: t.flow.way, declared: t.flow.declared, observed: seen > 0 ? 'pass' : 'blocked', sent: t.sent, seen,
        ...(accepted !== undefined ? { handshake: accepted && t.handshake === true } : {}),
      });
    }
    return { rows, captures: [{ from: near.zone.name, to: far.zone.name, file, packets: packets.length }] };
  } finally {
    await capture.stop().catch(() => undefined);
    await Promise.all([nearAgent.close(), farAgent.close()]);
  }
}

/** Every conduit, both ways (forward must pass; the reverse must pass only when declared `both`). */
export async function testConduits(decl: BoundaryDecl, endpoints: ReadonlyMap<string, Endpoint>, signal: AbortSignal, connectTimeoutMs = 1000): Promise<FlowRun> {
  const out: FlowRun = { rows: [], captures: [] };
  for (const near of decl.zones) {
    for (const far of decl.zones) {
      if (near === far) continue;
      const flows = flowsBetween(decl, near.name, far.name);
      if (flows.length === 0) continue;
      const run = await tryFlows(endpoints.get(near.name)!, endpoints.get(far.name)!, flows, signal, connectTimeoutMs);
      out.rows.push(...run.rows);
      out.captures.push(...run.captures);
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// The deny-by-default sweep

export interface SweepPlan {
  tcpPorts: readonly number[];
  udpPorts: readonly number[];
  icmpTypes: readonly number[];
  /** hping3's gap between SYNs (µs). */
  intervalMicros: number;
}

export interface SweepResult {
  from: string;
  to: string;
  /** What was swept (declared flows of this direction left out) and what of it arrived on the far side. */
  tcp: { ports: number; sent: number; crossed: number[] };
  udp: { ports: number[]; sent: number; crossed: number[] };
  icmp: { types: number[]; sent: number; crossed: number[] };
  capture: { file: string; packets: number };
}

/** The ports/types of `protocol` a conduit allows to be opened from `from` to `to`. */
export function allowed(decl: BoundaryDecl, from: string, to: string, protocol: ConduitProtocol): Set<number> {
  const opens = (c: Conduit) => (c.from === from && c.to === to) || (c.direction === 'both' && c.from === to && c.to === from);
  return new Set(decl.conduits.filter((c) => c.protocol === protocol && opens(c)).flatMap((c) => (protocol === 'icmp' ? [c.icmpType!] : c.ports)));
}

/** Contiguous runs of sorted ports: hping3 sends one run with `-p ++first -c length`. */
export function portRuns(ports: readonly number[]): { first: number; length: number }[] {
  const runs: { first: number; length: number }[] = [];
  for (const p of [...ports].sort((a, b) => a - b)) {
    const last = runs[runs.length - 1];
    if (last && last.first + last.length === p) last.length++;
    else runs.push({ first: p, length: 1 });
  }
  return runs;
}

/**
 * Sends, from `near`, one SYN per undeclared TCP port, datagrams to the common UDP ports and ICMP packets of
 * the listed types to the far endpoint, and counts on the far endpoint what arrived (one capture for it all).
 */
export async function sweep(decl: BoundaryDecl, near: Endpoint, far: Endpoint, plan: SweepPlan, signal: AbortSignal): Promise<SweepResult> {
  const notAllowed = (protocol: ConduitProtocol, list: readonly number[]) => {
    const ok = allowed(decl, near.zone.name, far.zone.name, protocol);
    return [...new Set(list)].filter((v) => !ok.has(v)).sort((a, b) => a - b);
  };
  const tcp = notAllowed('tcp', plan.tcpPorts);
  const udp = notAllowed('udp', plan.udpPorts);
  const icmp = notAllowed('icmp', plan.icmpTypes);
  const file = tempCaptureFile(`sweep-${near.zone.name}-to-${far.zone.name}`);
  const capture = await startFarCapture(far, `src host ${near.address} and dst host ${far.address}`, file, signal);
  let sent = { tcp: 0, udp: 0, icmp: 0 };
  try {
    await resolveNeighbours([near, far], signal);
    for (const run of portRuns(tcp)) {
      sent.tcp += (await hping3(near, ['-S', '-p', `++${run.first}`, '-c', String(run.length), '-i', `u${plan.intervalMicros}`, far.address], signal)).sent;
    }
    // The UDP and ICMP senders run at once (each hping3 lingers a second for replies), on one signal of their own.
    const parallel = new AbortController();
    setMaxListeners(udp.length + icmp.length + 1, parallel.signal);
    const onAbort = () => parallel.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const udpRuns = udp.map((port) => hping3(near, ['--udp', '-p', String(port), '-c', '2', '-i', 'u10000', far.address], parallel.signal));
    const icmpRuns = icmp.map((type) => hping3(near, ['--icmp', '-C', String(type), '-c', '2', '-i', 'u10000', far.address], parallel.signal));
    const [udpSent, icmpSent] = await Promise.all([Promise.all(udpRuns), Promise.all(icmpRuns)]);
    signal.removeEventListener('abort', onAbort);
    sent = { ...sent, udp: udpSent.reduce((a, r) => a + r.sent, 0), icmp: icmpSent.reduce((a, r) => a + r.sent, 0) };
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  } catch (err) {
    await capture.stop().catch(() => undefined);
    throw err;
  }
  const { packets } = await stopFarCapture(capture, far);
  const crossed = (pick: (p: CapturedPacket) => number | undefined, wanted: readonly number[]) => {
    const want = new Set(wanted);
    return [...new Set(packets.map(pick).filter((v): v is number => v !== undefined && want.has(v)))].sort((a, b) => a - b);
  };
  return {
    from: near.zone.name, to: far.zone.name,
    tcp: { ports: tcp.length, sent: sent.tcp, crossed: crossed((p) => (isSyn(p) ? p.dport : undefined), tcp) },
    udp: { ports: udp, sent: sent.udp, crossed: crossed((p) => (p.protocol === 'udp' ? p.dport : undefined), udp) },
    icmp: { types: icmp, sent: sent.icmp, crossed: crossed((p) => (p.protocol === 'icmp' ? p.icmpType : undefined), icmp) },
    capture: { file, packets: packets.length },
  };
}

/**
 * Before a burst: each endpoint sends one echo request to its gateway (the device), so that the endpoint and the
 * device know each other's link-layer address. Otherwise the first few hundred SYNs, sent 10 µs apart, wait in a
 * neighbour queue that holds far fewer and are dropped, and a weak device looks as if it had blocked those ports
 * (seen: the weak router "blocked" the first 80-200 ports in about one run in three). Whether the device answers
 * the echo does not matter; the ARP exchange before it is the point.
 */
async function resolveNeighbours(endpoints: readonly Endpoint[], signal: AbortSignal): Promise<void> {
  await Promise.all(endpoints.map((e) => hping3(e, ['--icmp', '-c', '1', e.zone.endpoint.gateway], signal)));
}

/** The zones as observations carry them (report.html draws its zone picture from them). */
export function zonesObserved(decl: BoundaryDecl): { name: string; trusted: boolean; subnet: string; address: string; gateway: string }[] {
  return decl.zones.map((z) => ({ name: z.name, trusted: z.trusted, subnet: z.subnet, address: z.endpoint.address, gateway: z.endpoint.gateway }));
}
