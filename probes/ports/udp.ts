import {
  InvalidInput, defineProbe, finding, judge, type Finding, type ProbeContext, type ProbeResult, type ServiceUnderTest,
} from '../../src/sdk';
import { findNmap, namedPortStates, portStates, runNmap, type NmapHost } from '../../src/protocols/nmap';
import { PORT_EXPOSURE_PARTS, formatPortSpec, parsePortSpec } from '../../src/protocols/tcp';
import {
  EMPTY_PAYLOAD, buildPayloads, payloadKindFor, udpScan, type UdpPayload, type UdpPortResult, type UdpPortState, type UdpScanResult, type UdpTarget,
} from '../../src/protocols/udp';

interface Inputs {
  /** Port list ("161,500,47808") or "all"; default: the baseline's ICS + management UDP ports. */
  ports?: string;
  scanner: 'auto' | 'nmap' | 'builtin';
  /** Probes in flight at once in the fast round. */
  maxParallel: number;
  responseTimeoutMs: number;
  /** Paced re-probe rounds of silent ports. */
  retries: number;
  /** Spacing of paced re-probes: the device's ICMP rate limit (Linux: one error per second per destination). */
  retryIntervalMs: number;
}

interface PortsBaseline {
  udpDefaultPorts: Record<string, string>;
}

/** One scanned port as judged: the scanner's state plus what the profile says about it. */
interface ScannedPort {
  port: number;
  state: UdpPortState | 'not scanned';
  reason: string;
  /** Which scanner decided the state ("nmap" or "builtin"). */
  by: string;
  payloads?: string[];
  answer?: { bytes: number; hex: string };
  otherPortAnswers?: { port: number; bytes: number; hex: string }[];
}

/** What one UDP scan saw, whichever scanner ran it. */
interface UdpView {
  scanner: string;
  ports: Map<number, ScannedPort>;
  /** Why the scan is not a complete account of the listed ports; absent when it is. */
  incomplete?: string;
  host?: NmapHost;
  pacing?: Pick<UdpScanResult, 'rounds' | 'closedOnlyWhenPaced'> & { retryIntervalMs: number };
  evidence: string[];
}

/** Seconds a scanner may still run: the attempt's budget minus a margin to read and judge the result, at least 5. */
function budgetSeconds(ctx: ProbeContext<Inputs>, marginS: number): number {
  return Math.max(5, Math.floor((ctx.deadline - Date.now()) / 1000) - marginS);
}

/** The requests for each port: the declared service's protocol first, else the port's well-known protocol, else an empty datagram. */
function targetsFor(ctx: ProbeContext<Inputs>, ports: readonly number[], udpServices: readonly ServiceUnderTest[]): { targets: UdpTarget[]; evidence: string } {
  const dnp3 = udpServices.find((s) => s.protocol === 'dnp3');
  const payloads = buildPayloads({ host: ctx.host.host, ...(dnp3?.unitId !== undefined ? { dnp3Address: dnp3.unitId } : {}) });
  const targets = ports.map((port) => {
    const kind = payloadKindFor(port, udpServices.find((s) => s.port === port)?.protocol);
    return { port, payloads: kind ? payloads[kind] : [EMPTY_PAYLOAD] };
  });
  // Every request's bytes (the same bytes on every retry), and which ports got them.
  const sent = new Map<string, { payload: UdpPayload; ports: number[] }>();
  for (const t of targets) {
    for (const p of t.payloads) {
      if (!sent.has(p.name)) sent.set(p.name, { payload: p, ports: [] });
      sent.get(p.name)!.ports.push(t.port);
    }
  }
  const evidence = ctx.evidence.save('payloads.json', [...sent.values()].map(({ payload, ports: to }) => ({
    name: payload.name, protocol: payload.kind, bytes: payload.bytes.length, hex: payload.bytes.toString('hex'), ports: formatPortSpec(to),
  })));
  return { targets, evidence };
}

async function builtinScan(ctx: ProbeContext<Inputs>, targets: readonly UdpTarget[], marginS: number): Promise<UdpScanResult> {
  const { maxParallel, responseTimeoutMs, retries, retryIntervalMs } = ctx.inputs;
  return udpScan(ctx.host.host, targets, {
    parallel: maxParallel, responseTimeoutMs, retries, retryIntervalMs, signal: ctx.signal, stopAt: Date.now() + budgetSeconds(ctx, marginS) * 1000,
  });
}

function fromBuiltin(p: UdpPortResult): ScannedPort {
  return { ...p, by: 'builtin' };
}

function incompleteText(result: UdpScanResult, total: number): string | undefined {
  if (result.complete) return undefined;
  const parts = [
    ...(result.notScanned.length > 0 ? [`${result.notScanned.length} of ${total} ports not scanned`] : []),
    ...(result.notReprobed.length > 0 ? [`${result.notReprobed.length} silent port(s) not re-probed at the paced interval`] : []),
  ];
  return `the scan stopped at the end of its budget with ${parts.join(' and ')}`;
}

async function ownScan(ctx: ProbeContext<Inputs>, targets: readonly UdpTarget[], evidence: string[]): Promise<UdpView> {
  const result = await builtinScan(ctx, targets, 2);
  evidence.push(ctx.evidence.save('udp-scan.json', { host: ctx.host.host, ...summarise(result) }));
  const ports = new Map(result.ports.map((p) => [p.port, fromBuiltin(p)]));
  for (const port of result.notScanned) ports.set(port, { port, state: 'not scanned', reason: 'budget', by: 'builtin' });
  const incomplete = incompleteText(result, targets.length);
  return {
    scanner: 'builtin', ports, evidence, pacing: { retryIntervalMs: ctx.inputs.retryIntervalMs, rounds: result.rounds, closedOnlyWhenPaced: result.closedOnlyWhenPaced },
    ...(incomplete ? { incomplete } : {}),
  };
}

/** The evidence form of a builtin scan: the ports that did not simply refuse, listed; the refused ones as ranges. */
function summarise(result: UdpScanResult) {
  return {
    closed: formatPortSpec(result.ports.filter((p) => p.state === 'closed').map((p) => p.port)),
    ports: result.ports.filter((p) => p.state !== 'closed'),
    rounds: result.rounds, closedOnlyWhenPaced: formatPortSpec(result.closedOnlyWhenPaced),
    complete: result.complete, notScanned: formatPortSpec(result.notScanned), notReprobed: formatPortSpec(result.notReprobed),
  };
}

/**
 * nmap -sU with its payloads (chosen by port number), then our own payloads on the ports it left open|filtered:
 * a declared service on another port number gets its protocol's request only from us.
 */
async function nmapUdpScan(ctx: ProbeContext<Inputs>, nmap: string, targets: readonly UdpTarget[], evidence: string[]): Promise<UdpView> {
  const ports = targets.map((t) => t.port);
  // --send-ip: raw IP through the kernel's routes and neighbour table, not nmap's own ARP on Ethernet links.
  const args = ['-sU', '-Pn', '-n', '--send-ip', '--reason', '--host-timeout', `${budgetSeconds(ctx, 10)}s`, '-p', formatPortSpec(ports)];
  const result = await runNmap(nmap, args, ctx.host.host, ctx.signal);
  ctx.evidence.tool('nmap', result.version);
  evidence.push(ctx.evidence.save('nmap-udp.xml', result.xml));
  const { incomplete } = portStates(result, 'udp');
  const named = namedPortStates(result, 'udp');
  const view = new Map<number, ScannedPort>(ports.map((port) => {
    const s = named.get(port);
    return [port, s ? { port, state: s.state as UdpPortState, reason: s.reason ?? '', by: 'nmap' } : { port, state: 'not scanned', reason: 'not reported', by: 'nmap' }];
  }));
  const silent = targets.filter((t) => view.get(t.port)?.state === 'open|filtered');
  let pacing: UdpView['pacing'];
  if (silent.length > 0 && !incomplete && ctx.deadline - Date.now() > 5000) {
    const followUp = await builtinScan(ctx, silent, 2);
    evidence.push(ctx.evidence.save('udp-scan.json', { host: ctx.host.host, after: 'nmap', ...summarise(followUp) }));
    for (const p of followUp.ports) if (p.state !== 'open|filtered') view.set(p.port, fromBuiltin(p));
    pacing = { retryIntervalMs: ctx.inputs.retryIntervalMs, rounds: followUp.rounds, closedOnlyWhenPaced: followUp.closedOnlyWhenPaced };
  }
  return {
    scanner: `nmap ${result.version}`, ports: view, evidence, ...(pacing ? { pacing } : {}),
    ...(incomplete ? { incomplete } : {}), ...(result.host ? { host: result.host } : {}),
  };
}

/** nmap -sU needs raw sockets: root. */
const isRoot = () => process.getuid?.() === 0;

async function scan(ctx: ProbeContext<Inputs>, targets: readonly UdpTarget[], evidence: string[]): Promise<UdpView> {
  const nmap = ctx.inputs.scanner === 'builtin' ? undefined : findNmap();
  if (ctx.inputs.scanner === 'nmap' && !nmap) throw new InvalidInput('scanner: nmap was requested but nmap is not installed');
  if (ctx.inputs.scanner === 'nmap' && !isRoot()) throw new InvalidInput('scanner: nmap was requested, but nmap -sU needs root (raw sockets); use scanner: builtin');
  return nmap && isRoot() ? nmapUdpScan(ctx, nmap, targets, evidence) : ownScan(ctx, targets, evidence);
}

const DECLARED_STATE_TEXT: Record<ScannedPort['state'], string> = {
  open: 'open', closed: 'closed: ICMP port unreachable', filtered: 'filtered: an ICMP unreachable other than port',
  'open|filtered': 'open|filtered: no answer to the protocol request', 'not scanned': 'the scan did not report it',
};

function portsIn(view: UdpView, state: ScannedPort['state']): number[] {
  return [...view.ports.values()].filter((p) => p.state === state).map((p) => p.port);
}

/** Why the scan cannot support a pass, or undefined: an incomplete scan, a host that answered nothing, declared services all unanswered. */
function undeterminedReason(view: UdpView, portCount: number, declared: readonly { port: number; state: ScannedPort['state'] }[]): string | undefined {
  if (view.incomplete) return `the scan did not complete (${view.incomplete}): a partial scan cannot show that nothing undeclared is open`;
  if (portsIn(view, 'open').length === 0 && portsIn(view, 'closed').length === 0) {
    return `the host answered nothing: none of the ${portCount} UDP ports scanned answered with a datagram or an ICMP port unreachable (a firewall drops the scan, the host is unreachable, or it sends no ICMP errors), so an empty result proves nothing`;
  }
  if (declared.length > 0 && declared.every((d) => d.state !== 'open' && d.state !== 'closed')) {
    return `every declared UDP service port (${formatPortSpec(declared.map((d) => d.port))}) went unanswered: the scan does not see the device's services, so it cannot tell what else is exposed`;
  }
  return undefined;
}

/** What keeps the UDP part of CR 7.7 partial; none left means every UDP port answered open or closed. */
function coverageGaps(view: UdpView, fullRange: boolean): string[] {
  const gaps: string[] = [];
  if (!fullRange) gaps.push('not every UDP port was scanned (ports: all scans 1-65535)');
  const silent = portsIn(view, 'open|filtered').length;
  if (silent > 0) gaps.push(`${silent} port(s) gave no answer (open|filtered): a service that ignored the request looks the same as a dropped probe`);
  const filtered = portsIn(view, 'filtered').length;
  if (filtered > 0) gaps.push(`${filtered} port(s) were filtered (ICMP host or admin unreachable)`);
  return gaps;
}

function describeAnswer(p: ScannedPort): string {
  if (!p.answer) return '';
  const asked = p.payloads?.length ? `${p.payloads.join(' + ')}` : 'the probe';
  return ` (answered ${asked} with ${p.answer.bytes} bytes${p.reason === 'tftp-tid' ? ' from a new TFTP port' : ''})`;
}

function portFindings(view: UdpView, udpServices: readonly ServiceUnderTest[]): Finding[] {
  const findings: Finding[] = [];
  const { evidence } = view;
  for (const p of view.ports.values()) {
    if (p.state === 'open' && !udpServices.some((s) => s.port === p.port)) {
      findings.push(finding({
        code: 'undeclared-open', severity: 'medium', requirements: ['CR 7.7'], evidence,
        message: `udp/${p.port} is open but not declared in the communication matrix${describeAnswer(p)}`,
      }));
    }
    if (p.state !== 'open' && p.otherPortAnswers?.length) {
      findings.push(finding({
        code: 'other-port-answer', severity: 'info', requirements: [], evidence,
        message: `udp/${p.port} stayed silent, but the host answered its probe from udp/${[...new Set(p.otherPortAnswers.map((o) => o.port))].join(', udp/')}: not counted as open`,
      }));
    }
  }
  for (const s of udpServices) {
    const state = view.ports.get(s.port)?.state ?? 'not scanned';
    if (state === 'open') continue;
    findings.push(finding({
      code: 'declared-not-open', severity: 'info', requirements: [], evidence,
      message: `declared ${s.protocol} service udp/${s.port} is not open (${DECLARED_STATE_TEXT[state]})`,
    }));
  }
  return findings;
}

/** The verdict rule: an undeclared open port fails CR 7.7 whatever else happened; a pass only from a scan that can carry one. */
function assessUdp(view: UdpView, scope: { ports: number[]; fullRange: boolean; udpServices: readonly ServiceUnderTest[] }): ProbeResult {
  const { ports, fullRange, udpServices } = scope;
  const findings = portFindings(view, udpServices);
  const declared = udpServices.map((s) => ({ port: s.port, protocol: s.protocol, state: view.ports.get(s.port)?.state ?? 'not scanned' as const }));
  const undetermined = undeterminedReason(view, ports.length, declared);
  const listed = formatPortSpec(ports);
  const what = fullRange ? 'all 65535 UDP ports' : `${ports.length} UDP ports (${listed.length > 60 ? 'default ICS and management list plus declared ports' : listed})`;
  const gaps = coverageGaps(view, fullRange);
  const outcomes = judge([{
    requirement: 'CR 7.7', coverage: gaps.length === 0 ? 'full' : 'partial', part: { name: 'udp', of: [...PORT_EXPOSURE_PARTS] },
    passReason: `every UDP port that answered among ${what} is declared${gaps.length > 0 ? `; UDP coverage partial: ${gaps.join('; ')}` : ''}`,
  }], findings);
  const open = [...view.ports.values()].filter((p) => p.state === 'open').map((p) => ({
    port: p.port, declared: udpServices.some((s) => s.port === p.port), reason: p.reason, by: p.by,
    ...(p.payloads ? { payloads: p.payloads } : {}), ...(p.answer ? { answerBytes: p.answer.bytes } : {}),
  }));
  const list = (state: ScannedPort['state']) => ({ count: portsIn(view, state).length, ports: formatPortSpec(portsIn(view, state)) });
  return {
    observations: {
      scanner: view.scanner, portsScanned: listed, fullRange, complete: view.incomplete === undefined,
      ...(view.incomplete ? { incomplete: view.incomplete } : {}), ...(view.host ? { host: view.host } : {}),
      open, closed: portsIn(view, 'closed').length, openFiltered: list('open|filtered'), filtered: list('filtered'),
      declaredNotOpen: declared.filter((d) => d.state !== 'open'),
      ...(view.pacing ? { pacing: view.pacing } : {}),
      ...(undetermined ? { note: undetermined } : {}),
    },
    findings,
    outcomes: undetermined ? outcomes.filter((o) => o.verdict === 'fail') : outcomes,
  };
}

export default defineProbe<Inputs>({
  id: 'ports.udp',
  protocol: 'ports',
  title: 'UDP port exposure against the declared communication matrix',
  description: 'Scans the host\'s UDP ports (nmap -sU with its payloads when installed and running as root, then our own '
    + 'protocol requests on the ports it left open|filtered; else a built-in scan) with a request each service answers: SNMP '
    + 'get (public) and v3 discovery, NTP client, TFTP read of a random name, BACnet Who-Is and ReadProperty, EtherNet/IP '
    + 'ListIdentity, DNS and mDNS queries, SSDP M-SEARCH (unicast), IKEv1, DNP3 link status; an empty datagram elsewhere. '
    + 'A datagram back is open, ICMP port unreachable closed, silence open|filtered (re-probed at a pace the device\'s ICMP '
    + 'rate limit allows). Undeclared open ports fail CR 7.7; open|filtered ports keep the UDP part of CR 7.7 partial.',
  requirements: ['CR 7.7'],
  findings: {
    'undeclared-open': 'a UDP port that answered but that the profile does not declare (CR 7.7)',
    'declared-not-open': 'a declared UDP service whose port is closed, filtered, silent or not reported (info)',
    'other-port-answer': 'a silent port whose probe the host answered from another port, not counted as open (info)',
  },
  safety: 'active',
  scope: 'host',
  appliesTo: [],
  timeoutMs: 300_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        ports: { type: 'string', pattern: '^(all|[0-9,\\- ]+)$' },
        scanner: { enum: ['auto', 'nmap', 'builtin'] },
        maxParallel: { type: 'integer', minimum: 1, maximum: 256 },
        responseTimeoutMs: { type: 'integer', minimum: 100 },
        retries: { type: 'integer', minimum: 1, maximum: 5 },
        retryIntervalMs: { type: 'integer', minimum: 0, maximum: 10_000 },
      },
    },
    defaults: { scanner: 'auto', maxParallel: 16, responseTimeoutMs: 1500, retries: 2, retryIntervalMs: 1100 },
  },
  async run(ctx) {
    const baseline = ctx.baseline<PortsBaseline>('ports');
    const udpServices = ctx.host.services.filter((s) => s.transport === 'udp');
    const spec = ctx.inputs.ports ?? Object.values(baseline.udpDefaultPorts).join(',');
    let listed: number[];
    try {
      listed = parsePortSpec(spec);
    } catch (err) {
      throw new InvalidInput(`ports: ${(err as Error).message}`);
    }
    const fullRange = listed.length === 65535;
    const ports = [...new Set([...listed, ...udpServices.map((s) => s.port)])].sort((a, b) => a - b);
    const { targets, evidence } = targetsFor(ctx, ports, udpServices);
    const view = await scan(ctx, targets, [evidence]);
    return assessUdp(view, { ports, fullRange, udpServices });
  },
});
