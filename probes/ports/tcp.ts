import {
  InvalidInput, defineProbe, finding, judge, type Finding, type ProbeContext, type ServiceUnderTest,
} from '../../src/sdk';
import { findNmap, runNmap, type NmapPort } from '../../src/protocols/nmap';
import { connectScan, formatPortSpec, parsePortSpec } from '../../src/protocols/tcp';

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

async function scan(ctx: ProbeContext<Inputs>, ports: number[], declaredPorts: Set<number>): Promise<{ scanner: string; open: OpenPort[]; evidence: string[] }> {
  const host = ctx.host.host;
  const nmap = ctx.inputs.scanner === 'connect' ? undefined : findNmap();
  if (ctx.inputs.scanner === 'nmap' && !nmap) throw new InvalidInput('scanner: nmap was requested but nmap is not installed');
  const spec = formatPortSpec(ports);
  if (nmap) {
    const budgetS = Math.max(5, Math.floor((ctx.deadline - Date.now()) / 1000) - 2);
    const base = ['-sT', '-Pn', '-n', '--open', '--max-retries', '1', '--max-parallelism', String(ctx.inputs.maxParallel), '--host-timeout', `${budgetS}s`];
    const result = await runNmap(nmap, [...base, '-p', spec], host, ctx.signal);
    ctx.evidence.tool('nmap', result.version);
    const evidence = [ctx.evidence.save('nmap-tcp.xml', result.xml)];
    let open: OpenPort[] = result.ports.filter((p) => p.state === 'open').map((p) => toOpen(p, declaredPorts));
    const undeclared = open.filter((p) => !p.declared).map((p) => p.port);
    if (ctx.inputs.serviceDetection && undeclared.length > 0 && ctx.deadline - Date.now() > 10_000) {
      const left = Math.max(5, Math.floor((ctx.deadline - Date.now()) / 1000) - 3);
      const sv = await runNmap(nmap, [...base.filter((a) => a !== '--open'), '--host-timeout', `${left}s`, '-sV', '--version-light', '-p', formatPortSpec(undeclared)], host, ctx.signal);
      evidence.push(ctx.evidence.save('nmap-sv.xml', sv.xml));
      const probed = new Map(sv.ports.map((p) => [p.port, p]));
      open = open.map((p) => (probed.has(p.port) ? { ...toOpen(probed.get(p.port)!, declaredPorts) } : p));
    }
    return { scanner: `nmap ${result.version}`, open, evidence };
  }
  const result = await connectScan(host, ports, { parallel: ctx.inputs.maxParallel, timeoutMs: ctx.inputs.connectTimeoutMs, signal: ctx.signal });
  const evidence = [ctx.evidence.save('connect-scan.json', { host, ports: spec, ...result })];
  return { scanner: 'connect', open: result.open.map((port) => ({ port, declared: declaredPorts.has(port) })), evidence };
}

function toOpen(p: NmapPort, declared: Set<number>): OpenPort {
  return {
    port: p.port, declared: declared.has(p.port),
    ...(p.service ? { service: p.service } : {}), ...(p.product ? { product: p.product } : {}), ...(p.version ? { version: p.version } : {}),
  };
}

export default defineProbe<Inputs>({
  id: 'ports.tcp',
  protocol: 'ports',
  title: 'TCP port exposure against the declared communication matrix',
  description: 'Scans the host\'s TCP ports (nmap -sT when installed, else a built-in connect scan; the default list is the '
    + 'ICS and management ports of profiles/baselines/ports.yaml plus every declared port, or 1-65535 with --ports all) and '
    + 'compares what is open with the services the profile declares. Undeclared open ports fail CR 7.7; cleartext '
    + 'management protocols (Telnet, FTP, HTTP, ...) fail CR 4.1. Connects and closes; sends no payload except nmap -sV '
    + 'version probes on undeclared ports.',
  requirements: ['CR 7.7', 'CR 4.1'],
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
    const { scanner, open, evidence } = await scan(ctx, ports, declaredPorts);
    const findings: Finding[] = [];
    for (const p of open) {
      const declared = tcpServices.find((s) => s.port === p.port);
      const what = [p.service, p.product, p.version].filter(Boolean).join(' ');
      if (!p.declared) {
        findings.push(finding({
          code: 'ports.undeclared-open', severity: 'medium', requirements: ['CR 7.7'], evidence,
          message: `tcp/${p.port} is open but not declared in the communication matrix${what ? ` (${what})` : ''}`,
        }));
      }
      const label = cleartextLabel(p, declared, baseline);
      if (label) {
        findings.push(finding({
          code: 'ports.cleartext-service', severity: 'high', requirements: ['CR 4.1'], evidence,
          message: `${label} (cleartext) is reachable on tcp/${p.port}${declared ? ` (declared as ${declared.protocol})` : ''}`,
        }));
      }
    }
    const openPorts = new Set(open.map((p) => p.port));
    const declaredNotOpen = tcpServices.filter((s) => !openPorts.has(s.port)).map((s) => ({ port: s.port, protocol: s.protocol }));
    for (const d of declaredNotOpen) {
      findings.push(finding({ code: 'ports.declared-not-open', severity: 'info', requirements: [], evidence, message: `declared ${d.protocol} service tcp/${d.port} is not open` }));
    }
    const scope = fullRange ? 'all 65535 TCP ports' : `${ports.length} TCP ports (${formatPortSpec(ports).length > 60 ? 'default ICS and management list plus declared ports' : formatPortSpec(ports)})`;
    return {
      observations: {
        scanner, portsScanned: formatPortSpec(ports), fullRange, udpScanned: false, open, declaredNotOpen,
      },
      findings,
      outcomes: judge([
        // Least functionality is fully shown only by a full-range scan; UDP services still need the declared list.
        { requirement: 'CR 7.7', coverage: fullRange ? 'full' : 'partial', passReason: `every open port among ${scope} is declared` },
        { requirement: 'CR 4.1', coverage: 'partial', passReason: `no cleartext management protocol open among ${scope}` },
      ], findings),
    };
  },
});
