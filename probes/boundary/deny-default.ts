import { InstrumentFailure, InvalidInput, defineProbe, finding, judge, type Finding } from '../../src/sdk';
import { checkEndpoints, keepCapture, sweep, type MatrixRow, type SweepResult } from '../../src/protocols/boundary';
import { formatPortSpec, parsePortSpec } from '../../src/protocols/tcp';

const REQUIREMENTS = ['NDR 5.2', 'NDR 5.2 RE(1)'];
const ALL_TCP = 65_535;

interface Inputs {
  /** "all" (every port: full coverage) or a port list such as "1-1024,502" (partial coverage). */
  tcpPorts: string;
  /** Common UDP ports (ICS and management): DNS, DHCP, TFTP, NTP, NetBIOS, SNMP, IKE, syslog, RIP, IPMI, SSDP, mDNS, BACnet, EtherNet/IP, DNP3, OPC UA. */
  udpPorts: string;
  /** ICMP types: echo reply, unreachable, redirect, echo request, router solicitation, timestamp, info request, address mask. */
  icmpTypes: number[];
  /** Gap between two SYNs of the TCP sweep (µs). */
  intervalMicros: number;
}

function crossedRows(s: SweepResult): MatrixRow[] {
  const row = (protocol: MatrixRow['protocol'], v: number): MatrixRow => ({
    conduit: 'undeclared', from: s.from, to: s.to, protocol, ...(protocol === 'icmp' ? { icmpType: v } : { port: v }),
    way: 'forward', declared: 'deny', observed: 'pass', sent: protocol === 'tcp' ? 1 : 2, seen: 1,
  });
  return [...s.tcp.crossed.map((p) => row('tcp', p)), ...s.udp.crossed.map((p) => row('udp', p)), ...s.icmp.crossed.map((t) => row('icmp', t))];
}

function sweepFindings(s: SweepResult, evidence: string[]): Finding[] {
  const out: Finding[] = [];
  const list = (values: number[]) => (values.length > 20 ? `${formatPortSpec(values.slice(0, 20))} ... (${values.length} in all)` : formatPortSpec(values));
  if (s.tcp.crossed.length > 0) out.push(finding({ code: 'undeclared-tcp', severity: 'high', requirements: REQUIREMENTS, evidence, message: `${s.tcp.crossed.length} of ${s.tcp.ports} undeclared TCP ports crossed from ${s.from} to ${s.to} (SYNs seen on the far endpoint): ${list(s.tcp.crossed)}` }));
  if (s.udp.crossed.length > 0) out.push(finding({ code: 'undeclared-udp', severity: 'high', requirements: REQUIREMENTS, evidence, message: `undeclared UDP ports crossed from ${s.from} to ${s.to}: ${list(s.udp.crossed)}` }));
  if (s.icmp.crossed.length > 0) out.push(finding({ code: 'undeclared-icmp', severity: 'medium', requirements: REQUIREMENTS, evidence, message: `undeclared ICMP types crossed from ${s.from} to ${s.to}: ${s.icmp.crossed.join(', ')}` }));
  return out;
}

export default defineProbe<Inputs>({
  id: 'boundary.deny-default',
  protocol: 'boundary',
  title: 'Deny by default: no undeclared flow crosses from an untrusted to a trusted zone',
  description:
    'From each untrusted zone endpoint sends one TCP SYN to every undeclared port of each trusted zone endpoint (hping3, all ' +
    '65 535 by default), datagrams to common UDP ports and ICMP packets of common types, and counts on the far endpoint ' +
    '(dumpcap there, pcap kept) what arrived through the device. Full coverage only with the full TCP sweep.',
  requirements: REQUIREMENTS,
  findings: {
    'undeclared-tcp': 'SYNs to undeclared TCP ports crossed the device from an untrusted to a trusted zone',
    'undeclared-udp': 'datagrams to undeclared UDP ports crossed the device from an untrusted to a trusted zone',
    'undeclared-icmp': 'ICMP packets of undeclared types crossed the device from an untrusted to a trusted zone',
  },
  safety: 'active',
  scope: 'host',
  appliesTo: [],
  // island-mode and fail-close hold it exclusive: their outage would read as blocked conduits here.
  locks: () => [{ key: 'boundary:zones', mode: 'shared' }],
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        tcpPorts: { type: 'string', minLength: 1 },
        udpPorts: { type: 'string', minLength: 1 },
        icmpTypes: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 } },
        intervalMicros: { type: 'integer', minimum: 1, maximum: 1_000_000 },
      },
    },
    defaults: {
      tcpPorts: 'all', udpPorts: '53,67,69,123,137,161,162,500,514,520,623,1900,4840,5353,20000,44818,47808', icmpTypes: [0, 3, 5, 8, 10, 13, 15, 17], intervalMicros: 10,
    },
  },
  timeoutMs: 300_000,
  async run(ctx) {
    const decl = ctx.boundary;
    if (!decl) // Without zones nothing was tested: the NDR rows stay not determined (a network component may still need them).
      return { observations: { notDetermined: 'the profile declares no zones (network components only)' }, findings: [], outcomes: [] };
    const full = ctx.inputs.tcpPorts === 'all';
    let tcpPorts: number[];
    let udpPorts: number[];
    try {
      tcpPorts = full ? Array.from({ length: ALL_TCP }, (_, i) => i + 1) : parsePortSpec(ctx.inputs.tcpPorts);
      udpPorts = parsePortSpec(ctx.inputs.udpPorts);
    } catch (err) {
      throw new InvalidInput(`boundary.deny-default: ${(err as Error).message}`);
    }
    const endpoints = await checkEndpoints(decl);
    const results: SweepResult[] = [];
    const evidence: string[] = [];
    for (const near of decl.zones.filter((z) => !z.trusted)) {
      for (const far of decl.zones.filter((z) => z.trusted)) {
        const s = await sweep(decl, endpoints.get(near.name)!, endpoints.get(far.name)!, { tcpPorts, udpPorts, icmpTypes: ctx.inputs.icmpTypes, intervalMicros: ctx.inputs.intervalMicros }, ctx.signal);
        if (s.tcp.sent < s.tcp.ports) throw new InstrumentFailure(`hping3 sent ${s.tcp.sent} of ${s.tcp.ports} SYNs from ${near.name} to ${far.name}: the sweep is incomplete`);
        evidence.push(keepCapture(ctx.evidence, `far-${far.name}-from-${near.name}.pcap`, s.capture.file));
        results.push(s);
      }
    }
    const summary = results.map((s) => ({ from: s.from, to: s.to, tcp: { ports: s.tcp.ports, sent: s.tcp.sent, crossed: s.tcp.crossed.length }, udp: { ports: s.udp.ports, crossed: s.udp.crossed }, icmp: { types: s.icmp.types, crossed: s.icmp.crossed } }));
    evidence.unshift(ctx.evidence.save('sweep.json', results.map(({ capture: _c, ...s }) => s)));
    const findings = results.flatMap((s) => sweepFindings(s, evidence));
    const coverage = full ? 'full' : 'partial';
    const swept = `${results.map((s) => `${s.from}->${s.to}: ${s.tcp.ports} TCP ports, ${s.udp.ports.length} UDP ports, ${s.icmp.types.length} ICMP types`).join('; ')}`;
    return {
      observations: { sweeps: summary, matrix: results.flatMap(crossedRows), coverage, tcpPorts: full ? 'all' : ctx.inputs.tcpPorts },
      findings,
      outcomes: judge(REQUIREMENTS.map((requirement) => ({ requirement, coverage, passReason: `nothing undeclared arrived on the far endpoint (${swept})${full ? '' : '; TCP sweep limited to the ports the inputs list'}` })), findings),
    };
  },
});
