import {
  MissingInput, TargetUnreachable, Transcript, defineProbe, finding, formatTarget, judge, type Finding, type ProbeContext, type ServiceUnderTest,
} from '../../src/sdk';
import { probeDtls, type DtlsProbe } from '../../src/protocols/dtls';
import {
  CIP_CLASSES, CIP_SERVICES, ENIP_SECURE_PORT, EnipConnection, SECURITY_STATE_CONFIGURED, STATUS, describeAnswer, encodeCipRequest, expectEnip,
  listIdentity, securityStateName, sendRRData, tryExplicitMessaging, type CipSecurityInfo, type ExplicitAccess,
} from '../../src/protocols/enip';

export interface SecurityInputs {
  requestTimeoutMs: number;
  /** The CIP Security port looked for among the declared services (default 2221). */
  securePort: number;
  dtlsTimeoutMs: number;
  dtlsRetries: number;
}

const REQS = ['CR 1.2', 'CR 3.1', 'CR 4.1'];

/**
 * The declared CIP Security services of the host: marked `options.cipSecurity: true`, or on the secure port.
 * Only declared services are ever contacted: the scope is the declared communication matrix.
 */
export function secureServices(services: readonly ServiceUnderTest[], securePort: number): { tls?: ServiceUnderTest; dtls?: ServiceUnderTest } {
  const secure = (s: ServiceUnderTest) => s.options.cipSecurity === true || s.port === securePort;
  return {
    tls: services.find((s) => s.transport === 'tcp' && s.tls && secure(s)),
    dtls: services.find((s) => s.transport === 'udp' && secure(s)),
  };
}

interface PlainPort {
  security?: CipSecurityInfo;
  listIdentity: string;
  access: ExplicitAccess;
  /** State attribute of the CIP Security object (0x5D), read in the session when there was one. */
  securityObjectState?: number | string;
}

async function examinePlainPort(ctx: ProbeContext<SecurityInputs>, transcript: Transcript): Promise<PlainPort> {
  const wait = ctx.inputs.requestTimeoutMs;
  const conn = await EnipConnection.open(ctx.service!, { signal: ctx.signal, transcript });
  try {
    const li = expectEnip(await listIdentity(conn, wait), 'ListIdentity');
    const access = await tryExplicitMessaging(conn, wait);
    const out: PlainPort = { ...(li.status === 'ok' && li.value.security ? { security: li.value.security } : {}), listIdentity: describeAnswer(li), access };
    if ('session' in access && access.session !== undefined && !conn.isClosed) {
      const state = await sendRRData(conn, access.session, encodeCipRequest(CIP_SERVICES.getAttributeSingle, { classId: CIP_CLASSES.cipSecurity, instance: 1, attribute: 1 }), wait, 'Get_Attribute_Single: CIP Security object, instance 1, attribute 1 (State)');
      out.securityObjectState = state.status === 'ok' && state.value.generalStatus === STATUS.success && state.value.data.length >= 1 ? state.value.data[0]
        : state.status === 'ok' ? `general status 0x${state.value.generalStatus.toString(16)}` : describeAnswer(state);
    }
    return out;
  } finally {
    conn.close();
  }
}

/** DTLS on the declared UDP service; an ICMP port-unreachable there is an answer about that port, not an error of this attempt. */
async function examineDtls(ctx: ProbeContext<SecurityInputs>, service: ServiceUnderTest, transcript: Transcript): Promise<DtlsProbe | { kind: 'unreachable' }> {
  try {
    return await probeDtls(service, { signal: ctx.signal, timeoutMs: ctx.inputs.dtlsTimeoutMs, retries: ctx.inputs.dtlsRetries, transcript });
  } catch (err) {
    if (err instanceof TargetUnreachable) return { kind: 'unreachable' };
    throw err;
  }
}

/** Who says CIP Security is on: the profile (a declared secure service), ListIdentity, the CIP Security object. */
function claims(plain: PlainPort, declared: { tls?: ServiceUnderTest; dtls?: ServiceUnderTest }): string[] {
  const out: string[] = [];
  if (declared.tls) out.push(`the profile declares TLS on ${declared.tls.port}/tcp`);
  if (declared.dtls) out.push(`the profile declares DTLS on ${declared.dtls.port}/udp`);
  const s = plain.security;
  if (s && (s.cipSecurityState === SECURITY_STATE_CONFIGURED || s.enipSecurityState === SECURITY_STATE_CONFIGURED)) {
    out.push(`ListIdentity reports CIP Security ${securityStateName(s.cipSecurityState)}, EtherNet/IP Security ${securityStateName(s.enipSecurityState)}`);
  }
  if (plain.securityObjectState === SECURITY_STATE_CONFIGURED) out.push('the CIP Security object (0x5D) reports state configured');
  return out;
}

export default defineProbe<SecurityInputs>({
  id: 'enip.security',
  protocol: 'enip',
  title: 'CIP Security: EtherNet/IP over TLS/DTLS, and whether the plain port still serves explicit messaging',
  description:
    'Reads the CIP Security Information item of ListIdentity on the declared plain EtherNet/IP port, tries RegisterSession and the '
    + 'Identity object there with no authentication, and reads the CIP Security object (class 0x5D) state when a session is granted. '
    + 'Sends one DTLS ClientHello to a declared UDP CIP Security service (options.cipSecurity: true, or the secure port 2221). '
    + 'TLS on the declared TCP CIP Security service is assessed by the tls.* probes. A device that claims CIP Security (profile, '
    + 'ListIdentity or the 0x5D object) yet serves explicit messages on the plain port lets any peer bypass it.',
  requirements: REQS,
  findings: {
    unavailable: 'neither the profile nor the device shows CIP Security: EtherNet/IP peers are neither authenticated nor protected in transit',
    'plain-port-open': 'the device claims CIP Security yet serves explicit messages on the plain port without TLS',
    'dtls-not-detected': 'the declared DTLS service gave no DTLS answer to a ClientHello',
    'secure-port-undeclared': 'the device reports CIP Security but the profile declares no TLS service for it, so tls.* did not assess it',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['enip'],
  when: (service) => service.transport === 'tcp' && !service.tls,
  locks: (plan) => (plan.service ? [{ key: `enip:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 30_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 }, securePort: { type: 'integer', minimum: 1, maximum: 65535 },
        dtlsTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 }, dtlsRetries: { type: 'integer', minimum: 0, maximum: 5 },
      },
    },
    defaults: { requestTimeoutMs: 2000, securePort: ENIP_SECURE_PORT, dtlsTimeoutMs: 1000, dtlsRetries: 1 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('enip.security needs a declared enip service');
    const transcript = new Transcript(ctx.evidence, 'enip-security.txt');
    const declared = secureServices(ctx.host.services.filter((s) => s !== service && s.port !== service.port), ctx.inputs.securePort);
    const plain = await examinePlainPort(ctx, transcript);
    const dtls = declared.dtls ? await examineDtls(ctx, declared.dtls, transcript) : undefined;
    const claimedBy = claims(plain, declared);
    const record = {
      plainPort: formatTarget(service.host, service.port), listIdentity: plain.listIdentity, cipSecurityItem: plain.security ?? null,
      explicitMessaging: plain.access, securityObjectState: plain.securityObjectState ?? null, claimedBy,
      declaredTls: declared.tls ? formatTarget(declared.tls.host, declared.tls.port) : null,
      declaredDtls: declared.dtls ? formatTarget(declared.dtls.host, declared.dtls.port) : null, dtls: dtls ?? null,
    };
    const evidence = [transcript.path, ctx.evidence.save('security.json', record)];
    const findings = findingsOf(service, plain, declared, dtls, claimedBy, evidence);
    const refused = plain.access.result === 'session-refused' || plain.access.result === 'message-refused';
    // A pass needs all three: CIP Security on, its TLS service declared (so tls.* assess it), and the plain port's own refusal.
    const judged = findings.some((f) => f.severity !== 'info') || (claimedBy.length > 0 && declared.tls !== undefined && refused);
    const passReason = `CIP Security is on (${claimedBy.join('; ')}), TLS on ${declared.tls?.port}/tcp is assessed by tls.*, and the plain port refuses explicit messaging`;
    return {
      observations: {
        ...record, explicitMessaging: plain.access.result,
        ...(judged ? {} : { notDetermined: plain.access.result === 'unclear' ? `the plain port's answer proves nothing: ${plain.access.reason}` : 'CIP Security is claimed but its TLS service is not declared' }),
      },
      findings,
      outcomes: judge(judged ? REQS.map((requirement) => ({ requirement, coverage: 'partial' as const, passReason })) : [], findings),
    };
  },
});

function findingsOf(service: ServiceUnderTest, plain: PlainPort, declared: { tls?: ServiceUnderTest; dtls?: ServiceUnderTest }, dtls: Awaited<ReturnType<typeof examineDtls>> | undefined, claimedBy: string[], evidence: string[]): Finding[] {
  const where = formatTarget(service.host, service.port);
  const findings: Finding[] = [];
  if (claimedBy.length === 0) {
    findings.push(finding({
      code: 'unavailable', severity: 'medium', requirements: REQS, evidence,
      message: `Neither the profile nor the device (ListIdentity${plain.securityObjectState !== undefined ? ', CIP Security object' : ''}) shows CIP Security for ${where}: `
        + 'EtherNet/IP peers are neither authenticated nor protected in transit (CIP Security, or a documented compensating countermeasure, is needed).',
    }));
  } else if (plain.access.result === 'served') {
    findings.push(finding({
      code: 'plain-port-open', severity: 'high', requirements: REQS, evidence,
      message: `The device claims CIP Security (${claimedBy.join('; ')}) yet ${where} registered a session and served the Identity object without TLS: any peer bypasses CIP Security there.`,
    }));
  }
  if (declared.dtls && dtls && dtls.kind !== 'dtls') {
    const what = dtls.kind === 'no-answer' ? 'no answer' : dtls.kind === 'unreachable' ? 'ICMP port unreachable' : `an answer that is not DTLS (${dtls.reason})`;
    findings.push(finding({ code: 'dtls-not-detected', severity: 'info', requirements: ['CR 3.1'], evidence, message: `The declared DTLS service ${formatTarget(declared.dtls.host, declared.dtls.port)} gave ${what} to a DTLS 1.2 ClientHello.` }));
  }
  const reportsTls = plain.security?.openPorts.includes('2221/tcp') === true;
  if (!declared.tls && (reportsTls || claimedBy.length > 0)) {
    findings.push(finding({ code: 'secure-port-undeclared', severity: 'info', requirements: ['CR 3.1'], evidence, message: `The device reports CIP Security${reportsTls ? ' with 2221/tcp open' : ''}, but the profile declares no TLS service for it: declare it ({ port: 2221, protocol: tls }) so that tls.* assess it.` }));
  }
  return findings;
}
