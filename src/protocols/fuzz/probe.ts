import {
  EssentialFunctionLost, MissingInput, ProtocolViolation, TargetTimeout, TargetUnreachable, defineProbe, finding, hex, judge,
  type Finding, type Judgement, type ProbeContext, type ProbeDefinition, type ProbeResult, type ServiceProtocol, type ServiceUnderTest,
} from '../../sdk';
import { createHash } from 'node:crypto';
import { FUZZ_CEILINGS, effectiveCaps, runCampaign, type CampaignResult } from './campaign';
import { generateCases, type FuzzCase } from './grammar';
import type { DeviceReaction, FuzzTarget } from './target';

/**
 * The protocol-independent fuzz probe: baseline normal request, seeded cases, caps, one record per case,
 * the monitor's phase and loss, and the CR 3.5 verdict. A protocol brings a FuzzTarget (target.ts); its
 * probe is `defineFuzzProbe({...})`.
 */

/** The inputs every fuzz probe takes (profile `probes: { <id>: {...} }`). */
export interface FuzzInputs {
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
  /** How long the device may take to answer the normal request again after a case before it counts as killed. */
  recoveryMs: number;
}

export const FUZZ_INPUT_PROPERTIES = {
  seed: { type: 'integer', minimum: 0, maximum: 0xffffffff },
  cases: { type: 'integer', minimum: 1, maximum: FUZZ_CEILINGS.cases },
  ratePerSecond: { type: 'integer', minimum: 1, maximum: FUZZ_CEILINGS.ratePerSecond },
  maxDurationMs: { type: 'integer', minimum: 1000, maximum: FUZZ_CEILINGS.durationMs },
  waitMs: { type: 'integer', minimum: 20, maximum: 10_000 },
  recoveryMs: { type: 'integer', minimum: 0, maximum: 120_000 },
} as const;

/** Our defaults, not a standard's (docs/robustness.md). */
export const FUZZ_DEFAULTS: FuzzInputs = { seed: 62443, cases: 400, ratePerSecond: 50, maxDurationMs: 10 * 60_000, waitMs: 250, recoveryMs: 5000 };

export const CASES_FILE = 'fuzz-cases.ndjson';

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
  /** The normal request after the case was answered (within recoveryMs). */
  stillAnswers: boolean;
  recoveredAfterMs?: number;
  /** Where a secret of the target (by name) was replaced by '*' bytes in `hex`. */
  redacted?: Record<string, number[]>;
}

/** Replaces every occurrence of each secret by '*' bytes; returns the bytes and where each was. */
export function redactSecrets(bytes: Buffer, secrets: FuzzTarget['secrets']): { bytes: Buffer; redacted?: Record<string, number[]> } {
  const out = Buffer.from(bytes);
  const redacted: Record<string, number[]> = {};
  for (const { name, value } of secrets ?? []) {
    if (value.length === 0) continue;
    for (let at = out.indexOf(value); at >= 0; at = out.indexOf(value, at + value.length)) {
      out.fill(0x2a, at, at + value.length);
      (redacted[name] ??= []).push(at);
    }
  }
  return Object.keys(redacted).length > 0 ? { bytes: out, redacted } : { bytes: out };
}

/** How the probe names things in findings and reasons. */
export interface FuzzWording {
  /** The probe id, e.g. "modbus.fuzz" (campaign line, monitor phase, messages). */
  probe: string;
  /** The protocol as people write it: "Modbus", "HTTP". */
  label: string;
  /** What the normal request is: "normal read", "normal request". */
  normalRequest: string;
}

export function fuzzFindings(normalRequest: string): Record<string, string> {
  return {
    'function-killed': `after a fuzz case the device stopped answering ${normalRequest}s`,
    'function-lost': 'the essential-function monitor reported the function lost during the fuzz campaign',
    'function-interrupted': `after a fuzz case the device answered ${normalRequest}s again only after a pause`,
  };
}

/** Runs one campaign against `target` and returns the probe's result. */
export async function runFuzzCampaign<I extends FuzzInputs>(ctx: ProbeContext<I>, target: FuzzTarget, wording: FuzzWording): Promise<ProbeResult> {
  const service = ctx.service;
  if (!service) throw new MissingInput(`${wording.probe} needs a declared service`);
  const { inputs } = ctx;
  const caps = effectiveCaps({ cases: inputs.cases, ratePerSecond: inputs.ratePerSecond, durationMs: inputs.maxDurationMs });
  await baseline(ctx, target, wording);
  const cases = generateCases(target.templates, inputs.seed, caps.cases);
  const caseId = (c: FuzzCase) => `${target.protocol}-${service.port}-s${inputs.seed}-${String(c.index).padStart(4, '0')}`;
  const file = ctx.evidence.append(CASES_FILE, JSON.stringify({
    type: 'campaign', probe: wording.probe, protocol: target.protocol, transport: target.transport, host: service.host, port: service.port,
    params: target.params, ...(target.secrets?.length ? { secrets: target.secrets.map((x) => ({ name: x.name, sha256: sha256Hex(x.value), length: x.value.length })) } : {}),
    seed: inputs.seed, caps, ceilings: FUZZ_CEILINGS, waitMs: inputs.waitMs, recoveryMs: inputs.recoveryMs,
    check: target.checkDescription, planned: cases.length,
  }));
  const records: CaseRecord[] = [];
  const record = (c: FuzzCase, rest: Pick<CaseRecord, 'reaction' | 'monitor' | 'stillAnswers' | 'recoveredAfterMs'>) => {
    const sent = redactSecrets(c.bytes, target.secrets);
    const reaction: CaseRecord['reaction'] = rest.reaction.kind !== 'function-lost' && rest.reaction.hex ? { ...rest.reaction, hex: hex(redactSecrets(Buffer.from(rest.reaction.hex.replace(/\s+/g, ''), 'hex'), target.secrets).bytes) } : rest.reaction;
    const r: CaseRecord = {
      type: 'case', id: caseId(c), seed: inputs.seed, index: c.index, template: c.template, field: c.field, mutation: c.mutation,
      hex: hex(sent.bytes), at: new Date().toISOString(), ...rest, reaction, ...(sent.redacted ? { redacted: sent.redacted } : {}),
    };
    if (r.recoveredAfterMs === undefined) delete r.recoveredAfterMs;
    records.push(r);
    ctx.evidence.append(CASES_FILE, JSON.stringify(r));
    return r;
  };
  // The monitor's signal aborts the campaign the moment the function is lost (profile stopOnLoss).
  const signal = ctx.monitor ? AbortSignal.any([ctx.signal, ctx.monitor.signal]) : ctx.signal;
  const phase = ctx.monitor?.phase(`${wording.probe} seed ${inputs.seed}`);
  let current: FuzzCase | undefined;
  let lostDuring: CaseRecord | undefined;
  let result: CampaignResult | undefined;
  try {
    result = await runCampaign(cases, caps, signal, async (c) => {
      current = c;
      const reaction = await target.sendCase(c, inputs.waitMs, signal);
      const after = await answersAgain(ctx, target, signal, caseId(c), wording.probe);
      record(c, { reaction, monitor: ctx.monitor?.state() ?? null, stillAnswers: after.ok, recoveredAfterMs: after.recoveredAfterMs });
      current = undefined;
      return after.ok && ctx.monitor?.state() !== 'lost' ? 'continue' : 'stop';
    });
  } catch (err) {
    // Only the monitor's loss is a result here; Ctrl-C and the deadline go to the runner.
    if (!(ctx.monitor?.signal.aborted && err === ctx.monitor.signal.reason && err instanceof EssentialFunctionLost) || ctx.signal.aborted) throw err;
    if (current) {
      lostDuring = record(current, { reaction: { kind: 'function-lost', hex: '', detail: err.message, elapsedMs: 0 }, monitor: 'lost', stillAnswers: false });
    }
  } finally {
    phase?.end();
  }
  return verdict(ctx, wording, { file, records, result, lostDuring, caps, planned: cases.length });
}

const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Why a recorded case's bytes never reached the device, if they did not. */
const notSent = (r: CaseRecord): string | undefined => (r.reaction.kind === 'function-lost' ? undefined : r.reaction.notSent);

/** Connect errors that mean nothing listens there (a reset or a failed TLS handshake is a protocol problem). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'EHOSTDOWN']);

/**
 * The normal request before the first case. Without an answer there is nothing to compare against: an
 * error, so CR 3.5 stays not determined.
 */
async function baseline(ctx: ProbeContext<FuzzInputs>, target: FuzzTarget, wording: FuzzWording): Promise<void> {
  const check = await target.answersNormally(Math.max(ctx.inputs.waitMs, 1000), ctx.signal);
  if (check.ok) return;
  const why = `${wording.probe}: the ${wording.normalRequest} ${target.checkDescription} before the first case got ${check.kind}: ${check.detail}`;
  if (check.kind === 'connect-failed' && check.code && UNREACHABLE_CODES.has(check.code)) throw new TargetUnreachable(why);
  if (check.kind === 'timeout' || (check.kind === 'connect-failed' && (!check.code || check.code === 'ETIMEDOUT'))) throw new TargetTimeout(why);
  throw new ProtocolViolation(why);
}

/** The normal request now; if it fails, again every 250 ms until recoveryMs has passed. */
async function answersAgain(ctx: ProbeContext<FuzzInputs>, target: FuzzTarget, signal: AbortSignal, id: string, probe: string): Promise<{ ok: boolean; recoveredAfterMs?: number }> {
  const started = Date.now();
  const wait = Math.max(ctx.inputs.waitMs, 500);
  if ((await target.answersNormally(wait, signal)).ok) return { ok: true };
  while (Date.now() - started < ctx.inputs.recoveryMs) {
    await ctx.wait(Math.min(250, ctx.inputs.recoveryMs), `${probe}: no normal answer after case ${id}; pause before the next check`);
    if ((await target.answersNormally(wait, signal)).ok) return { ok: true, recoveredAfterMs: Date.now() - started };
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

function verdict(ctx: ProbeContext<FuzzInputs>, wording: FuzzWording, o: CampaignOutcome): ProbeResult {
  const evidence = [o.file];
  const replay = (id: string) => `iacs-probe replay <run-dir> ${id} --allow destructive`;
  const describeCase = (r: CaseRecord) => `case ${r.id} (${r.template}: ${r.mutation}; sent ${r.hex})`;
  const findings: Finding[] = [];
  const killer = o.records.find((r) => !r.stillAnswers && r.reaction.kind !== 'function-lost');
  if (killer) {
    // An unsent case cannot have killed anything: the device stopped answering after the previous case's check.
    const unsent = notSent(killer) ? ` This case itself could not be sent (${notSent(killer)}): the device stopped answering after the previous case.` : '';
    findings.push(finding({
      code: 'function-killed', severity: 'high', requirements: ['CR 3.5'], evidence,
      message: `After ${describeCase(killer)} the device did not answer a ${wording.normalRequest} for ${ctx.inputs.recoveryMs} ms (reaction: ${killer.reaction.detail}).${unsent} Replay: ${replay(killer.id)}.`,
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
      message: `After ${interrupted.length} case(s) the device answered ${wording.normalRequest}s only after a pause: ${interrupted.slice(0, 5).map((r) => `${r.id} (${r.recoveredAfterMs} ms)`).join(', ')}.`,
    }));
  }
  // Only cases whose bytes reached the device tested anything; the others are recorded and counted apart.
  const unsentCount = o.records.filter((r) => notSent(r) !== undefined).length;
  const sent = o.records.length - unsentCount;
  const monitorText = ctx.monitor ? `, and the essential-function monitor stayed ${ctx.monitor.state()}` : '';
  const unsentText = unsentCount > 0 ? `; ${unsentCount} more could not be sent (no connection, or no answer to the opening the case needs; fuzz-cases.ndjson says which) and tested nothing` : '';
  const judgements: Judgement[] = sent === 0 ? [] : [{
    requirement: 'CR 3.5', coverage: 'partial',
    passReason: `${sent} ${wording.label} fuzz cases (seed ${ctx.inputs.seed}${o.result?.end === 'duration-cap' ? `, stopped by the ${o.caps.durationMs} ms duration cap` : ''}): each was rejected, dropped or answered, and the device answered a ${wording.normalRequest} after every one${monitorText}${unsentText}`,
  }];
  const kinds: Record<string, number> = {};
  for (const r of o.records) kinds[r.reaction.kind] = (kinds[r.reaction.kind] ?? 0) + 1;
  const culprit = killer ?? lost;
  return {
    observations: {
      seed: ctx.inputs.seed, caps: o.caps, planned: o.planned, sent, notSent: unsentCount, end: o.result?.end ?? 'function-lost',
      reactions: kinds, monitored: Boolean(ctx.monitor), monitorState: ctx.monitor?.state() ?? null,
      ...(culprit ? { killingCase: { id: culprit.id, template: culprit.template, mutation: culprit.mutation, hex: culprit.hex, replay: replay(culprit.id) } } : {}),
    },
    findings,
    outcomes: judge(judgements, findings),
  };
}

/** A fuzz probe: the core's metadata, inputs and run around one protocol's target. */
export interface FuzzProbeSpec<I extends FuzzInputs> extends Omit<FuzzWording, 'probe'> {
  id: string;
  protocol: string;
  title: string;
  description: string;
  appliesTo: readonly ServiceProtocol[];
  when?: (service: ServiceUnderTest) => boolean;
  /** The protocol's own inputs (schema properties and defaults), next to FuzzInputs. */
  extraInputs?: { properties: Record<string, unknown>; defaults: Omit<I, keyof FuzzInputs> };
  /** Builds the target for the declared service (throws MissingInput when the profile lacks something). */
  target(ctx: ProbeContext<I>, service: ServiceUnderTest): FuzzTarget;
  timeoutMs?: number;
}

export function defineFuzzProbe<I extends FuzzInputs>(spec: FuzzProbeSpec<I>): ProbeDefinition<I> {
  const wording: FuzzWording = { probe: spec.id, label: spec.label, normalRequest: spec.normalRequest };
  return defineProbe<I>({
    id: spec.id,
    protocol: spec.protocol,
    title: spec.title,
    description: spec.description,
    requirements: ['CR 3.5'],
    findings: fuzzFindings(spec.normalRequest),
    safety: 'destructive',
    scope: 'service',
    appliesTo: spec.appliesTo,
    ...(spec.when ? { when: spec.when } : {}),
    timeoutMs: spec.timeoutMs ?? 40 * 60_000,
    // One campaign per service at a time: cases of two campaigns would blame each other's crash.
    locks: (plan) => (plan.service ? [{ key: `${spec.protocol}:${plan.service.host}:${plan.service.port}`, mode: 'exclusive' }] : []),
    inputs: {
      schema: { type: 'object', additionalProperties: false, properties: { ...FUZZ_INPUT_PROPERTIES, ...spec.extraInputs?.properties } },
      defaults: { ...FUZZ_DEFAULTS, ...spec.extraInputs?.defaults } as I,
    },
    async run(ctx) {
      const service = ctx.service;
      if (!service) throw new MissingInput(`${spec.id} needs a declared ${spec.appliesTo.join(' or ')} service`);
      return runFuzzCampaign(ctx, spec.target(ctx, service), wording);
    },
  });
}
