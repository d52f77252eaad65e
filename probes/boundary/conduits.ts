import { defineProbe, finding, judge, type Finding } from '../../src/sdk';
import { checkEndpoints, keepCapture, testConduits, zonesObserved, type MatrixRow } from '../../src/protocols/boundary';

const REQUIREMENTS = ['NDR 5.2', 'NDR 5.2 RE(1)'];

interface Inputs {
  /** How long a TCP connect through the device may take before the flow counts as blocked. */
  connectTimeoutMs: number;
}

const describeRow = (r: MatrixRow) => `${r.from}->${r.to} ${r.protocol}/${r.protocol === 'icmp' ? `type ${r.icmpType}` : r.port}`;

export default defineProbe<Inputs>({
  id: 'boundary.conduits',
  protocol: 'boundary',
  title: 'Every declared conduit passes as declared, and a one-way conduit does not open the other way',
  description:
    'From each zone endpoint of the profile (a network namespace on the bench) sends every declared conduit flow to the far ' +
    'endpoint through the device — a TCP connect to a listener there, UDP datagrams, ICMP packets of the declared type — and ' +
    'the reverse flow of every conduit; the far endpoint captures what arrives (pcap). The conduit matrix (declared vs ' +
    'observed) goes to observations.matrix. Refuses to send when an endpoint would route other than through the device.',
  requirements: REQUIREMENTS,
  findings: {
    'conduit-blocked': 'a declared conduit flow did not arrive on the far side: the device does not enforce the zone/conduit model as documented',
    'reverse-opened': 'a one-way conduit let the far side open a flow back (its reverse crossed the device)',
  },
  safety: 'active',
  scope: 'host',
  appliesTo: [],
  // island-mode and fail-close hold it exclusive: their outage would read as blocked conduits here.
  locks: () => [{ key: 'boundary:zones', mode: 'shared' }],
  inputs: { schema: { type: 'object', additionalProperties: false, properties: { connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 30000 } } }, defaults: { connectTimeoutMs: 1000 } },
  timeoutMs: 120_000,
  async run(ctx) {
    const decl = ctx.boundary;
    if (!decl || decl.conduits.length === 0) {
      // Without zones nothing was tested: the NDR rows stay not determined (a network component may still need them).
      return { observations: { notDetermined: decl ? 'the profile declares no conduits' : 'the profile declares no zones (network components only)' }, findings: [], outcomes: [] };
    }
    const endpoints = await checkEndpoints(decl);
    const run = await testConduits(decl, endpoints, ctx.signal, ctx.inputs.connectTimeoutMs);
    const captures = run.captures.map((c) => keepCapture(ctx.evidence, `far-${c.to}-from-${c.from}.pcap`, c.file));
    const matrix = ctx.evidence.save('matrix.json', run.rows);
    const evidence = [matrix, ...captures];
    const findings: Finding[] = [];
    for (const r of run.rows.filter((row) => row.declared !== (row.observed === 'pass' ? 'allow' : 'deny'))) {
      findings.push(r.declared === 'allow'
        ? finding({ code: 'conduit-blocked', severity: 'low', requirements: ['NDR 5.2'], evidence, message: `declared conduit ${r.conduit} (${r.way}): ${describeRow(r)} did not arrive at the ${r.to} endpoint (${r.sent} sent, 0 seen)` })
        : finding({ code: 'reverse-opened', severity: 'high', requirements: REQUIREMENTS, evidence, message: `one-way conduit ${r.conduit}: ${describeRow(r)} was opened from the ${r.from} side (${r.seen} of ${r.sent} packets arrived${r.handshake ? ', handshake completed' : ''})` }));
    }
    return {
      observations: { matrix: run.rows, zones: zonesObserved(decl), endpoints: [...endpoints.values()].map((e) => ({ zone: e.zone.name, namespace: e.namespace, interface: e.interface, address: e.address })) },
      findings,
      outcomes: judge([
        { requirement: 'NDR 5.2', coverage: 'partial', passReason: `every declared conduit (${decl.conduits.length}) crossed as declared, seen on the far endpoint` },
        { requirement: 'NDR 5.2 RE(1)', coverage: 'partial', passReason: 'no one-way conduit opened in reverse (the undeclared sweep is boundary.deny-default)' },
      ], findings),
    };
  },
});
