import { InstrumentFailure, defineProbe, finding, judge, type BoundaryDecl, type Finding } from '../../src/sdk';
import { checkEndpoints, forgeableAddress, keepCapture, sendIntrusive, type IntrusiveCase, type IntrusiveResult } from '../../src/protocols/boundary';

const REQUIREMENTS = ['NDR 5.2'];

interface Inputs {
  /** A TCP port no conduit allows from the untrusted to the trusted zone (the fragment cases' target). */
  undeclaredPort: number;
}

const MEANING: Record<IntrusiveResult['kind'], string> = {
  'spoofed-source': 'SYNs from the untrusted side carrying a source address of the trusted zone (no anti-spoofing / reverse-path check)',
  fragmented: 'a SYN to an undeclared port split into IP fragments',
  'tiny-fragment': 'a SYN to an undeclared port in 8-byte fragments, its TCP flags outside the first fragment (RFC 1858)',
  'record-route': 'SYNs carrying the IP record-route option (no conduit declares IP options)',
};

/** The cases from `untrusted` to `trusted`: spoofing and options aimed at a declared conduit port when there is one. */
function casesFor(decl: BoundaryDecl, from: string, to: string, destination: string, undeclaredPort: number, firstId: number): IntrusiveCase[] {
  const conduit = decl.conduits.find((c) => c.protocol === 'tcp' && ((c.from === from && c.to === to) || (c.direction === 'both' && c.from === to && c.to === from)));
  const declaredPort = conduit?.ports[0] ?? undeclaredPort;
  const trusted = decl.zones.find((z) => z.name === to)!;
  const kinds: [IntrusiveCase['kind'], number, string?][] = [
    ['spoofed-source', declaredPort, forgeableAddress(trusted)], ['fragmented', undeclaredPort], ['tiny-fragment', undeclaredPort], ['record-route', declaredPort],
  ];
  return kinds.map(([kind, port, spoofedSource], i) => ({ kind, destination, port, ipId: firstId + i * 256, count: 3, ...(spoofedSource ? { spoofedSource } : {}) }));
}

export default defineProbe<Inputs>({
  id: 'boundary.spoof-fragment',
  protocol: 'boundary',
  title: 'Spoofed, fragmented and IP-option packets from an untrusted zone do not cross the device',
  description:
    'From each untrusted zone endpoint sends, with hping3, SYNs whose source address is forged from the trusted zone (to a ' +
    'declared conduit port when there is one), a SYN to an undeclared port in IP fragments and in 8-byte "tiny" fragments, and ' +
    'SYNs with the IP record-route option; the trusted endpoint captures everything addressed to it. Any of these packets ' +
    'arriving is a finding. Addresses are limited to the declared zones.',
  requirements: REQUIREMENTS,
  findings: {
    'spoofed-source': 'packets from the untrusted side with a forged trusted-zone source address crossed the device',
    fragmented: 'IP fragments of a SYN to an undeclared port crossed the device',
    'tiny-fragment': 'tiny IP fragments (TCP flags outside the first fragment) of a SYN to an undeclared port crossed the device',
    'record-route': 'packets carrying the IP record-route option crossed the device',
  },
  safety: 'intrusive',
  scope: 'host',
  appliesTo: [],
  inputs: { schema: { type: 'object', additionalProperties: false, properties: { undeclaredPort: { type: 'integer', minimum: 1, maximum: 65535 } } }, defaults: { undeclaredPort: 23 } },
  timeoutMs: 120_000,
  async run(ctx) {
    const decl = ctx.boundary;
    if (!decl) // Without zones nothing was tested: the NDR rows stay not determined (a network component may still need them).
      return { observations: { notDetermined: 'the profile declares no zones (network components only)' }, findings: [], outcomes: [] };
    const endpoints = await checkEndpoints(decl);
    const results: IntrusiveResult[] = [];
    const evidence: string[] = [];
    let firstId = 0x4000;
    for (const near of decl.zones.filter((z) => !z.trusted)) {
      for (const far of decl.zones.filter((z) => z.trusted)) {
        const farEndpoint = endpoints.get(far.name)!;
        const cases = casesFor(decl, near.name, far.name, farEndpoint.address, ctx.inputs.undeclaredPort, firstId);
        firstId += 0x1000;
        const run = await sendIntrusive(decl, endpoints.get(near.name)!, farEndpoint, cases, ctx.signal);
        evidence.push(keepCapture(ctx.evidence, `intrusive-${far.name}-from-${near.name}.pcap`, run.file));
        results.push(...run.results);
      }
    }
    evidence.unshift(ctx.evidence.save('intrusive.json', results));
    const unsent = results.filter((r) => r.sent < r.count);
    if (unsent.length > 0) throw new InstrumentFailure(`hping3 sent fewer packets than asked for ${unsent.map((r) => r.kind).join(', ')}: the cases cannot be judged`);
    const findings: Finding[] = results.filter((r) => r.seen > 0).map((r) => finding({
      code: r.kind, severity: 'high', requirements: REQUIREMENTS, evidence,
      message: `${MEANING[r.kind]}: ${r.seen} packet(s) of ${r.sent} sent arrived at the ${r.to} endpoint ${r.destination}:${r.port} from the ${r.from} side${r.spoofedSource ? ` (forged source ${r.spoofedSource})` : ''}`,
    }));
    return {
      observations: { cases: results.map(({ kind, from, to, destination, port, spoofedSource, sent, seen }) => ({ kind, from, to, destination, port, ...(spoofedSource ? { spoofedSource } : {}), sent, seen })) },
      findings,
      outcomes: judge([{ requirement: 'NDR 5.2', coverage: 'partial', passReason: `no spoofed, fragmented or record-route packet crossed (${results.length} cases, ${results.reduce((a, r) => a + r.sent, 0)} packets sent)` }], findings),
    };
  },
});
