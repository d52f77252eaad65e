import type * as tls from 'node:tls';
import { ProtocolViolation, Transcript, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement, type ProbeContext } from '../../src/sdk';
import {
  NEGOTIATION_REQUESTS, RDP_PROTOCOL, describeAnswer, negotiate, type NegotiationAnswer, type NegotiationRequestName,
} from '../../src/protocols/rdp';
import { parseCertificate } from '../../src/protocols/tls';

interface Inputs {
  waitMs: number;
  connectTimeoutMs: number;
  tlsTimeoutMs: number;
}

const TLS_VERSIONS: readonly tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const LEGACY_TLS = new Set<string>(['TLSv1', 'TLSv1.1']);
const TLS_OR_NLA = RDP_PROTOCOL.ssl | RDP_PROTOCOL.hybrid | RDP_PROTOCOL.hybridEx;

const selects = (a: NegotiationAnswer | undefined, mask: number) => a?.kind === 'selected' && (a.selected & mask) !== 0;
/** Standard RDP Security is what the server runs when it selects PROTOCOL_RDP, or a legacy server that negotiates nothing. */
const standardRdp = (a: NegotiationAnswer | undefined) => a?.kind === 'legacy' || (a?.kind === 'selected' && a.selected === RDP_PROTOCOL.rdp);
/** The answer opens a session without CredSSP first: standard RDP, or plain TLS. */
const withoutNla = (a: NegotiationAnswer) => a.kind === 'legacy' || (a.kind === 'selected' && (a.selected & (RDP_PROTOCOL.hybrid | RDP_PROTOCOL.hybridEx)) === 0);

/** One TLS handshake per version, each after its own X.224 exchange that selected TLS or CredSSP; the certificate once. */
async function tlsFacts(ctx: ProbeContext<Inputs>, requested: number, transcript: Transcript) {
  const protocols: Record<string, boolean> = {};
  let certificate: ReturnType<typeof summary> | undefined;
  for (const version of TLS_VERSIONS) {
    const { handshake } = await negotiate(ctx.service!, requested, {
      signal: ctx.signal, waitMs: ctx.inputs.waitMs, connectTimeoutMs: ctx.inputs.connectTimeoutMs, transcript,
      tls: { minVersion: version, maxVersion: version, timeoutMs: ctx.inputs.tlsTimeoutMs },
    });
    protocols[version] = handshake?.ok === true;
    if (handshake?.ok && !certificate && handshake.peerChain.length > 0) certificate = summary(handshake.peerChain[0]);
  }
  return { protocols, ...(certificate ? { certificate } : {}) };
}

function summary(der: Buffer) {
  const c = parseCertificate(der);
  return { subject: c.subject, issuer: c.issuer, selfSigned: c.selfSigned, keyType: c.keyType, keyBits: c.keyBits, signatureAlgorithm: c.signatureAlgorithm, notBefore: c.notBefore, notAfter: c.notAfter, sha256: c.sha256 };
}

export default defineProbe<Inputs>({
  id: 'rdp.security-layer',
  protocol: 'rdp',
  title: 'RDP: standard RDP security, TLS or NLA (CredSSP), and the TLS behind it',
  description: 'Sends an X.224 Connection Request with an RDP_NEG_REQ for each requestedProtocols value nmap\'s '
    + 'rdp-enum-encryption sends (PROTOCOL_RDP 0, SSL 1, SSL|HYBRID 3, HYBRID_EX 8), each on its own connection, and reads the '
    + 'RDP_NEG_RSP selectedProtocol or RDP_NEG_FAILURE code ([MS-RDPBCGR] §2.2.1.1/§2.2.1.2). Standard RDP Security accepted '
    + '(RC4, no server authentication) fails CR 4.1 and CR 4.3; a server that lets a client reach a session without '
    + 'Network Level Authentication (CredSSP) first fails CR 1.1. Where TLS is selected it completes one TLS handshake per '
    + 'version (TLS 1.0 to 1.3) on the same connection and keeps the certificate: TLS 1.0/1.1 accepted fails CR 4.3. '
    + 'CredSSP itself is never started and no credential is sent.',
  requirements: ['CR 1.1', 'CR 4.1', 'CR 4.3'],
  findings: {
    'standard-rdp-security': 'the server accepts Standard RDP Security (no TLS: RC4 encryption, no server authentication)',
    'nla-not-required': 'a client reaches a session (the logon screen) without Network Level Authentication',
    'legacy-tls': 'the TLS behind RDP accepts TLS 1.0 or 1.1',
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['rdp'],
  timeoutMs: 60_000,
  inputs: {
    schema: inputsSchema({ waitMs: { type: 'integer', minimum: 50 }, connectTimeoutMs: { type: 'integer', minimum: 100 }, tlsTimeoutMs: { type: 'integer', minimum: 100 } }),
    defaults: { waitMs: 5000, connectTimeoutMs: 5000, tlsTimeoutMs: 5000 },
  },
  async run(ctx) {
    const service = ctx.service!;
    const transcript = new Transcript(ctx.evidence, 'rdp-negotiation.txt');
    const options = { signal: ctx.signal, waitMs: ctx.inputs.waitMs, connectTimeoutMs: ctx.inputs.connectTimeoutMs, transcript };
    const answers = {} as Record<NegotiationRequestName, NegotiationAnswer>;
    for (const r of NEGOTIATION_REQUESTS) answers[r.name] = (await negotiate(service, r.requested, options)).answer;
    if (Object.values(answers).every((a) => a.kind === 'refused')) throw new ProtocolViolation(`${service.name}: every X.224 Connection Request was refused (${describeAnswer(answers.rdp)})`);
    const tlsRequest = NEGOTIATION_REQUESTS.find((r) => selects(answers[r.name], TLS_OR_NLA));
    const tlsSeen = tlsRequest ? await tlsFacts(ctx, tlsRequest.requested, transcript) : undefined;
    const nlaSupported = selects(answers.nla, RDP_PROTOCOL.hybrid) || selects(answers['nla-ex'], RDP_PROTOCOL.hybridEx);
    const sessionWithoutNla = withoutNla(answers.rdp) || withoutNla(answers.tls);
    const nlaRequired = nlaSupported && !sessionWithoutNla;
    const evidence = [transcript.path];
    const findings: Finding[] = [];
    if (standardRdp(answers.rdp)) {
      findings.push(finding({
        code: 'standard-rdp-security', severity: 'high', requirements: ['CR 4.1', 'CR 4.3'], evidence,
        message: `${service.name} accepts Standard RDP Security (${describeAnswer(answers.rdp)}): RC4 with a server-proprietary key, no server authentication, open to a man in the middle`,
      }));
    }
    if (sessionWithoutNla) {
      findings.push(finding({
        code: 'nla-not-required', severity: 'medium', requirements: ['CR 1.1'], evidence,
        message: `${service.name} does not require Network Level Authentication (PROTOCOL_RDP: ${describeAnswer(answers.rdp)}; SSL: ${describeAnswer(answers.tls)}): anyone reaches a session before identifying`,
      }));
    }
    const legacy = Object.entries(tlsSeen?.protocols ?? {}).filter(([v, ok]) => ok && LEGACY_TLS.has(v)).map(([v]) => v);
    if (legacy.length > 0) {
      findings.push(finding({
        code: 'legacy-tls', severity: 'medium', requirements: ['CR 4.3'], evidence,
        message: `${service.name}: the TLS behind RDP accepts ${legacy.join(' and ')}`,
      }));
    }
    // A server that refuses everything, NLA included, lets nobody in by RDP: CR 1.1 is not judged from that.
    const judgements: Judgement[] = sessionWithoutNla || nlaRequired ? [
      { requirement: 'CR 1.1', coverage: 'partial', passReason: 'the server refuses every security protocol but CredSSP: a client must authenticate (NLA) before it gets a session' },
    ] : [];
    // Without a TLS handshake we know nothing good about the cryptography: CR 4.1/4.3 can only fail then.
    if (tlsSeen || standardRdp(answers.rdp)) {
      const reason = 'Standard RDP Security refused; TLS 1.2 or newer only behind RDP (cipher suites not enumerated here)';
      judgements.push({ requirement: 'CR 4.1', coverage: 'partial', passReason: reason }, { requirement: 'CR 4.3', coverage: 'partial', passReason: reason });
    }
    return {
      observations: {
        negotiation: Object.fromEntries(NEGOTIATION_REQUESTS.map((r) => [r.name, { requested: r.requested, ...answers[r.name] }])),
        standardRdpAccepted: standardRdp(answers.rdp),
        tlsAccepted: selects(answers.tls, RDP_PROTOCOL.ssl),
        nlaSupported,
        nlaRequired,
        ...(tlsSeen ? { tls: tlsSeen } : {}),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
