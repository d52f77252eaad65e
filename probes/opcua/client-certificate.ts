import { defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  channelFor, clientIdentityFor, describeCertificate, discoverEndpoints, endpointPath, isChannelClosed, isOpcuaStatusError, pkcs1v15Decryption,
  targetOf, throwawayIdentity, usableSecureEndpoints, withOpcuaClient, type ClientIdentity, type DiscoveredEndpoint, type OpcuaTarget,
} from '../../src/protocols/opcua';

interface CertificateTest {
  /** control: the profile's client certificate (else the harness's own), tried only to read a hang-up. */
  certificate: 'fresh' | 'expired' | 'control';
  endpoint: string;
  /**
   * rejected: a certificate status (BadCertificate*, BadSecurityChecksFailed, ...), or a hang-up the control
   * showed to be about the certificate; unanswered: a hang-up or another status, which proves nothing.
   */
  outcome: 'accepted' | 'rejected' | 'unanswered';
  /** Where the server decided: the OpenSecureChannel, or CreateSession/ActivateSession. */
  stage: 'channel' | 'session';
  /** The status, "Good", or "ConnectionClosed" for a hang-up without a status. */
  status: string;
  /** What happened after the channel opened (anonymous session), when it was tried. */
  session?: string;
  /** How an unanswered attempt was read, with the control and the repeated attempt. */
  corroboration?: string;
}

/** Statuses by which a server refuses an application certificate (rather than a user identity or from load). */
function isCertificateStatus(status: string): boolean {
  return /^BadCertificate|^BadSecurityChecksFailed$|^BadApplicationSignatureInvalid$|^BadSecurityPolicyRejected$/.test(status);
}

interface Attempt {
  target: OpcuaTarget;
  signal: AbortSignal;
  deadline: number;
}

/** Opens a channel with `identity`; where Anonymous is offered (and `withSession`), also a session. */
async function tryCertificate(
  at: Attempt, endpoint: DiscoveredEndpoint, identity: ClientIdentity, kind: CertificateTest['certificate'], withSession = true,
): Promise<CertificateTest> {
  const base = { certificate: kind, endpoint: `${endpoint.securityMode}/${endpoint.securityPolicy}` };
  try {
    const session = await withOpcuaClient(
      at.target, { signal: at.signal, deadline: at.deadline, path: endpointPath(endpoint.endpointUrl), security: channelFor(endpoint, identity) },
      async (c) => {
        if (!withSession) return 'not attempted (control)';
        if (!endpoint.userTokens.includes('Anonymous')) return 'not attempted (no Anonymous token on this endpoint)';
        try {
          return await c.withSession({ type: 'anonymous' }, async () => 'activated');
        } catch (err) {
          if (isOpcuaStatusError(err, 'session')) return err.status;
          throw err;
        }
      },
    );
    if (isCertificateStatus(session)) return { ...base, outcome: 'rejected', stage: 'session', status: session };
    return { ...base, outcome: 'accepted', stage: 'channel', status: 'Good', session };
  } catch (err) {
    if (isOpcuaStatusError(err, 'channel')) {
      return { ...base, outcome: isCertificateStatus(err.status) ? 'rejected' : 'unanswered', stage: 'channel', status: err.status };
    }
    if (isChannelClosed(err)) return { ...base, outcome: 'unanswered', stage: 'channel', status: 'ConnectionClosed' };
    throw err;
  }
}

/**
 * An unanswered attempt (a hang-up, or a status that is not about certificates) counts as a refusal only
 * when the control certificate opens a channel on the same endpoint right after it, and the same
 * certificate is turned away the same way once more: then the device tells certificates apart and refuses
 * this one. Otherwise it stays unanswered and supports no verdict.
 */
async function corroborated(
  at: Attempt, endpoint: DiscoveredEndpoint, first: CertificateTest, identity: ClientIdentity,
  control: (endpoint: DiscoveredEndpoint) => Promise<CertificateTest>,
): Promise<CertificateTest> {
  if (first.outcome !== 'unanswered') return first;
  const check = await control(endpoint);
  if (check.outcome !== 'accepted') {
    return { ...first, corroboration: `not read as a refusal: the control certificate could not open a channel on this endpoint either (${check.status})` };
  }
  const again = await tryCertificate(at, endpoint, identity, first.certificate);
  if (again.outcome !== 'unanswered') return { ...again, corroboration: `the first attempt got ${first.status}; the second: ${again.status}` };
  if (again.status !== first.status) return { ...again, corroboration: `not read as a refusal: ${first.status}, then ${again.status}` };
  return { ...again, outcome: 'rejected', corroboration: `${first.status} twice, while the control certificate opened a channel on this endpoint` };
}

function certificateFindings(
  tests: readonly CertificateTest[], expiredTest: CertificateTest, expiredOn: string, evidence: string[], freshPath: string, expiredPath: string,
): Finding[] {
  const findings: Finding[] = [];
  const acceptedFresh = tests.filter((t) => t.certificate === 'fresh' && t.outcome === 'accepted');
  if (acceptedFresh.length > 0) {
    findings.push(finding({
      code: 'untrusted-accepted', severity: 'high', requirements: ['CR 1.2', 'CR 1.9'], evidence: [...evidence, freshPath],
      message: `a self-signed client certificate the server could not know was accepted on ${acceptedFresh.map((t) => t.endpoint).join(', ')}`,
    }));
  }
  if (expiredTest.outcome === 'accepted') {
    findings.push(finding({
      code: 'expired-accepted', severity: 'high', requirements: ['CR 1.9'], evidence: [...evidence, expiredPath],
      message: `a client certificate that expired on ${expiredOn.slice(0, 10)} was accepted on ${expiredTest.endpoint}`,
    }));
  }
  return findings;
}

/**
 * CR 1.2 passes only when every unknown certificate was refused, CR 1.9 only when the expired one was too:
 * an unanswered attempt leaves the row not determined (a finding still fails it).
 */
function answeredJudgements(tests: readonly CertificateTest[], expiredTest: CertificateTest, findings: readonly Finding[]): Judgement[] {
  const freshTests = tests.filter((t) => t.certificate === 'fresh');
  const freshRejected = freshTests.filter((t) => t.outcome === 'rejected');
  const refusal = (t: CertificateTest) => `${t.endpoint}: ${t.status} at ${t.stage}${t.corroboration ? ` (${t.corroboration})` : ''}`;
  const fails = (requirement: string) => findings.some((f) => f.requirements.includes(requirement));
  const judgements: Judgement[] = [];
  if (fails('CR 1.2') || freshTests.every((t) => t.outcome === 'rejected')) {
    judgements.push({ requirement: 'CR 1.2', coverage: 'partial', passReason: `unknown client certificate refused (${freshRejected.map(refusal).join('; ')})` });
  }
  if (fails('CR 1.9') || (expiredTest.outcome === 'rejected' && freshTests.every((t) => t.outcome === 'rejected'))) {
    judgements.push({
      requirement: 'CR 1.9', coverage: 'partial',
      passReason: `unknown and expired client certificates refused (expired: ${refusal(expiredTest)}); the expired certificate was also unknown, `
        + 'so this does not show that validity is checked for trusted ones',
    });
  }
  return judgements;
}

function unansweredReason(unanswered: readonly CertificateTest[], controlSource: string): string {
  return `no answer to ${unanswered.map((t) => `the ${t.certificate} certificate on ${t.endpoint} (${t.status}: ${t.corroboration ?? 'not checked'})`).join('; ')}. `
    + 'A connection closed without a certificate status is not evidence that the server validated and refused the certificate; '
    + `it counts only when the control certificate (${controlSource}) opens a channel on that endpoint and the hang-up repeats. `
    + 'Name a client certificate the device trusts (service options clientCertificate / clientPrivateKey) to tell the two apart. '
    + 'The requirements these attempts bear on are not determined.';
}

export default defineProbe({
  id: 'opcua.client-certificate',
  protocol: 'opcua',
  title: 'OPC UA client certificate validation: unknown and expired application certificates',
  description:
    'Creates a self-signed client application certificate no server can know (new RSA key, made seconds ' +
    'before) and opens a secure channel with it on the strongest Sign/SignAndEncrypt endpoint, then on one ' +
    'endpoint per other offered policy, and once more with a certificate that expired a year ago. A server ' +
    'that validates client certificates refuses both (OpenSecureChannel or CreateSession). Where Anonymous is ' +
    'offered, a session is tried on an accepted channel. Only certificate statuses count as a refusal: a ' +
    'connection closed without a status counts only when a control certificate (the profile\'s, else the ' +
    "harness's own) opens a channel on the same endpoint and the hang-up repeats; otherwise the rows stay " +
    'not determined. Policies this process cannot run are reported as not tested, with the reason.',
  requirements: ['CR 1.2', 'CR 1.9'],
  findings: {
    'untrusted-accepted': 'a self-signed client certificate the server could not know was accepted',
    'expired-accepted': 'a client certificate that expired a year ago was accepted',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['opcua'],
  timeoutMs: 45_000,
  async run(ctx) {
    const service = ctx.service!;
    const target = targetOf(service);
    const endpoints = await discoverEndpoints(target, { signal: ctx.signal, deadline: ctx.deadline });
    const { usable, untestable } = usableSecureEndpoints(endpoints);
    const legacyCrypto = pkcs1v15Decryption();
    const notTested = untestable.map(({ endpoint, reason }) => ({ endpoint: `${endpoint.securityMode}/${endpoint.securityPolicy}`, reason }));
    if (usable.length === 0) {
      return {
        observations: {
          tests: [], notTested, legacyCrypto,
          reason: untestable.length > 0
            ? 'every Sign/SignAndEncrypt endpoint uses a policy this process cannot run (see notTested)'
            : 'no Sign/SignAndEncrypt endpoint: there is no certificate validation to test (see opcua.endpoints)',
        },
        findings: [], outcomes: [],
      };
    }
    const fresh = throwawayIdentity('fresh');
    const expired = throwawayIdentity('expired');
    const freshPath = ctx.evidence.save('client-certificate-fresh.pem', fresh.certificatePem);
    const expiredPath = ctx.evidence.save('client-certificate-expired.pem', expired.certificatePem);
    const at: Attempt = { target, signal: ctx.signal, deadline: ctx.deadline };
    // Read from the profile only when a hang-up needs a control (a broken file must not stop the probe otherwise).
    let controlIdentity: ClientIdentity | undefined;
    const controls = new Map<string, CertificateTest>();
    const control = async (endpoint: DiscoveredEndpoint) => {
      const key = `${endpoint.endpointUrl} ${endpoint.securityMode}/${endpoint.securityPolicy}`;
      controlIdentity ??= clientIdentityFor(service, ctx.resolvePath);
      const known = controls.get(key) ?? await tryCertificate(at, endpoint, controlIdentity, 'control', false);
      controls.set(key, known);
      return known;
    };
    const attempt = async (endpoint: DiscoveredEndpoint, identity: ClientIdentity, kind: 'fresh' | 'expired') =>
      corroborated(at, endpoint, await tryCertificate(at, endpoint, identity, kind), identity, control);

    // The strongest endpoint first, then one endpoint for each other policy (SignAndEncrypt preferred).
    const perPolicy = new Map<string, DiscoveredEndpoint>();
    for (const e of usable) if (!perPolicy.has(e.securityPolicy)) perPolicy.set(e.securityPolicy, e);
    const tests: CertificateTest[] = [];
    for (const endpoint of perPolicy.values()) tests.push(await attempt(endpoint, fresh, 'fresh'));
    const expiredTest = await attempt(usable[0], expired, 'expired');
    tests.push(expiredTest);
    const controlTests = [...controls.values()];
    const controlSource = controlIdentity ? { source: controlIdentity.source, sha1: describeCertificate(controlIdentity.certificate).sha1 } : undefined;
    const resultsPath = ctx.evidence.save('client-certificate-tests.json', { tests, controls: controlTests, controlCertificate: controlSource, notTested, legacyCrypto });

    const findings = certificateFindings(tests, expiredTest, describeCertificate(expired.certificate).notAfter, [resultsPath], freshPath, expiredPath);
    const unanswered = tests.filter((t) => t.outcome === 'unanswered');
    return {
      observations: {
        tests, notTested, legacyCrypto,
        ...(controlSource ? { controls: controlTests, controlCertificate: controlSource } : {}),
        certificates: { fresh: describeCertificate(fresh.certificate), expired: describeCertificate(expired.certificate) },
        ...(unanswered.length > 0 ? { reason: unansweredReason(unanswered, controlSource?.source ?? 'none') } : {}),
      },
      findings,
      outcomes: judge(answeredJudgements(tests, expiredTest, findings), findings),
    };
  },
});
