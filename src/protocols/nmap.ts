import { spawn } from 'node:child_process';
import { findTool } from './tools';
import { XMLParser } from 'fast-xml-parser';
import { ProtocolViolation, TargetUnreachable } from '../sdk';
import { repairOpensslConf } from './child-env';
import { parsePortSpec } from './tcp';

export interface NmapPort {
  port: number;
  protocol: 'tcp' | 'udp';
  state: string;
  /** Why nmap chose the state ("syn-ack", "conn-refused", "no-response", ...); with --reason. */
  reason?: string;
  service?: string;
  product?: string;
  version?: string;
  /** How nmap named the service: "table" (port number convention) or "probed" (-sV). */
  method?: string;
}

/** Ports nmap summarised instead of listing them (`<extraports>`), with the ports where nmap names them. */
export interface NmapExtraPorts {
  state: string;
  count: number;
  /** Port list ("1-21,23-79") per reason, from `<extrareasons ports=...>` (nmap >= 7.80). */
  reasons: { reason: string; count: number; ports?: string }[];
}

/** What nmap says about the host as a whole: absent when the XML has no `<host>` at all. */
export interface NmapHost {
  state: string;
  reason?: string;
  /** `<host timedout="true">`: --host-timeout expired; nmap then reports no ports of the host. */
  timedOut: boolean;
}

export interface NmapScan {
  version: string;
  args: string;
  xml: string;
  hostUp: boolean;
  host?: NmapHost;
  /** Ports nmap was asked to scan per protocol (`<scaninfo numservices>`). */
  requested: { protocol: string; count: number }[];
  ports: NmapPort[];
  extraPorts: NmapExtraPorts[];
  /** `<runstats><finished exit="success"|"error" errormsg=...>`; absent when nmap did not get that far. */
  finished?: { exit: string; errormsg?: string; elapsed?: string };
}

/** The nmap binary on PATH, if installed. */
export function findNmap(): string | undefined {
  return findTool('nmap', ['/usr/bin', '/usr/local/bin']);
}

const ARRAYS = new Set(['host', 'port', 'address', 'extraports', 'extrareasons', 'scaninfo']);
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ARRAYS.has(name) });

interface XmlPort {
  protocol: string; portid: string; state?: { state: string; reason?: string };
  service?: { name?: string; product?: string; version?: string; method?: string };
}
interface XmlExtraPorts { state: string; count: string; extrareasons?: { reason: string; count: string; ports?: string }[] }
interface XmlHost { timedout?: string; status?: { state: string; reason?: string }; ports?: { port?: XmlPort[]; extraports?: XmlExtraPorts[] } }
interface XmlRun {
  nmaprun?: {
    version?: string; args?: string; scaninfo?: { protocol: string; numservices: string }[]; host?: XmlHost[];
    runstats?: { finished?: { exit?: string; errormsg?: string; elapsed?: string } };
  };
}

function toPort(p: XmlPort): NmapPort {
  return {
    port: Number(p.portid),
    protocol: p.protocol === 'udp' ? 'udp' : 'tcp',
    state: p.state?.state ?? 'unknown',
    reason: p.state?.reason,
    service: p.service?.name,
    product: p.service?.product,
    version: p.service?.version,
    method: p.service?.method,
  };
}

/** Parses nmap's -oX output (one host), keeping everything it says about how complete the scan was. */
export function parseNmapXml(xml: string): Omit<NmapScan, 'xml'> {
  const doc = parser.parse(xml) as XmlRun;
  const run = doc.nmaprun;
  if (!run) throw new ProtocolViolation('nmap produced no <nmaprun> document');
  const host = run.host?.[0];
  const finished = run.runstats?.finished;
  return {
    version: run.version ?? 'unknown',
    args: run.args ?? '',
    hostUp: host?.status?.state === 'up',
    ...(host ? { host: { state: host.status?.state ?? 'unknown', reason: host.status?.reason, timedOut: host.timedout === 'true' } } : {}),
    requested: (run.scaninfo ?? []).map((s) => ({ protocol: s.protocol, count: Number(s.numservices) })),
    ports: (host?.ports?.port ?? []).map(toPort),
    extraPorts: (host?.ports?.extraports ?? []).map((e) => ({
      state: e.state,
      count: Number(e.count),
      reasons: (e.extrareasons ?? []).map((r) => ({ reason: r.reason, count: Number(r.count), ...(r.ports ? { ports: String(r.ports) } : {}) })),
    })),
    ...(finished?.exit ? { finished: { exit: finished.exit, errormsg: finished.errormsg, elapsed: finished.elapsed } } : {}),
  };
}

/** Port states of one protocol as nmap reported them, listed or summarised. */
export interface NmapPortStates {
  open: NmapPort[];
  closed: Set<number>;
  /** No answer: filtered, open|filtered, closed|filtered (and any state that is not open or closed). */
  filtered: Set<number>;
  /** Summarised ports nmap did not name (an nmap without `<extrareasons ports>`), by state. */
  unnamed: { state: string; count: number }[];
  /** Why the report does not cover every requested port; absent when it does. */
  incomplete?: string;
}

/** Why nmap's report is not a complete account of the host, or undefined. */
function incompleteness(scan: Omit<NmapScan, 'xml'>, protocol: 'tcp' | 'udp', accounted: number): string | undefined {
  if (!scan.finished) return 'nmap\'s report ends before <runstats> (nmap stopped early)';
  if (scan.finished.exit !== 'success') return `nmap ended with exit="${scan.finished.exit}"${scan.finished.errormsg ? `: ${scan.finished.errormsg}` : ''}`;
  if (!scan.host) return 'nmap reported nothing about the host';
  if (scan.host.timedOut) return 'nmap\'s --host-timeout expired before it finished the host (nmap then reports none of its ports)';
  if (scan.host.state !== 'up') return `nmap reports the host ${scan.host.state}${scan.host.reason ? ` (${scan.host.reason})` : ''}`;
  const requested = scan.requested.filter((r) => r.protocol === protocol).reduce((n, r) => n + r.count, 0);
  if (accounted < requested) return `nmap accounted for ${accounted} of the ${requested} ${protocol.toUpperCase()} ports it was asked to scan`;
  return undefined;
}

/** The ports of an `<extrareasons ports=...>` list; none when absent or in a form this reader does not know. */
function namedPorts(spec: string | undefined): number[] {
  if (!spec) return [];
  try {
    return parsePortSpec(spec);
  } catch {
    return [];
  }
}

/** Sorts every port of `protocol` that nmap listed or summarised into open, closed and no answer. */
export function portStates(scan: Omit<NmapScan, 'xml'>, protocol: 'tcp' | 'udp' = 'tcp'): NmapPortStates {
  const out: NmapPortStates = { open: [], closed: new Set(), filtered: new Set(), unnamed: [] };
  const place = (p: NmapPort) => {
    if (p.state === 'open') out.open.push(p);
    else if (p.state === 'closed') out.closed.add(p.port);
    else out.filtered.add(p.port);
  };
  let accounted = 0;
  for (const p of scan.ports.filter((x) => x.protocol === protocol)) {
    accounted += 1;
    place(p);
  }
  // Summaries carry no protocol of their own; a scan of one protocol (as ports.tcp runs) is unambiguous.
  for (const extra of scan.extraPorts) {
    accounted += extra.count;
    let named = 0;
    for (const r of extra.reasons) {
      const ports = namedPorts(r.ports);
      for (const port of ports) place({ port, protocol, state: extra.state, reason: r.reason });
      named += ports.length;
    }
    if (named < extra.count) out.unnamed.push({ state: extra.state, count: extra.count - named });
  }
  const incomplete = incompleteness(scan, protocol, accounted);
  return incomplete ? { ...out, incomplete } : out;
}

/**
 * Every port of `protocol` that nmap listed or summarised, with nmap's own state name (open, closed, filtered,
 * open|filtered, ...) and reason: what portStates sorts into three bins, for a UDP scan whose `open|filtered`
 * (no answer) must stay apart from `filtered` (an ICMP error).
 */
export function namedPortStates(scan: Omit<NmapScan, 'xml'>, protocol: 'tcp' | 'udp'): Map<number, { state: string; reason?: string }> {
  const out = new Map<number, { state: string; reason?: string }>();
  for (const p of scan.ports.filter((x) => x.protocol === protocol)) out.set(p.port, { state: p.state, ...(p.reason ? { reason: p.reason } : {}) });
  for (const extra of scan.extraPorts) {
    for (const r of extra.reasons) for (const port of namedPorts(r.ports)) out.set(port, { state: extra.state, reason: r.reason });
  }
  return out;
}

/**
 * Runs nmap against one host with the given arguments and `-oX -`, killing it when the signal aborts.
 * The host is the last argument; callers pass only hosts of the profile (the scope guard does not see
 * child processes).
 */
export function runNmap(binary: string, args: readonly string[], host: string, signal: AbortSignal): Promise<NmapScan> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const fullArgs = [...args, '-oX', '-', '--', host];
    repairOpensslConf();
    const child = spawn(binary, fullArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return reject(signal.reason);
      const xml = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (code !== 0) {
        const msg = `nmap exited with ${code}: ${stderr.split('\n')[0] ?? ''}`;
        return reject(/resolve|Failed to resolve/i.test(stderr) ? new TargetUnreachable(msg) : new ProtocolViolation(msg));
      }
      try {
        resolve({ ...parseNmapXml(xml), xml });
      } catch (e) {
        reject(e);
      }
    });
  });
}
