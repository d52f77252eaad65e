import { ProtocolViolation, defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  checkOpcuaBaseline, describeCertificate, discoverEndpoints, passwordInClear, summaryOf, targetOf, toPem, tokenPolicyOf,
  type CertificateSummary, type DiscoveredEndpoint,
} from '../../src/protocols/opcua';
import { UNJUDGED_KINDS, certificateStrength, parseCertificate, type CertificateWeakness, type KeyStrengthPolicy } from '../../src/protocols/x509';

const CERT_REQS = ['CR 1.9', 'CR 4.3'];

/** The weaknesses the X.509 module judges (the unjudged ones carry no severity and make no finding). */
type JudgedWeakness = Extract<CertificateWeakness, { severity: unknown }>;

/** A finding name for every judged weakness (total, so a new kind cannot go unreported); `findings` lists them. */
const CERTIFICATE_FINDINGS: Record<JudgedWeakness['kind'], { name: string; meaning: string }> = {
  'key-too-short': { name: 'server-certificate-short-key', meaning: "the server certificate's key is below its family's minimum at this SL" },
  'key-type-forbidden': { name: 'server-certificate-key-type', meaning: "the server certificate's key family is forbidden by the baseline" },
  'signature-hash-forbidden': { name: 'server-certificate-weak-hash', meaning: 'the server certificate is signed with a forbidden hash' },
};

/** Findings for the server certificate as the shared X.509 module judged it (the verdict tls.certificate gives). */
function certificateFindings(weaknesses: readonly CertificateWeakness[], evidence: string): Finding[] {
  return weaknesses.flatMap((w) => {
    if (!('severity' in w)) return [];
    const code = CERTIFICATE_FINDINGS[w.kind].name;
    const message = `the server certificate ${w.kind === 'signature-hash-forbidden' ? 'is' : 'has'} ${w.text}`;
    return [finding({ code, severity: w.severity, requirements: CERT_REQS, evidence: [evidence], message })];
  });
}

function judgeCertificate(der: Buffer, policy: KeyStrengthPolicy): CertificateWeakness[] {
  return certificateStrength(parseCertificate(der), policy);
}

function list(endpoints: readonly DiscoveredEndpoint[]): string {
  return endpoints.map((e) => `${e.securityMode}/${e.securityPolicy}`).join(', ');
}

export default defineProbe({
  id: 'opcua.endpoints',
  protocol: 'opcua',
  title: 'OPC UA endpoints: security modes, policies, user tokens, server certificate',
  description:
    'Opens an unsecured channel (the discovery path every OPC UA server offers), sends GetEndpoints and ' +
    'records every endpoint with its security mode, security policy and user token policies, and the ' +
    "server's application certificate. Judges None endpoints, deprecated policies, Anonymous, passwords " +
    "that would cross the network unencrypted against the opcua baseline, and the server certificate's key type, " +
    'key size and signature hash with the same X.509 judgement tls.certificate uses. ' +
    'Never follows the host names the server advertises.',
  requirements: ['CR 1.1', 'CR 1.2', 'CR 1.5', 'CR 1.9', 'CR 2.1', 'CR 3.1', 'CR 4.1', 'CR 4.3'],
  findings: {
    'security-mode-none': 'an endpoint has security mode (or policy) None: messages neither signed nor encrypted',
    'no-secure-endpoint': 'no endpoint offers Sign or SignAndEncrypt',
    'deprecated-policy': "an endpoint or user token policy uses a policy of the baseline's deprecatedPolicies",
    'sign-only-endpoint': 'a Sign-only endpoint (no confidentiality) where the baseline forbids it',
    'anonymous-offered': 'an endpoint offers the Anonymous user token',
    'cleartext-password': 'a UserName token policy lets the password cross the network in clear',
    ...Object.fromEntries(Object.values(CERTIFICATE_FINDINGS).map((f) => [f.name, f.meaning])),
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['opcua'],
  timeoutMs: 15_000,
  async run(ctx) {
    const service = ctx.service!;
    const baseline = checkOpcuaBaseline(ctx.baseline('opcua'));
    const endpoints = await discoverEndpoints(targetOf(service), { signal: ctx.signal, deadline: ctx.deadline });
    if (endpoints.length === 0) throw new ProtocolViolation(`${service.host}:${service.port}: GetEndpoints returned no endpoint`);

    const dump = endpoints.map((e) => ({ ...summaryOf(e), serverCertificate: e.serverCertificate?.toString('base64') ?? null }));
    const dumpPath = ctx.evidence.save('endpoints.json', dump);
    const certificates = new Map<string, { summary: CertificateSummary; path: string; weaknesses: CertificateWeakness[] }>();
    for (const e of endpoints) {
      if (!e.serverCertificate) continue;
      const summary = describeCertificate(e.serverCertificate);
      if (certificates.has(summary.sha256)) continue;
      const path = ctx.evidence.save(certificates.size === 0 ? 'server-certificate.pem' : `server-certificate-${certificates.size + 1}.pem`, toPem(e.serverCertificate));
      certificates.set(summary.sha256, { summary, path, weaknesses: judgeCertificate(e.serverCertificate, baseline.serverCertificate) });
    }
    const certs = [...certificates.values()];
    const secure = endpoints.filter((e) => e.securityMode === 'Sign' || e.securityMode === 'SignAndEncrypt');

    const findings: Finding[] = [];
    const none = endpoints.filter((e) => e.securityMode === 'None' || e.securityPolicy === 'None');
    if (none.length > 0) {
      findings.push(finding({
        code: 'security-mode-none', severity: 'high', requirements: ['CR 3.1', 'CR 4.1'], evidence: [dumpPath],
        message: `${none.length} endpoint(s) offer security mode None: messages are neither signed nor encrypted`,
      }));
    }
    if (secure.length === 0) {
      findings.push(finding({
        code: 'no-secure-endpoint', severity: 'high', requirements: ['CR 1.2'], evidence: [dumpPath],
        message: 'no endpoint offers Sign or SignAndEncrypt: neither the server nor its clients authenticate with certificates',
      }));
    }
    const isDeprecated = (p: string | null): p is string => p !== null && baseline.deprecatedPolicies.includes(p);
    const deprecated = endpoints.filter((e) => isDeprecated(e.securityPolicy));
    const deprecatedTokens = endpoints.flatMap((e) => e.userTokenPolicies.filter((t) => isDeprecated(t.securityPolicy)));
    if (deprecated.length > 0 || deprecatedTokens.length > 0) {
      const policies = [...new Set([...deprecated.map((e) => e.securityPolicy), ...deprecatedTokens.map((t) => t.securityPolicy as string)])];
      findings.push(finding({
        code: 'deprecated-policy', severity: 'medium', requirements: ['CR 4.3'], evidence: [dumpPath],
        message: `deprecated security policies offered: ${policies.join(', ')}` +
          (deprecated.length ? ` (endpoints ${list(deprecated)})` : '') +
          (deprecatedTokens.length ? ` (${deprecatedTokens.length} user token policies encrypt with them)` : ''),
      }));
    }
    if (!baseline.signOnlyAllowed) {
      const signOnly = endpoints.filter((e) => e.securityMode === 'Sign');
      if (signOnly.length > 0) {
        findings.push(finding({
          code: 'sign-only-endpoint', severity: 'medium', requirements: ['CR 4.1'], evidence: [dumpPath],
          message: `endpoints with security mode Sign (integrity, no confidentiality) at this security level: ${list(signOnly)}`,
        }));
      }
    }
    const anonymous = endpoints.filter((e) => e.userTokens.includes('Anonymous'));
    if (anonymous.length > 0) {
      findings.push(finding({
        code: 'anonymous-offered', severity: 'high', requirements: ['CR 1.1', 'CR 2.1'], evidence: [dumpPath],
        message: `the Anonymous user token is offered on ${anonymous.length} endpoint(s): ${list(anonymous)}`,
      }));
    }
    const clear = endpoints.flatMap((e) => e.userTokenPolicies.filter((t) => passwordInClear(e, t)).map((t) => ({ e, t })));
    if (clear.length > 0) {
      findings.push(finding({
        code: 'cleartext-password', severity: 'high', requirements: ['CR 1.5', 'CR 4.1'], evidence: [dumpPath],
        message: 'UserName token policies without encryption on unencrypted channels (the password crosses the network in clear): ' +
          clear.map(({ e, t }) => `${t.policyId} on ${e.securityMode}/${e.securityPolicy}`).join(', '),
      }));
    }
    for (const { path, weaknesses } of certs) findings.push(...certificateFindings(weaknesses, path));
    const unjudged = certs.flatMap((c) => c.weaknesses.filter((w) => UNJUDGED_KINDS.has(w.kind)));

    const judgements: Judgement[] = [
      { requirement: 'CR 1.1', coverage: 'partial', passReason: 'no endpoint offers the Anonymous user token' },
      { requirement: 'CR 2.1', coverage: 'partial', passReason: 'no endpoint offers the Anonymous user token' },
      { requirement: 'CR 1.2', coverage: 'partial', passReason: `the server authenticates with its application certificate on ${secure.length} Sign/SignAndEncrypt endpoint(s)` },
      { requirement: 'CR 1.5', coverage: 'partial', passReason: 'every UserName token policy encrypts the password or runs on an encrypted channel' },
      { requirement: 'CR 3.1', coverage: 'partial', passReason: 'every endpoint signs its messages (no security mode None)' },
      { requirement: 'CR 4.1', coverage: 'partial', passReason: 'no security mode None and no password in clear' + (baseline.signOnlyAllowed ? '' : '; no Sign-only endpoint') },
      { requirement: 'CR 4.3', coverage: 'partial', passReason: 'only current security policies' + (certs.length ? ' and a strong server certificate' : '') },
    ];
    if (certs.length > 0) {
      // A certificate whose key or signature the X.509 table cannot judge leaves CR 1.9 open (and CR 4.3,
      // unless a finding fails it anyway): no evidence, no pass.
      judgements.push({
        requirement: 'CR 1.9', coverage: 'partial',
        passReason: `server certificate ${certs.map((c) => `${c.summary.keyType} ${c.summary.keyBits ?? '?'} bits, ${c.summary.signatureAlgorithm}`).join('; ')}`,
      });
    }
    const open = unjudged.length > 0 ? new Set(CERT_REQS) : new Set<string>();
    const decided = judgements.filter((j) => !open.has(j.requirement) || findings.some((f) => f.severity !== 'info' && f.requirements.includes(j.requirement)));

    return {
      observations: {
        endpoints: endpoints.map(summaryOf),
        connectedTo: `${service.host}:${service.port}`,
        advertisedHosts: [...new Set(endpoints.map((e) => /^opc\.tcp:\/\/(\[[^\]]*\]|[^:/]*)/i.exec(e.endpointUrl)?.[1] ?? e.endpointUrl))],
        application: endpoints[0].server,
        certificate: certs[0]?.summary ?? null,
        ...(certs.length > 1 ? { certificates: certs.map((c) => c.summary) } : {}),
        strength: certs.map((c) => ({ subject: c.summary.subject, weaknesses: c.weaknesses })),
        ...(unjudged.length ? { notDetermined: `server certificate strength not judged: ${unjudged.map((w) => w.text).join('; ')}` } : {}),
        tokenPolicies: endpoints.flatMap((e) => e.userTokenPolicies.map((t) => ({
          endpoint: `${e.securityMode}/${e.securityPolicy}`, policyId: t.policyId, tokenType: t.tokenType, encryptedWith: tokenPolicyOf(e, t),
        }))),
      },
      findings,
      outcomes: judge(decided, findings),
    };
  },
});
