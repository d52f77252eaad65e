import { MissingInput, Transcript, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement, type ProbeContext } from '../../src/sdk';
import {
  CONTROL_CODES, DEFAULT_MASTER_ADDRESS, DNP3_COMMON_INPUTS, Dnp3Connection, FUNCTION, addressesFor, answerText, class0Objects, crobObjects,
  crobStatus, expectResponse, integrityPollObjects, readAnswer, withConnection, type Answer, type ControlCode, type Dnp3Options,
} from '../../src/protocols/dnp3';

export interface AccessInputs {
  masterAddress: number;
  outstationAddress?: number;
  requestTimeoutMs: number;
  /** integrity: class 1, 2, 3 and 0 (default); class0: static data only. */
  poll: 'integrity' | 'class0';
  /** The only control ever operated (destructive only): a CROB point the profile names. */
  control?: { index: number; code?: ControlCode; mode?: 'select-operate' | 'direct-operate'; onTimeMs?: number; offTimeMs?: number };
  /** Cold or warm restart (destructive only), only when the profile names it. */
  restart?: 'cold' | 'warm';
  /** How long a restarted outstation may take to answer a link status request again. */
  recoveryMs: number;
}

interface ControlRecord {
  performed: boolean;
  reason?: string;
  index?: number;
  code?: ControlCode;
  mode?: string;
  select?: string;
  operate?: string;
  status?: string;
  accepted?: boolean;
  refused?: boolean;
}

interface RestartRecord {
  performed: boolean;
  reason?: string;
  kind?: string;
  answer?: string;
  accepted?: boolean;
  refused?: boolean;
  recoveredAfterMs?: number | null;
}

/** An answer that is the outstation's own refusal of an unauthenticated request: an SAv5 challenge. */
const isChallenge = (a: Answer) => a.status === 'challenged';

function destructiveReason(ctx: ProbeContext<AccessInputs>, named: boolean, what: string): string | undefined {
  if (!named) return `no ${what} named in the inputs`;
  if (!ctx.allowed.has('destructive')) return 'destructive probes are not allowed in this run';
  if (ctx.deadline - Date.now() < 6 * ctx.inputs.requestTimeoutMs) return 'not enough budget left to do it';
  return undefined;
}

async function operate(ctx: ProbeContext<AccessInputs>, conn: Dnp3Connection): Promise<ControlRecord> {
  // A pulse (100 ms on) selected then operated unless the profile says otherwise: it ends by itself.
  const c = { code: 'pulse-on' as ControlCode, mode: 'select-operate', onTimeMs: 100, offTimeMs: 100, ...ctx.inputs.control! };
  const objects = crobObjects({ index: c.index, code: CONTROL_CODES[c.code], count: 1, onTimeMs: c.onTimeMs, offTimeMs: c.offTimeMs });
  const record: ControlRecord = { performed: true, index: c.index, code: c.code, mode: c.mode };
  const waitMs = ctx.inputs.requestTimeoutMs;
  ctx.log.warn(`operating CROB ${c.index} (${c.code}, ${c.mode}): the profile names it and destructive probes are allowed`);
  let last: Answer;
  if (c.mode === 'select-operate') {
    last = readAnswer(expectResponse(await conn.request(FUNCTION.select, objects, `select CROB ${c.index}`), 'SELECT', waitMs));
    record.select = answerText(last);
    if (last.status === 'served' && crobStatus(last)?.code === 0) {
      last = readAnswer(expectResponse(await conn.request(FUNCTION.operate, objects, `operate CROB ${c.index}`), 'OPERATE', waitMs));
      record.operate = answerText(last);
    }
  } else {
    last = readAnswer(expectResponse(await conn.request(FUNCTION.directOperate, objects, `direct operate CROB ${c.index}`), 'DIRECT_OPERATE', waitMs));
    record.operate = answerText(last);
  }
  const status = crobStatus(last);
  record.status = status?.name;
  record.accepted = record.operate !== undefined && status?.code === 0;
  // SAv5's challenge, or the command status NOT_AUTHORIZED, is the outstation's own refusal.
  record.refused = isChallenge(last) || status?.code === 9;
  return record;
}

async function restart(ctx: ProbeContext<AccessInputs>, conn: Dnp3Connection, endpoint: { host: string; port: number }, options: Dnp3Options): Promise<RestartRecord> {
  const kind = ctx.inputs.restart!;
  ctx.log.warn(`sending a ${kind} restart: the profile names it and destructive probes are allowed`);
  const fn = kind === 'cold' ? FUNCTION.coldRestart : FUNCTION.warmRestart;
  const answer = readAnswer(expectResponse(await conn.request(fn, Buffer.alloc(0), `${kind} restart`), `${kind.toUpperCase()}_RESTART`, options.waitMs));
  const accepted = answer.status === 'served' && answer.blocks.some((b) => b.group === 52);
  const record: RestartRecord = { performed: true, kind, answer: answerText(answer), accepted, refused: isChallenge(answer) };
  if (!accepted) return record;
  conn.close();
  const started = Date.now();
  record.recoveredAfterMs = null;
  while (Date.now() - started < ctx.inputs.recoveryMs) {
    await ctx.wait(250, 'outstation restarting');
    const up = await withConnection(endpoint, { ...options, transcript: undefined }, async (c) => (await c.linkStatus()).kind === 'secondary').catch(() => false);
    if (up) {
      record.recoveredAfterMs = Date.now() - started;
      break;
    }
  }
  if (record.recoveredAfterMs === null) ctx.log.warn(`the outstation did not answer again within ${ctx.inputs.recoveryMs} ms of the restart`);
  return record;
}

export default defineProbe<AccessInputs>({
  id: 'dnp3.access',
  protocol: 'dnp3',
  title: 'Unauthenticated DNP3 access: integrity poll, optional control operate and restart',
  description:
    'Sends an integrity poll (READ of class 1, 2, 3 and 0) as an unknown master would, without confirming what comes '
    + 'back (events stay buffered for the real master). With destructive probes allowed and a CROB point named in the '
    + 'profile it selects and operates (or directly operates) that one point; with a restart named it sends that cold or '
    + 'warm restart and waits for the outstation to answer again. Data served or a command executed without '
    + 'authentication fail CR 1.1 and CR 2.1; an SAv5 challenge (g120v1) or the command status NOT_AUTHORIZED is the '
    + "outstation's own refusal and partial evidence for them.",
  requirements: ['CR 1.1', 'CR 2.1'],
  findings: {
    'unauthenticated-poll': 'the outstation served a poll of its data to a master nobody authenticated',
    'unauthenticated-control': 'the named control relay output block was operated by a master nobody authenticated',
    'unauthenticated-restart': 'the outstation accepted a cold or warm restart from a master nobody authenticated',
    'not-recovered-after-restart': 'the outstation did not answer again within recoveryMs of an accepted restart',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['dnp3'],
  locks: (plan) => (plan.service ? [{
    key: `dnp3:${plan.service.host}:${plan.service.port}`, mode: plan.inputs.control || plan.inputs.restart ? 'exclusive' : 'shared',
  }] : []),
  timeoutMs: 45_000,
  inputs: {
    schema: inputsSchema({
      ...DNP3_COMMON_INPUTS,
      poll: { enum: ['integrity', 'class0'] },
      control: {
        type: 'object', additionalProperties: false, required: ['index'],
        properties: {
          index: { type: 'integer', minimum: 0, maximum: 65535 }, code: { enum: Object.keys(CONTROL_CODES) },
          mode: { enum: ['select-operate', 'direct-operate'] }, onTimeMs: { type: 'integer', minimum: 0, maximum: 60_000 }, offTimeMs: { type: 'integer', minimum: 0, maximum: 60_000 },
        },
      },
      restart: { enum: ['cold', 'warm'] },
      recoveryMs: { type: 'integer', minimum: 0, maximum: 300_000 },
    }),
    defaults: { masterAddress: DEFAULT_MASTER_ADDRESS, requestTimeoutMs: 2000, poll: 'integrity', recoveryMs: 15_000 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('dnp3.access needs a declared dnp3 service');
    const { inputs } = ctx;
    const transcript = new Transcript(ctx.evidence, 'dnp3-access.txt');
    const options: Dnp3Options = { signal: ctx.signal, waitMs: inputs.requestTimeoutMs, transcript, ...addressesFor(service, inputs) };
    const conn = await Dnp3Connection.open(service, options);
    let poll: Answer;
    let control: ControlRecord;
    let restarted: RestartRecord;
    try {
      const objects = inputs.poll === 'class0' ? class0Objects() : integrityPollObjects();
      poll = readAnswer(expectResponse(await conn.request(FUNCTION.read, objects, `${inputs.poll} poll`), 'an integrity poll', options.waitMs));
      const controlSkip = destructiveReason(ctx, inputs.control !== undefined, 'control point');
      control = controlSkip ? { performed: false, reason: controlSkip } : await operate(ctx, conn);
      const restartSkip = destructiveReason(ctx, inputs.restart !== undefined, 'restart');
      restarted = restartSkip ? { performed: false, reason: restartSkip } : await restart(ctx, conn, service, options);
    } finally {
      conn.close();
    }
    const observations = {
      addresses: { master: options.master, outstation: options.outstation },
      poll: { kind: inputs.poll, answer: answerText(poll), ...(poll.status === 'served' ? { points: poll.points, moreFragments: poll.more } : {}) },
      control, restart: restarted,
    };
    const evidence = [transcript.path, ctx.evidence.save('access.json', observations)];
    const findings = accessFindings(poll, control, restarted, evidence);
    const refusals = [
      ...(isChallenge(poll) ? [`the ${inputs.poll} poll was challenged (${answerText(poll)})`] : []),
      ...(control.refused ? [`CROB ${control.index}: ${control.operate ?? control.select}`] : []),
      ...(restarted.refused ? [`${restarted.kind} restart: ${restarted.answer}`] : []),
    ];
    const judgements: Judgement[] = [];
    if (findings.some((f) => f.severity !== 'info') || refusals.length > 0) {
      const reason = `the outstation refused unauthenticated requests itself: ${refusals.join('; ')}`;
      judgements.push({ requirement: 'CR 1.1', coverage: 'partial', passReason: reason }, { requirement: 'CR 2.1', coverage: 'partial', passReason: reason });
    }
    const note = judgements.length === 0 ? { note: `no finding and no refusal by the outstation (poll: ${answerText(poll)}): CR 1.1 and CR 2.1 are not determined` } : {};
    return { observations: { ...observations, ...note }, findings, outcomes: judge(judgements, findings) };
  },
});

function accessFindings(poll: Answer, control: ControlRecord, restarted: RestartRecord, evidence: string[]): Finding[] {
  const findings: Finding[] = [];
  if (poll.status === 'served') {
    findings.push(finding({
      code: 'unauthenticated-poll', severity: 'medium', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `The outstation answered a poll from an unauthenticated master with ${poll.points} point values (${answerText(poll)}).`,
    }));
  }
  if (control.accepted) {
    findings.push(finding({
      code: 'unauthenticated-control', severity: 'high', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `CROB ${control.index} was operated (${control.code}, ${control.mode}) by an unauthenticated master: status ${control.status}.`,
    }));
  }
  if (restarted.accepted) {
    findings.push(finding({
      code: 'unauthenticated-restart', severity: 'high', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `The outstation accepted a ${restarted.kind} restart from an unauthenticated master (${restarted.answer}).`,
    }));
  }
  if (restarted.accepted && restarted.recoveredAfterMs === null) {
    findings.push(finding({
      code: 'not-recovered-after-restart', severity: 'info', requirements: [], evidence,
      message: 'The outstation did not answer a link status request again within recoveryMs of the restart. Check it by hand.',
    }));
  }
  return findings;
}
