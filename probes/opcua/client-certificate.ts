import { defineProbe, finding, judge, type Finding } from '../../src/sdk';
import {
  channelFor, describeCertificate, discoverEndpoints, endpointPath, isOpcuaStatusError, pkcs1v15Decryption, targetOf, throwawayIdentity,
  usableSecureEndpoints, withOpcuaClient, type ClientIdentity, type DiscoveredEndpoint, type OpcuaTarget,
} from '../../src/protocols/opcua';

interface CertificateTest {
  certificate: 'fresh' | 'expired';
  endpoint: string;
  outcome: 'accepted' | 'rejected';
  /** Where the server decided: the OpenSecureChannel, or CreateSession/ActivateSession. */
  stage: 'channel' | 'session';
  status: string;
  /** What happened after the channel opened (anonymous session), when it was tried. */
  session?: string;
}

/** Statuses by which a server refuses an application certificate (rather than a user identity). */
function isCertificateStatus(status: string): boolean {
  return /^BadCertificate|^BadSecurityChecksFailed$|^BadApplicationSignatureInvalid$|^BadSecurityPolicyRejected$/.test(status);
}

async function tryCertificate(
  target: OpcuaTarget, endpoint: DiscoveredEndpoint, identity: ClientIdentity, kind: 'fresh' | 'expired', signal: AbortSignal, deadline: number,
): Promise<CertificateTest> {
  const base = { certificate: kind, endpoint: `${endpoint.securityMode}/${endpoint.securityPolicy}` };
  try {
    const session = await withOpcuaClient(
      target, { signal, deadline, path: endpointPath(endpoint.endpointUrl), security: channelFor(endpoint, identity) },
      async (c) => {
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
    if (isOpcuaStatusError(err, 'channel')) return { ...base, outcome: 'rejected', stage: 'channel', status: err.status };
    throw err;
  }
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
    'offered, a session is tried on an accepted channel. Policies this process cannot run are reported as ' +
    'not tested, with the reason.',
  requirements: ['CR 1.2', 'CR 1.9'],
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

    // The strongest endpoint first, then one endpoint for each other policy (SignAndEncrypt preferred).
    const perPolicy = new Map<string, DiscoveredEndpoint>();
    for (const e of usable) if (!perPolicy.has(e.securityPolicy)) perPolicy.set(e.securityPolicy, e);
    const tests: CertificateTest[] = [];
    for (const endpoint of perPolicy.values()) {
      tests.push(await tryCertificate(target, endpoint, fresh, 'fresh', ctx.signal, ctx.deadline));
    }
    tests.push(await tryCertificate(target, usable[0], expired, 'expired', ctx.signal, ctx.deadline));
    const resultsPath = ctx.evidence.save('client-certificate-tests.json', { tests, notTested, legacyCrypto });

    const findings: Finding[] = [];
    const acceptedFresh = tests.filter((t) => t.certificate === 'fresh' && t.outcome === 'accepted');
    if (acceptedFresh.length > 0) {
      findings.push(finding({
        code: 'opcua.untrusted-certificate-accepted', severity: 'high', requirements: ['CR 1.2', 'CR 1.9'], evidence: [resultsPath, freshPath],
        message: `a self-signed client certificate the server could not know was accepted on ${acceptedFresh.map((t) => t.endpoint).join(', ')}`,
      }));
    }
    const expiredTest = tests[tests.length - 1];
    if (expiredTest.outcome === 'accepted') {
      findings.push(finding({
        code: 'opcua.expired-certificate-accepted', severity: 'high', requirements: ['CR 1.9'], evidence: [resultsPath, expiredPath],
        message: `a client certificate that expired on ${describeCertificate(expired.certificate).notAfter.slice(0, 10)} was accepted on ${expiredTest.endpoint}`,
      }));
    }
    const freshRejected = tests.filter((t) => t.certificate === 'fresh' && t.outcome === 'rejected');
    const outcomes = judge([
      {
        requirement: 'CR 1.2', coverage: 'partial',
        passReason: `unknown client certificate refused (${freshRejected.map((t) => `${t.endpoint}: ${t.status} at ${t.stage}`).join('; ')})`,
      },
      {
        requirement: 'CR 1.9', coverage: 'partial',
        passReason: `unknown and expired client certificates refused (expired: ${expiredTest.status} at ${expiredTest.stage})` +
          (freshRejected.length > 0 ? '; the expired certificate was also unknown, so this does not show that validity is checked for trusted ones' : ''),
      },
    ], findings);
    return {
      observations: {
        tests, notTested, legacyCrypto,
        certificates: { fresh: describeCertificate(fresh.certificate), expired: describeCertificate(expired.certificate) },
      },
      findings,
      outcomes,
    };
  },
});
