import {
  MissingInput, Transcript, defineProbe, finding, judge, sleep, type Finding, type Judgement, type ProbeContext,
} from '../../src/sdk';
import {
  CIP_CLASSES, CIP_SERVICES, EnipConnection, RESET_TYPES, STATUS, describeAnswer, describePath, encodeCipRequest, generalStatusName,
  listIdentity, registerSession, sendRRData, tryExplicitMessaging, withEnip, type CipPath, type CipReply, type EnipAnswer, type EnipEndpoint,
  type ExplicitAccess,
} from '../../src/protocols/enip';

export interface AccessInputs {
  requestTimeoutMs: number;
  /** The one attribute the destructive step may write (and restores). Nothing else is ever written. */
  testAttribute?: { class: number; instance: number; attribute: number };
  /** Value to write, hex; default: the original + 1 for a 1-, 2- or 4-byte attribute (little-endian). */
  testValue?: string;
  /** Naming it allows the Identity object's Reset service of this type (with destructive probes allowed). */
  reset?: { type: number };
  /** How long a reset device may take to answer ListIdentity again. */
  recoveryMs: number;
}

const AUTH_REQS = ['CR 1.1', 'CR 2.1'];

/** A session on the plain port that is registered again on a new connection when the device hung up. */
class SessionChannel {
  private conn: EnipConnection | undefined;
  session: number | undefined;
  constructor(private readonly endpoint: EnipEndpoint, private readonly signal: AbortSignal, private readonly transcript: Transcript, readonly wait: number) {}

  /** The first connection: RegisterSession and the Identity object (tryExplicitMessaging). */
  async begin(): Promise<ExplicitAccess> {
    this.conn = await EnipConnection.open(this.endpoint, { signal: this.signal, transcript: this.transcript });
    const access = await tryExplicitMessaging(this.conn, this.wait);
    if ('session' in access) this.session = access.session;
    return access;
  }

  get connection(): EnipConnection | undefined {
    return this.conn;
  }

  /** One CIP request in the session (or under `handle`), reconnecting and registering again after a hang-up. */
  async request(cip: Buffer, note: string, handle?: number): Promise<EnipAnswer<CipReply>> {
    if (!this.conn || this.conn.isClosed) {
      this.conn?.close();
      this.conn = await EnipConnection.open(this.endpoint, { signal: this.signal, transcript: this.transcript });
      const again = await registerSession(this.conn, this.wait);
      if (again.status !== 'ok') return again;
      this.session = again.value;
    }
    return sendRRData(this.conn, handle ?? this.session ?? 0, cip, this.wait, note);
  }

  close(): void {
    this.conn?.close();
  }
}

interface WriteRecord {
  performed: boolean;
  reason?: string;
  attribute?: string;
  original?: string;
  written?: string;
  writeReply?: string;
  readBack?: string | null;
  restoreReply?: string;
  afterRestore?: string | null;
  restored?: boolean;
}

const replyText = (a: EnipAnswer<CipReply>) => (a.status === 'ok' ? generalStatusName(a.value.generalStatus) : describeAnswer(a));
const valueOf = (a: EnipAnswer<CipReply>) => (a.status === 'ok' && a.value.generalStatus === STATUS.success ? a.value.data.toString('hex') : null);

/** The value written: the input, or the original + 1 read as a little-endian integer of 1, 2 or 4 bytes. */
export function testValueFor(original: Buffer, given?: string): Buffer | undefined {
  if (given !== undefined) return Buffer.from(given, 'hex');
  if (![1, 2, 4].includes(original.length)) return undefined;
  const out = Buffer.alloc(original.length);
  out.writeUIntLE((original.readUIntLE(0, original.length) + 1) % 2 ** (8 * original.length), 0, original.length);
  return out;
}

async function testWrite(ctx: ProbeContext<AccessInputs>, channel: SessionChannel): Promise<WriteRecord> {
  const named = ctx.inputs.testAttribute;
  if (!named) return { performed: false, reason: 'no test attribute named in the inputs' };
  const path: CipPath = { classId: named.class, instance: named.instance, attribute: named.attribute };
  const attribute = describePath(path);
  if (!ctx.allowed.has('destructive')) return { performed: false, attribute, reason: 'destructive probes are not allowed in this run' };
  if (ctx.deadline - Date.now() < 6 * channel.wait) return { performed: false, attribute, reason: 'not enough budget left to write and restore' };
  const get = () => channel.request(encodeCipRequest(CIP_SERVICES.getAttributeSingle, path), `Get_Attribute_Single ${attribute}`);
  const set = (value: Buffer) => channel.request(encodeCipRequest(CIP_SERVICES.setAttributeSingle, path, value), `Set_Attribute_Single ${attribute} = ${value.toString('hex')}`);
  const first = await get();
  const original = valueOf(first);
  if (original === null) return { performed: false, attribute, reason: `could not read the original value: ${replyText(first)}` };
  const written = testValueFor(Buffer.from(original, 'hex'), ctx.inputs.testValue);
  if (!written) return { performed: false, attribute, original, reason: `a ${original.length / 2}-byte attribute needs a testValue` };
  const record: WriteRecord = { performed: true, attribute, original, written: written.toString('hex') };
  ctx.log.info(`writing ${record.written} to ${attribute} (original ${original})`);
  const writeReply = await set(written);
  record.writeReply = replyText(writeReply);
  try {
    record.readBack = valueOf(await get());
  } finally {
    // A write refused with a CIP status changed nothing; anything else (success, silence, a hang-up) may have.
    if (writeReply.status !== 'ok' || writeReply.value.generalStatus === STATUS.success) record.restoreReply = replyText(await set(Buffer.from(original, 'hex')));
    record.afterRestore = valueOf(await get());
    record.restored = record.afterRestore === original;
    if (!record.restored) ctx.log.warn(`${attribute} holds ${record.afterRestore} after the restore; original ${original}`);
  }
  return record;
}

/** A SendRRData under a handle that was never registered: the device should answer 0x0064 (invalid session handle). */
async function checkSessionHandle(channel: SessionChannel): Promise<{ handle: string; answer: string; refused: boolean; served: boolean }> {
  const handle = ((channel.session ?? 0) ^ 0x5a5a5a5a) >>> 0 || 0x5a5a5a5a;
  const reply = await channel.request(encodeCipRequest(CIP_SERVICES.getAttributeSingle, { classId: CIP_CLASSES.identity, instance: 1, attribute: 1 }), `SendRRData under the unregistered session handle 0x${handle.toString(16)}`, handle);
  return {
    handle: `0x${handle.toString(16)}`, answer: reply.status === 'ok' ? `served: ${generalStatusName(reply.value.generalStatus)}` : describeAnswer(reply),
    refused: reply.status === 'refused' && reply.encapStatus === 0x0064, served: reply.status === 'ok' && reply.value.generalStatus === STATUS.success,
  };
}

interface ResetRecord {
  performed: boolean;
  reason?: string;
  type?: number;
  reply?: string;
  accepted?: boolean;
  wentDown?: boolean;
  recoveredAfterMs?: number | null;
}

/** Polls ListIdentity on fresh connections until the device answers again; null when it did not within `ms`. */
async function recovery(ctx: ProbeContext<AccessInputs>, transcript: Transcript, ms: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < ms && ctx.deadline - Date.now() > 1000) {
    try {
      const answer = await withEnip(ctx.service!, { signal: ctx.signal, transcript, connectTimeoutMs: 500 }, (conn) => listIdentity(conn, 500));
      if (answer.status === 'ok') return Date.now() - started;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      // refused or reset while the device restarts: try again
    }
    await sleep(250, ctx.signal);
  }
  return null;
}

async function testReset(ctx: ProbeContext<AccessInputs>, channel: SessionChannel, transcript: Transcript): Promise<ResetRecord> {
  const named = ctx.inputs.reset;
  if (!named) return { performed: false, reason: 'the Reset service is not named in the inputs' };
  if (!ctx.allowed.has('destructive')) return { performed: false, type: named.type, reason: 'destructive probes are not allowed in this run' };
  ctx.log.warn(`sending the Identity Reset service (type ${named.type}: ${RESET_TYPES[named.type] ?? 'vendor specific'})`);
  const reply = await channel.request(encodeCipRequest(CIP_SERVICES.reset, { classId: CIP_CLASSES.identity, instance: 1 }, Buffer.from([named.type])), `Reset (type ${named.type}), Identity instance 1`);
  const accepted = reply.status === 'ok' && reply.value.generalStatus === STATUS.success;
  const record: ResetRecord = { performed: true, type: named.type, reply: replyText(reply), accepted };
  if (!accepted) return record;
  record.wentDown = (await channel.connection?.closedWithin(Math.min(2000, ctx.inputs.recoveryMs))) ?? false;
  record.recoveredAfterMs = await recovery(ctx, transcript, ctx.inputs.recoveryMs);
  return record;
}

export default defineProbe<AccessInputs>({
  id: 'enip.access',
  protocol: 'enip',
  title: 'Unauthenticated EtherNet/IP explicit messaging: RegisterSession, the Identity object, optional write and Reset',
  description:
    'Registers an encapsulation session on the declared plain EtherNet/IP port and reads the Identity object (Get_Attributes_All, '
    + 'class 1 instance 1) with no authentication, as any peer on the network can; then sends one request under a session handle '
    + 'that was never registered. With destructive probes allowed: reads, writes (Set_Attribute_Single) and restores the one attribute '
    + 'named in testAttribute, and sends the Identity Reset service only when the inputs name it, then waits for the device to answer '
    + 'again. A session refused with the protocol\'s own status (0x0001, 0x006A) or a privilege violation is evidence of a refusal; '
    + 'anything else proves nothing.',
  requirements: ['CR 1.1', 'CR 2.1', 'CR 3.5'],
  findings: {
    'unauthenticated-explicit-messaging': 'the Identity object was read over a session any peer can register, with no authentication',
    'unauthenticated-write': 'the test attribute accepted a Set_Attribute_Single from an unauthenticated peer',
    'unauthenticated-reset': 'the Identity object accepted the Reset service from an unauthenticated peer',
    'session-not-checked': 'explicit messages are served under a session handle that was never registered',
    'test-attribute-not-restored': 'the test attribute does not hold its original value after the restore',
    'not-recovered-after-reset': 'the device did not answer ListIdentity again within recoveryMs after the Reset',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['enip'],
  when: (service) => service.transport === 'tcp' && !service.tls,
  // The Reset restarts the device: nothing else may talk to it meanwhile.
  locks: (plan) => (plan.service ? [{ key: `enip:${plan.service.host}:${plan.service.port}`, mode: plan.inputs.reset ? 'exclusive' : 'shared' }] : []),
  timeoutMs: 45_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
        testAttribute: {
          type: 'object', additionalProperties: false, required: ['class', 'instance', 'attribute'],
          properties: { class: { type: 'integer', minimum: 1, maximum: 65535 }, instance: { type: 'integer', minimum: 0, maximum: 65535 }, attribute: { type: 'integer', minimum: 1, maximum: 65535 } },
        },
        testValue: { type: 'string', pattern: '^([0-9a-fA-F]{2}){1,64}$' },
        reset: { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { type: 'integer', minimum: 0, maximum: 1 } } },
        recoveryMs: { type: 'integer', minimum: 500, maximum: 120_000 },
      },
    },
    defaults: { requestTimeoutMs: 2000, recoveryMs: 15_000 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('enip.access needs a declared enip service');
    const transcript = new Transcript(ctx.evidence, 'enip-access.txt');
    const channel = new SessionChannel(service, ctx.signal, transcript, ctx.inputs.requestTimeoutMs);
    let access: ExplicitAccess;
    let write: WriteRecord = { performed: false, reason: 'no session' };
    let sessionCheck: Awaited<ReturnType<typeof checkSessionHandle>> | undefined;
    let reset: ResetRecord = { performed: false, reason: 'no session' };
    try {
      access = await channel.begin();
      if (channel.session !== undefined) {
        write = await testWrite(ctx, channel);
        sessionCheck = await checkSessionHandle(channel);
        reset = await testReset(ctx, channel, transcript);
      }
    } finally {
      channel.close();
    }
    const evidence = [transcript.path, ctx.evidence.save('access.json', { access, write, sessionCheck, reset })];
    return verdict(ctx, { access, write, sessionCheck, reset }, evidence);
  },
});

type Records = { access: ExplicitAccess; write: WriteRecord; sessionCheck?: { refused: boolean; served: boolean; handle: string }; reset: ResetRecord };

function findingsOf(ctx: ProbeContext<AccessInputs>, r: Records, evidence: string[]): Finding[] {
  const port = ctx.service!.port;
  const findings: Finding[] = [];
  if (r.access.result === 'served') {
    findings.push(finding({
      code: 'unauthenticated-explicit-messaging', severity: 'medium', requirements: AUTH_REQS, evidence,
      message: `Port ${port} registered a session for an unauthenticated peer and served the Identity object (${r.access.via}`
        + `${r.access.identity ? `: "${r.access.identity.productName}"` : ''}); EtherNet/IP explicit messaging here identifies and authenticates nobody.`,
    }));
  }
  if (r.write.performed && r.write.readBack === r.write.written) {
    findings.push(finding({ code: 'unauthenticated-write', severity: 'high', requirements: AUTH_REQS, evidence, message: `${r.write.attribute} accepted a Set_Attribute_Single from an unauthenticated peer (read back ${r.write.readBack}).` }));
  }
  if (r.write.performed && !r.write.restored) {
    findings.push(finding({ code: 'test-attribute-not-restored', severity: 'info', requirements: [], evidence, message: `${r.write.attribute} holds ${r.write.afterRestore} after the restore; its original value was ${r.write.original}. Restore it by hand.` }));
  }
  if (r.reset.accepted) {
    findings.push(finding({ code: 'unauthenticated-reset', severity: 'high', requirements: AUTH_REQS, evidence, message: `The Identity object accepted Reset type ${r.reset.type} from an unauthenticated peer${r.reset.wentDown ? ' and the device dropped its connections' : ''}.` }));
  }
  if (r.reset.accepted && r.reset.recoveredAfterMs === null) {
    findings.push(finding({ code: 'not-recovered-after-reset', severity: 'info', requirements: [], evidence, message: `After the Reset the device did not answer ListIdentity within ${ctx.inputs.recoveryMs} ms.` }));
  }
  if (r.sessionCheck?.served) {
    findings.push(finding({ code: 'session-not-checked', severity: 'low', requirements: ['CR 3.5'], evidence, message: `Port ${port} served an explicit message under the session handle ${r.sessionCheck.handle}, which was never registered.` }));
  }
  return findings;
}

/** CR 1.1/2.1 are judged on a failing finding or the protocol's own refusal; CR 3.5 on a clear answer to the foreign handle. */
function judgementsOf(ctx: ProbeContext<AccessInputs>, r: Records, findings: readonly Finding[]): Judgement[] {
  const port = ctx.service!.port;
  const judgements: Judgement[] = [];
  const refused = r.access.result === 'session-refused' || r.access.result === 'message-refused';
  if (refused || findings.some((f) => f.requirements.includes('CR 1.1') && f.severity !== 'info')) {
    const how = r.access.result === 'session-refused' ? `refuses RegisterSession (${r.access.statusName})` : r.access.result === 'message-refused' ? `answers the Identity object with ${r.access.statusName}` : '';
    judgements.push(
      { requirement: 'CR 1.1', coverage: 'partial', passReason: `port ${port} ${how}: no explicit messaging for a peer nobody authenticated` },
      { requirement: 'CR 2.1', coverage: 'partial', passReason: `port ${port} ${how}: no CIP object is served without authorization` },
    );
  }
  if (r.sessionCheck && (r.sessionCheck.refused || r.sessionCheck.served)) {
    judgements.push({ requirement: 'CR 3.5', coverage: 'partial', passReason: `a request under the unregistered session handle ${r.sessionCheck.handle} was refused with 0x0064 (invalid session handle)` });
  }
  return judgements;
}

function verdict(ctx: ProbeContext<AccessInputs>, r: Records, evidence: string[]) {
  const findings = findingsOf(ctx, r, evidence);
  const notDetermined = r.access.result === 'unclear' ? { notDetermined: `no evidence either way: ${r.access.reason}` } : {};
  return {
    observations: { access: accessSummary(r.access), write: r.write, ...(r.sessionCheck ? { sessionCheck: r.sessionCheck } : {}), reset: r.reset, ...notDetermined },
    findings,
    outcomes: judge(judgementsOf(ctx, r, findings), findings),
  };
}

function accessSummary(access: ExplicitAccess): Record<string, unknown> {
  switch (access.result) {
    case 'served': return { result: 'served', via: access.via, ...(access.identity ? { productName: access.identity.productName } : {}) };
    case 'session-refused': return { result: 'session-refused', encapStatus: `0x${access.encapStatus.toString(16).padStart(4, '0')}`, statusName: access.statusName };
    case 'message-refused': return { result: 'message-refused', generalStatus: `0x${access.generalStatus.toString(16).padStart(2, '0')}`, statusName: access.statusName };
    case 'unclear': return { result: 'unclear', reason: access.reason };
  }
}
