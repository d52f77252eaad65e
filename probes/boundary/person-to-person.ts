import { defineProbe, finding, judge, type BoundaryDecl, type Conduit, type Finding } from '../../src/sdk';
import { checkEndpoints, keepCapture, tryFlows, zonesObserved, type MatrixRow, type PlannedFlow } from '../../src/protocols/boundary';

const REQUIREMENTS = ['NDR 5.3'];

type Kind = 'email' | 'chat' | 'voip' | 'webmail';

/** General purpose person-to-person flows (NDR 5.3): name, transport, port; web-mail only towards the untrusted side. */
const P2P: readonly { kind: Kind; name: string; protocol: 'tcp' | 'udp'; port: number }[] = [
  { kind: 'email', name: 'smtp', protocol: 'tcp', port: 25 }, { kind: 'email', name: 'smtps', protocol: 'tcp', port: 465 },
  { kind: 'email', name: 'submission', protocol: 'tcp', port: 587 }, { kind: 'email', name: 'imap', protocol: 'tcp', port: 143 },
  { kind: 'email', name: 'imaps', protocol: 'tcp', port: 993 }, { kind: 'email', name: 'pop3', protocol: 'tcp', port: 110 },
  { kind: 'email', name: 'pop3s', protocol: 'tcp', port: 995 },
  { kind: 'chat', name: 'xmpp', protocol: 'tcp', port: 5222 }, { kind: 'chat', name: 'irc', protocol: 'tcp', port: 6667 },
  { kind: 'voip', name: 'sip', protocol: 'udp', port: 5060 }, { kind: 'voip', name: 'sip', protocol: 'tcp', port: 5060 },
  { kind: 'voip', name: 'sips', protocol: 'tcp', port: 5061 },
  { kind: 'webmail', name: 'http', protocol: 'tcp', port: 80 }, { kind: 'webmail', name: 'https', protocol: 'tcp', port: 443 },
];

const kindOf = (row: MatrixRow) => row.conduit.split('/')[0] as Kind;

/** A conduit that lets `from` open `protocol/port` towards `to` (then the flow is declared, not tested as denied). */
function declared(decl: BoundaryDecl, from: string, to: string, protocol: string, port: number): Conduit | undefined {
  return decl.conduits.find((c) => c.protocol === protocol && c.ports.includes(port) && ((c.from === from && c.to === to) || (c.direction === 'both' && c.from === to && c.to === from)));
}

/** The person-to-person flows from zone `from` to zone `to` that no conduit declares. */
function plannedFlows(decl: BoundaryDecl, from: string, to: string, towardsUntrusted: boolean): { flows: PlannedFlow[]; allowedByConduit: string[] } {
  const flows: PlannedFlow[] = [];
  const allowedByConduit: string[] = [];
  for (const f of P2P.filter((x) => x.kind !== 'webmail' || towardsUntrusted)) {
    const conduit = declared(decl, from, to, f.protocol, f.port);
    if (conduit) allowedByConduit.push(`${from}->${to} ${f.protocol}/${f.port} (${conduit.name})`);
    else flows.push({ conduit: { name: `${f.kind}/${f.name}`, from, to, protocol: f.protocol, ports: [f.port], direction: 'one-way' }, way: 'forward', declared: 'deny' });
  }
  return { flows, allowedByConduit };
}

export default defineProbe<{ connectTimeoutMs: number }>({
  id: 'boundary.person-to-person',
  protocol: 'boundary',
  title: 'Email, chat, VoIP and web-mail flows between the zones are blocked unless a conduit declares them',
  description:
    'Between every trusted and untrusted zone endpoint, both ways, opens the flows typical of person-to-person communication — ' +
    'email (SMTP 25/465/587, IMAP 143/993, POP3 110/995), chat (XMPP 5222, IRC 6667), VoIP (SIP 5060 UDP and TCP, 5061) — and ' +
    'web-mail (HTTP/HTTPS 80/443) towards the untrusted side, each to a listener the far endpoint opens, and judges receipt ' +
    'from the far endpoint\'s capture. A flow a conduit declares is left out; any other that arrives is a finding.',
  requirements: REQUIREMENTS,
  findings: {
    'email-crossed': 'an email flow (SMTP, IMAP, POP3) crossed the device between the zones without a declared conduit',
    'chat-crossed': 'a chat flow (XMPP, IRC) crossed the device between the zones without a declared conduit',
    'voip-crossed': 'a VoIP flow (SIP) crossed the device between the zones without a declared conduit',
    'webmail-crossed': 'web-mail (HTTP/HTTPS towards the untrusted zone) crossed the device without a declared conduit',
  },
  safety: 'active',
  scope: 'host',
  appliesTo: [],
  inputs: { schema: { type: 'object', additionalProperties: false, properties: { connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 30000 } } }, defaults: { connectTimeoutMs: 1000 } },
  timeoutMs: 300_000,
  async run(ctx) {
    const decl = ctx.boundary;
    if (!decl) // Without zones nothing was tested: the NDR rows stay not determined (a network component may still need them).
      return { observations: { notDetermined: 'the profile declares no zones (network components only)' }, findings: [], outcomes: [] };
    const endpoints = await checkEndpoints(decl);
    const rows: MatrixRow[] = [];
    const evidence: string[] = [];
    const allowedByConduit: string[] = [];
    for (const near of decl.zones) {
      for (const far of decl.zones.filter((z) => z.trusted !== near.trusted)) {
        const plan = plannedFlows(decl, near.name, far.name, !far.trusted);
        allowedByConduit.push(...plan.allowedByConduit);
        if (plan.flows.length === 0) continue;
        const run = await tryFlows(endpoints.get(near.name)!, endpoints.get(far.name)!, plan.flows, ctx.signal, ctx.inputs.connectTimeoutMs);
        rows.push(...run.rows);
        evidence.push(...run.captures.map((c) => keepCapture(ctx.evidence, `p2p-far-${c.to}-from-${c.from}.pcap`, c.file)));
      }
    }
    evidence.unshift(ctx.evidence.save('person-to-person.json', rows));
    const findings: Finding[] = [];
    for (const kind of ['email', 'chat', 'voip', 'webmail'] as const) {
      const crossed = rows.filter((r) => kindOf(r) === kind && r.observed === 'pass');
      if (crossed.length === 0) continue;
      findings.push(finding({
        code: `${kind}-crossed`, severity: 'medium', requirements: REQUIREMENTS, evidence,
        message: `${kind} flows crossed without a declared conduit (seen on the far endpoint): ${crossed.map((r) => `${r.conduit} ${r.from}->${r.to} ${r.protocol}/${r.port}${r.handshake ? ' (handshake)' : ''}`).join(', ')}`,
      }));
    }
    return {
      observations: { matrix: rows, zones: zonesObserved(decl), allowedByConduit },
      findings,
      outcomes: judge([{ requirement: 'NDR 5.3', coverage: 'partial', passReason: `none of ${rows.length} email, chat, VoIP and web-mail flows between the zones arrived on the far endpoint${allowedByConduit.length ? ` (declared by conduits, not tested: ${allowedByConduit.join(', ')})` : ''}` }], findings),
    };
  },
});
