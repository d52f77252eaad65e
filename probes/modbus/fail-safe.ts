import {
  InvalidInput, MissingInput, Transcript, declaredOutputs, defineProbe, describeOutput, finding, isAbort, judge, sleep,
  type DeclaredOutput, type Finding, type Judgement, type ProbeContext, type ServiceUnderTest,
} from '../../src/sdk';
import { ModbusClientSession, describeReply, expectOk, readOutput, writeOutput } from '../../src/protocols/modbus';

export interface FailSafeInputs {
  /** Waited beyond the output's timeoutMs before the output is read (watchdog granularity, scheduling, latency). */
  marginMs: number;
  /** How long each Modbus request may take to be answered. */
  requestTimeoutMs: number;
}

/** One read (or write) of the output, as cited by the verdict and saved in fail-safe.json. */
interface OutputRead {
  at: string;
  step: 'before' | 'set-active' | 'heartbeat' | 'fresh-connection-control' | 'after-cut' | 'restore' | 'restore-check';
  connection: 'master' | 'fresh';
  /** Milliseconds after the master's last heartbeat (after-cut reads). */
  msAfterCut?: number;
  reply: string;
  value?: number;
}

/** safe: pass; held/other: fail; the rest leave CR 3.6 not determined (the reason says why). */
type Outcome = 'safe' | 'held' | 'other' | 'unreadable' | 'not-controlled' | 'fresh-read-differs' | 'fed-by-monitor';

interface OutputResult {
  output: DeclaredOutput;
  outcome: Outcome;
  detail: string;
  reads: OutputRead[];
  restore?: { value: number; ok: boolean; detail: string };
}

const CR = 'CR 3.6';
/** The restore after Ctrl-C or a deadline must still end within the runner's 1 s promise for cancellation. */
const RESTORE_AFTER_ABORT_MS = 700;

export default defineProbe<FailSafeInputs>({
  id: 'modbus.fail-safe',
  protocol: 'modbus',
  title: 'Declared outputs go to their safe state when the Modbus master stops communicating (CR 3.6)',
  description:
    'For each output the profile declares (essentialFunction.outputs: a coil or holding register, its safe and active value, '
    + 'the master heartbeat and the device\'s watchdog time), acts as the Modbus master: writes the active value, keeps the '
    + 'heartbeat for the watchdog time plus a margin while reading the output (it must stay active, also on a fresh '
    + 'connection), then closes the connection and sends nothing for the same time, and reads the output on a new '
    + 'connection. The safe value passes CR 3.6; the active value held fails it. Restores the output afterwards. Writes a '
    + 'process output, so it is destructive. Without a declared output it sends nothing.',
  requirements: [CR],
  findings: {
    'output-held': 'after the master stopped communicating, the output kept the active value the master had set',
    'output-not-safe': 'after the master stopped communicating, the output held neither the active value nor the declared safe value',
    'output-not-restored': 'after the test the output does not hold the restore value (restore it by hand)',
  },
  safety: 'destructive',
  scope: 'service',
  appliesTo: ['modbus'],
  timeoutMs: 120_000,
  locks: (plan) => (plan.service ? [{ key: `modbus:${plan.service.host}:${plan.service.port}`, mode: 'exclusive' }] : []),
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        marginMs: { type: 'integer', minimum: 0, maximum: 60_000 },
        requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
      },
    },
    defaults: { marginMs: 500, requestTimeoutMs: 2000 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('modbus.fail-safe needs a declared modbus service');
    const outputs = outputsOf(ctx, service);
    if (outputs.length === 0) {
      return {
        observations: { notDetermined: 'the profile names no output of this service (essentialFunction.outputs): CR 3.6 is not determined, and nothing was written' },
        findings: [], outcomes: [],
      };
    }
    const needed = outputs.reduce((sum, o) => sum + 2 * (o.timeoutMs + ctx.inputs.marginMs) + 4 * ctx.inputs.requestTimeoutMs, 0);
    if (Date.now() + needed > ctx.deadline) {
      throw new InvalidInput(`modbus.fail-safe needs about ${Math.ceil(needed / 1000)} s for ${outputs.length} output(s) (twice each timeoutMs + marginMs): raise probes.modbus.fail-safe.timeoutMs`);
    }
    const transcript = new Transcript(ctx.evidence, 'fail-safe.txt');
    const results: OutputResult[] = [];
    for (const output of outputs) results.push(await testOutput(ctx, service, output, transcript));
    return verdict(ctx, results, [transcript.path]);
  },
});

/** The declared outputs this service carries: those naming its port, and those without a port on the host's first modbus service. */
function outputsOf(ctx: ProbeContext<FailSafeInputs>, service: ServiceUnderTest): DeclaredOutput[] {
  const first = ctx.host.services.find((s) => s.protocol === 'modbus');
  return declaredOutputs(ctx.essentialFunction).filter((o) => (o.port === undefined ? first?.port === service.port : o.port === service.port));
}

/** Set active, hold with heartbeat, cut, read; the output is restored whatever happened. */
async function testOutput(ctx: ProbeContext<FailSafeInputs>, service: ServiceUnderTest, output: DeclaredOutput, transcript: Transcript): Promise<OutputResult> {
  const reads: OutputRead[] = [];
  const result: OutputResult = { output, outcome: 'unreadable', detail: '', reads };
  const unitId = output.unitId ?? service.unitId ?? 1;
  const open = (signal: AbortSignal) => ModbusClientSession.open(service, { signal, unitId, requestTimeoutMs: ctx.inputs.requestTimeoutMs, transcript });
  // Restore only what the probe may have changed: an output it never wrote is left alone.
  const wrote = { active: false };
  try {
    const master = await open(ctx.signal);
    try {
      const held = await holdActive(ctx, master, output, reads, () => open(ctx.signal), wrote);
      if (held) return Object.assign(result, held);
    } finally {
      await master.close(); // the cut: no heartbeat, no connection
    }
    Object.assign(result, await afterCut(ctx, output, reads, () => open(ctx.signal)));
    return result;
  } finally {
    if (wrote.active) result.restore = await restore(ctx, output, reads, open);
  }
}

function record(reads: OutputRead[], step: OutputRead['step'], connection: OutputRead['connection'], reply: Parameters<typeof describeReply>[0], extra: Partial<OutputRead> = {}): void {
  reads.push({ at: new Date().toISOString(), step, connection, reply: describeReply(reply), ...(reply.status === 'ok' && typeof reply.value === 'number' ? { value: reply.value } : {}), ...extra });
}

/**
 * As the master: write the active value, then for timeoutMs + marginMs keep the heartbeat every period and read
 * the output (it must stay active: else the master does not control it), and read it once on a fresh connection
 * (it must read active there too: else a fresh read after the cut would prove nothing). Returns an outcome only
 * when the test cannot go on; failures to talk to the device before the cut are errors (typed, for the runner).
 */
async function holdActive(ctx: ProbeContext<FailSafeInputs>, master: ModbusClientSession, output: DeclaredOutput, reads: OutputRead[], fresh: () => Promise<ModbusClientSession>, wrote: { active: boolean }): Promise<Pick<OutputResult, 'outcome' | 'detail'> | undefined> {
  const name = describeOutput(output);
  record(reads, 'before', 'master', expectOkReply(await readOutput(master, output), `read ${name}`));
  wrote.active = true;
  const write = await writeOutput(master, output, output.activeValue);
  expectOk(write, `write ${output.activeValue} to ${name}`);
  record(reads, 'set-active', 'master', write);
  const { heartbeat } = output;
  const started = Date.now();
  const holdMs = output.timeoutMs + ctx.inputs.marginMs;
  for (let beat = 1; ; beat++) {
    if ('register' in heartbeat) expectOk(await master.writeRegister(heartbeat.register, beat & 0xffff), `heartbeat write to holding register ${heartbeat.register}`);
    const reply = expectOkReply(await readOutput(master, output), `read ${name}`);
    record(reads, 'heartbeat', 'master', reply);
    if (reply.value !== output.activeValue) {
      return { outcome: 'not-controlled', detail: `${name} read ${reply.value} ${Date.now() - started} ms after the master wrote ${output.activeValue}, while the master kept its heartbeat: something else sets it (the device's program, a pulse), so a safe value after the cut would prove nothing` };
    }
    const next = started + beat * heartbeat.periodMs;
    if (next > started + holdMs) break;
    await sleep(next - Date.now(), ctx.signal);
  }
  const control = await fresh();
  try {
    const reply = expectOkReply(await readOutput(control, output), `read ${name} on a fresh connection`);
    record(reads, 'fresh-connection-control', 'fresh', reply);
    if (reply.value !== output.activeValue) {
      return { outcome: 'fresh-read-differs', detail: `a fresh connection read ${name} as ${reply.value} while the master held it at ${output.activeValue} (and read it so): reads on a new connection do not show the output's state, so the read after the cut would prove nothing` };
    }
  } finally {
    await control.close();
  }
  return undefined;
}

function expectOkReply(reply: Awaited<ReturnType<typeof readOutput>>, what: string): { status: 'ok'; value: number } {
  return { status: 'ok', value: expectOk(reply, what) };
}

/** Nothing for timeoutMs + marginMs, then one read on a new connection (one request: any more could feed a watchdog that counts any traffic). */
async function afterCut(ctx: ProbeContext<FailSafeInputs>, output: DeclaredOutput, reads: OutputRead[], fresh: () => Promise<ModbusClientSession>): Promise<Pick<OutputResult, 'outcome' | 'detail'>> {
  const name = describeOutput(output);
  const cutAt = Date.now();
  const phase = ctx.monitor?.phase(`modbus.fail-safe: master cut (${name})`);
  try {
    await ctx.wait(output.timeoutMs + ctx.inputs.marginMs, `modbus.fail-safe: the master is silent; the device's watchdog time (${output.timeoutMs} ms) and the margin`);
    let session: ModbusClientSession;
    try {
      session = await fresh();
    } catch (err) {
      if (isAbort(err, ctx.signal)) throw err;
      reads.push({ at: new Date().toISOString(), step: 'after-cut', connection: 'fresh', msAfterCut: Date.now() - cutAt, reply: `no connection: ${(err as Error).message}` });
      return { outcome: 'unreadable', detail: `${Date.now() - cutAt} ms after the cut no new connection could be opened (${(err as Error).message}): the output's state is unknown` };
    }
    try {
      const reply = await readOutput(session, output);
      const msAfterCut = Date.now() - cutAt;
      record(reads, 'after-cut', 'fresh', reply, { msAfterCut });
      const at = `${msAfterCut} ms after the master's last heartbeat (watchdog time ${output.timeoutMs} ms + margin ${ctx.inputs.marginMs} ms)`;
      if (reply.status !== 'ok') return { outcome: 'unreadable', detail: `${name} could not be read ${at}: ${describeReply(reply)}; some couplers answer every request with exception 4 after their watchdog trips, so the output's state needs an I/O check` };
      if (reply.value === output.safeValue) return { outcome: 'safe', detail: `${name} read ${reply.value} (the safe value) ${at}` };
      if (reply.value === output.activeValue) return { outcome: 'held', detail: `${name} still read ${reply.value} (the active value the master set) ${at}; the safe value is ${output.safeValue}` };
      return { outcome: 'other', detail: `${name} read ${reply.value} ${at}: neither the safe value ${output.safeValue} nor the active value ${output.activeValue}` };
    } finally {
      await session.close();
    }
  } finally {
    phase?.end();
  }
}

/**
 * Writes the restore value (default: the safe value) on a new connection and reads it back. It runs after a
 * failure, an error and a Ctrl-C too: an output left active without a master is the worst state to leave. After
 * an abort it gets RESTORE_AFTER_ABORT_MS of its own.
 */
async function restore(ctx: ProbeContext<FailSafeInputs>, output: DeclaredOutput, reads: OutputRead[], open: (signal: AbortSignal) => Promise<ModbusClientSession>): Promise<{ value: number; ok: boolean; detail: string }> {
  const value = output.restoreValue ?? output.safeValue;
  const signal = ctx.signal.aborted ? AbortSignal.timeout(RESTORE_AFTER_ABORT_MS) : AbortSignal.any([ctx.signal, AbortSignal.timeout(3 * ctx.inputs.requestTimeoutMs)]);
  try {
    const session = await open(signal);
    try {
      const write = await writeOutput(session, output, value);
      record(reads, 'restore', 'fresh', write);
      const check = await readOutput(session, output);
      record(reads, 'restore-check', 'fresh', check);
      const ok = write.status === 'ok' && check.status === 'ok' && check.value === value;
      return { value, ok, detail: `write ${value}: ${describeReply(write)}; read back: ${describeReply(check)}` };
    } finally {
      await session.close();
    }
  } catch (err) {
    ctx.log.warn(`modbus.fail-safe: could not restore ${describeOutput(output)} to ${value}: ${(err as Error).message}`);
    return { value, ok: false, detail: `no restore: ${(err as Error).message}` };
  }
}

function verdict(ctx: ProbeContext<FailSafeInputs>, results: readonly OutputResult[], transcripts: string[]) {
  const monitorFeeds = ctx.monitor !== undefined && ctx.essentialFunction.modbus !== undefined;
  for (const r of results) {
    // A watchdog that counts any request sees the monitor's reads as a live master: holding is then correct.
    if (r.outcome === 'held' && 'anyTraffic' in r.output.heartbeat && monitorFeeds) {
      Object.assign(r, { outcome: 'fed-by-monitor', detail: `${r.detail}; but the essential-function monitor read this device over Modbus meanwhile, and a watchdog that counts any request takes that for a live master: watch the function another way (essentialFunction https/tcp) or declare a heartbeat register` });
    }
  }
  const evidence = [ctx.evidence.save('fail-safe.json', { marginMs: ctx.inputs.marginMs, outputs: results.map(summary) }), ...transcripts];
  const findings: Finding[] = [];
  for (const r of results) {
    if (r.outcome === 'held') findings.push(finding({ code: 'output-held', severity: 'high', requirements: [CR], evidence, message: `${r.detail}. Reads: ${citeReads(r.reads)}.` }));
    if (r.outcome === 'other') findings.push(finding({ code: 'output-not-safe', severity: 'high', requirements: [CR], evidence, message: `${r.detail}. Reads: ${citeReads(r.reads)}.` }));
    if (r.restore && !r.restore.ok) findings.push(finding({ code: 'output-not-restored', severity: 'info', requirements: [], evidence, message: `${describeOutput(r.output)} was not restored to ${r.restore.value} (${r.restore.detail}): restore it by hand, and reset the device's watchdog where its manual asks for that.` }));
  }
  const undetermined = results.filter((r) => !['safe', 'held', 'other'].includes(r.outcome));
  const failed = findings.some((f) => f.severity !== 'info');
  const judgements: Judgement[] = failed || undetermined.length === 0 ? [{
    requirement: CR, coverage: 'partial',
    passReason: `${results.map((r) => r.detail).join('; ')}. Coverage is partial: the state is the one the device reports over Modbus, not measured at the terminal`,
  }] : [];
  return {
    observations: {
      outputs: results.map(summary),
      ...(judgements.length === 0 ? { notDetermined: `CR 3.6 not determined: ${undetermined.map((r) => r.detail).join('; ')}` } : {}),
    },
    findings,
    outcomes: judge(judgements, findings),
  };
}

function summary(r: OutputResult) {
  return { output: describeOutput(r.output), declared: r.output, outcome: r.outcome, detail: r.detail, reads: r.reads, ...(r.restore ? { restore: r.restore } : {}) };
}

/** The reads that matter for a finding: the last ones before the cut and the one after it. */
function citeReads(reads: readonly OutputRead[]): string {
  const cited = [reads.filter((r) => r.step === 'heartbeat').at(-1), reads.find((r) => r.step === 'fresh-connection-control'), reads.find((r) => r.step === 'after-cut')];
  return cited.flatMap((r) => (r ? [`${r.step} ${r.at} (${r.connection} connection${r.msAfterCut !== undefined ? `, ${r.msAfterCut} ms after the cut` : ''}): ${r.reply}`] : [])).join('; ');
}
