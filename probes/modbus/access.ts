import {
  MissingInput, ProtocolViolation, TargetTimeout, Transcript, defineProbe, finding, judge,
  type Finding, type Judgement, type ProbeContext,
} from '../../src/sdk';
import {
  ModbusClientSession, type ModbusClientOptions, type ModbusReply, type ModbusTable,
} from '../../src/protocols/modbus';

interface Range {
  address: number;
  count: number;
}

export interface AccessInputs {
  /** Unit ids tried besides the declared one (bounded: at most 16). */
  unitIds: number[];
  holdingRegisters: Range[];
  inputRegisters: Range[];
  coils: Range[];
  discreteInputs: Range[];
  /** Holding register the destructive step may write (and restores). Nothing else is ever written. */
  testRegister?: number;
  /** Value to write; default: the original value + 1 (mod 2^16). */
  testValue?: number;
  requestTimeoutMs: number;
}

const range = (maxCount: number) => ({
  type: 'array', maxItems: 16,
  items: {
    type: 'object', additionalProperties: false, required: ['address', 'count'],
    properties: { address: { type: 'integer', minimum: 0, maximum: 65535 }, count: { type: 'integer', minimum: 1, maximum: maxCount } },
  },
});
const defaultRange = (): Range[] => [{ address: 0, count: 8 }];

const TABLES: readonly { table: ModbusTable; input: 'holdingRegisters' | 'inputRegisters' | 'coils' | 'discreteInputs' }[] = [
  { table: 'holding-registers', input: 'holdingRegisters' },
  { table: 'input-registers', input: 'inputRegisters' },
  { table: 'coils', input: 'coils' },
  { table: 'discrete-inputs', input: 'discreteInputs' },
];

type Answer =
  | { status: 'data'; values: number[] }
  | { status: 'exception'; code: number; name: string }
  | { status: 'no-answer' }
  | { status: 'closed'; reset: boolean };

function answer(reply: ModbusReply<number[]>): Answer {
  return reply.status === 'ok' ? { status: 'data', values: reply.value } : reply;
}

interface WriteRecord {
  performed: boolean;
  reason?: string;
  register?: number;
  original?: number;
  written?: number;
  writeReply?: string;
  readBack?: number | null;
  restoreReply?: string;
  afterRestore?: number | null;
  restored?: boolean;
}

const replyText = (r: ModbusReply<unknown>) => (r.status === 'exception' ? `exception ${r.code} (${r.name})` : r.status);
const valueOf = (r: ModbusReply<number[]>) => (r.status === 'ok' ? r.value[0] : null);

/** A session that reopens itself after the device closed the connection (some devices hang up on a
 * unit id they do not serve). */
class Sessions {
  private current: ModbusClientSession | undefined;
  constructor(private readonly endpoint: { host: string; port: number }, private readonly options: ModbusClientOptions) {}
  async get(unitId: number): Promise<ModbusClientSession> {
    if (this.current?.isBroken) await this.close();
    this.current ??= await ModbusClientSession.open(this.endpoint, this.options);
    this.current.setUnitId(unitId);
    return this.current;
  }
  async close(): Promise<void> {
    const s = this.current;
    this.current = undefined;
    if (s) await s.close();
  }
}

async function testWrite(ctx: ProbeContext<AccessInputs>, sessions: Sessions, unitId: number, register: number): Promise<WriteRecord> {
  const s = await sessions.get(unitId);
  const originalReply = await s.read('holding-registers', register, 1);
  if (originalReply.status !== 'ok') return { performed: false, register, reason: `could not read the original value: ${replyText(originalReply)}` };
  const original = originalReply.value[0];
  const written = ctx.inputs.testValue !== undefined && ctx.inputs.testValue !== original ? ctx.inputs.testValue : (original + 1) & 0xffff;
  const record: WriteRecord = { performed: true, register, original, written };
  ctx.log.info(`writing ${written} to holding register ${register} (original ${original})`);
  const writeReply = await (await sessions.get(unitId)).writeRegister(register, written);
  record.writeReply = replyText(writeReply);
  try {
    record.readBack = valueOf(await (await sessions.get(unitId)).read('holding-registers', register, 1));
  } finally {
    // A refused write changed nothing; anything else (ok, silence, a dropped connection) may have.
    if (writeReply.status !== 'exception') {
      record.restoreReply = replyText(await (await sessions.get(unitId)).writeRegister(register, original));
    }
    record.afterRestore = valueOf(await (await sessions.get(unitId)).read('holding-registers', register, 1));
    record.restored = record.afterRestore === original;
    if (!record.restored) ctx.log.warn(`holding register ${register} holds ${record.afterRestore} after the restore; original ${original}`);
  }
  return record;
}

export default defineProbe<AccessInputs>({
  id: 'modbus.access',
  protocol: 'modbus',
  title: 'Unauthenticated Modbus/TCP access: unit ids, reads, optional test-register write',
  description:
    'Reads one value at the declared unit id and at a bounded set of other unit ids, then reads the holding and input '
    + 'registers, coils and discrete inputs the profile names (default: 8 of each from address 0) with no identification '
    + 'or authentication, as any peer on the network can. With destructive probes allowed and a test register named in '
    + 'the inputs it reads that register, writes a test value, reads it back and writes the original back (FC3/FC6 only; '
    + 'nothing else is written). Plain Modbus/TCP has no authentication, so data read this way fails CR 1.1 and CR 2.1, '
    + 'and at SL 2 and above CR 1.2.',
  requirements: ['CR 1.1', 'CR 2.1', 'CR 1.2'],
  findings: {
    'unauthenticated-read': 'process data was read without identification or authentication',
    'unauthenticated-write': 'the test register accepted a write from an unauthenticated peer',
    'test-register-not-restored': 'the test register does not hold its original value after the restore',
    'other-unit-ids-answer': 'unit ids other than the declared one answer with data',
    'no-peer-authentication': 'at FR1 target 2 or higher, the device serves peers neither side authenticates',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['modbus'],
  locks: (plan) => (plan.service ? [{ key: `modbus:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 30_000,
  inputs: {
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        unitIds: { type: 'array', maxItems: 16, items: { type: 'integer', minimum: 0, maximum: 255 } },
        holdingRegisters: range(125),
        inputRegisters: range(125),
        coils: range(2000),
        discreteInputs: range(2000),
        testRegister: { type: 'integer', minimum: 0, maximum: 65535 },
        testValue: { type: 'integer', minimum: 0, maximum: 65535 },
        requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
      },
    },
    defaults: {
      unitIds: [0, 1, 255], holdingRegisters: defaultRange(), inputRegisters: defaultRange(), coils: defaultRange(),
      discreteInputs: defaultRange(), requestTimeoutMs: 1000,
    },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('modbus.access needs a declared modbus service');
    const { inputs } = ctx;
    const unitId = service.unitId ?? 1;
    const transcript = new Transcript(ctx.evidence, 'modbus-access.txt');
    const sessions = new Sessions(service, { signal: ctx.signal, unitId, requestTimeoutMs: inputs.requestTimeoutMs, transcript });
    const first = TABLES.map((t) => ({ table: t.table, range: inputs[t.input][0] })).find((t) => t.range !== undefined)
      ?? { table: 'holding-registers' as const, range: { address: 0, count: 1 } };
    const unitIds: { unitId: number; declared: boolean; answer: Answer }[] = [];
    const reads: ({ table: ModbusTable } & Range & Answer)[] = [];
    let write: WriteRecord;
    try {
      for (const id of [unitId, ...new Set(inputs.unitIds.filter((u) => u !== unitId))]) {
        const reply = answer(await (await sessions.get(id)).read(first.table, first.range.address, 1));
        unitIds.push({ unitId: id, declared: id === unitId, answer: reply });
        if (id !== unitId) continue;
        if (reply.status === 'no-answer') throw new TargetTimeout(`unit ${unitId} did not answer a ${first.table} read within ${inputs.requestTimeoutMs} ms`);
        if (reply.status === 'closed') throw new ProtocolViolation(`the device ${reply.reset ? 'reset' : 'closed'} the connection on a read at unit ${unitId}`);
      }
      for (const { table, input } of TABLES) {
        for (const r of inputs[input]) {
          reads.push({ table, ...r, ...answer(await (await sessions.get(unitId)).read(table, r.address, r.count)) });
        }
      }
      if (inputs.testRegister === undefined) write = { performed: false, reason: 'no test register named in the inputs' };
      else if (!ctx.allowed.has('destructive')) write = { performed: false, register: inputs.testRegister, reason: 'destructive probes are not allowed in this run' };
      else if (ctx.deadline - Date.now() < 6 * inputs.requestTimeoutMs) write = { performed: false, register: inputs.testRegister, reason: 'not enough budget left to write and restore' };
      else write = await testWrite(ctx, sessions, unitId, inputs.testRegister);
    } finally {
      await sessions.close();
    }

    const evidence = [transcript.path, ctx.evidence.save('access.json', { unitId, unitIds, reads, write })];
    const findings: Finding[] = [];
    const dataReads = reads.filter((r) => r.status === 'data');
    if (dataReads.length > 0) {
      const sample = dataReads.slice(0, 3).map((r) => `${r.table} ${r.address}+${r.count}`).join(', ');
      findings.push(finding({
        code: 'unauthenticated-read', severity: 'medium', requirements: ['CR 1.1', 'CR 2.1'], evidence,
        message: `Process data was read over Modbus/TCP without identification or authentication (${dataReads.length} of ${reads.length} ranges, e.g. ${sample}).`,
      }));
    }
    if (write.performed && write.readBack === write.written) {
      findings.push(finding({
        code: 'unauthenticated-write', severity: 'high', requirements: ['CR 1.1', 'CR 2.1'], evidence,
        message: `Holding register ${write.register} accepted a write from an unauthenticated peer (read back ${write.readBack}).`,
      }));
    }
    if (write.performed && !write.restored) {
      findings.push(finding({
        code: 'test-register-not-restored', severity: 'info', requirements: [], evidence,
        message: `Holding register ${write.register} holds ${write.afterRestore} after the restore; its original value was ${write.original}. Restore it by hand.`,
      }));
    }
    const strangers = unitIds.filter((u) => !u.declared && u.answer.status === 'data').map((u) => u.unitId);
    if (strangers.length > 0) {
      findings.push(finding({
        code: 'other-unit-ids-answer', severity: 'info', requirements: ['CR 2.1'], evidence,
        message: `Unit ids other than the declared ${unitId} answer with data: ${strangers.join(', ')}.`,
      }));
    }
    const judgements: Judgement[] = [];
    // Plain Modbus/TCP cannot pass these: with no data read there is no evidence either way.
    if (findings.some((f) => f.requirements.includes('CR 1.1') && f.severity !== 'info')) {
      judgements.push(
        { requirement: 'CR 1.1', coverage: 'partial', passReason: 'no process data was readable without authentication' },
        { requirement: 'CR 2.1', coverage: 'partial', passReason: 'no process data was readable without authorization' },
      );
    }
    const declared = unitIds.find((u) => u.declared);
    if (ctx.component.slTarget.FR1 >= 2 && declared && (declared.answer.status === 'data' || declared.answer.status === 'exception')) {
      findings.push(finding({
        code: 'no-peer-authentication', severity: 'medium', requirements: ['CR 1.2'], evidence,
        message: `Modbus/TCP on port ${service.port} serves requests from any peer: neither side is authenticated, so a spoofed `
          + 'or man-in-the-middle peer is accepted (Modbus/TCP Security or a documented compensating countermeasure is needed for SL 2).',
      }));
      judgements.push({ requirement: 'CR 1.2', coverage: 'partial', passReason: 'the device did not serve unauthenticated peers' });
    }
    return {
      observations: {
        unitId,
        unitIds: unitIds.map((u) => ({ unitId: u.unitId, declared: u.declared, ...summary(u.answer) })),
        reads: reads.map((r) => ({ table: r.table, address: r.address, count: r.count, ...summary(r) })),
        write,
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});

function summary(a: Answer): Record<string, unknown> {
  switch (a.status) {
    case 'data': return { answer: 'data', values: a.values };
    case 'exception': return { answer: 'exception', exception: a.code, exceptionName: a.name };
    case 'closed': return { answer: a.reset ? 'reset' : 'closed' };
    case 'no-answer': return { answer: 'no-answer' };
  }
}
