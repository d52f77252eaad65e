import { MissingInput, ProtocolViolation, Transcript, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  DEFAULT_TSAPS, S7_COMMON_INPUTS, answerText, connectClassic, describeArea, probeS7Plus, readArea, refusalText,
  type AreaAddress, type JobAnswer, type S7PlusProbe,
} from '../../src/protocols/s7';

export interface SecurityInputs {
  tsaps: number[];
  requestTimeoutMs: number;
  /** The area one read-var job asks for to see whether PUT/GET is served (default DB1, 1 byte). */
  putGetArea: AreaAddress;
}

/** PUT/GET is served when the CPU processes the read-var job: data, or an item answer about the object
 * (does not exist, bad address). Refusing the job (0x8104) or the item (0x03) is PUT/GET denied. */
export function putGetServed(a: JobAnswer): boolean {
  return a.status === 'data' || a.status === 'ok' || (a.status === 'item-error' && a.returnCode !== 0x03);
}

function plusSummary(p: S7PlusProbe) {
  return {
    tsap: p.tsap, cotp: p.cotp.status === 'accepted' ? 'accepted' : `refused (${p.cotp.how})`,
    ...(p.initSsl ? { initSsl: p.initSsl } : {}), ...(p.tls ? { tls: p.tls } : {}),
  };
}

export default defineProbe<SecurityInputs>({
  id: 's7.security',
  protocol: 's7',
  title: 'S7 protection in transit: classic S7comm with PUT/GET, S7comm-plus with TLS',
  description:
    'Classic S7comm (ISO-on-TCP, protocol id 0x32) has neither integrity nor confidentiality protection. The probe '
    + 'connects to the classic TSAPs and sends one read-var job (PUT/GET) for a named area, then opens a second '
    + 'connection to the S7comm-plus TSAP "SIMATIC-ROOT-HMI", sends the unencrypted InitSsl request and, when it is '
    + 'accepted, makes a TLS handshake inside COTP as S7-1200 (FW 4.3+) and S7-1500 (FW 2.9+) secure PG/HMI '
    + 'communication does. PUT/GET served over classic S7comm fails CR 3.1 and CR 4.1; TLS on S7comm-plus with PUT/GET '
    + 'refused is partial evidence for them. Nothing is written and no S7comm-plus session is created.',
  requirements: ['CR 3.1', 'CR 4.1'],
  findings: {
    'putget-enabled': 'the CPU serves read-var (PUT/GET) jobs to any peer over classic S7comm, without integrity or confidentiality',
    'tls-not-offered': 'the CPU speaks S7comm-plus but refuses InitSsl or fails the TLS handshake: PG/HMI traffic is not TLS-protected',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['s7'],
  locks: (plan) => (plan.service ? [{ key: `s7:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 20_000,
  inputs: {
    schema: inputsSchema({
      ...S7_COMMON_INPUTS,
      putGetArea: {
        type: 'object', additionalProperties: false, required: ['area', 'offset', 'length'],
        properties: {
          area: { enum: ['db', 'm', 'i', 'q'] }, db: { type: 'integer', minimum: 1, maximum: 65535 },
          offset: { type: 'integer', minimum: 0, maximum: 65535 }, length: { type: 'integer', minimum: 1, maximum: 200 },
        },
      },
    }),
    defaults: { tsaps: [...DEFAULT_TSAPS], requestTimeoutMs: 2000, putGetArea: { area: 'db', db: 1, offset: 0, length: 1 } },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('s7.security needs a declared s7 service');
    const transcript = new Transcript(ctx.evidence, 's7-security.txt');
    const options = { signal: ctx.signal, waitMs: ctx.inputs.requestTimeoutMs, transcript, tsaps: ctx.inputs.tsaps };
    const classic = await connectClassic(service, options);
    let putGet: JobAnswer | undefined;
    if (classic.status === 'accepted') {
      try {
        putGet = await readArea(classic.session, ctx.inputs.putGetArea);
      } finally {
        classic.session.iso.close();
      }
    }
    const plus = await probeS7Plus(service, options);
    const plusSpoken = plus.initSsl?.status === 'response';
    if (classic.status === 'refused' && !plusSpoken) {
      throw new ProtocolViolation(`the service speaks neither classic S7comm (${refusalText(classic.refusals)}) nor S7comm-plus (${plus.cotp.status === 'refused' ? plus.cotp.how : plus.initSsl?.status})`);
    }
    const area = describeArea(ctx.inputs.putGetArea);
    const observations = {
      classic: classic.status === 'accepted'
        ? { offered: true, tsap: `0x${classic.tsap.toString(16).padStart(4, '0')}`, putGet: { area, answer: answerText(putGet!), served: putGetServed(putGet!) } }
        : { offered: false, refusals: classic.refusals },
      s7commPlus: plusSummary(plus),
    };
    const evidence = [transcript.path, ctx.evidence.save('security.json', observations)];
    const findings: Finding[] = [];
    if (putGet && putGetServed(putGet)) {
      findings.push(finding({
        code: 'putget-enabled', severity: 'high', requirements: ['CR 3.1', 'CR 4.1'], evidence,
        message: `The CPU processes read-var jobs (PUT/GET) from any peer over classic S7comm, which has no integrity or confidentiality protection (${area}: ${answerText(putGet)}).`,
      }));
    }
    const tlsUp = plus.tls?.status === 'established';
    if (plusSpoken && !tlsUp) {
      const why = plus.initSsl?.status === 'response' && !plus.initSsl.accepted ? `InitSsl refused (return value ${plus.initSsl.returnValue})` : `TLS handshake failed: ${plus.tls?.reason}`;
      findings.push(finding({
        code: 'tls-not-offered', severity: 'medium', requirements: ['CR 3.1', 'CR 4.1'], evidence,
        message: `The CPU speaks S7comm-plus on ${plus.tsap} but does not protect it with TLS (${why}).`,
      }));
    }
    const judgements: Judgement[] = [];
    let note: string | undefined;
    if (findings.length > 0 || (tlsUp && !(putGet && putGetServed(putGet)))) {
      const reason = `PG/HMI communication negotiates ${plus.tls?.protocol} (${plus.tls?.cipher}) on S7comm-plus, and classic S7comm `
        + `${putGet ? `refuses PUT/GET (${answerText(putGet)})` : 'is not offered'}`;
      judgements.push({ requirement: 'CR 3.1', coverage: 'partial', passReason: reason }, { requirement: 'CR 4.1', coverage: 'partial', passReason: reason });
    } else {
      note = plusSpoken ? 'S7comm-plus answered but its protection could not be established'
        : 'classic S7comm refuses PUT/GET and no S7comm-plus endpoint answers InitSsl: whether engineering traffic on this port is protected is not determined';
    }
    return { observations: { ...observations, ...(note ? { note } : {}) }, findings, outcomes: judge(judgements, findings) };
  },
});
