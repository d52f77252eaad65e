import { MissingInput, Transcript, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  IEC104_COMMON_DEFAULTS, IEC104_COMMON_INPUTS, clientTlsOf, declaredSecureService, endDataTransfer, interrogate, pointsOf,
  secureControl, startDataTransfer, uOutcomeText, type InterrogationResult, type SecureControl,
} from '../../src/protocols/iec104';

export interface IdentificationInputs {
  requestTimeoutMs: number;
  commonAddress: number;
  securePort: number;
}

/** What the general interrogation showed, in the terms nmap iec-identify reports (ASDU address, information objects). */
function summary(gi: InterrogationResult) {
  const types: Record<string, number> = {};
  for (const p of pointsOf(gi)) types[p.type] = (types[p.type] ?? 0) + 1;
  return {
    confirmation: gi.confirmation, end: gi.end, asduAddresses: gi.commonAddresses, informationObjects: gi.objectCount, types,
    ...(gi.unreadable.length > 0 ? { unreadable: gi.unreadable } : {}),
  };
}

export default defineProbe<IdentificationInputs>({
  id: 'iec104.identification',
  protocol: 'iec104',
  title: 'IEC 104 identification: link test, data transfer and the general interrogation (ASDU address, information objects)',
  description:
    'Connects to the IEC 60870-5-104 port and sends TESTFR act, STARTDT act and a station interrogation (C_IC_NA_1, QOI 20, '
    + 'broadcast common address by default) as nmap iec-identify does, reads the confirmation, every response and the '
    + 'termination, then STOPDT. It records the ASDU (common) address, the number of information objects and their types '
    + 'and values. When the plain port hangs up on STARTDT and the profile declares the IEC 62351-3 service with a client '
    + 'certificate, it interrogates there instead. An outstation that reports its process image over a standard interface '
    + 'supports component inventory (CR 7.8, partial: it names no model or firmware). Active: STARTDT starts data '
    + 'transfer on this connection, which an outstation that serves one master at a time may take from the SCADA master.',
  requirements: ['CR 7.8'],
  findings: {
    'interrogation-refused': 'the outstation confirms STARTDT but refuses or does not complete the general interrogation',
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
    if (!service) throw new MissingInput('iec104.identification needs a declared iec104 service');
    const transcript = new Transcript(ctx.evidence, 'iec104-identification.txt');
    const options = { signal: ctx.signal, waitMs: ctx.inputs.requestTimeoutMs, transcript };
    const transfer = await startDataTransfer(service, options);
    let gi: InterrogationResult | undefined;
    let control: SecureControl | undefined;
    let stopDt: string | undefined;
    if (transfer.started) {
      try {
        gi = await interrogate(transfer.link, ctx.inputs.commonAddress);
      } finally {
        stopDt = await endDataTransfer(transfer.link);
      }
    } else {
      const secure = declaredSecureService(ctx.host.services, service, ctx.inputs.securePort);
      const tlsConfig = secure && clientTlsOf(secure, (f) => ctx.resolvePath(f));
      if (secure && tlsConfig) control = await secureControl(secure, tlsConfig, options, { commonAddress: ctx.inputs.commonAddress });
      if (control?.status === 'started') gi = control.interrogation;
    }
    const over = transfer.started ? 'plain' : control?.status === 'started' ? `IEC 62351-3 (${control.target})` : undefined;
    const record = {
      testFrame: transfer.testFrame, startDt: transfer.started ? 'confirmed' : uOutcomeText(transfer.startDt),
      ...(over ? { interrogatedOver: over } : {}), ...(gi ? { interrogation: summary(gi), points: pointsOf(gi) } : {}),
      ...(stopDt ? { stopDt } : {}), ...(control ? { secureControl: control.status === 'started' ? { status: control.status, target: control.target, stopDt: control.stopDt } : control } : {}),
    };
    const evidence = [transcript.path, ctx.evidence.save('identification.json', record)];
    const findings: Finding[] = [];
    const judgements: Judgement[] = [];
    let note: string | undefined;
    if (gi && gi.end === 'actterm' && gi.confirmation === 'positive') {
      judgements.push({
        requirement: 'CR 7.8', coverage: 'partial',
        passReason: `the outstation reports ASDU address ${gi.commonAddresses.join(', ')} and ${gi.objectCount} information objects in a general `
          + `interrogation over ${over} IEC 104, a standard interface inventory tools query (model, firmware and status need documentation review)`,
      });
    } else if (gi) {
      findings.push(finding({
        code: 'interrogation-refused', severity: 'info', requirements: ['CR 7.8'], evidence,
        message: `The outstation confirmed STARTDT but answered the general interrogation with confirmation ${gi.confirmation}, ending ${gi.end}: it does not report its information objects.`,
      }));
    } else {
      note = `the outstation hangs up on STARTDT (${record.startDt}) and ${control ? `the IEC 62351-3 control ${control.status === 'failed' ? `failed: ${control.reason}` : 'did not start data transfer'}` : 'no IEC 62351-3 service with a client certificate is declared'}: what it reports is not determined`;
    }
    return { observations: { ...record, ...(note ? { note } : {}) }, findings, outcomes: judge(judgements, findings) };
  },
});
