import {
  MissingInput, Transcript, defineProbe, finding, inputsSchema, judge, sleep, type Finding, type Judgement, type ProbeContext,
} from '../../src/sdk';
import {
  DEFAULT_TSAPS, MODE_SELECTOR, PROTECTION_LEVELS, S7_COMMON_INPUTS, SZL_IDS, answerText, describeArea, isAccessRefusal,
  parseCpuMode, parseProtection, plcControl, readArea, readSzl, withSession, writeArea,
  type AreaAddress, type JobAnswer, type Protection, type S7Session,
} from '../../src/protocols/s7';

export interface AccessInputs {
  tsaps: number[];
  requestTimeoutMs: number;
  /** Areas read without authentication (default DB1 and the flag area, 8 bytes each). */
  reads: AreaAddress[];
  /** The only area the destructive step writes (and restores): a data block range the profile names. */
  testArea?: { db: number; offset: number; length: number };
  /** With destructive allowed: PLC STOP, then hot restart, only when the profile sets this. */
  cpuStopStart?: boolean;
  /** How long the CPU may take to report RUN again after the restart (default 10 s). */
  restartWaitMs: number;
}

interface WriteRecord {
  performed: boolean;
  reason?: string;
  area?: string;
  original?: string;
  written?: string;
  writeReply?: string;
  readBack?: string;
  restoreReply?: string;
  afterRestore?: string;
  restored?: boolean;
  /** The write was refused by the CPU's access control (0x8104, 0xD2xx, item 0x03). */
  accessRefused?: boolean;
}

interface ControlRecord {
  performed: boolean;
  reason?: string;
  modeBefore?: string;
  stopReply?: string;
  modeAfterStop?: string;
  startReply?: string;
  modeAfterStart?: string;
  restarted?: boolean;
  stopAccessRefused?: boolean;
}

const hexOf = (a: JobAnswer) => (a.status === 'data' ? a.bytes.toString('hex') : undefined);
const areaSchema = {
  type: 'object', additionalProperties: false, required: ['area', 'offset', 'length'],
  properties: {
    area: { enum: ['db', 'm', 'i', 'q'] }, db: { type: 'integer', minimum: 1, maximum: 65535 },
    offset: { type: 'integer', minimum: 0, maximum: 65535 }, length: { type: 'integer', minimum: 1, maximum: 200 },
  },
};

async function cpuMode(session: S7Session): Promise<string | undefined> {
  const r = await readSzl(session, SZL_IDS.cpuStatus, 0);
  return r.status === 'ok' ? parseCpuMode(r.records) : undefined;
}

async function testWrite(ctx: ProbeContext<AccessInputs>, session: S7Session, target: AreaAddress): Promise<WriteRecord> {
  const original = await readArea(session, target);
  const area = describeArea(target);
  if (original.status !== 'data') return { performed: false, area, reason: `could not read the original bytes: ${answerText(original)}` };
  const written = Buffer.from(original.bytes.map((b) => b ^ 0xff));
  const record: WriteRecord = { performed: true, area, original: original.bytes.toString('hex'), written: written.toString('hex') };
  ctx.log.info(`writing ${record.written} to ${area} (original ${record.original})`);
  const reply = await writeArea(session, target, written);
  record.writeReply = answerText(reply);
  record.accessRefused = isAccessRefusal(reply);
  try {
    record.readBack = hexOf(await readArea(session, target));
  } finally {
    // A refused write changed nothing; anything else may have.
    if (reply.status === 'ok') record.restoreReply = answerText(await writeArea(session, target, original.bytes));
    record.afterRestore = hexOf(await readArea(session, target));
    record.restored = record.afterRestore === record.original;
    if (!record.restored) ctx.log.warn(`${area} holds ${record.afterRestore} after the restore; original ${record.original}`);
  }
  return record;
}

async function stopStart(ctx: ProbeContext<AccessInputs>, session: S7Session): Promise<ControlRecord> {
  const modeBefore = await cpuMode(session);
  if (modeBefore !== 'RUN') return { performed: false, modeBefore, reason: `the CPU is not in RUN (${modeBefore ?? 'mode not reported'}): it is not stopped by a test` };
  ctx.log.warn('sending PLC STOP (cpuStopStart is set and destructive probes are allowed)');
  const record: ControlRecord = { performed: true, modeBefore };
  const stop = await plcControl(session, 'stop');
  record.stopReply = answerText(stop);
  record.stopAccessRefused = isAccessRefusal(stop);
  record.modeAfterStop = await cpuMode(session);
  if (stop.status !== 'ok' && record.modeAfterStop === 'RUN') return record;
  record.startReply = answerText(await plcControl(session, 'hot-start'));
  for (const until = Date.now() + ctx.inputs.restartWaitMs; ;) {
    record.modeAfterStart = await cpuMode(session);
    if (record.modeAfterStart === 'RUN' || Date.now() >= until) break;
    await sleep(250, ctx.signal);
  }
  record.restarted = record.modeAfterStart === 'RUN';
  if (!record.restarted) ctx.log.warn(`the CPU reports ${record.modeAfterStart} after the restart: restart it by hand`);
  return record;
}

function destructiveReason(ctx: ProbeContext<AccessInputs>, what: 'testArea' | 'cpuStopStart'): string | undefined {
  if (what === 'testArea' ? ctx.inputs.testArea === undefined : ctx.inputs.cpuStopStart !== true) return what === 'testArea' ? 'no test area named in the inputs' : 'cpuStopStart is not set in the inputs';
  if (!ctx.allowed.has('destructive')) return 'destructive probes are not allowed in this run';
  if (ctx.deadline - Date.now() < 8 * ctx.inputs.requestTimeoutMs) return 'not enough budget left to do it and undo it';
  return undefined;
}

export default defineProbe<AccessInputs>({
  id: 's7.access',
  protocol: 's7',
  title: 'Unauthenticated S7 access: protection level, mode selector, data reads, optional write and CPU STOP/START',
  description:
    'Reads the CPU\'s protection levels and mode selector (SZL 0x0232 index 4) and operating mode (SZL 0x0424), then '
    + 'reads the data areas the profile names (default DB1 and the flag area) with no password, as any peer can. With '
    + 'destructive probes allowed and a test area named it reads that DB range, writes its complement, reads it back and '
    + 'writes the original back; with cpuStopStart set it sends PLC STOP and a hot restart and waits for RUN. Nothing '
    + 'else is written. Protection level 1 or 2, data read, written or a CPU stopped without a password fail CR 1.1 and '
    + 'CR 2.1; refusals by the CPU\'s access control are partial evidence for them.',
  requirements: ['CR 1.1', 'CR 2.1'],
  findings: {
    'no-protection': 'the CPU\'s valid protection level is 1: programs can be read, changed and the CPU stopped without a password',
    'write-protection-only': 'the CPU\'s valid protection level is 2: reading (program upload, data) needs no password',
    'unauthenticated-read': 'data areas were read without identification or authentication',
    'unauthenticated-write': 'the test area accepted a write from an unauthenticated peer',
    'cpu-stop-accepted': 'the CPU went to STOP on a PLC STOP from an unauthenticated peer',
    'test-area-not-restored': 'the test area does not hold its original bytes after the restore',
    'cpu-not-restarted': 'the CPU did not report RUN again after the hot restart',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['s7'],
  locks: (plan) => (plan.service ? [{
    key: `s7:${plan.service.host}:${plan.service.port}`, mode: plan.inputs.testArea || plan.inputs.cpuStopStart ? 'exclusive' : 'shared',
  }] : []),
  timeoutMs: 45_000,
  inputs: {
    schema: inputsSchema({
      ...S7_COMMON_INPUTS,
      reads: { type: 'array', maxItems: 16, items: areaSchema },
      testArea: {
        type: 'object', additionalProperties: false, required: ['db', 'offset', 'length'],
        properties: { db: { type: 'integer', minimum: 1, maximum: 65535 }, offset: { type: 'integer', minimum: 0, maximum: 65535 }, length: { type: 'integer', minimum: 1, maximum: 64 } },
      },
      cpuStopStart: { type: 'boolean' },
      restartWaitMs: { type: 'integer', minimum: 0, maximum: 120_000 },
    }),
    defaults: {
      tsaps: [...DEFAULT_TSAPS], requestTimeoutMs: 2000, restartWaitMs: 10_000,
      reads: [{ area: 'db', db: 1, offset: 0, length: 8 }, { area: 'm', offset: 0, length: 8 }],
    },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('s7.access needs a declared s7 service');
    const { inputs } = ctx;
    const transcript = new Transcript(ctx.evidence, 's7-access.txt');
    const options = { signal: ctx.signal, waitMs: inputs.requestTimeoutMs, transcript, tsaps: inputs.tsaps };
    const result = await withSession(service, options, async ({ session, tsap }) => {
      const protectionList = await readSzl(session, SZL_IDS.protection, 0x0004);
      const protection = protectionList.status === 'ok' ? parseProtection(protectionList.records) : undefined;
      const mode = await cpuMode(session);
      const reads: { area: string; answer: JobAnswer }[] = [];
      for (const a of inputs.reads) reads.push({ area: describeArea(a), answer: await readArea(session, a) });
      const writeSkip = destructiveReason(ctx, 'testArea');
      const write: WriteRecord = writeSkip ? { performed: false, reason: writeSkip } : await testWrite(ctx, session, { area: 'db', ...inputs.testArea! });
      const controlSkip = destructiveReason(ctx, 'cpuStopStart');
      const control: ControlRecord = controlSkip ? { performed: false, reason: controlSkip } : await stopStart(ctx, session);
      return { tsap, protection, protectionRefused: protectionList.status === 'refused' ? protectionList.errorText : undefined, mode, reads, write, control };
    });
    const evidence = [transcript.path, ctx.evidence.save('access.json', { ...result, reads: result.reads.map((r) => ({ area: r.area, answer: answerText(r.answer), bytes: hexOf(r.answer) })) })];
    const findings = accessFindings(result, evidence);
    const refusals = result.reads.filter((r) => isAccessRefusal(r.answer)).map((r) => `${r.area}: ${answerText(r.answer)}`);
    if (result.write.accessRefused) refusals.push(`write ${result.write.area}: ${result.write.writeReply}`);
    if (result.control.stopAccessRefused) refusals.push(`PLC STOP: ${result.control.stopReply}`);
    const judgements: Judgement[] = [];
    // A pass needs the CPU's own access refusal: reads of missing objects or bad addresses prove nothing.
    if (findings.some((f) => f.severity !== 'info') || refusals.length > 0) {
      const reason = `the CPU refused unauthenticated access (${refusals.join('; ')})${result.protection ? `, protection level ${result.protection.schRel}` : ''}`;
      judgements.push({ requirement: 'CR 1.1', coverage: 'partial', passReason: reason }, { requirement: 'CR 2.1', coverage: 'partial', passReason: reason });
    }
    return {
      observations: {
        tsap: `0x${result.tsap.toString(16).padStart(4, '0')}`,
        protection: result.protection ? describeProtection(result.protection) : { notReported: result.protectionRefused ?? 'SZL 0x0232 index 4 has no record' },
        cpuMode: result.mode ?? null,
        reads: result.reads.map((r) => ({ area: r.area, answer: answerText(r.answer), ...(r.answer.status === 'data' ? { bytes: r.answer.bytes.toString('hex') } : {}) })),
        write: result.write,
        control: result.control,
        ...(judgements.length === 0 ? { note: 'no finding and no refusal by the CPU\'s access control: CR 1.1 and CR 2.1 are not determined' } : {}),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});

function describeProtection(p: Protection) {
  return {
    level: p.schRel, levelName: PROTECTION_LEVELS[p.schRel] ?? `level ${p.schRel}`, setBySelector: p.schSchal, setInParameters: p.schPar,
    modeSelector: MODE_SELECTOR[p.bartSch] ?? `position ${p.bartSch}`, startupSwitch: p.anlSch,
  };
}

interface AccessResult {
  protection?: Protection;
  reads: { area: string; answer: JobAnswer }[];
  write: WriteRecord;
  control: ControlRecord;
}

function accessFindings(r: AccessResult, evidence: string[]): Finding[] {
  const findings: Finding[] = [];
  const selector = r.protection ? ` (mode selector ${MODE_SELECTOR[r.protection.bartSch] ?? r.protection.bartSch})` : '';
  if (r.protection?.schRel === 1) {
    findings.push(finding({
      code: 'no-protection', severity: 'high', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `The CPU reports protection level 1${selector}: any peer may upload, download and change the program and change the operating mode without a password.`,
    }));
  } else if (r.protection?.schRel === 2) {
    findings.push(finding({
      code: 'write-protection-only', severity: 'medium', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `The CPU reports protection level 2 (write protection)${selector}: reading the program and data needs no password.`,
    }));
  }
  const data = r.reads.filter((x) => x.answer.status === 'data');
  if (data.length > 0) {
    findings.push(finding({
      code: 'unauthenticated-read', severity: 'medium', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `Data areas were read over S7comm without identification or authentication: ${data.map((x) => x.area).join(', ')}.`,
    }));
  }
  if (r.write.performed && r.write.readBack === r.write.written) {
    findings.push(finding({
      code: 'unauthenticated-write', severity: 'high', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `${r.write.area} accepted a write from an unauthenticated peer (read back ${r.write.readBack}).`,
    }));
  }
  if (r.write.performed && !r.write.restored) {
    findings.push(finding({
      code: 'test-area-not-restored', severity: 'info', requirements: [], evidence,
      message: `${r.write.area} holds ${r.write.afterRestore} after the restore; its original bytes were ${r.write.original}. Restore them by hand.`,
    }));
  }
  if (r.control.performed && r.control.modeAfterStop !== undefined && r.control.modeAfterStop !== 'RUN') {
    findings.push(finding({
      code: 'cpu-stop-accepted', severity: 'critical', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `The CPU went to ${r.control.modeAfterStop} on a PLC STOP from an unauthenticated peer (reply: ${r.control.stopReply}).`,
    }));
  }
  if (r.control.performed && r.control.startReply !== undefined && !r.control.restarted) {
    findings.push(finding({
      code: 'cpu-not-restarted', severity: 'info', requirements: [], evidence,
      message: `The CPU reports ${r.control.modeAfterStart ?? 'no mode'} after the hot restart. Restart it by hand.`,
    }));
  }
  return findings;
}
