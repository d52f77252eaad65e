import { MissingInput, Transcript, defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  BVLC, decodeBdt, decodeFdt, describeAnswer, encodeBip, expectBacnet, withBacnet, type BacnetAnswer, type BacnetClient, type BdtEntry, type FdtEntry,
} from '../../src/protocols/bacnet';

export interface BbmdInputs {
  requestTimeoutMs: number;
  udpRetries: number;
  /** Time-to-live of the test registration, seconds (the BBMD keeps it 30 s longer unless it is deleted). */
  registrationTtlSeconds: number;
}

const BBMD_REQS = ['CR 2.1', 'NDR 5.2'];
const REGISTER_NAK = 0x0030;
/** A BVLC-Result with successful completion carries nothing more to read. */
const completed = () => null;

interface Registration {
  answer: string;
  accepted: boolean;
  refused: boolean;
  /** The FDT entry the registration added, as the BBMD sees our address. */
  entry?: FdtEntry;
  deleteAnswer?: string;
  removed?: boolean;
}

const key = (e: FdtEntry) => `${e.address}:${e.port}`;

/**
 * Registers as a foreign device, finds the entry it added in the FDT and deletes it again: the BBMD would
 * otherwise forward the network's broadcasts to this address until the TTL and its grace period run out.
 */
async function tryRegistration(client: BacnetClient, ttl: number, before: BacnetAnswer<FdtEntry[]>): Promise<Registration> {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(ttl, 0);
  const answer = expectBacnet(await client.bvll(BVLC.registerForeignDevice, payload, BVLC.result, completed), 'Register-Foreign-Device');
  const record: Registration = { answer: describeAnswer(answer), accepted: answer.status === 'ack', refused: answer.status === 'nak' && answer.resultCode === REGISTER_NAK };
  if (!record.accepted) return record;
  const after = await client.bvll(BVLC.readFdt, Buffer.alloc(0), BVLC.readFdtAck, decodeFdt);
  const known = new Set(before.status === 'ack' ? before.value.map(key) : []);
  const added = after.status === 'ack' ? after.value.filter((e) => !known.has(key(e)) && e.ttl === ttl) : [];
  if (added.length !== 1) return { ...record, deleteAnswer: `not sent: our entry is not identifiable in the FDT (${describeAnswer(after)}, ${added.length} new entries)` };
  record.entry = added[0];
  const deleted = await client.bvll(BVLC.deleteFdtEntry, encodeBip(added[0]), BVLC.result, completed);
  record.deleteAnswer = describeAnswer(deleted);
  const check = await client.bvll(BVLC.readFdt, Buffer.alloc(0), BVLC.readFdtAck, decodeFdt);
  record.removed = check.status === 'ack' && !check.value.some((e) => key(e) === key(added[0]));
  return record;
}

export default defineProbe<BbmdInputs>({
  id: 'bacnet.bbmd',
  protocol: 'bacnet',
  title: 'BACnet/IP BBMD: broadcast and foreign-device tables, foreign-device registration by anyone',
  description:
    'Sends the BACnet/IP link-layer requests of Annex J to the declared service as unicast datagrams: Read-Broadcast-Distribution-Table, '
    + 'Read-Foreign-Device-Table and Register-Foreign-Device with a short TTL; an accepted registration is found in the FDT and '
    + 'deleted again (Delete-Foreign-Device-Table-Entry). A BBMD that registers any peer forwards the network\'s broadcasts to it '
    + 'and distributes its broadcasts, across IP subnets and without authentication. Only the BBMD\'s own Register-Foreign-Device NAK '
    + 'counts as a refusal; the tables it discloses are recorded.',
  requirements: BBMD_REQS,
  findings: {
    'foreign-device-accepted': 'the device registered an unauthenticated peer as a foreign device',
    'bdt-disclosed': 'Read-BDT discloses the broadcast distribution table (peer BBMDs) to any peer',
    'fdt-disclosed': 'Read-FDT discloses the addresses of the registered foreign devices to any peer',
    'registration-not-removed': 'our foreign-device entry is still in the FDT after Delete-Foreign-Device-Table-Entry (it expires after TTL + 30 s)',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['bacnet'],
  when: (service) => service.transport === 'udp' && !service.tls,
  locks: (plan) => (plan.service ? [{ key: `bacnet:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 20_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 }, udpRetries: { type: 'integer', minimum: 0, maximum: 5 },
        registrationTtlSeconds: { type: 'integer', minimum: 1, maximum: 3600 },
      },
    },
    defaults: { requestTimeoutMs: 1000, udpRetries: 1, registrationTtlSeconds: 30 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('bacnet.bbmd needs a declared bacnet service');
    const transcript = new Transcript(ctx.evidence, 'bacnet-bbmd.txt');
    const options = { signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs, retries: ctx.inputs.udpRetries, transcript };
    const { bdt, fdt, registration } = await withBacnet(service, options, async (client) => {
      const bdtAnswer = expectBacnet(await client.bvll(BVLC.readBdt, Buffer.alloc(0), BVLC.readBdtAck, decodeBdt), 'Read-Broadcast-Distribution-Table');
      const fdtAnswer = expectBacnet(await client.bvll(BVLC.readFdt, Buffer.alloc(0), BVLC.readFdtAck, decodeFdt), 'Read-Foreign-Device-Table');
      return { bdt: bdtAnswer, fdt: fdtAnswer, registration: await tryRegistration(client, ctx.inputs.registrationTtlSeconds, fdtAnswer) };
    });
    const observations = {
      bdt: bdt.status === 'ack' ? bdt.value : describeAnswer(bdt),
      fdt: fdt.status === 'ack' ? fdt.value : describeAnswer(fdt),
      registration,
      ...(!registration.accepted && !registration.refused ? { notDetermined: `no evidence either way: Register-Foreign-Device answered ${registration.answer}` } : {}),
    };
    const evidence = [transcript.path, ctx.evidence.save('bbmd.json', observations)];
    const findings = findingsOf(bdt, fdt, registration, evidence);
    const judgements: Judgement[] = registration.accepted || registration.refused
      ? BBMD_REQS.map((requirement) => ({ requirement, coverage: 'partial' as const, passReason: 'Register-Foreign-Device from an unauthenticated peer was refused with the BBMD\'s own NAK (0x0030): no foreign device joins the BACnet network through this device' }))
      : [];
    return { observations, findings, outcomes: judge(judgements, findings) };
  },
});

const listed = (entries: readonly (BdtEntry | FdtEntry)[]) => entries.map((e) => `${e.address}:${e.port}`).join(', ');

function findingsOf(bdt: BacnetAnswer<BdtEntry[]>, fdt: BacnetAnswer<FdtEntry[]>, registration: Registration, evidence: string[]): Finding[] {
  const findings: Finding[] = [];
  if (registration.accepted) {
    findings.push(finding({
      code: 'foreign-device-accepted', severity: 'medium', requirements: BBMD_REQS, evidence,
      message: `The device registered this unauthenticated peer as a foreign device${registration.entry ? ` (${registration.entry.address}:${registration.entry.port})` : ''}: `
        + 'it would forward the BACnet network\'s broadcasts to it and distribute its broadcasts, whatever subnet it is on.',
    }));
    if (registration.removed === false) {
      findings.push(finding({ code: 'registration-not-removed', severity: 'info', requirements: [], evidence, message: `Our foreign-device entry is still in the FDT after the delete (${registration.deleteAnswer}); it expires after its TTL plus 30 s.` }));
    }
  }
  if (bdt.status === 'ack' && bdt.value.length > 0) {
    findings.push(finding({ code: 'bdt-disclosed', severity: 'info', requirements: [], evidence, message: `Read-BDT discloses ${bdt.value.length} broadcast distribution entries to any peer: ${listed(bdt.value)}.` }));
  }
  if (fdt.status === 'ack' && fdt.value.length > 0) {
    findings.push(finding({ code: 'fdt-disclosed', severity: 'info', requirements: [], evidence, message: `Read-FDT discloses ${fdt.value.length} registered foreign devices to any peer: ${listed(fdt.value)}.` }));
  }
  return findings;
}
