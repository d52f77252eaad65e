import { defineProbe, finding, judge, type Finding } from '../../src/sdk';
import { checkEndpoints, tryManagement, type ManagementTry } from '../../src/protocols/boundary';

const REQUIREMENTS = ['NDR 1.13'];

interface Inputs {
  /** How long a connect to a management port may take before it counts as unreachable. */
  connectTimeoutMs: number;
}

const where = (t: ManagementTry) => `${t.service} on ${t.address}:${t.port} (the device's ${t.side}-side address)`;

/** Per service: reached from a trusted zone (it runs and answers), and the untrusted zones it was reached from. */
function judgeTries(tries: readonly ManagementTry[], evidence: string[]): { findings: Finding[]; running: string[]; silent: string[] } {
  const findings: Finding[] = [];
  const running: string[] = [];
  const silent: string[] = [];
  for (const service of [...new Set(tries.map((t) => t.service))]) {
    const own = tries.filter((t) => t.service === service);
    const untrusted = own.filter((t) => !t.trusted && t.connected);
    if (own.some((t) => t.connected)) running.push(service);
    else silent.push(service);
    for (const t of untrusted) {
      findings.push(finding({ code: 'untrusted-reachable', severity: 'high', requirements: REQUIREMENTS, evidence, message: `management service ${where(t)} accepted a connection from the untrusted zone ${t.from}'s endpoint (handshake completed in ${t.ms} ms)` }));
    }
  }
  return { findings, running, silent };
}

export default defineProbe<Inputs>({
  id: 'boundary.management',
  protocol: 'boundary',
  title: 'Management services of the device are not reachable from an untrusted zone',
  description:
    'From every zone endpoint of the profile (a network namespace on each side of the device) opens a TCP connection to each ' +
    'declared TCP service of the target (its management services: ssh, https, ...) on each of the device\'s own addresses ' +
    '(the zones\' gateways). A completed handshake from an untrusted zone is a finding; from a trusted zone it is expected, and ' +
    'it shows the service runs: a service that answers from no side cannot be judged (not determined).',
  requirements: REQUIREMENTS,
  findings: {
    'untrusted-reachable': 'a management service of the device accepted a connection from an untrusted zone endpoint',
  },
  safety: 'active',
  scope: 'host',
  appliesTo: [],
  inputs: { schema: { type: 'object', additionalProperties: false, properties: { connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 30000 } } }, defaults: { connectTimeoutMs: 1000 } },
  timeoutMs: 120_000,
  async run(ctx) {
    const decl = ctx.boundary;
    if (!decl) // Without zones nothing was tested: the NDR rows stay not determined (a network component may still need them).
      return { observations: { notDetermined: 'the profile declares no zones (network components only)' }, findings: [], outcomes: [] };
    const tcp = ctx.host.services.filter((s) => s.transport === 'tcp').map((s) => ({ port: s.port, name: s.name }));
    const notExamined = ctx.host.services.filter((s) => s.transport !== 'tcp').map((s) => s.name);
    if (tcp.length === 0) return { observations: { notExamined }, findings: [], outcomes: [] };
    const endpoints = await checkEndpoints(decl);
    const tries = await tryManagement(decl, endpoints, tcp, ctx.signal, ctx.inputs.connectTimeoutMs);
    const evidence = [ctx.evidence.save('management.json', tries)];
    const { findings, running, silent } = judgeTries(tries, evidence);
    const observations = { tries, running, silent, notExamined };
    // Without a service that answered from some side, "unreachable from the untrusted side" proves nothing.
    if (running.length === 0) return { observations, findings: [], outcomes: [] };
    const coverage = silent.length === 0 && notExamined.length === 0 ? 'full' : 'partial';
    const unjudged = [...silent.map((s) => `${s} answered from no side`), ...notExamined.map((s) => `${s} (UDP) not examined`)];
    return {
      observations,
      findings,
      outcomes: judge([{ requirement: 'NDR 1.13', coverage, passReason: `management services ${running.join(', ')} answered only from trusted zones${unjudged.length ? `; ${unjudged.join('; ')}` : ''}` }], findings),
    };
  },
});
