import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Proven scope (issue #23): a run inside a network namespace of its own, every packet of it captured, then
 * judged. The namespace has loopback plus one veth pair with a default route (IPv4 and IPv6) over it, so a
 * packet to ANY address — a DNS lookup at the machine's resolver, a stray connect to the internet — leaves
 * through an interface the capture sees instead of failing silently for want of a route (the far end has no
 * address and drops it). Only the kernel's link housekeeping on that veth (IPv6 MLD/ND from link-local
 * addresses to link-scope groups) is not the run's; it is counted apart.
 */

const SETUP = [
  'set -e',
  'sysctl -qw net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_ra=0',
  'ip link set lo up',
  'ip link add scope0 type veth peer name scope1',
  'ip addr add 198.18.0.1/30 dev scope0',
  'ip link set scope0 up',
  'ip link set scope1 up',
  // Static neighbours: no ARP/ND of our own, and the packets really go out (to a MAC nobody has).
  'ip neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev scope0 nud permanent',
  'ip route add default via 198.18.0.2 dev scope0',
  'ip -6 addr add fd00:5c09::1/64 dev scope0 nodad',
  'ip -6 neigh add fd00:5c09::2 lladdr 02:00:00:00:00:02 dev scope0 nud permanent',
  'ip -6 route add default via fd00:5c09::2 dev scope0',
  'echo ready',
  // Lives as long as the test holds its stdin: the namespace cannot outlive a crashed test.
  'exec cat >/dev/null',
];

export interface CapturedNamespace {
  /** Runs argv in the namespace (nsenter). */
  spawn(argv: readonly string[], options?: { cwd?: string }): ChildProcess;
  /** Stops the capture and returns the pcapng file. */
  stopCapture(): Promise<string>;
  /** Ends the namespace (and the capture, if still running). */
  close(): void;
}

async function waitForLine(child: ChildProcess, stream: 'stdout' | 'stderr', what: RegExp, ms: number): Promise<void> {
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms: ${text}`)), ms);
    const onData = (d: Buffer) => {
      text += d.toString();
      if (what.test(text)) {
        clearTimeout(timer);
        child[stream]!.off('data', onData);
        resolve();
      }
    };
    child[stream]!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${code}) before ${what}: ${text}`)); });
  });
}

/** A fresh namespace with tshark capturing on every interface of it ("any"), ready when this resolves. */
export async function captureNamespace(tshark: string, python: string): Promise<CapturedNamespace> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-scope-capture-'));
  const file = path.join(dir, 'run.pcapng');
  const holder = spawn('unshare', ['-n', 'sh', '-c', SETUP.join('\n')], { stdio: ['pipe', 'pipe', 'pipe'] });
  await waitForLine(holder, 'stdout', /ready/, 10_000);
  const enter = (argv: readonly string[], options: { cwd?: string } = {}) =>
    spawn('nsenter', ['-t', String(holder.pid), '-n', '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  // -P -l: a line per packet while writing, so that a canary shows the capture really runs.
  const capture = enter([tshark, '-i', 'any', '-s', '256', '-w', file, '-P', '-l']);
  capture.stderr!.resume();
  const seen = waitForLine(capture, 'stdout', /\S/, 15_000);
  const canary = setInterval(() => {
    enter([python, '-c', "import socket; socket.socket(2, 2).sendto(b'canary', ('127.0.0.1', 9))"]).on('error', () => undefined);
  }, 250);
  try {
    await seen;
  } finally {
    clearInterval(canary);
  }
  capture.stdout!.resume();
  const close = () => {
    if (capture.exitCode === null) capture.kill('SIGKILL');
    holder.stdin!.end();
  };
  return {
    spawn: enter,
    stopCapture: async () => {
      await new Promise((r) => setTimeout(r, 300)); // the last segments reach the capture
      const exited = new Promise<void>((resolve) => capture.once('exit', () => resolve()));
      capture.kill('SIGINT');
      await exited;
      return file;
    },
    close,
  };
}

export interface ScopeFacts {
  packets: number;
  /** Kernel link housekeeping of the test's veth (MLD/ND from link-local or, during address setup, unspecified `::`), not the run's. */
  linkHousekeeping: number;
  /** Packets with an address outside the scope (or not IP at all), as `src > dst proto` lines. */
  outside: string[];
  /** DNS/mDNS/LLMNR queries to an address outside the scope (a resolver): name lookups. */
  nameLookups: string[];
  /** DNS/mDNS/LLMNR queries at an address in scope: the UDP port scan's payloads for those ports. */
  dnsProbesAtTarget: number;
  /** Most TCP connections at once to the device's ports (from the device's SYN-ACK to an RST or both FINs). */
  peakConnections: number;
  peakAt: number;
  /** Connections counted at the peak, by device port. */
  peakByPort: Record<number, number>;
}

const FIELDS = ['frame.time_epoch', 'frame.protocols', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport',
  'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.fin', 'tcp.flags.reset', 'dns.flags.response', 'dns.qry.name', 'icmpv6.type'];
const HOUSEKEEPING_ICMPV6 = new Set(['130', '131', '132', '133', '134', '135', '136', '143']);
const on = (flag: string) => flag === '1' || flag === 'True';

interface Row { time: number; protocols: string; src: string; dst: string; sport: number; dport: number; syn: boolean; ack: boolean; fin: boolean; rst: boolean; dnsQuery: boolean; qname: string; icmpv6: string }

function readRows(tshark: string, file: string): Row[] {
  const out = execFileSync(tshark, ['-r', file, '-n', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', ...FIELDS.flatMap((f) => ['-e', f])],
    { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return out.split('\n').filter((l) => l.length > 0).map((line) => {
    const f = line.split('\t');
    return {
      time: Number(f[0]), protocols: f[1], src: f[2] || f[4], dst: f[3] || f[5], sport: Number(f[6]), dport: Number(f[7]),
      syn: on(f[8]), ack: on(f[9]), fin: on(f[10]), rst: on(f[11]), dnsQuery: f[12] !== '' && !on(f[12]), qname: f[13], icmpv6: f[14],
    };
  });
}

/** Judges a capture: addresses against the scope, name lookups, and TCP connections at the device's ports. */
export function judgeCapture(tshark: string, file: string, scope: ReadonlySet<string>, devicePorts: ReadonlySet<number>): ScopeFacts {
  const rows = readRows(tshark, file);
  const facts: ScopeFacts = { packets: rows.length, linkHousekeeping: 0, outside: [], nameLookups: [], dnsProbesAtTarget: 0, peakConnections: 0, peakAt: 0, peakByPort: {} };
  const open = new Map<string, { port: number; fins: Set<string> }>();
  for (const r of rows) {
    if (r.icmpv6 && HOUSEKEEPING_ICMPV6.has(r.icmpv6) && (r.src === '::' || r.src.startsWith('fe80:')) && /^(ff02:|fe80:)/.test(r.dst)) {
      facts.linkHousekeeping += 1;
      continue;
    }
    if (!r.src || !scope.has(r.src) || !scope.has(r.dst)) facts.outside.push(`${r.src || '?'} > ${r.dst || '?'} ${r.protocols}`);
    // An ICMP error quoting a datagram is no query of its own.
    if (/:(dns|mdns|llmnr)/.test(r.protocols) && !r.protocols.includes(':icmp') && r.dnsQuery) {
      if (scope.has(r.dst)) facts.dnsProbesAtTarget += 1;
      else facts.nameLookups.push(`${r.src} > ${r.dst} ${r.qname}`);
    }
    if (!r.protocols.includes(':tcp')) continue;
    const fromDevice = devicePorts.has(r.sport);
    if (!fromDevice && !devicePorts.has(r.dport)) continue;
    const key = fromDevice ? `${r.dst}:${r.dport}>${r.src}:${r.sport}` : `${r.src}:${r.sport}>${r.dst}:${r.dport}`;
    if (fromDevice && r.syn && r.ack && !open.has(key)) open.set(key, { port: r.sport, fins: new Set() });
    const conn = open.get(key);
    if (!conn) continue;
    if (r.fin) conn.fins.add(fromDevice ? 'device' : 'client');
    if (r.rst || conn.fins.size === 2) open.delete(key);
    if (open.size > facts.peakConnections) {
      facts.peakConnections = open.size;
      facts.peakAt = r.time;
      facts.peakByPort = {};
      for (const c of open.values()) facts.peakByPort[c.port] = (facts.peakByPort[c.port] ?? 0) + 1;
    }
  }
  return facts;
}
