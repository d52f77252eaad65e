import { MissingInput, Transcript, defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  OBJECT_TYPE, PROPERTY, describeAnswer, locateDevice, readProperty, shownValue, withBacnet, type BacnetAnswer, type BacnetValue,
} from '../../src/protocols/bacnet';

export interface IdentificationInputs {
  requestTimeoutMs: number;
  /** Tries after the first on silence. */
  udpRetries: number;
}

/** Device object properties read, by the observation key they fill (nmap bacnet-info's facts, and the serial number). */
const FIELDS: readonly [string, number][] = [
  ['vendorId', PROPERTY.vendorIdentifier], ['vendorName', PROPERTY.vendorName], ['modelName', PROPERTY.modelName],
  ['firmwareRevision', PROPERTY.firmwareRevision], ['applicationSoftwareVersion', PROPERTY.applicationSoftwareVersion],
  ['objectName', PROPERTY.objectName], ['description', PROPERTY.description], ['location', PROPERTY.location],
  ['serialNumber', PROPERTY.serialNumber],
];

const contains = (haystack: unknown, needle: string | undefined) =>
  needle === undefined || (typeof haystack === 'string' && haystack.toLowerCase().includes(needle.toLowerCase()));

/** Where the device object disagrees with the profile's component: model name, firmware revision, serial number (when read). */
export function identityMismatches(identity: Record<string, unknown>, component: { model?: string; firmware?: string; serial?: string }): string[] {
  return [
    !contains(identity.modelName, component.model) && `model name "${String(identity.modelName)}" (profile model: "${component.model}")`,
    !contains(identity.firmwareRevision, component.firmware) && `firmware revision "${String(identity.firmwareRevision)}" (profile: "${component.firmware}")`,
    identity.serialNumber !== undefined && !contains(identity.serialNumber, component.serial) && `serial number "${String(identity.serialNumber)}" (profile: "${component.serial}")`,
  ].filter((m): m is string => typeof m === 'string');
}

export default defineProbe<IdentificationInputs>({
  id: 'bacnet.identification',
  protocol: 'bacnet',
  title: 'BACnet device object: vendor, model, firmware, name and location',
  description:
    'Sends ReadProperty requests as unicast datagrams to the declared BACnet/IP service (never a broadcast): the object '
    + 'identifier of the wildcard device 4194303 (falling back to a unicast Who-Is), then the device object\'s vendor '
    + 'identifier and name, model name, firmware revision, application software version, object name, description, '
    + 'location and serial number - the facts nmap bacnet-info reports. A device that reports vendor, model and firmware '
    + 'over a standard protocol supports component inventory (CR 7.8, partial: status reporting needs documentation review).',
  requirements: ['CR 7.8'],
  findings: {
    'no-identity': 'the device speaks BACnet/IP but refuses to name its device object (wildcard ReadProperty and Who-Is)',
    incomplete: 'the device object lacks the vendor, the model name or the firmware revision',
    'identity-mismatch': "the reported model name, firmware revision or serial number differs from the profile's component",
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['bacnet'],
  when: (service) => service.transport === 'udp' && !service.tls,
  locks: (plan) => (plan.service ? [{ key: `bacnet:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 20_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: { requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 }, udpRetries: { type: 'integer', minimum: 0, maximum: 5 } },
    },
    defaults: { requestTimeoutMs: 1000, udpRetries: 1 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('bacnet.identification needs a declared bacnet service');
    const transcript = new Transcript(ctx.evidence, 'bacnet-identification.txt');
    const options = { signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs, retries: ctx.inputs.udpRetries, transcript };
    const { located, answers } = await withBacnet(service, options, async (client) => {
      const found = await locateDevice(client);
      const read: Record<string, BacnetAnswer<BacnetValue[]>> = {};
      if (found.device) {
        for (const [key, property] of FIELDS) read[key] = await readProperty(client, { objectType: OBJECT_TYPE.device, instance: found.device.instance, property });
      }
      return { located: found, answers: read };
    });
    const identity: Record<string, unknown> = {};
    const refused: Record<string, string> = {};
    for (const [key, answer] of Object.entries(answers)) {
      if (answer.status === 'ack') identity[key] = shownValue(answer);
      else refused[key] = describeAnswer(answer);
    }
    const evidence = [transcript.path, ctx.evidence.save('identification.json', { located, answers, identity })];
    const findings: Finding[] = [];
    const judgements: Judgement[] = [];
    const observations: Record<string, unknown> = { wildcard: describeAnswer(located.wildcard), ...(located.whoIs ? { whoIs: located.whoIs } : {}) };
    if (!located.device) {
      findings.push(finding({
        code: 'no-identity', severity: 'info', requirements: ['CR 7.8'], evidence,
        message: `The device answers BACnet/IP but names no device object (wildcard ReadProperty: ${describeAnswer(located.wildcard)}; Who-Is: ${located.whoIs ?? 'not sent'}); inventory needs another interface.`,
      }));
      return { observations, findings, outcomes: [] };
    }
    Object.assign(observations, { deviceInstance: located.device.instance, instanceVia: located.device.via, identity, ...(Object.keys(refused).length ? { refused } : {}) });
    const text = (k: string) => typeof identity[k] === 'string' && identity[k] !== '';
    const missing = [
      !text('vendorName') && typeof identity.vendorId !== 'number' && 'vendor-name and vendor-identifier',
      !text('modelName') && 'model-name', !text('firmwareRevision') && 'firmware-revision',
    ].filter((m): m is string => typeof m === 'string');
    if (missing.length > 0) {
      findings.push(finding({ code: 'incomplete', severity: 'info', requirements: ['CR 7.8'], evidence, message: `The device object lacks ${missing.join(', ')}.` }));
    } else {
      const mismatches = identityMismatches(identity, ctx.component);
      if (mismatches.length > 0) {
        findings.push(finding({ code: 'identity-mismatch', severity: 'info', requirements: ['CR 7.8'], evidence, message: `The device identifies itself differently from the profile: ${mismatches.join('; ')}.` }));
      }
      judgements.push({
        requirement: 'CR 7.8', coverage: 'partial',
        passReason: `device ${located.device.instance} reports vendor "${String(identity.vendorName ?? identity.vendorId)}", model "${String(identity.modelName)}" and firmware `
          + `"${String(identity.firmwareRevision)}" over BACnet ReadProperty, a standard interface inventory tools query (device status reporting needs documentation review)`,
      });
    }
    return { observations, findings, outcomes: judge(judgements, findings) };
  },
});
