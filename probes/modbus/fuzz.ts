import {
  EssentialFunctionLost, MissingInput, ProtocolViolation, TargetTimeout, defineProbe, finding, hex, judge,
  type Finding, type Judgement, type ProbeContext,
} from '../../src/sdk';
import { FUZZ_CEILINGS, effectiveCaps, generateCases, runCampaign, type CampaignResult, type FuzzCase } from '../../src/protocols/fuzz';
import {
  modbusAnswersNormally, modbusCheckRequest, modbusTemplates, sendModbusCase, type DeviceReaction,
} from '../../src/protocols/modbus';

export interface ModbusFuzzInputs {
  /** Same seed, same cases (byte for byte): a run can be repeated and one case replayed. */
  seed: number;
  /** Cases sent at most (ceiling FUZZ_CEILINGS.cases). */
  cases: number;
  /** Cases per second at most (ceiling FUZZ_CEILINGS.ratePerSecond). */
  ratePerSecond: number;
  /** The campaign stops sending after this (ceiling FUZZ_CEILINGS.durationMs). */
  maxDurationMs: number;
  /** How long to wait for the device's reaction to one case. */
  waitMs: number;
  /** How long the device may take to answer a normal read again after a case before it counts as killed. */
  recoveryMs: number;
  /** The holding register the normal read and the read templates use (default: essentialFunction.modbus.register, else 0). */
  readAddress?: number;
  /** The holding register the FC06/FC16 templates write: a scratch register of the device. */
  writeAddress: number;
}

/** One line of fuzz-cases.ndjson per case (the format `iacs-probe replay` reads; docs/robustness.md). */
export interface CaseRecord {
  type: 'case';
  id: string;
  seed: number;
  index: number;
  template: string;
  field: string;
  mutation: string;
  hex: string;
  at: string;
  reaction: DeviceReaction | { kind: 'function-lost'; hex: ''; detail: string; elapsedMs: number };
  /** ctx.monitor.state() after the case, null without a monitor. */
  monitor: string | null;
  /** A normal read after the case was answered (within recoveryMs). */
  stillAnswers: boolean;
  recoveredAfterMs?: number;
}

export const CASES_FILE = 'fuzz-cases.ndjson';

export default defineProbe<ModbusFuzzInputs>({
  id: 'modbus.fuzz',
  protocol: 'modbus',
  title: 'Modbus/TCP fuzzing of MBAP and PDU fields with essential-function checks',
  description:
    'Mutates valid Modbus/TCP requests (FC03, FC01, FC06, FC16, FC43/14) field by field: MBAP protocol id, length and unit '
    + 'id, function code, address, quantity and byte count get the boundary values of their field and of the spec\'s '
    + 'limits; frames are truncated at each field and cut or extended with a consistent or stale length; random '
    + 'mutations fill the budget. The seed fixes the cases. Each case goes on its own connection, at a capped rate; after '
    + 'each one a normal read must be answered, and the run\'s essential-function monitor must not report a loss (CR 3.5). '
    + 'Every case is recorded (fuzz-cases.ndjson) and can be re-sent with `iacs-probe replay`. Writes a scratch register.',
  requirements: ['CR 3.5'],
  findings: {
    'function-killed': 'after a fuzz case the device stopped answering normal reads',
    'function-lost': 'the essential-function monitor reported the function lost during the fuzz campaign',
    'function-interrupted': 'after a fuzz case the device answered normal reads again only after a pause',
  },
  safety: 'destructive',
  scope: 'service',
  appliesTo: ['modbus'],
  timeoutMs: 40 * 60_000,
  locks: (plan) => (plan.service ? [{ key: `modbus:${plan.service.host}:${plan.service.port}`, mode: 'exclusive' }] : []),
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        seed: { type: 'integer', minimum: 0, maximum: 0xffffffff },
        cases: { type: 'integer', minimum: 1, maximum: FUZZ_CEILINGS.cases },
        ratePerSecond: { type: 'integer', minimum: 1, maximum: FUZZ_CEILINGS.ratePerSecond },
        maxDurationMs: { type: 'integer', minimum: 1000, maximum: FUZZ_CEILINGS.durationMs },
        waitMs: { type: 'integer', minimum: 20, maximum: 10_000 },
        recoveryMs: { type: 'integer', minimum: 0, maximum: 120_000 },
        readAddress: { type: 'integer', minimum: 0, maximum: 65535 },
        writeAddress: { type: 'integer', minimum: 0, maximum: 65535 },
      },
    },
    defaults: { seed: 62443, cases: 400, ratePerSecond: 50, maxDurationMs: 10 * 60_000, waitMs: 250, recoveryMs: 5000, writeAddress: 100 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('modbus.fuzz needs a declared modbus service');
    const { inputs } = ctx;
    const unitId = service.unitId ?? 1;
    const readAddress = inputs.readAddress ?? profileRegister(ctx.essentialFunction.modbus) ?? 0;
    const check = modbusCheckRequest(unitId, readAddress);
    const caps = effectiveCaps({ cases: inputs.cases, ratePerSecond: inputs.ratePerSecond, durationMs: inputs.maxDurationMs });
    const baseline = await modbusAnswersNormally(service, check, Math.max(inputs.waitMs, 1000), ctx.signal, 'throw');
    // Without a working normal read before the first case there is nothing to compare against: an error, so
    // CR 3.5 stays not determined.
    if (!baseline.ok) {
      const why = `modbus.fuzz: the normal read ${hex(check)} before the first case got ${baseline.kind}: ${baseline.detail}`;
      if (baseline.kind === 'timeout') throw new TargetTimeout(why);
      throw new ProtocolViolation(why);
    }
    const cases = generateCases(modbusTemplates({ unitId, readAddress, writeAddress: inputs.writeAddress }), inputs.seed, caps.cases);
    const caseId = (c: FuzzCase) => `modbus-${service.port}-s${inputs.seed}-${String(c.index).padStart(4, '0')}`;
    const file = ctx.evidence.append(CASES_FILE, JSON.stringify({
      type: 'campaign', probe: 'modbus.fuzz', protocol: 'modbus', transport: 'tcp', host: service.host, port: service.port, unitId,
      seed: inputs.seed, caps, ceilings: FUZZ_CEILINGS, waitMs: inputs.waitMs, recoveryMs: inputs.recoveryMs, check: hex(check), planned: cases.length,
    }));
    const records: CaseRecord[] = [];
    const record = (r: CaseRecord) => {
      records.push(r);
      ctx.evidence.append(CASES_FILE, JSON.stringify(r));
    };
    // The monitor's signal aborts the campaign the moment the function is lost (profile stopOnLoss).
    const signal = ctx.monitor ? AbortSignal.any([ctx.signal, ctx.monitor.signal]) : ctx.signal;
    const phase = ctx.monitor?.phase(`modbus.fuzz seed ${inputs.seed}`);
    let current: FuzzCase | undefined;
    let lostDuring: CaseRecord | undefined;
    let result: CampaignResult | undefined;
    try {
      result = await runCampaign(cases, caps, signal, async (c) => {
        current = c;
        const reaction = await sendModbusCase(service, c.bytes, inputs.waitMs, signal);
        const after = await answersAgain(ctx, service, check, signal, caseId(c));
        record({
          type: 'case', id: caseId(c), seed: inputs.seed, index: c.index, template: c.template, field: c.field, mutation: c.mutation,
          hex: hex(c.bytes), at: new Date().toISOString(), reaction, monitor: ctx.monitor?.state() ?? null, stillAnswers: after.ok,
          ...(after.recoveredAfterMs !== undefined ? { recoveredAfterMs: after.recoveredAfterMs } : {}),
        });
        current = undefined;
        return after.ok && ctx.monitor?.state() !== 'lost' ? 'continue' : 'stop';
      });
    } catch (err) {
      // Only the monitor's loss is a result here; Ctrl-C and the deadline go to the runner.
      if (!(ctx.monitor?.signal.aborted && err === ctx.monitor.signal.reason && err instanceof EssentialFunctionLost) || ctx.signal.aborted) throw err;
      if (current) {
        lostDuring = {
          type: 'case', id: caseId(current), seed: inputs.seed, index: current.index, template: current.template, field: current.field,
          mutation: current.mutation, hex: hex(current.bytes), at: new Date().toISOString(),
          reaction: { kind: 'function-lost', hex: '', detail: err.message, elapsedMs: 0 }, monitor: 'lost', stillAnswers: false,
        };
        record(lostDuring);
      }
    } finally {
      phase?.end();
    }
    return verdict(ctx, { file, records, result, lostDuring, caps, planned: cases.length });
  },
});

/** A normal read now; if it fails, again every 250 ms until recoveryMs has passed. */
async function answersAgain(ctx: ProbeContext<ModbusFuzzInputs>, endpoint: { host: string; port: number }, check: Buffer, signal: AbortSignal, id: string): Promise<{ ok: boolean; recoveredAfterMs?: number }> {
  const started = Date.now();
  const wait = Math.max(ctx.inputs.waitMs, 500);
  if ((await modbusAnswersNormally(endpoint, check, wait, signal)).ok) return { ok: true };
  while (Date.now() - started < ctx.inputs.recoveryMs) {
    await ctx.wait(Math.min(250, ctx.inputs.recoveryMs), `modbus.fuzz: no normal answer after case ${id}; pause before the next check`);
    if ((await modbusAnswersNormally(endpoint, check, wait, signal)).ok) return { ok: true, recoveredAfterMs: Date.now() - started };
  }
  return { ok: false };
}

interface CampaignOutcome {
  file: string;
  records: CaseRecord[];
  result?: CampaignResult;
  lostDuring?: CaseRecord;
  caps: ReturnType<typeof effectiveCaps>;
  planned: number;
}

function verdict(ctx: ProbeContext<ModbusFuzzInputs>, o: CampaignOutcome) {
  const evidence = [o.file];
  const replay = (id: string) => `iacs-probe replay <run-dir> ${id} --allow destructive`;
  const describeCase = (r: CaseRecord) => `case ${r.id} (${r.template}: ${r.mutation}; sent ${r.hex})`;
  const findings: Finding[] = [];
  const killer = o.records.find((r) => !r.stillAnswers && r.reaction.kind !== 'function-lost');
  if (killer) {
    findings.push(finding({
      code: 'function-killed', severity: 'high', requirements: ['CR 3.5'], evidence,
      message: `After ${describeCase(killer)} the device did not answer a normal read for ${ctx.inputs.recoveryMs} ms (reaction: ${killer.reaction.detail}). Replay: ${replay(killer.id)}.`,
    }));
  }
  const lost = o.lostDuring ?? o.records.find((r) => r.monitor === 'lost');
  if (lost) {
    findings.push(finding({
      code: 'function-lost', severity: 'high', requirements: ['CR 3.5'], evidence,
      message: `The essential-function monitor reported the function lost during or after ${describeCase(lost)}. Replay: ${replay(lost.id)}.`,
    }));
  }
  const interrupted = o.records.filter((r) => r.stillAnswers && r.recoveredAfterMs !== undefined);
  if (interrupted.length > 0) {
    findings.push(finding({
      code: 'function-interrupted', severity: 'medium', requirements: ['CR 3.5'], evidence,
      message: `After ${interrupted.length} case(s) the device answered normal reads only after a pause: ${interrupted.slice(0, 5).map((r) => `${r.id} (${r.recoveredAfterMs} ms)`).join(', ')}.`,
    }));
  }
  const sent = o.records.length;
  const monitorText = ctx.monitor ? `, and the essential-function monitor stayed ${ctx.monitor.state()}` : '';
  const judgements: Judgement[] = sent === 0 ? [] : [{
    requirement: 'CR 3.5', coverage: 'partial',
    passReason: `${sent} Modbus fuzz cases (seed ${ctx.inputs.seed}${o.result?.end === 'duration-cap' ? `, stopped by the ${o.caps.durationMs} ms duration cap` : ''}): each was rejected, dropped or answered, and the device answered a normal read after every one${monitorText}`,
  }];
  const kinds: Record<string, number> = {};
  for (const r of o.records) kinds[r.reaction.kind] = (kinds[r.reaction.kind] ?? 0) + 1;
  const culprit = killer ?? lost;
  return {
    observations: {
      seed: ctx.inputs.seed, caps: o.caps, planned: o.planned, sent, end: o.result?.end ?? 'function-lost',
      reactions: kinds, monitored: Boolean(ctx.monitor), monitorState: ctx.monitor?.state() ?? null,
      ...(culprit ? { killingCase: { id: culprit.id, template: culprit.template, mutation: culprit.mutation, hex: culprit.hex, replay: replay(culprit.id) } } : {}),
    },
    findings,
    outcomes: judge(judgements, findings),
  };
}

function profileRegister(block: unknown): number | undefined {
  if (block === null || typeof block !== 'object') return undefined;
  const b = block as { register?: unknown; table?: unknown };
  return typeof b.register === 'number' && b.table !== 'input' ? b.register : undefined;
}
