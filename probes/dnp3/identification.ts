import { MissingInput, TargetTimeout, Transcript, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  DEFAULT_MASTER_ADDRESS, DNP3_COMMON_INPUTS, FUNCTION, LINK, addressesFor, allAttributesObjects, answerText, expectResponse, readAnswer,
  readAttributes, withConnection, type LinkReply,
} from '../../src/protocols/dnp3';

export interface IdentificationInputs {
  masterAddress: number;
  outstationAddress?: number;
  requestTimeoutMs: number;
}

const contains = (haystack: string | undefined, needle: string | undefined) =>
  needle === undefined || (haystack ?? '').toLowerCase().includes(needle.toLowerCase());

/** Where the identity the outstation reports disagrees with the profile's component. */
export function identityMismatches(identity: Record<string, string>, component: { vendor?: string; model?: string; firmware?: string; serial?: string }): string[] {
  return [
    !contains(identity.manufacturer, component.vendor) && `manufacturer "${identity.manufacturer}" (profile vendor: "${component.vendor}")`,
    !contains(identity.productName, component.model) && `product "${identity.productName}" (profile model: "${component.model}")`,
    !contains(identity.softwareVersion, component.firmware) && `software version "${identity.softwareVersion}" (profile firmware: "${component.firmware}")`,
    identity.serial !== undefined && !contains(identity.serial, component.serial) && `serial "${identity.serial}" (profile: "${component.serial}")`,
  ].filter((m): m is string => typeof m === 'string');
}

const SECONDARY_NAMES: Readonly<Record<number, string>> = { [LINK.ack]: 'ACK', [LINK.nack]: 'NACK', [LINK.linkStatus]: 'LINK_STATUS', [LINK.notSupported]: 'NOT_SUPPORTED' };
const linkText = (r: LinkReply) => (r.kind === 'secondary' ? SECONDARY_NAMES[r.function] ?? `function ${r.function}` : r.kind);

export default defineProbe<IdentificationInputs>({
  id: 'dnp3.identification',
  protocol: 'dnp3',
  title: 'DNP3 identification: link status and device attributes (group 0)',
  description:
    'Sends a link-layer REQUEST_LINK_STATUS to the outstation address, then one READ of the device attributes '
    + '(g0v254, all attributes of set 0): manufacturer, product and model, software and hardware version, serial '
    + 'number, device name. Nothing else is read and no application fragment is confirmed. An outstation that '
    + 'reports its identity over a standard protocol supports component inventory (CR 7.8, partial).',
  requirements: ['CR 7.8'],
  findings: {
    unsupported: 'the outstation speaks DNP3 but does not return device attributes (not implemented, or challenged)',
    incomplete: 'the device attributes lack the manufacturer, the product name or the software version',
    'identity-mismatch': "the reported manufacturer, product, software version or serial differs from the profile's component",
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['dnp3'],
  locks: (plan) => (plan.service ? [{ key: `dnp3:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 15_000,
  inputs: { schema: inputsSchema(DNP3_COMMON_INPUTS), defaults: { masterAddress: DEFAULT_MASTER_ADDRESS, requestTimeoutMs: 2000 } },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('dnp3.identification needs a declared dnp3 service');
    const addresses = addressesFor(service, ctx.inputs);
    const transcript = new Transcript(ctx.evidence, 'dnp3-identification.txt');
    const waitMs = ctx.inputs.requestTimeoutMs;
    const { link, answer } = await withConnection(service, { signal: ctx.signal, waitMs, transcript, ...addresses }, async (conn) => {
      const linkReply = await conn.linkStatus();
      const reply = await conn.request(FUNCTION.read, allAttributesObjects(), 'device attributes g0v254');
      // Silence to both means nothing answers at this address; silence to the link status alone is allowed.
      if (reply.kind === 'no-answer' && linkReply.kind !== 'secondary') throw new TargetTimeout(`no DNP3 answer from outstation ${addresses.outstation} within ${waitMs} ms (is the outstation address right?)`);
      return { link: linkReply, answer: readAnswer(expectResponse(reply, 'a read of the device attributes', waitMs)) };
    });
    const identity = answer.status === 'served' ? readAttributes(answer.blocks) : {};
    const observations = { addresses, linkStatus: linkText(link), attributes: answerText(answer), identity };
    const evidence = [transcript.path, ctx.evidence.save('identification.json', observations)];
    const findings: Finding[] = [];
    const judgements: Judgement[] = [];
    const missing = (['manufacturer', 'productName', 'softwareVersion'] as const).filter((k) => !identity[k]);
    if (answer.status !== 'served' || Object.keys(identity).length === 0) {
      findings.push(finding({
        code: 'unsupported', severity: 'info', requirements: ['CR 7.8'], evidence,
        message: `The outstation does not return device attributes (${answerText(answer)}): inventory needs another interface.`,
      }));
    } else if (missing.length > 0) {
      findings.push(finding({ code: 'incomplete', severity: 'info', requirements: ['CR 7.8'], evidence, message: `The DNP3 device attributes lack ${missing.join(', ')}.` }));
    } else {
      const mismatches = identityMismatches(identity, ctx.component);
      if (mismatches.length > 0) {
        findings.push(finding({
          code: 'identity-mismatch', severity: 'info', requirements: ['CR 7.8'], evidence,
          message: `The outstation identifies itself differently from the profile: ${mismatches.join('; ')}.`,
        }));
      }
      judgements.push({
        requirement: 'CR 7.8', coverage: 'partial',
        passReason: `the outstation reports "${identity.manufacturer}" "${identity.productName}", software ${identity.softwareVersion}${identity.serial ? `, serial "${identity.serial}"` : ''} `
          + 'as DNP3 device attributes, a standard interface inventory tools query (device status reporting needs documentation review)',
      });
    }
    return { observations, findings, outcomes: judge(judgements, findings) };
  },
});
