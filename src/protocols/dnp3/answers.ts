import type { ServiceUnderTest } from '../../sdk';
import { COMMAND_STATUS, FUNCTION, IIN_REQUEST_ERRORS, iinNames, parseObjects, type AppResponse, type ObjectBlock } from './application';
import { decodeSaObject, type SaObject } from './sav5';

/** What an outstation did with a request, read from its own response. */
export type Answer =
  /** A normal response (0x81) without IIN2 request errors: the request was processed. */
  | { status: 'served'; iin: string[]; blocks: ObjectBlock[]; points: number; stopped?: string; more: boolean }
  /** SAv5: an authentication response (0x83) carrying a challenge (g120v1): the request waits for proof. */
  | { status: 'challenged'; iin: string[]; challenge: Extract<SaObject, { kind: 'challenge' }> }
  /** SAv5: an authentication response carrying g120v5 (key status) or g120v7 (error). */
  | { status: 'authentication'; iin: string[]; objects: SaObject[] }
  /** A normal response whose IIN2 says the function, object or parameters were not accepted. */
  | { status: 'not-processed'; iin: string[] }
  /** Anything else (an authentication response without group 120, ...). */
  | { status: 'unexpected'; iin: string[]; reason: string };

export function readAnswer(r: AppResponse): Answer {
  const iin = iinNames(r.iin);
  if (r.fn === FUNCTION.authResponse) {
    const parsed = parseObjects(r.objects);
    const objects = parsed.blocks.map(decodeSaObject).filter((o): o is SaObject => o !== undefined);
    const challenge = objects.find((o): o is Extract<SaObject, { kind: 'challenge' }> => o.kind === 'challenge');
    if (challenge) return { status: 'challenged', iin, challenge };
    if (objects.length > 0) return { status: 'authentication', iin, objects };
    return { status: 'unexpected', iin, reason: `an authentication response without group 120 objects${parsed.stopped ? ` (${parsed.stopped})` : ''}` };
  }
  if (r.iin & IIN_REQUEST_ERRORS) return { status: 'not-processed', iin };
  const parsed = parseObjects(r.objects);
  const points = parsed.blocks.reduce((n, b) => n + b.values.length, 0);
  return { status: 'served', iin, blocks: parsed.blocks, points, more: !r.fin, ...(parsed.stopped ? { stopped: parsed.stopped } : {}) };
}

/** One line for the transcript, observations and messages. */
export function answerText(a: Answer): string {
  const iin = a.iin.length ? `, IIN ${a.iin.join(' ')}` : '';
  switch (a.status) {
    case 'served': return `served: ${a.blocks.map((b) => `g${b.group}v${b.variation}×${b.values.length}`).join(' ') || 'no objects'}${a.stopped ? ` (then ${a.stopped})` : ''}${iin}`;
    case 'challenged': return `challenged: g120v1, ${a.challenge.reason} request, ${a.challenge.macAlgorithm}, CSQ ${a.challenge.sequence}${iin}`;
    case 'authentication': return `authentication response: ${a.objects.map((o) => o.kind).join(', ')}${iin}`;
    case 'not-processed': return `not processed${iin}`;
    case 'unexpected': return `unexpected: ${a.reason}${iin}`;
  }
}

/** The echoed status of the first control relay output block of a served answer. */
export function crobStatus(a: Answer): { code: number; name: string } | undefined {
  if (a.status !== 'served') return undefined;
  const crob = a.blocks.find((b) => b.group === 12 && b.variation === 1 && b.values.length > 0);
  if (!crob) return undefined;
  const code = crob.values[0][10] & 0x7f;
  return { code, name: COMMAND_STATUS[code] ?? `status ${code}` };
}

/** JSON Schema of the inputs every dnp3 probe shares. */
export const DNP3_COMMON_INPUTS = {
  masterAddress: { type: 'integer', minimum: 0, maximum: 65519 },
  outstationAddress: { type: 'integer', minimum: 0, maximum: 65519 },
  requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
} as const;

export const DEFAULT_MASTER_ADDRESS = 1;
export const DEFAULT_OUTSTATION_ADDRESS = 1024;

/** Link addresses: the probe's input, else the service's `unitId` or `options.outstationAddress`, else 1 / 1024. */
export function addressesFor(service: ServiceUnderTest, inputs: { masterAddress?: number; outstationAddress?: number }): { master: number; outstation: number } {
  const fromOptions = service.options.outstationAddress;
  return {
    master: inputs.masterAddress ?? (typeof service.options.masterAddress === 'number' ? service.options.masterAddress : DEFAULT_MASTER_ADDRESS),
    outstation: inputs.outstationAddress ?? service.unitId ?? (typeof fromOptions === 'number' ? fromOptions : DEFAULT_OUTSTATION_ADDRESS),
  };
}
