import { MissingInput, Transcript, defineProbe, finding, judge, type Finding, type Judgement, type ProbeContext } from '../../src/sdk';
import {
  CONFIRMED_SERVICE, ENABLE_DISABLE, OBJECT_TYPE, OBJECT_TYPE_NAMES, PROPERTY, REINITIALIZED_STATE, classifyAuthority, dccBody, describeAnswer,
  describeProperty, expectBacnet, locateDevice, plainValue, readProperty, reinitializeBody, writePropertyBody, withBacnet,
  type AuthorityAnswer, type BacnetAnswer, type BacnetClient, type BacnetValue, type PropertyRef,
} from '../../src/protocols/bacnet';

export interface AccessInputs {
  requestTimeoutMs: number;
  udpRetries: number;
  /** Passwords tried after a request without one was refused with password-failure (the empty one is always tried first). */
  defaultPasswords: string[];
  /** The one property the destructive step may write and restore: nothing else is ever written. */
  testObject?: { objectType: string | number; instance: number; property?: number; priority?: number; value?: number };
  /** Naming it allows one ReinitializeDevice of this state (destructive), only after the device accepted one without a password. */
  reinitialize?: { state: 'warmstart' | 'coldstart' };
  /** How long a restarted device may take to answer ReadProperty again. */
  recoveryMs: number;
}

/** One device-management service tried without a password, then with the empty and the default passwords. */
interface ManagementCheck {
  service: 'DeviceCommunicationControl' | 'ReinitializeDevice';
  request: string;
  withoutPassword: AuthorityAnswer;
  answer: string;
  /** After a password-failure: each password tried (by list position, never the text) and the answer. */
  tried?: { password: string; answer: string; result: AuthorityAnswer }[];
  acceptedPassword?: 'empty' | 'default';
}

interface WriteRecord {
  performed: boolean;
  reason?: string;
  property?: string;
  commandable?: boolean;
  priority?: number;
  original?: unknown;
  written?: unknown;
  writeAnswer?: string;
  result?: AuthorityAnswer;
  readBack?: unknown;
  restoreAnswer?: string;
  afterRestore?: unknown;
  restored?: boolean;
}

interface RestartRecord {
  performed: boolean;
  reason?: string;
  state?: string;
  answer?: string;
  accepted?: boolean;
  wentDown?: boolean;
  recoveredAfterMs?: number | null;
}

const AUTH_REQS = ['CR 1.1', 'CR 2.1'];
const PASSWORD_REQS = ['CR 1.5', 'CR 2.1'];
/** bacnet-stack's example device (src/bacnet/basic/object/device.c, Reinit_Password), the password many integrations keep. */
export const DEFAULT_PASSWORDS = ['filister'];

/**
 * The safe order (docs/bacnet.md): DCC enable (communication stays enabled) and ReinitializeDevice abort-restore
 * (no restore is in progress, so nothing is aborted) without a password; after a password-failure the same with
 * the empty password and the default passwords. Neither request changes what the device does when accepted.
 */
async function managementChecks(ctx: ProbeContext<AccessInputs>, client: BacnetClient): Promise<ManagementCheck[]> {
  const services = [
    { service: 'DeviceCommunicationControl' as const, id: CONFIRMED_SERVICE.deviceCommunicationControl, request: 'enable', body: (p?: string) => dccBody(ENABLE_DISABLE.enable, p) },
    { service: 'ReinitializeDevice' as const, id: CONFIRMED_SERVICE.reinitializeDevice, request: 'abort-restore', body: (p?: string) => reinitializeBody(REINITIALIZED_STATE.abortRestore, p) },
  ];
  const out: ManagementCheck[] = [];
  for (const s of services) {
    const first = expectBacnet(await client.confirmed(s.id, s.body(), `${s.service} ${s.request} without a password`), s.service);
    const check: ManagementCheck = { service: s.service, request: s.request, withoutPassword: classifyAuthority(first), answer: describeAnswer(first) };
    if (check.withoutPassword === 'password-refused') {
      check.tried = [];
      for (const [i, password] of ['', ...ctx.inputs.defaultPasswords].entries()) {
        const label = i === 0 ? 'empty' : `default #${i}`;
        const answer = expectBacnet(await client.confirmed(s.id, s.body(password), `${s.service} ${s.request} with the ${label} password`), s.service);
        const result = classifyAuthority(answer);
        check.tried.push({ password: label, answer: describeAnswer(answer), result });
        if (result === 'accepted') {
          check.acceptedPassword = i === 0 ? 'empty' : 'default';
          break;
        }
      }
    }
    out.push(check);
  }
  return out;
}

function objectTypeOf(given: string | number): number | undefined {
  if (typeof given === 'number') return given;
  const found = Object.entries(OBJECT_TYPE_NAMES).find(([, name]) => name === given);
  return found ? Number(found[0]) : undefined;
}

/** The value written: the input, or the original changed by one (a binary state toggled). */
export function testValueFor(original: BacnetValue, objectType: number, given?: number): BacnetValue | undefined {
  const binary = objectType === OBJECT_TYPE.binaryOutput || objectType === OBJECT_TYPE.binaryValue;
  switch (original.type) {
    case 'real': case 'double': return { type: original.type, value: given ?? original.value + 1 };
    case 'enumerated': return { type: 'enumerated', value: given ?? (binary ? 1 - original.value : original.value + 1) };
    case 'unsigned': return { type: 'unsigned', value: given ?? original.value + 1 };
    default: return undefined;
  }
}

const one = (a: BacnetAnswer<BacnetValue[]>): BacnetValue | undefined => (a.status === 'ack' && a.value.length === 1 ? a.value[0] : undefined);
const shown = (v: BacnetValue | undefined): unknown => (v === undefined ? null : plainValue(v));
const same = (a: BacnetValue | undefined, b: BacnetValue | undefined) => JSON.stringify(shown(a)) === JSON.stringify(shown(b));

/**
 * Destructive and named only: reads the property, writes a changed value (at the priority for a commandable
 * object, whose Priority_Array answers), reads it back and restores - a commandable object by relinquishing
 * (NULL at that priority), any other by writing the original back.
 */
async function testWrite(ctx: ProbeContext<AccessInputs>, client: BacnetClient): Promise<WriteRecord> {
  const named = ctx.inputs.testObject;
  if (!named) return { performed: false, reason: 'no test object named in the inputs' };
  const objectType = objectTypeOf(named.objectType);
  if (objectType === undefined) return { performed: false, reason: `unknown object type "${named.objectType}"` };
  const ref: PropertyRef = { objectType, instance: named.instance, property: named.property ?? PROPERTY.presentValue };
  const property = describeProperty(ref);
  if (!ctx.allowed.has('destructive')) return { performed: false, property, reason: 'destructive probes are not allowed in this run' };
  const original = one(expectBacnet(await readProperty(client, ref), 'ReadProperty'));
  if (!original) return { performed: false, property, reason: 'could not read the original value' };
  const written = testValueFor(original, objectType, named.value);
  if (!written) return { performed: false, property, original: shown(original), reason: `a ${original.type} value needs a numeric testObject.value` };
  const commandable = ref.property === PROPERTY.presentValue && (await readProperty(client, { ...ref, property: PROPERTY.priorityArray, arrayIndex: 0 })).status === 'ack';
  const priority = commandable ? named.priority ?? 16 : undefined;
  const record: WriteRecord = { performed: true, property, commandable, ...(priority ? { priority } : {}), original: shown(original), written: shown(written) };
  ctx.log.info(`writing ${JSON.stringify(record.written)} to ${property} (original ${JSON.stringify(record.original)})`);
  const answer = expectBacnet(await client.confirmed(CONFIRMED_SERVICE.writeProperty, writePropertyBody(ref, [written], priority), `WriteProperty ${property}`), 'WriteProperty');
  record.writeAnswer = describeAnswer(answer);
  record.result = classifyAuthority(answer);
  try {
    record.readBack = shown(one(await readProperty(client, ref)));
  } finally {
    // A write refused with an Error changed nothing; anything else (an ACK, silence, a reject) may have.
    if (answer.status !== 'error') {
      const restore = commandable ? writePropertyBody(ref, [{ type: 'null' }], priority) : writePropertyBody(ref, [original]);
      record.restoreAnswer = describeAnswer(await client.confirmed(CONFIRMED_SERVICE.writeProperty, restore, `WriteProperty ${property}: restore (${commandable ? `relinquish priority ${priority}` : 'the original value'})`));
    }
    const after = one(await readProperty(client, ref));
    record.afterRestore = shown(after);
    record.restored = same(after, original);
    if (!record.restored) ctx.log.warn(`${property} holds ${JSON.stringify(record.afterRestore)} after the restore; original ${JSON.stringify(record.original)}`);
  }
  return record;
}

/** Destructive and named only, and only when ReinitializeDevice was accepted without a password: one restart, then a ReadProperty poll. */
async function testRestart(ctx: ProbeContext<AccessInputs>, client: BacnetClient, instance: number, checks: readonly ManagementCheck[]): Promise<RestartRecord> {
  const named = ctx.inputs.reinitialize;
  if (!named) return { performed: false, reason: 'no reinitialize state named in the inputs' };
  if (!ctx.allowed.has('destructive')) return { performed: false, state: named.state, reason: 'destructive probes are not allowed in this run' };
  if (checks.find((c) => c.service === 'ReinitializeDevice')?.withoutPassword !== 'accepted') {
    return { performed: false, state: named.state, reason: 'ReinitializeDevice was not accepted without a password at the safe check: not sent' };
  }
  ctx.log.warn(`sending ReinitializeDevice ${named.state} without a password`);
  const answer = await client.confirmed(CONFIRMED_SERVICE.reinitializeDevice, reinitializeBody(REINITIALIZED_STATE[named.state]), `ReinitializeDevice ${named.state} without a password`);
  const record: RestartRecord = { performed: true, state: named.state, answer: describeAnswer(answer), accepted: answer.status === 'ack' };
  if (!record.accepted) return record;
  const probe = () => readProperty(client, { objectType: OBJECT_TYPE.device, instance, property: PROPERTY.objectIdentifier });
  await ctx.wait(200, 'let the device begin its restart');
  record.wentDown = (await probe()).status === 'no-answer';
  const started = Date.now();
  record.recoveredAfterMs = null;
  while (Date.now() - started < ctx.inputs.recoveryMs && ctx.deadline - Date.now() > 2 * ctx.inputs.requestTimeoutMs) {
    if ((await probe()).status === 'ack') {
      record.recoveredAfterMs = Date.now() - started;
      break;
    }
    await ctx.wait(250, 'poll the restarting device');
  }
  return record;
}

export default defineProbe<AccessInputs>({
  id: 'bacnet.access',
  protocol: 'bacnet',
  title: 'BACnet device management and writes without authentication: DCC, ReinitializeDevice, WriteProperty',
  description:
    'Locates the device object (wildcard ReadProperty), then sends DeviceCommunicationControl enable and ReinitializeDevice '
    + 'abort-restore without a password - requests that change nothing when accepted - and, when the device answers '
    + 'security/password-failure, the same with the empty password and the default passwords. With destructive probes '
    + 'allowed: writes and restores the one property named in testObject (relinquishing a commandable object\'s priority), '
    + 'and sends the ReinitializeDevice state named in reinitialize only when the safe check showed that no password is needed, '
    + 'then waits for the device to answer again. Only the protocol\'s own refusals (password-failure, write-access-denied) '
    + 'count as evidence of a refusal.',
  requirements: ['CR 1.1', 'CR 1.5', 'CR 2.1'],
  findings: {
    'dcc-without-password': 'DeviceCommunicationControl was accepted without a password',
    'reinitialize-without-password': 'ReinitializeDevice was accepted without a password',
    'empty-password-accepted': 'a device-management request with the empty password was accepted',
    'default-password-accepted': 'a device-management request with a well-known default password was accepted',
    'unauthenticated-write': 'the named test property accepted a WriteProperty from an unauthenticated peer',
    'test-object-not-restored': 'the named test property does not hold its original value after the restore',
    'unauthenticated-restart': 'the device restarted on a ReinitializeDevice without a password',
    'not-recovered-after-restart': 'the device did not answer ReadProperty again within recoveryMs after the restart',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['bacnet'],
  when: (service) => service.transport === 'udp' && !service.tls,
  locks: (plan) => (plan.service ? [{ key: `bacnet:${plan.service.host}:${plan.service.port}`, mode: plan.inputs.reinitialize ? 'exclusive' : 'shared' }] : []),
  timeoutMs: 45_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
        udpRetries: { type: 'integer', minimum: 0, maximum: 5 },
        defaultPasswords: { type: 'array', maxItems: 20, items: { type: 'string', maxLength: 20 } },
        testObject: {
          type: 'object', additionalProperties: false, required: ['objectType', 'instance'],
          properties: {
            objectType: { oneOf: [{ type: 'integer', minimum: 0, maximum: 1023 }, { type: 'string', enum: Object.values(OBJECT_TYPE_NAMES) }] },
            instance: { type: 'integer', minimum: 0, maximum: 4194302 }, property: { type: 'integer', minimum: 0, maximum: 4194303 },
            priority: { type: 'integer', minimum: 1, maximum: 16 }, value: { type: 'number' },
          },
        },
        reinitialize: { type: 'object', additionalProperties: false, required: ['state'], properties: { state: { enum: ['warmstart', 'coldstart'] } } },
        recoveryMs: { type: 'integer', minimum: 500, maximum: 120_000 },
      },
    },
    defaults: { requestTimeoutMs: 1000, udpRetries: 1, defaultPasswords: DEFAULT_PASSWORDS, recoveryMs: 15_000 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('bacnet.access needs a declared bacnet service');
    const transcript = new Transcript(ctx.evidence, 'bacnet-access.txt');
    const options = { signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs, retries: ctx.inputs.udpRetries, transcript };
    const records = await withBacnet(service, options, async (client) => {
      const located = await locateDevice(client);
      const checks = await managementChecks(ctx, client);
      const write = await testWrite(ctx, client);
      const restart = located.device ? await testRestart(ctx, client, located.device.instance, checks) : { performed: false, reason: 'no device instance' };
      return { deviceInstance: located.device?.instance ?? null, checks, write, restart };
    });
    const evidence = [transcript.path, ctx.evidence.save('access.json', records)];
    const findings = findingsOf(ctx, records, evidence);
    const outcomes = judge(judgementsOf(records, findings), findings);
    const notDetermined = outcomes.length === 0 ? { notDetermined: `no evidence either way: ${records.checks.map((c) => `${c.service} ${c.request} without a password: ${c.answer}`).join('; ')}` } : {};
    return { observations: { ...records, ...notDetermined }, findings, outcomes };
  },
});

type Records = { deviceInstance: number | null; checks: ManagementCheck[]; write: WriteRecord; restart: RestartRecord };

function findingsOf(ctx: ProbeContext<AccessInputs>, r: Records, evidence: string[]): Finding[] {
  const findings: Finding[] = [];
  for (const c of r.checks) {
    if (c.withoutPassword === 'accepted') {
      const code = c.service === 'DeviceCommunicationControl' ? 'dcc-without-password' : 'reinitialize-without-password';
      findings.push(finding({ code, severity: 'high', requirements: AUTH_REQS, evidence, message: `${c.service} (${c.request}) was acknowledged without a password: any peer on the network may use it.` }));
    }
    if (c.acceptedPassword) {
      findings.push(finding({
        code: `${c.acceptedPassword}-password-accepted`, severity: 'high', requirements: PASSWORD_REQS, evidence,
        message: `${c.service} (${c.request}) refused a request without a password but accepted the ${c.acceptedPassword === 'empty' ? 'empty password' : 'well-known default password'}.`,
      }));
    }
  }
  const w = r.write;
  if (w.performed && w.result === 'accepted') {
    findings.push(finding({ code: 'unauthenticated-write', severity: 'high', requirements: AUTH_REQS, evidence, message: `${w.property} acknowledged a WriteProperty of ${JSON.stringify(w.written)} from an unauthenticated peer (read back ${JSON.stringify(w.readBack)}).` }));
  }
  if (w.performed && !w.restored) {
    findings.push(finding({ code: 'test-object-not-restored', severity: 'info', requirements: [], evidence, message: `${w.property} holds ${JSON.stringify(w.afterRestore)} after the restore; its original value was ${JSON.stringify(w.original)}. Restore it by hand.` }));
  }
  if (r.restart.accepted) {
    findings.push(finding({ code: 'unauthenticated-restart', severity: 'high', requirements: AUTH_REQS, evidence, message: `The device acknowledged ReinitializeDevice ${r.restart.state} without a password${r.restart.wentDown ? ' and stopped answering while it restarted' : ''}.` }));
    if (r.restart.recoveredAfterMs === null) {
      findings.push(finding({ code: 'not-recovered-after-restart', severity: 'info', requirements: [], evidence, message: `After the restart the device did not answer ReadProperty within ${ctx.inputs.recoveryMs} ms.` }));
    }
  }
  return findings;
}

/**
 * CR 1.1 and CR 2.1 are judged on a failing finding or on the device's own refusal (password-failure,
 * write-access-denied); CR 1.5 only when a password was demanded and the empty and default ones were refused too.
 */
function judgementsOf(r: Records, findings: readonly Finding[]): Judgement[] {
  const refusedWithout = r.checks.filter((c) => c.withoutPassword === 'password-refused');
  const writeDenied = r.write.performed && r.write.result === 'access-denied';
  const failing = (req: string) => findings.some((f) => f.severity !== 'info' && f.requirements.includes(req));
  const names = refusedWithout.map((c) => `${c.service} ${c.request}`).join(' and ');
  const out: Judgement[] = [];
  if (refusedWithout.length > 0 || failing('CR 1.1')) {
    out.push({ requirement: 'CR 1.1', coverage: 'partial', passReason: `${names} without a password ${refusedWithout.length > 1 ? 'were' : 'was'} refused with security/password-failure` });
  }
  if (refusedWithout.length > 0 || writeDenied || failing('CR 2.1')) {
    const parts = [names && `${names} were refused without the password`, writeDenied && `WriteProperty ${r.write.property} was refused (${r.write.writeAnswer})`];
    const untested = r.write.performed ? '' : ' (writes not tested: no destructive test object)';
    out.push({ requirement: 'CR 2.1', coverage: 'partial', passReason: `${parts.filter(Boolean).join('; ')}${untested}` });
  }
  const triedAll = refusedWithout.length > 0 && refusedWithout.every((c) => c.tried?.every((t) => t.result === 'password-refused'));
  if (triedAll || failing('CR 1.5')) {
    out.push({ requirement: 'CR 1.5', coverage: 'partial', passReason: `${names} refused the empty password and ${refusedWithout[0]?.tried ? refusedWithout[0].tried.length - 1 : 0} default password(s) with security/password-failure` });
  }
  return out;
}
