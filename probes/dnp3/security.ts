import { MissingInput, Transcript, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement, type ServiceUnderTest } from '../../src/sdk';
import {
  DEFAULT_MASTER_ADDRESS, DNP3_COMMON_INPUTS, FUNCTION, addressesFor, answerText, clearRestartObjects, expectResponse, keyStatusRequestObjects,
  readAnswer, tlsAnswer, withConnection, type Answer, type TlsAnswer,
} from '../../src/protocols/dnp3';

export interface SecurityInputs {
  masterAddress: number;
  outstationAddress?: number;
  requestTimeoutMs: number;
  /** SAv5 user number of the Session Key Status Request (default 1, the default user). */
  user: number;
  /** Send the critical request (a write clearing the restart indication) that SAv5 must challenge (default true). */
  criticalCheck: boolean;
  /** A `tls` service on this port counts as DNP3 over TLS even without `options.dnp3` (default 19999). */
  tlsPort: number;
}

/** Declared TLS services that carry DNP3: `options.dnp3: true`, or the DNP3-over-TLS port. */
export const dnp3TlsServices = (services: readonly ServiceUnderTest[], tlsPort: number) =>
  services.filter((s) => s.protocol === 'tls' && s.transport === 'tcp' && (s.options.dnp3 === true || s.port === tlsPort));

const keyStatusOf = (a: Answer) => (a.status === 'authentication' ? a.objects.find((o) => o.kind === 'key-status') : undefined);

export default defineProbe<SecurityInputs>({
  id: 'dnp3.security',
  protocol: 'dnp3',
  title: 'DNP3 Secure Authentication v5 and DNP3 over TLS',
  description:
    'On the plain DNP3 port: a Session Key Status Request (AUTHENTICATION_REQUEST with g120v4), which an SAv5 outstation '
    + 'answers with g120v5, and one critical request - a WRITE of g80v1 index 7 = 0, clearing the restart indication as '
    + 'every master does after an outstation start - which SAv5 must challenge with g120v1 before executing it. Then a '
    + 'TLS handshake (no client certificate) on each declared DNP3-over-TLS service (IEC 62351-3), to see that it '
    + 'answers as a TLS server; tls.* assess its versions, suites and certificates. A critical request executed without '
    + 'a challenge fails CR 1.2 and CR 3.1; a challenge passes CR 1.2 (partial); CR 3.1 passes (partial) when the '
    + 'challenge is seen and a DNP3-over-TLS port answers.',
  requirements: ['CR 1.2', 'CR 3.1'],
  findings: {
    'critical-request-unauthenticated': 'the outstation executed a critical request (a write) without an SAv5 challenge',
    'sav5-not-supported': 'the outstation answers a Session Key Status Request with "function not supported" or "object unknown"',
    'no-tls': 'no DNP3-over-TLS service is declared next to the plain port',
    'tls-not-answering': 'a declared DNP3-over-TLS service does not answer a TLS handshake',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['dnp3'],
  locks: (plan) => (plan.service ? [{ key: `dnp3:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 20_000,
  inputs: {
    schema: inputsSchema({
      ...DNP3_COMMON_INPUTS,
      user: { type: 'integer', minimum: 0, maximum: 65535 },
      criticalCheck: { type: 'boolean' },
      tlsPort: { type: 'integer', minimum: 1, maximum: 65535 },
    }),
    defaults: { masterAddress: DEFAULT_MASTER_ADDRESS, requestTimeoutMs: 2000, user: 1, criticalCheck: true, tlsPort: 19999 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('dnp3.security needs a declared dnp3 service');
    const { inputs } = ctx;
    const addresses = addressesFor(service, inputs);
    const transcript = new Transcript(ctx.evidence, 'dnp3-security.txt');
    const waitMs = inputs.requestTimeoutMs;
    const { keyStatus, critical } = await withConnection(service, { signal: ctx.signal, waitMs, transcript, ...addresses }, async (conn) => {
      const ks = readAnswer(expectResponse(await conn.request(FUNCTION.authRequest, keyStatusRequestObjects(inputs.user), `session key status request, user ${inputs.user}`), 'a Session Key Status Request', waitMs));
      const cr = inputs.criticalCheck
        ? readAnswer(expectResponse(await conn.request(FUNCTION.write, clearRestartObjects(), 'critical request: write g80v1 index 7 = 0'), 'a write of the restart indication', waitMs))
        : undefined;
      return { keyStatus: ks, critical: cr };
    });
    const declared = dnp3TlsServices(ctx.host.services, inputs.tlsPort);
    const tls: { port: number; answer: TlsAnswer }[] = [];
    for (const s of declared) {
      transcript.note(`TLS handshake on ${s.host}:${s.port}`);
      const answer = await tlsAnswer(s, ctx.signal, waitMs).catch((err: unknown): TlsAnswer => {
        if (ctx.signal.aborted) throw err;
        return { status: 'not-tls', reason: err instanceof Error ? err.message : String(err) };
      });
      transcript.note(`TLS on ${s.port}: ${JSON.stringify(answer)}`);
      tls.push({ port: s.port, answer });
    }
    const ks = keyStatusOf(keyStatus);
    const observations = {
      addresses,
      keyStatus: { answer: answerText(keyStatus), ...(ks ? { object: ks } : {}) },
      criticalRequest: critical ? { request: 'WRITE g80v1 index 7 = 0', answer: answerText(critical), ...(critical.status === 'challenged' ? { challenge: critical.challenge } : {}) } : { sent: false },
      sav5: { keyStatusAnswered: ks !== undefined, criticalChallenged: critical?.status === 'challenged' },
      tls: { declared: declared.map((s) => s.port), answers: tls },
    };
    const evidence = [transcript.path, ctx.evidence.save('security.json', observations)];
    const findings = securityFindings(keyStatus, critical, declared.length, tls, evidence);
    const judgements: Judgement[] = [];
    const challenged = critical?.status === 'challenged';
    const tlsUp = tls.some((t) => t.answer.status === 'tls');
    if (challenged || findings.some((f) => f.requirements.includes('CR 1.2'))) {
      judgements.push({ requirement: 'CR 1.2', coverage: 'partial', passReason: `the outstation challenges a critical request with SAv5 (${critical ? answerText(critical) : ''}) before executing it: it authenticates the master` });
    }
    if ((challenged && tlsUp) || findings.some((f) => f.requirements.includes('CR 3.1'))) {
      judgements.push({
        requirement: 'CR 3.1', coverage: 'partial',
        passReason: `critical requests carry SAv5 MACs and DNP3 over TLS answers on ${tls.filter((t) => t.answer.status === 'tls').map((t) => t.port).join(', ')}`,
      });
    }
    const note = judgements.length === 0 ? { note: 'neither an SAv5 challenge nor a critical request executed without one was seen: CR 1.2 and CR 3.1 are not determined' } : {};
    return { observations: { ...observations, ...note }, findings, outcomes: judge(judgements, findings) };
  },
});

function securityFindings(keyStatus: Answer, critical: Answer | undefined, declared: number, tls: { port: number; answer: TlsAnswer }[], evidence: string[]): Finding[] {
  const findings: Finding[] = [];
  if (critical?.status === 'served') {
    findings.push(finding({
      code: 'critical-request-unauthenticated', severity: 'high', requirements: ['CR 1.2', 'CR 3.1'], evidence,
      message: `The outstation executed a WRITE (a critical request) from a master nobody authenticated, without an SAv5 challenge (${answerText(critical)}).`,
    }));
  }
  if (keyStatus.status === 'not-processed' && keyStatus.iin.some((b) => b === 'no-func-code-support' || b === 'object-unknown')) {
    findings.push(finding({
      code: 'sav5-not-supported', severity: 'medium', requirements: ['CR 1.2', 'CR 3.1'], evidence,
      message: `The outstation answers a Session Key Status Request with ${keyStatus.iin.filter((b) => b !== 'device-restart').join(', ')}: it does not implement Secure Authentication.`,
    }));
  }
  if (declared === 0) {
    findings.push(finding({
      code: 'no-tls', severity: 'low', requirements: ['CR 3.1'], evidence,
      message: 'No DNP3-over-TLS service (IEC 62351-3) is declared for this host: monitoring data and non-critical requests travel without integrity protection.',
    }));
  }
  for (const t of tls.filter((x) => x.answer.status === 'not-tls')) {
    findings.push(finding({
      code: 'tls-not-answering', severity: 'medium', requirements: ['CR 3.1'], evidence,
      message: `The declared DNP3-over-TLS service on ${t.port} does not answer a TLS handshake (${t.answer.status === 'not-tls' ? t.answer.reason : ''}).`,
    }));
  }
  return findings;
}
