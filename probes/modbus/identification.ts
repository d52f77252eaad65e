import {
  MissingInput, ProtocolViolation, TargetTimeout, Transcript, defineProbe, finding, judge,
  type Finding, type Judgement,
} from '../../src/sdk';
import {
  readDeviceIdentification, withModbusClient, withRawModbus, type DeviceIdCategory, type DeviceIdReply,
} from '../../src/protocols/modbus';

export interface IdentificationInputs {
  requestTimeoutMs: number;
}

const BASIC = ['vendorName', 'productCode', 'majorMinorRevision'] as const;

function summary(reply: DeviceIdReply): Record<string, unknown> {
  if (reply.status !== 'ok') return reply;
  return {
    status: 'ok', conformityLevel: `0x${reply.conformityLevel.toString(16).padStart(2, '0')}`, requests: reply.requests,
    objects: Object.fromEntries(reply.objects.map((o) => [o.name, o.text])),
  };
}

const contains = (haystack: string | undefined, needle: string | undefined) =>
  needle === undefined || (haystack ?? '').toLowerCase().includes(needle.toLowerCase());

/** Where the identity the device reports disagrees with the profile's component (vendor, model, firmware). */
export function identityMismatches(identity: Record<string, string>, component: { vendor?: string; model?: string; firmware?: string }): string[] {
  const product = [identity.productCode, identity.productName, identity.modelName].filter(Boolean).join(' ');
  return [
    !contains(identity.vendorName, component.vendor) && `vendor "${identity.vendorName}" (profile: "${component.vendor}")`,
    !contains(product, component.model) && `product "${product}" (profile model: "${component.model}")`,
    !contains(identity.majorMinorRevision, component.firmware) && `revision "${identity.majorMinorRevision}" (profile firmware: "${component.firmware}")`,
  ].filter((m): m is string => typeof m === 'string');
}

export default defineProbe<IdentificationInputs>({
  id: 'modbus.identification',
  protocol: 'modbus',
  title: 'Modbus Read Device Identification (43/14): what the device reports about itself',
  description:
    'Sends Read Device Identification (function 43, MEI 14) for the basic objects (vendor name, product code, '
    + 'revision) and the regular objects (vendor URL, product name, model name, user application name) at the declared '
    + 'unit id, following "more follows" for at most 8 requests. A device that reports its identity over a standard '
    + 'protocol supports component inventory (CR 7.8, partial: status reporting needs documentation review). When it '
    + 'does not answer, one normal read tells a device that ignores 43/14 from one that answers nothing.',
  requirements: ['CR 7.8'],
  findings: {
    unsupported: 'Read Device Identification (43/14) gets an exception, silence or a malformed answer while ordinary reads work',
    incomplete: 'the answer lacks a mandatory basic object (vendor name, product code, revision)',
    'identity-mismatch': "the reported vendor, product or revision differs from the profile's component",
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['modbus'],
  locks: (plan) => (plan.service ? [{ key: `modbus:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 15_000,
  inputs: {
    schema: { type: 'object', additionalProperties: false, properties: { requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 } } },
    defaults: { requestTimeoutMs: 2000 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('modbus.identification needs a declared modbus service');
    const unitId = service.unitId ?? 1;
    const wait = ctx.inputs.requestTimeoutMs;
    const transcript = new Transcript(ctx.evidence, 'modbus-identification.txt');
    const read = (category: DeviceIdCategory) => withRawModbus(service, { signal: ctx.signal, transcript }, async (conn) => {
      transcript.note(`Read Device Identification, ${category} objects, unit ${unitId}`);
      return readDeviceIdentification(conn, unitId, category, wait);
    });
    const basic = await read('basic');
    if (basic.status === 'not-modbus') throw new ProtocolViolation(`the service does not speak Modbus/TCP: ${basic.reason}`);
    const regular = await read('regular');
    if (regular.status === 'not-modbus') throw new ProtocolViolation(`the service does not speak Modbus/TCP: ${regular.reason}`);

    let normalRead: string | undefined;
    if (basic.status === 'no-answer' || basic.status === 'closed') {
      // Silence could mean "43/14 not implemented" or "nothing answers": one ordinary read tells which.
      const reply = await withModbusClient(service, { signal: ctx.signal, unitId, requestTimeoutMs: wait, transcript }, (s) => s.read('holding-registers', 0, 1));
      if (reply.status === 'no-answer') throw new TargetTimeout(`unit ${unitId} answers neither 43/14 nor a holding-register read within ${wait} ms`);
      if (reply.status === 'closed') throw new ProtocolViolation(`the device ${reply.reset ? 'resets' : 'closes'} the connection on 43/14 and on a holding-register read`);
      normalRead = reply.status === 'ok' ? 'data' : `exception ${reply.code}`;
    }

    const objects = new Map<string, string>();
    for (const reply of [basic, regular]) {
      if (reply.status === 'ok') for (const o of reply.objects) if (!objects.has(o.name)) objects.set(o.name, o.text);
    }
    const identity = Object.fromEntries(objects);
    const evidence = [transcript.path, ctx.evidence.save('identification.json', { unitId, basic, regular, normalRead })];
    const findings: Finding[] = [];
    const judgements: Judgement[] = [];
    const missing = BASIC.filter((name) => !objects.get(name)?.trim());
    if (basic.status !== 'ok') {
      const what = basic.status === 'exception' ? `exception ${basic.code} (${basic.name})`
        : basic.status === 'invalid' ? `a malformed answer (${basic.reason})` : `no answer (${basic.status}) while an ordinary read answered`;
      findings.push(finding({
        code: 'unsupported', severity: 'info', requirements: ['CR 7.8'], evidence,
        message: `Read Device Identification (43/14) gets ${what}: the device does not identify itself over Modbus; inventory needs another interface.`,
      }));
    } else if (missing.length > 0) {
      findings.push(finding({
        code: 'incomplete', severity: 'info', requirements: ['CR 7.8'], evidence,
        message: `Read Device Identification answers without the mandatory basic object(s) ${missing.join(', ')}.`,
      }));
    } else {
      const mismatches = identityMismatches(identity, ctx.component);
      if (mismatches.length > 0) {
        findings.push(finding({
          code: 'identity-mismatch', severity: 'info', requirements: ['CR 7.8'], evidence,
          message: `The device identifies itself differently from the profile: ${mismatches.join('; ')}.`,
        }));
      }
      judgements.push({
        requirement: 'CR 7.8', coverage: 'partial',
        passReason: `the device reports vendor "${identity.vendorName}", product code "${identity.productCode}" and revision `
          + `"${identity.majorMinorRevision}" over Modbus 43/14, a standard interface inventory tools query (device status reporting needs documentation review)`,
      });
    }
    return {
      observations: { unitId, basic: summary(basic), regular: summary(regular), identity, ...(normalRead ? { normalRead } : {}) },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
