import { MissingInput, Transcript, defineProbe, finding, formatTarget, inputsSchema, judge, type Finding } from '../../src/sdk';
import {
  IEC104_COMMON_DEFAULTS, IEC104_COMMON_INPUTS, clientTlsOf, declaredSecureService, endDataTransfer, secureControl, startDataTransfer,
  uOutcomeText, type SecureControl,
} from '../../src/protocols/iec104';

export interface SecurityInputs {
  requestTimeoutMs: number;
  commonAddress: number;
  securePort: number;
}

const REQS = ['CR 3.1', 'CR 4.1'];

export default defineProbe<SecurityInputs>({
  id: 'iec104.security',
  protocol: 'iec104',
  title: 'IEC 62351-3: IEC 104 over TLS declared and verified, and whether the plain port still carries data transfer',
  description:
    'Plain IEC 60870-5-104 has neither integrity nor confidentiality protection; IEC 62351-3 carries it over TLS (port 19998). '
    + 'The probe looks for the declared IEC 62351-3 service of the host (a TLS service with options.iec62351: true, or on the '
    + 'secure port), whose TLS the tls.* probes assess; with the client certificate the profile names there it starts data '
    + 'transfer inside TLS (TESTFR, STARTDT, STOPDT) to verify that IEC 104 is served behind it. On the plain port it sends '
    + 'TESTFR and STARTDT act. Data transfer on the plain port fails CR 3.1 and CR 4.1; a verified IEC 62351-3 service with '
    + 'the plain port hanging up on STARTDT is partial evidence for them (whether allowed masters still use the plain port '
    + 'needs documentation review).',
  requirements: REQS,
  findings: {
    unprotected: 'no IEC 62351-3 service is declared and the plain port carries data transfer without integrity or confidentiality protection',
    'plain-port-open': 'an IEC 62351-3 service is declared, yet the plain port starts data transfer for any client without TLS',
    'secure-control-failed': "the declared IEC 62351-3 service did not start data transfer for the profile's client certificate",
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['iec104'],
  when: (service) => service.transport === 'tcp' && !service.tls,
  locks: (plan) => (plan.service ? [{ key: `iec104:${plan.service.host}`, mode: 'shared' }] : []),
  timeoutMs: 20_000,
  inputs: { schema: inputsSchema(IEC104_COMMON_INPUTS), defaults: { ...IEC104_COMMON_DEFAULTS } },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('iec104.security needs a declared iec104 service');
    const transcript = new Transcript(ctx.evidence, 'iec104-security.txt');
    const options = { signal: ctx.signal, waitMs: ctx.inputs.requestTimeoutMs, transcript };
    const transfer = await startDataTransfer(service, options);
    const stopDt = transfer.started ? await endDataTransfer(transfer.link) : undefined;
    const secure = declaredSecureService(ctx.host.services, service, ctx.inputs.securePort);
    const tlsConfig = secure && clientTlsOf(secure, (f) => ctx.resolvePath(f));
    const control: SecureControl | undefined = secure && tlsConfig ? await secureControl(secure, tlsConfig, options) : undefined;
    const plainStartDt = transfer.started ? 'confirmed' : uOutcomeText(transfer.startDt);
    const record = {
      plainPort: formatTarget(service.host, service.port), plainStartDt, ...(stopDt ? { stopDt } : {}),
      declaredIec62351: secure ? formatTarget(secure.host, secure.port) : null,
      clientCertificate: secure ? (tlsConfig ? String(secure.options.clientCertificate) : null) : undefined,
      secureControl: control ?? null,
    };
    const evidence = [transcript.path, ctx.evidence.save('security.json', record)];
    const findings: Finding[] = [];
    const where = formatTarget(service.host, service.port);
    if (transfer.started && !secure) {
      findings.push(finding({
        code: 'unprotected', severity: 'high', requirements: REQS, evidence,
        message: `No IEC 62351-3 service is declared for this host and ${where} starts data transfer in clear: IEC 104 traffic has neither integrity nor confidentiality protection.`,
      }));
    }
    if (transfer.started && secure) {
      findings.push(finding({
        code: 'plain-port-open', severity: 'high', requirements: REQS, evidence,
        message: `IEC 62351-3 is declared on ${record.declaredIec62351}, yet ${where} starts data transfer for any client without TLS: the protection can be bypassed.`,
      }));
    }
    if (control && control.status !== 'started') {
      findings.push(finding({
        code: 'secure-control-failed', severity: 'info', requirements: REQS, evidence,
        message: `The declared IEC 62351-3 service ${control.target} did not start data transfer for the profile's client certificate (${control.status === 'failed' ? control.reason : `STARTDT ${control.startDt}`}).`,
      }));
    }
    const verified = control?.status === 'started' && !transfer.started;
    const judged = findings.some((f) => f.severity !== 'info') || verified;
    const passReason = `IEC 104 is served over IEC 62351-3 on ${control?.target} (data transfer started with the profile's client certificate; TLS assessed by tls.*) and the plain port hangs up on STARTDT (${plainStartDt})`;
    const notDetermined = judged ? undefined
      : !secure ? 'the plain port hangs up on STARTDT, but no IEC 62351-3 service is declared: whether the outstation protects IEC 104 is not determined'
        : !tlsConfig ? `IEC 62351-3 is declared on ${record.declaredIec62351}, but the profile names no client certificate for it (options clientCertificate / clientPrivateKey): IEC 104 behind its TLS is not verified`
          : 'the declared IEC 62351-3 service did not start data transfer: the protection is not verified';
    return {
      observations: { ...record, ...(notDetermined ? { notDetermined } : {}) },
      findings,
      outcomes: judge(judged ? REQS.map((requirement) => ({ requirement, coverage: 'partial' as const, passReason })) : [], findings),
    };
  },
});
