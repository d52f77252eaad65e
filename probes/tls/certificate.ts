import { ProtocolViolation, TargetTimeout, defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  HELLO_PACING_SCHEMA, TLS_CAPABLE_PROTOCOLS, certificateMatches, checkTlsPolicy, fullHandshake, helloPacing, inspectServer,
  isTlsService, parseCertificate, readCertificates, tlsEndpoint, toPem, verifyChain, type CertificateInfo, type HelloPacing,
  type TlsPolicy,
} from '../../src/protocols/tls';
import {
  HASHES, KEY_FAMILIES, UNJUDGED_KINDS, keyWeaknesses, signatureWeaknesses, type CertificateWeakness, type KeyFamily,
} from '../../src/protocols/x509';

export interface CertificateInputs extends HelloPacing {
  /** PEM file with the CA certificate(s) the component's certificates should chain to (the plant PKI). */
  trustAnchorsFile?: string;
}

const CERT_REQS = ['CR 1.8', 'CR 4.3'];
const SIG_REQS = ['CR 4.3', 'CR 3.1 RE(1)', 'CR 1.8'];

/** The certificates whose signatures a client relies on: all but a self-signed root at the end of a chain. */
function relied(chain: readonly CertificateInfo[]): CertificateInfo[] {
  const last = chain[chain.length - 1];
  return chain.length > 1 && last.selfSigned ? chain.slice(0, -1) : [...chain];
}

/** What the shared X.509 judgement says of the leaf key and of every signature clients rely on. */
export function strengthOf(chain: readonly CertificateInfo[], policy: TlsPolicy): { subject: string; weaknesses: CertificateWeakness[] }[] {
  const leaf = chain[0];
  return relied(chain).map((c) => ({
    subject: c.subject,
    weaknesses: [...(c === leaf ? keyWeaknesses(c, policy.certificate) : []), ...signatureWeaknesses(c, policy.certificate)],
  }));
}

/** Finding names of the strength weaknesses, one per key family and per hash of the X.509 table. */
const keyShort = (family: KeyFamily) => `${family.toLowerCase()}-key-short`;
const keyForbidden = (family: KeyFamily) => `${family.toLowerCase()}-key`;
const signatureForbidden = (hash: string) => `${hash.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-signature`;

/**
 * Every finding tls.certificate can report: the strength names built from the X.509 table (KEY_FAMILIES,
 * HASHES), so that any key family or hash a baseline refuses has a declared name, and the validity checks.
 */
const FINDINGS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(KEY_FAMILIES.flatMap((f) => [
    [keyShort(f), `the certificate's ${f} key is shorter than the baseline's minimum for ${f}`],
    [keyForbidden(f), `the certificate's key is of the family ${f}, which the baseline does not accept`],
  ])),
  ...Object.fromEntries(Object.keys(HASHES).map((h) => [signatureForbidden(h), `a certificate clients rely on is signed with ${h.toUpperCase()}, which the baseline forbids`])),
  expired: 'the certificate or an intermediate has expired',
  'not-yet-valid': 'the certificate or an intermediate is not valid yet',
  'lifetime-too-long': 'the certificate is valid for longer than the baseline allows',
  'self-signed': 'the certificate is self-signed where the baseline asks for a PKI',
  'name-mismatch': 'the certificate does not name the address or host name the service is reached at',
  untrusted: 'the chain does not lead to the profile\'s trust anchors',
};

function strengthFindings(chain: readonly CertificateInfo[], policy: TlsPolicy, evidence: string[]): Finding[] {
  const out: Finding[] = [];
  strengthOf(chain, policy).forEach(({ subject, weaknesses }, i) => {
    const which = i === 0 ? 'the certificate' : `intermediate "${subject}"`;
    for (const w of weaknesses) {
      if (w.kind === 'key-too-short') {
        out.push(finding({ code: keyShort(w.family), severity: w.severity, requirements: CERT_REQS, evidence, message: `${which} has ${w.text}` }));
      } else if (w.kind === 'key-type-forbidden') {
        out.push(finding({ code: keyForbidden(w.family), severity: w.severity, requirements: CERT_REQS, evidence, message: `${which} has ${w.text}` }));
      } else if (w.kind === 'signature-hash-forbidden') {
        out.push(finding({ code: signatureForbidden(w.hash), severity: w.severity, requirements: SIG_REQS, evidence, message: `${which} is ${w.text}` }));
      }
    }
  });
  return out;
}

/** Findings for the served chain under one policy level. Exported for the policy tests. */
export function certificateFindings(
  chain: readonly CertificateInfo[], policy: TlsPolicy, facts: { names: readonly string[]; nameMatches: boolean; trusted: { trusted: boolean; reason: string } | null; now: Date },
  evidence: string[],
): Finding[] {
  const out: Finding[] = strengthFindings(chain, policy, evidence);
  const add = (code: string, severity: Finding['severity'], requirements: string[], message: string) => {
    out.push(finding({ code, severity, requirements, message, evidence }));
  };
  const leaf = chain[0];
  const p = policy.certificate;
  for (const c of relied(chain)) {
    const which = c === leaf ? 'the certificate' : `intermediate "${c.subject}"`;
    if (new Date(c.notAfter) < facts.now) add('expired', 'high', ['CR 1.8'], `${which} expired on ${c.notAfter}`);
    if (new Date(c.notBefore) > facts.now) add('not-yet-valid', 'medium', ['CR 1.8'], `${which} is not valid before ${c.notBefore}`);
  }
  if (p.maxLifetimeDays !== null && leaf.lifetimeDays > p.maxLifetimeDays) {
    add('lifetime-too-long', 'low', ['CR 1.8'], `the certificate is valid for ${leaf.lifetimeDays} days (policy maximum ${p.maxLifetimeDays})`);
  }
  if (leaf.selfSigned && !p.selfSignedAllowed) {
    add('self-signed', 'medium', ['CR 1.8'], `the certificate is self-signed ("${leaf.subject}"), not issued by a PKI`);
  }
  if (p.requireNameMatch && !facts.nameMatches) {
    add('name-mismatch', 'low', ['CR 1.8'], `the certificate does not name ${facts.names.join(' or ')} (SAN: ${leaf.subjectAltNames.join(', ') || 'none'}; subject ${leaf.subject})`);
  }
  if (facts.trusted && !facts.trusted.trusted) {
    add('untrusted', 'medium', ['CR 1.8'], `the chain does not lead to the profile's trust anchors: ${facts.trusted.reason}`);
  }
  return out;
}

/**
 * A key or signature the X.509 table cannot judge is no evidence of strength: the requirements it bears on
 * are left out (not determined) unless a finding fails them anyway.
 */
function withoutUnjudged(judgements: Judgement[], unjudged: readonly CertificateWeakness[], findings: readonly Finding[]): Judgement[] {
  const open = new Set(unjudged.flatMap((w) => (w.kind === 'key-unjudged' ? CERT_REQS : SIG_REQS)));
  return judgements.filter((j) => !open.has(j.requirement) || findings.some((f) => f.severity !== 'info' && f.requirements.includes(j.requirement)));
}

function summary(c: CertificateInfo) {
  return {
    subject: c.subject, issuer: c.issuer, selfSigned: c.selfSigned, keyType: c.keyType, keyBits: c.keyBits,
    signatureAlgorithm: c.signatureAlgorithm, notBefore: c.notBefore, notAfter: c.notAfter, sha256: c.sha256,
    spkiSha256: c.spkiSha256,
  };
}

export default defineProbe<CertificateInputs>({
  id: 'tls.certificate',
  protocol: 'tls',
  title: 'TLS server certificate',
  description:
    'Reads the certificate chain exactly as the service sends it (from the raw hello flight; the TLS 1.3 flight is decrypted '
    + 'for this) and completes one handshake with node:tls. Judges key type and size, signature hash of the leaf and '
    + 'intermediates, validity window and lifetime, self-signed certificates, the name the service is reached at, and (when '
    + 'the profile names trust anchors) the chain of trust, against the TLS baseline of the target SL. The PEM is kept as evidence.',
  requirements: ['CR 1.8', 'CR 4.3', 'CR 3.1 RE(1)'],
  findings: FINDINGS,
  safety: 'passive',
  scope: 'service',
  appliesTo: TLS_CAPABLE_PROTOCOLS,
  when: isTlsService,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        trustAnchorsFile: { type: 'string', description: 'PEM file with the CA certificates the device certificates must chain to' },
        ...HELLO_PACING_SCHEMA,
      },
    },
    defaults: {},
  },
  timeoutMs: 30_000,
  async run(ctx) {
    const service = ctx.service!;
    const endpoint = tlsEndpoint(service);
    const anchors = ctx.inputs.trustAnchorsFile ? readCertificates(ctx.resolvePath(ctx.inputs.trustAnchorsFile)) : null;
    const inspection = await inspectServer(endpoint, { signal: ctx.signal, deadline: ctx.deadline, wait: ctx.wait, ...helloPacing(ctx.inputs) });
    const full = await fullHandshake(endpoint, { signal: ctx.signal, timeoutMs: Math.max(1, Math.min(15_000, ctx.deadline - Date.now())) });
    let chainDer = inspection.certificates;
    let chainSource = inspection.protocol ? `${inspection.protocol} server flight, as sent` : '';
    if ((!chainDer || chainDer.length === 0) && full.ok && full.peerChain.length > 0) {
      chainDer = full.peerChain;
      chainSource = 'node:tls peer chain';
    }
    if (!chainDer || chainDer.length === 0) {
      const message = `${service.host}:${service.port} sent no certificate that could be read (${inspection.notes.join('; ') || 'no server flight'})`;
      throw inspection.unanswered.length > 0 ? new TargetTimeout(message) : new ProtocolViolation(message);
    }
    // Read from a lower version's flight while a better one stayed unanswered, the chain may not be the one clients
    // get; a node:tls handshake serving the same leaf confirms it, otherwise no pass rests on it.
    const unconfirmed = inspection.unanswered.length > 0 && chainSource !== 'node:tls peer chain'
      && !(full.ok && full.peerChain[0]?.equals(chainDer[0]))
      ? `the chain was read from the ${inspection.protocol} flight while ${inspection.unanswered.join('; ')}, and no node:tls handshake confirmed it`
      : undefined;
    const chain = chainDer.map((d) => parseCertificate(d));
    const pemPath = ctx.evidence.save('certificate-chain.pem', chainDer.map((d) => toPem(d)).join(''));
    const names = [...new Set([endpoint.serverName, service.host].filter((n): n is string => typeof n === 'string'))];
    const nameMatches = names.some((n) => certificateMatches(chainDer[0], n));
    const trusted = anchors ? verifyChain(chainDer, anchors) : null;
    const negotiated = full.ok
      ? { protocol: full.protocol, cipher: full.cipher, ...(full.ephemeralKey ? { ephemeralKey: full.ephemeralKey } : {}) }
      : { failed: full.alert ?? full.message };
    const jsonPath = ctx.evidence.save('certificates.json', { chainSource, chain, nameMatches, trusted, negotiated });
    const policy = checkTlsPolicy(ctx.baseline('tls'));
    const findings = certificateFindings(chain, policy, { names, nameMatches, trusted, now: new Date() }, [pemPath, jsonPath]);
    const strength = strengthOf(chain, policy);
    const unjudged = strength.flatMap((c) => c.weaknesses).filter((w) => UNJUDGED_KINDS.has(w.kind));
    const leaf = chain[0];
    return {
      observations: {
        certificate: {
          ...summary(leaf), subjectAltNames: leaf.subjectAltNames, lifetimeDays: leaf.lifetimeDays, serialNumber: leaf.serialNumber,
          ...(leaf.curve ? { curve: leaf.curve } : {}), ocsp: leaf.ocsp, crlDistributionPoints: leaf.crlDistributionPoints,
        },
        chain: chain.map(summary),
        chainSource,
        nameMatches,
        trusted: trusted ? trusted.trusted : null,
        negotiated,
        strength,
        ...(unconfirmed ? { incomplete: { certificate: unconfirmed }, note: `no pass: ${unconfirmed}` } : {}),
        ...(unjudged.length ? { notDetermined: `strength not judged: ${unjudged.map((w) => w.text).join('; ')}` } : {}),
      },
      findings,
      outcomes: judge(withoutUnjudged([
        { requirement: 'CR 1.8', coverage: 'partial', passReason: 'the served certificate is issued by a PKI, valid, names the service and is within the lifetime policy (enrolment and revocation processes need documentation review)' },
        { requirement: 'CR 4.3', coverage: 'partial', passReason: 'key type, key size and signature hash of the served certificate follow the baseline' },
        { requirement: 'CR 3.1 RE(1)', coverage: 'partial', passReason: `no signature hash the baseline forbids (${policy.certificate.forbiddenSignatureHashes.join(', ')}) in the certificates clients rely on` },
      ], unjudged, findings), findings).filter((o) => o.verdict !== 'pass' || !unconfirmed),
    };
  },
});
