import {
  InvalidInput, defineProbe, finding, judge, type Finding, type ProbeContext, type ProbeResult, type ServiceUnderTest,
} from '../../src/sdk';
import { findNmap, portStates, runNmap, type NmapHost, type NmapPort } from '../../src/protocols/nmap';
import { PORT_EXPOSURE_PARTS, connectScan, formatPortSpec, parsePortSpec } from '../../src/protocols/tcp';

interface Inputs {
  /** Port list ("22,80,1000-2000") or "all"; default: the baseline's ICS + management ports. */
  ports?: string;
  scanner: 'auto' | 'nmap' | 'connect';
  /** Fingerprint undeclared open ports with nmap -sV --version-light (bounded by the budget). */
  serviceDetection: boolean;
  /** Connections in flight at once toward the device. */
  maxParallel: number;
  connectTimeoutMs: number;
}

interface PortsBaseline {
  defaultPorts: Record<string, string>;
  cleartextServices: Record<string, { ports: number[]; label: string }>;
}

export interface OpenPort {
  port: number;
  service?: string;
  product?: string;
  version?: string;
  declared: boolean;
}

const CLEARTEXT_DECLARED = new Set(['telnet', 'ftp', 'tftp']);

/** Which cleartext service an open port is, by nmap's name or by port number; undefined if none. */
function cleartextLabel(open: OpenPort, declared: ServiceUnderTest | undefined, baseline: PortsBaseline): string | undefined {
  if (declared) {
    // A declared plain-HTTP service may only redirect to HTTPS: http.transport judges it, not the port.
    if (declared.protocol === 'http') return undefined;
    if (CLEARTEXT_DECLARED.has(declared.protocol) && !declared.tls) return baseline.cleartextServices[declared.protocol]?.label ?? declared.protocol;
    return undefined; // a declared service is judged by its protocol, not by its port number
  }
  if (open.service) {
    const name = open.service.replace(/^ssl\/.*/, '');
    if (name && baseline.cleartextServices[name]) return baseline.cleartextServices[name].label;
    if (name === 'http-proxy' || name === 'http-alt') return 'HTTP';
  }
  return Object.values(baseline.cleartextServices).find((s) => s.ports.includes(open.port))?.label;
}

/** What one TCP scan saw, whichever scanner ran it. */
interface TcpScan {
  scanner: string;
  open: OpenPort[];
  /** Ports that answered with a reset. */
  closed: ReadonlySet<number>;
  /** Ports that gave no answer at all (no handshake, no reset): filtered. */
  filtered: ReadonlySet<number>;
  /** Why the scan is not a complete account of the listed ports; absent when it is. */
  incomplete?: string;
  /** nmap's view of the host (state, reason, timed out). */
  host?: NmapHost;
  evidence: string[];
}

/** Seconds a scanner may still run: the attempt's budget minus a margin to read and judge the result, at least 5. */
function budgetSeconds(ctx: ProbeContext<Inputs>, marginS: number): number {
  return Math.max(5, Math.floor((ctx.deadline - Date.now()) / 1000) - marginS);
}

function nmapArgs(ctx: ProbeContext<Inputs>, hostTimeoutS: number): string[] {
  // No --open: the closed and filtered ports (listed, or summarised in <extraports>) tell whether the host answered.
  return ['-sT', '-Pn', '-n', '--reason', '--max-retries', '1', '--max-parallelism', String(ctx.inputs.maxParallel), '--host-timeout', `${hostTimeoutS}s`];
}

async function nmapScan(ctx: ProbeContext<Inputs>, nmap: string, ports: number[], declaredPorts: Set<number>): Promise<TcpScan> {
  const result = await runNmap(nmap, [...nmapArgs(ctx, budgetSeconds(ctx, 2)), '-p', formatPortSpec(ports)], ctx.host.host, ctx.signal);
  ctx.evidence.tool('nmap', result.version);
  const evidence = [ctx.evidence.save('nmap-tcp.xml', result.xml)];
  const states = portStates(result, 'tcp');
  const open = await detectServices(ctx, nmap, states.open.map((p) => toOpen(p, declaredPorts)), declaredPorts, evidence);
  return {
    scanner: `nmap ${result.version}`, open, closed: states.closed, filtered: states.filtered, evidence,
    ...(states.incomplete ? { incomplete: states.incomplete } : {}), ...(result.host ? { host: result.host } : {}),
  };
}

/** Names undeclared open ports with nmap -sV --version-light when the budget allows; keeps the table names otherwise. */
async function detectServices(ctx: ProbeContext<Inputs>, nmap: string, open: OpenPort[], declaredPorts: Set<number>, evidence: string[]): Promise<OpenPort[]> {
  const undeclared = open.filter((p) => !p.declared).map((p) => p.port);
  if (!ctx.inputs.serviceDetection || undeclared.length === 0 || ctx.deadline - Date.now() <= 10_000) return open;
  const sv = await runNmap(nmap, [...nmapArgs(ctx, budgetSeconds(ctx, 3)), '-sV', '--version-light', '-p', formatPortSpec(undeclared)], ctx.host.host, ctx.signal);
  evidence.push(ctx.evidence.save('nmap-sv.xml', sv.xml));
  const probed = new Map(sv.ports.map((p) => [p.port, p]));
  return open.map((p) => (probed.has(p.port) ? toOpen(probed.get(p.port)!, declaredPorts) : p));
}

async function connectTcpScan(ctx: ProbeContext<Inputs>, ports: number[], declaredPorts: Set<number>): Promise<TcpScan> {
  // Stop early enough to report what was seen, as nmap's --host-timeout does; a budget too small for that ends as a timeout.
  const stopAt = Date.now() + budgetSeconds(ctx, 2) * 1000;
  const result = await connectScan(ctx.host.host, ports, {
    parallel: ctx.inputs.maxParallel, timeoutMs: ctx.inputs.connectTimeoutMs, signal: ctx.signal, stopAt,
  });
  const evidence = [ctx.evidence.save('connect-scan.json', {
    host: ctx.host.host, ports: formatPortSpec(ports), open: result.open, closed: result.closed,
    filtered: formatPortSpec(result.filtered), complete: result.complete, notScanned: formatPortSpec(result.notScanned),
  })];
  const notClosed = new Set([...result.open, ...result.filtered, ...result.notScanned]);
  return {
    scanner: 'connect', evidence,
    open: result.open.map((port) => ({ port, declared: declaredPorts.has(port) })),
    closed: new Set(ports.filter((p) => !notClosed.has(p))),
    filtered: new Set(result.filtered),
    ...(result.complete ? {} : { incomplete: `the scan stopped at the end of its budget with ${result.notScanned.length} of ${ports.length} ports not scanned` }),
  };
}

async function scan(ctx: ProbeContext<Inputs>, ports: number[], declaredPorts: Set<number>): Promise<TcpScan> {
  const nmap = ctx.inputs.scanner === 'connect' ? undefined : findNmap();
  if (ctx.inputs.scanner === 'nmap' && !nmap) throw new InvalidInput('scanner: nmap was requested but nmap is not installed');
  return nmap ? nmapScan(ctx, nmap, ports, declaredPorts) : connectTcpScan(ctx, ports, declaredPorts);
}

function toOpen(p: NmapPort, declared: Set<number>): OpenPort {
  return {
    port: p.port, declared: declared.has(p.port),
    ...(p.service ? { service: p.service } : {}), ...(p.product ? { product: p.product } : {}), ...(p.version ? { version: p.version } : {}),
  };
}

type DeclaredState = 'open' | 'closed' | 'filtered' | 'not scanned';

function stateOf(scan: TcpScan, port: number): DeclaredState {
  if (scan.open.some((p) => p.port === port)) return 'open';
  if (scan.closed.has(port)) return 'closed';
  return scan.filtered.has(port) ? 'filtered' : 'not scanned';
}

/**
 * Why the scan cannot support a pass, or undefined when it can: a scan that did not complete, a host that
 * answered on no port at all, or declared services that all went unanswered. An open port is still judged.
 */
function undeterminedReason(scan: TcpScan, portCount: number, declared: readonly { port: number; state: DeclaredState }[]): string | undefined {
  if (scan.incomplete) return `the scan did not complete (${scan.incomplete}): a partial scan cannot show that nothing undeclared is open`;
  if (scan.open.length === 0 && scan.closed.size === 0) {
    return `the host answered nothing: none of the ${portCount} TCP ports scanned answered with a connection or a reset (filtered, or the host is unreachable or drops the scan), so an empty result proves nothing`;
  }
  if (declared.length > 0 && declared.every((d) => d.state === 'filtered' || d.state === 'not scanned')) {
    return `every declared TCP service port (${formatPortSpec(declared.map((d) => d.port))}) went unanswered (filtered): the scan does not see the device's services, so it cannot tell what else is exposed`;
  }
  return undefined;
}

/** What keeps the TCP part of CR 7.7 partial; none left means every TCP port was examined. */
function coverageGaps(scan: TcpScan, fullRange: boolean): string[] {
  const gaps: string[] = [];
  if (!fullRange) gaps.push('not every TCP port was scanned (--ports all scans 1-65535)');
  if (scan.filtered.size > 0) gaps.push(`${scan.filtered.size} scanned port(s) gave no answer (filtered), so what listens behind them is unknown`);
  return gaps;
}

const DECLARED_STATE_TEXT: Record<DeclaredState, string> = {
  open: 'open', closed: 'closed: the host refused the connection', filtered: 'filtered: no answer', 'not scanned': 'the scan did not report it',
};

/** undeclared-open (CR 7.7) and cleartext-service (CR 4.1) for every open port that earns one. */
function exposureFindings(result: TcpScan, tcpServices: readonly ServiceUnderTest[], baseline: PortsBaseline): Finding[] {
  const findings: Finding[] = [];
  const { evidence } = result;
  for (const p of result.open) {
    const declared = tcpServices.find((s) => s.port === p.port);
    const what = [p.service, p.product, p.version].filter(Boolean).join(' ');
    if (!p.declared) {
      findings.push(finding({
        code: 'undeclared-open', severity: 'medium', requirements: ['CR 7.7'], evidence,
        message: `tcp/${p.port} is open but not declared in the communication matrix${what ? ` (${what})` : ''}`,
      }));
    }
    const label = cleartextLabel(p, declared, baseline);
    if (label) {
      findings.push(finding({
        code: 'cleartext-service', severity: 'high', requirements: ['CR 4.1'], evidence,
        message: `${label} (cleartext) is reachable on tcp/${p.port}${declared ? ` (declared as ${declared.protocol})` : ''}`,
      }));
    }
  }
  return findings;
}

/** The verdict rule: findings from the open ports, then a pass only if the scan can carry one. */
function assessScan(result: TcpScan, scope: { ports: number[]; fullRange: boolean; tcpServices: readonly ServiceUnderTest[]; baseline: PortsBaseline }): ProbeResult {
  const { ports, fullRange, tcpServices } = scope;
  const findings = exposureFindings(result, tcpServices, scope.baseline);
  const declared = tcpServices.map((s) => ({ port: s.port, protocol: s.protocol, state: stateOf(result, s.port) }));
  const declaredNotOpen = declared.filter((d) => d.state !== 'open');
  for (const d of declaredNotOpen) {
    findings.push(finding({
      code: 'declared-not-open', severity: 'info', requirements: [], evidence: result.evidence,
      message: `declared ${d.protocol} service tcp/${d.port} is not open (${DECLARED_STATE_TEXT[d.state]})`,
    }));
  }
  const undetermined = undeterminedReason(result, ports.length, declared);
  const listed = formatPortSpec(ports);
  const what = fullRange ? 'all 65535 TCP ports' : `${ports.length} TCP ports (${listed.length > 60 ? 'default ICS and management list plus declared ports' : listed})`;
  const gaps = coverageGaps(result, fullRange);
  const unanswered = result.filtered.size > 0 ? ` (${result.filtered.size} of them gave no answer)` : '';
  const outcomes = judge([
    {
      requirement: 'CR 7.7', coverage: gaps.length === 0 ? 'full' : 'partial', part: { name: 'tcp', of: [...PORT_EXPOSURE_PARTS] },
      passReason: `every open port among ${what} is declared${gaps.length > 0 ? `; TCP coverage partial: ${gaps.join('; ')}` : ''}`,
    },
    { requirement: 'CR 4.1', coverage: 'partial', passReason: `no cleartext management protocol open among ${what}${unanswered}` },
  ], findings);
  return {
    observations: {
      scanner: result.scanner, portsScanned: listed, fullRange,
      complete: result.incomplete === undefined, ...(result.incomplete ? { incomplete: result.incomplete } : {}),
      ...(result.host ? { host: result.host } : {}),
      open: result.open, closed: result.closed.size,
      filtered: { count: result.filtered.size, ports: formatPortSpec([...result.filtered]) },
      declaredNotOpen,
      ...(undetermined ? { note: undetermined } : {}),
    },
    findings,
    // Not determined: only failures stand (an undeclared open port fails whatever else happened), no pass.
    outcomes: undetermined ? outcomes.filter((o) => o.verdict === 'fail') : outcomes,
  };
}

export default defineProbe<Inputs>({
  id: 'ports.tcp',
  protocol: 'ports',
  title: 'TCP port exposure against the declared communication matrix',
  description: 'Scans the host\'s TCP ports (nmap -sT when installed, else a built-in connect scan; the default list is the '
    + 'ICS and management ports of profiles/baselines/ports.yaml plus every declared port, or 1-65535 with --ports all) and '
    + 'compares what is open with the services the profile declares. Undeclared open ports fail CR 7.7; cleartext '
    + 'management protocols (Telnet, FTP, HTTP, ...) fail CR 4.1. A scan that did not complete, a host that answered on no '
    + 'port, or declared services that all went unanswered leave both requirements undetermined. It judges the TCP part of '
    + 'CR 7.7 (full for a complete 1-65535 scan with no filtered port); ports.udp judges the UDP part. Connects and closes; sends no payload except nmap -sV version probes on undeclared ports.',
  requirements: ['CR 7.7', 'CR 4.1'],
  findings: {
    'undeclared-open': 'an open TCP port that the profile does not declare (CR 7.7)',
    'cleartext-service': 'a cleartext management protocol (Telnet, FTP, HTTP, ...) is reachable (CR 4.1)',
    'declared-not-open': 'a declared TCP service whose port is closed, filtered or not reported (info)',
  },
  safety: 'passive',
  scope: 'host',
  appliesTo: [],
  timeoutMs: 180_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        ports: { type: 'string', pattern: '^(all|[0-9,\\- ]+)$' },
        scanner: { enum: ['auto', 'nmap', 'connect'] },
        serviceDetection: { type: 'boolean' },
        maxParallel: { type: 'integer', minimum: 1, maximum: 256 },
        connectTimeoutMs: { type: 'integer', minimum: 100 },
      },
    },
    defaults: { scanner: 'auto', serviceDetection: true, maxParallel: 16, connectTimeoutMs: 1500 },
  },
  async run(ctx) {
    const baseline = ctx.baseline<PortsBaseline>('ports');
    const tcpServices = ctx.host.services.filter((s) => s.transport === 'tcp');
    const declaredPorts = new Set(tcpServices.map((s) => s.port));
    const spec = ctx.inputs.ports ?? Object.values(baseline.defaultPorts).join(',');
    let listed: number[];
    try {
      listed = parsePortSpec(spec);
    } catch (err) {
      throw new InvalidInput(`ports: ${(err as Error).message}`);
    }
    const fullRange = listed.length === 65535;
    const ports = [...new Set([...listed, ...declaredPorts])].sort((a, b) => a - b);
    const result = await scan(ctx, ports, declaredPorts);
    return assessScan(result, { ports, fullRange, tcpServices, baseline });
  },
});
