import { MissingInput, Transcript, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  DEFAULT_TSAPS, S7_COMMON_INPUTS, SZL_IDS, parseComponentIdentification, parseModuleIdentification, readSzl, withSession,
  type SzlRead,
} from '../../src/protocols/s7';

export interface IdentificationInputs {
  tsaps: number[];
  requestTimeoutMs: number;
}

const contains = (haystack: string | undefined, needle: string | undefined) =>
  needle === undefined || (haystack ?? '').toLowerCase().includes(needle.toLowerCase());

/** Where the identity the CPU reports disagrees with the profile's component (model, firmware, serial). */
export function identityMismatches(identity: Record<string, string>, component: { model?: string; firmware?: string; serial?: string }): string[] {
  const product = [identity.module, identity.moduleName, identity.moduleTypeName, identity.systemName].filter(Boolean).join(' ');
  const firmware = (identity.firmware ?? '').replace(/^V/, '');
  return [
    !contains(product, component.model) && `module "${product}" (profile model: "${component.model}")`,
    !contains(firmware, component.firmware?.replace(/^V/i, '')) && `firmware "${identity.firmware}" (profile: "${component.firmware}")`,
    !contains(identity.serial, component.serial) && `serial "${identity.serial}" (profile: "${component.serial}")`,
  ].filter((m): m is string => typeof m === 'string');
}

const summary = (r: SzlRead) => (r.status === 'ok' ? { status: 'ok', records: r.records.length, fragments: r.fragments } : r);

export default defineProbe<IdentificationInputs>({
  id: 's7.identification',
  protocol: 's7',
  title: 'S7 identification from the system status list: module, firmware, serial, plant id',
  description:
    'Connects over ISO-on-TCP (COTP to the first TSAP the CPU accepts, S7 setup communication) and reads SZL 0x0011 '
    + '(module identification: order number, basic hardware, firmware version) and SZL 0x001C (component identification: '
    + 'system and module name, plant id, copyright, serial number) - the facts nmap s7-info reports. A CPU that reports '
    + 'its identity over a standard protocol supports component inventory (CR 7.8, partial: status reporting needs '
    + 'documentation review).',
  requirements: ['CR 7.8'],
  findings: {
    unsupported: 'the CPU speaks S7comm but refuses both identification lists (SZL 0x0011 and 0x001C)',
    incomplete: 'the identification lacks the order number, the firmware version or the serial number',
    'identity-mismatch': "the reported module, firmware or serial differs from the profile's component",
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['s7'],
  locks: (plan) => (plan.service ? [{ key: `s7:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 20_000,
  inputs: { schema: inputsSchema(S7_COMMON_INPUTS), defaults: { tsaps: [...DEFAULT_TSAPS], requestTimeoutMs: 2000 } },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('s7.identification needs a declared s7 service');
    const transcript = new Transcript(ctx.evidence, 's7-identification.txt');
    const options = { signal: ctx.signal, waitMs: ctx.inputs.requestTimeoutMs, transcript, tsaps: ctx.inputs.tsaps };
    const { tsap, module, component } = await withSession(service, options, async ({ session, tsap }) => ({
      tsap, module: await readSzl(session, SZL_IDS.moduleIdentification, 0), component: await readSzl(session, SZL_IDS.componentIdentification, 0),
    }));
    const identity: Record<string, string> = Object.fromEntries(Object.entries({
      ...(module.status === 'ok' ? parseModuleIdentification(module.records) : {}),
      ...(component.status === 'ok' ? parseComponentIdentification(component.records) : {}),
    }).filter(([, v]) => v !== undefined && v !== ''));
    const evidence = [transcript.path, ctx.evidence.save('identification.json', { tsap, module: summary(module), component: summary(component), identity })];
    const findings: Finding[] = [];
    const judgements: Judgement[] = [];
    const missing = (['module', 'firmware', 'serial'] as const).filter((k) => !identity[k]);
    if (module.status !== 'ok' && component.status !== 'ok') {
      findings.push(finding({
        code: 'unsupported', severity: 'info', requirements: ['CR 7.8'], evidence,
        message: `The CPU refuses SZL 0x0011 (${module.status === 'refused' ? module.errorText : ''}) and 0x001C: it does not identify itself over S7comm; inventory needs another interface.`,
      }));
    } else if (missing.length > 0) {
      findings.push(finding({
        code: 'incomplete', severity: 'info', requirements: ['CR 7.8'], evidence,
        message: `The S7 identification lacks ${missing.join(', ')}.`,
      }));
    } else {
      const mismatches = identityMismatches(identity, ctx.component);
      if (mismatches.length > 0) {
        findings.push(finding({
          code: 'identity-mismatch', severity: 'info', requirements: ['CR 7.8'], evidence,
          message: `The CPU identifies itself differently from the profile: ${mismatches.join('; ')}.`,
        }));
      }
      judgements.push({
        requirement: 'CR 7.8', coverage: 'partial',
        passReason: `the CPU reports module "${identity.module}", firmware ${identity.firmware} and serial "${identity.serial}" over S7comm `
          + 'SZL reads, a standard interface inventory tools query (device status reporting needs documentation review)',
      });
    }
    return {
      observations: { tsap: `0x${tsap.toString(16).padStart(4, '0')}`, identity, lists: { '0x0011': summary(module), '0x001c': summary(component) } },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
