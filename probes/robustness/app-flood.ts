import {
  MissingInput, defineProbe, finding, inputsSchema, judge, type EssentialFunctionMonitor, type Finding, type Judgement, type ProbeContext,
  type PhaseJudgement, type ServiceUnderTest,
} from '../../src/sdk';
import {
  SERVER_CURRENT_TIME, citePhase, httpGetFlood, isKept, isLoss, loadHandling, modbusReadFlood, opcuaReadFlood, opcuaSessionFlood, phaseEvidence, plannedStepTotal,
  requireNormalAnswer, runSteppedLoad, snmpGetFlood, type LoadGenerator, type StepResult,
} from '../../src/protocols/load';
import { clientIdentityFor } from '../../src/protocols/opcua';
import type { SnmpAccess } from '../../src/protocols/snmp';
import { profileCommunities, profileV3User } from '../../src/protocols/snmp-access';

export interface AppFloodInputs {
  /** Requests per second of each step, lowest first (each clamped to the profile's robustness.maxRate). */
  rates: number[];
  /** Seconds per step (clamped to robustness.maxStepSeconds). */
  stepSeconds: number;
  /** Connections the requests are spread over. */
  connections: number;
  /** Modbus: the holding register each request reads. */
  register: number;
  /** HTTP: the path each GET asks for. */
  path: string;
  requestTimeoutMs: number;
  /** OPC UA: the node each Read asks for (default: the essentialFunction.opcua node, else i=2258 CurrentTime). */
  nodeId?: string;
  /** OPC UA: which floods to run, in this order ("read": Read requests over established sessions; "session":
   * CreateSession+ActivateSession, each closed again). */
  opcuaFloods: ('read' | 'session')[];
  /** OPC UA: sessions per second of each session-flood step. */
  sessionRates: number[];
}

const CR71 = 'CR 7.1';
const RE1 = 'CR 7.1 RE(1)';

/** One stepped load of the attempt: what each request is, its step label and rates, and how to open its generator. */
interface Flood {
  readonly what: string;
  readonly rates: readonly number[];
  label(rate: number): string;
  open(): Promise<LoadGenerator & { describe?: string; closed?(): Promise<void> }>;
}

function floodsFor(ctx: ProbeContext<AppFloodInputs>, service: ServiceUnderTest): Flood[] | string {
  const { inputs } = ctx;
  const rates = inputs.rates;
  const label = (kind: string) => (rate: number) => `${kind} ${rate}/s`;
  if (service.protocol === 'modbus') {
    return [{
      what: `Modbus read of holding register ${inputs.register}`, rates, label: label('modbus flood'),
      open: async () => modbusReadFlood({
        host: service.host, port: service.port, unitId: service.unitId ?? 1, address: inputs.register,
        connections: inputs.connections, window: 16, requestTimeoutMs: inputs.requestTimeoutMs,
      }),
    }];
  }
  if (service.protocol === 'opcua') return opcuaFloods(ctx, service);
  if (service.protocol === 'snmp') {
    const access = snmpAccess(ctx, service);
    if (!access) return 'the profile gives no SNMP community (credentials snmp.community, service option communities) and no v3 user (credentials snmp): a flood of requests the agent may not answer is no evidence, so none was sent';
    return [{
      what: `SNMP ${access.version} GetRequest sysUpTime.0 (the profile's ${access.version === 'v3' ? 'v3 user' : 'community'})`, rates, label: label('snmp flood'),
      open: async () => snmpGetFlood({ endpoint: { host: service.host, port: service.port }, access, requestTimeoutMs: inputs.requestTimeoutMs }),
    }];
  }
  return [{
    what: `HTTP GET ${inputs.path}`, rates, label: label(`${service.protocol} flood`),
    open: async () => httpGetFlood({ host: service.host, port: service.port, tls: service.tls, path: inputs.path, connections: inputs.connections, requestTimeoutMs: inputs.requestTimeoutMs }),
  }];
}

/** The profile's community first (v2c, v1 when the service declares only v1), else its v3 user. */
function snmpAccess(ctx: ProbeContext<AppFloodInputs>, service: ServiceUnderTest): SnmpAccess | undefined {
  const community = profileCommunities(service, undefined, ctx.credentials)[0];
  const versions = service.options.versions;
  if (community !== undefined) return { version: Array.isArray(versions) && versions.length === 1 && versions[0] === 'v1' ? 'v1' : 'v2c', community };
  const user = profileV3User(ctx.credentials, service, {});
  return user ? { version: 'v3', user } : undefined;
}

/** OPC UA Read and session floods, logged in as the monitor is (Anonymous where offered, else credentials monitor.opcua / opcua). */
function opcuaFloods(ctx: ProbeContext<AppFloodInputs>, service: ServiceUnderTest): Flood[] {
  const { inputs } = ctx;
  const credential = ctx.credentials.get('monitor.opcua') ?? ctx.credentials.get('opcua');
  const watched = (ctx.essentialFunction.opcua as { nodeId?: unknown } | undefined)?.nodeId;
  const nodeId = inputs.nodeId ?? (typeof watched === 'string' ? watched : SERVER_CURRENT_TIME);
  const login = {
    target: { host: service.host, port: service.port }, identity: clientIdentityFor(service, ctx.resolvePath), requestTimeoutMs: inputs.requestTimeoutMs,
    signal: ctx.signal, ...(credential ? { credential: { username: credential.username, password: credential.password } } : {}),
  };
  const floods: Record<'read' | 'session', Flood> = {
    read: {
      what: `OPC UA Read of ${nodeId} (Value)`, rates: inputs.rates, label: (rate) => `opcua read flood ${rate}/s`,
      open: () => opcuaReadFlood({ ...login, nodeId, sessions: Math.min(inputs.connections, 8), window: 16 }),
    },
    session: {
      what: 'OPC UA CreateSession+ActivateSession (each closed again)', rates: inputs.sessionRates, label: (rate) => `opcua session flood ${rate}/s`,
      open: () => opcuaSessionFlood({ ...login, channels: Math.min(inputs.connections, 2), window: 16 }),
    },
  };
  return inputs.opcuaFloods.map((k) => floods[k]);
}

interface FloodRun {
  readonly flood: Flood;
  readonly describe?: string;
  readonly result: Awaited<ReturnType<typeof runSteppedLoad>>;
}

/** Runs the floods one after the other with one total budget; a later flood is not opened once the function is lost. */
async function runFloods(ctx: ProbeContext<AppFloodInputs>, floods: readonly Flood[], monitor: EssentialFunctionMonitor, stepSeconds: number): Promise<FloodRun[]> {
  const budget = { left: ctx.load.limits.maxTotal };
  const runs: FloodRun[] = [];
  for (const flood of floods) {
    if (monitor.signal.aborted || ctx.signal.aborted) break;
    const generator = await flood.open();
    const result = await runSteppedLoad(generator, {
      rates: flood.rates, stepSeconds, limits: ctx.load.limits, signal: ctx.signal, monitor, budget,
      label: (rate) => flood.label(rate), drainMs: ctx.inputs.requestTimeoutMs,
    });
    // The next flood logs in again: the device must have the sessions of this one back.
    await generator.closed?.();
    runs.push({ flood, result, ...(generator.describe ? { describe: generator.describe } : {}) });
    if (result.steps.some((s) => s.stoppedBy === 'total cap')) break;
  }
  return runs;
}

/** How the device handled the highest step of a flood, in words. */
function handlingText(top: StepResult): string {
  const handling = loadHandling(top);
  return handling === 'refused-excess' ? `refused the excess (${top.refused} refusals at ${top.targetRate}/s)`
    : handling === 'plateau' ? `answered ${top.answeredRate}/s of ${top.achievedRate}/s sent (its answered rate levelled off)`
      : `served all ${top.achievedRate}/s without needing to limit`;
}

export default defineProbe<AppFloodInputs>({
  id: 'robustness.app-flood',
  protocol: 'robustness',
  title: 'Application request flood at stepped rates with the essential function monitored',
  description:
    'Floods a declared Modbus/TCP service with read requests (raw MBAP frames over a few connections), an HTTP(S) '
    + 'service with GETs over keep-alive connections, an OPC UA service with Read requests over established sessions and then '
    + 'with CreateSession+ActivateSession (each closed again), or an SNMP agent with GetRequests of sysUpTime (the profile\'s '
    + 'community, else its v3 user), at stepped rates (default 100, 1000 and 10000 requests/s, 5 s each, '
    + 'within the profile\'s robustness caps), and measures per step the achieved rate, the answered rate, refusals and '
    + 'errors. Each step is a phase of the essential-function monitor: CR 7.1 fails when the function is lost at a step; '
    + 'CR 7.1 RE(1) passes when the function is kept while the device serves or sheds the load, and fails when it collapses. '
    + 'Without an essentialFunction block nothing is sent and nothing is determined.',
  requirements: [CR71, RE1],
  findings: {
    'function-lost-under-load': 'the essential function was lost while the device was flooded with requests',
    'function-not-judged': 'a step had no monitor sample, so the function under that load is unknown',
  },
  safety: 'destructive',
  scope: 'service',
  appliesTo: ['modbus', 'http', 'https', 'opcua', 'snmp'],
  when: (s) => s.protocol !== 'modbus' || !s.tls,
  timeoutMs: 300_000,
  locks: (plan) => (plan.service ? [{ key: `load:${plan.service.host}`, mode: 'exclusive' }] : []),
  load: ({ service, inputs, limits, lossAfterMs }) => {
    if (!service) return undefined;
    // OPC UA: a Read flood at `rates` and a session flood at `sessionRates` (opcuaFloods); every other protocol one flood.
    const floods = service.protocol === 'opcua'
      ? inputs.opcuaFloods.map((k) => ({ what: `${k} flood`, rates: k === 'read' ? inputs.rates : inputs.sessionRates }))
      : [{ what: 'flood', rates: inputs.rates }];
    const steps = floods.map((f) => ({ ...f, ...plannedStepTotal(f.rates, inputs.stepSeconds, limits, lossAfterMs) }));
    return {
      unit: 'requests', total: steps.reduce((sum, f) => sum + f.total, 0),
      basis: steps.map((f) => `${f.what} ${f.rates.join(' + ')} requests/s for ${f.stepSeconds} s per step`).join('; '),
    };
  },
  inputs: {
    schema: inputsSchema({
      rates: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
      stepSeconds: { type: 'number', exclusiveMinimum: 0 },
      connections: { type: 'integer', minimum: 1, maximum: 64 },
      register: { type: 'integer', minimum: 0, maximum: 65535 },
      path: { type: 'string', pattern: '^/' },
      requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
      nodeId: { type: 'string', minLength: 1 },
      opcuaFloods: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['read', 'session'] } },
      sessionRates: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
    }),
    defaults: {
      rates: [100, 1000, 10_000], stepSeconds: 5, connections: 4, register: 0, path: '/', requestTimeoutMs: 2000,
      opcuaFloods: ['read', 'session'], sessionRates: [10, 100],
    },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('robustness.app-flood needs a declared service');
    const monitor = ctx.monitor;
    if (!monitor) {
      return { observations: { notDetermined: 'no essential-function monitor watches this host (profile essentialFunction): a flood without it is no evidence, so none was sent' }, findings: [], outcomes: [] };
    }
    const floods = floodsFor(ctx, service);
    if (typeof floods === 'string') return { observations: { notDetermined: floods }, findings: [], outcomes: [] };
    const { inputs } = ctx;
    await requireNormalAnswer(service, Math.min(2000, inputs.requestTimeoutMs), ctx.signal);
    const connections = Math.min(inputs.connections, ctx.load.limits.maxConnections);
    // A step shorter than twice the monitor's loss window could not show a loss it causes.
    const stepSeconds = Math.max(inputs.stepSeconds, (2 * monitor.lossAfterMs) / 1000);
    const runs = await runFloods({ ...ctx, inputs: { ...inputs, connections } }, floods, monitor, stepSeconds);
    const what = runs.map((r) => r.flood.what).join('; ') || floods.map((f) => f.what).join('; ');
    const allSteps = runs.flatMap((r) => r.result.steps.map((step, i) => ({ step, phase: r.result.phases[i] as PhaseJudgement | undefined, what: r.flood.what })));
    const plan = runs.map((r) => ({ request: r.flood.what, ...(r.describe ? { client: r.describe } : {}), ...r.result.plan }));
    const clamped = [...new Set([...ctx.load.clamped, ...(stepSeconds > inputs.stepSeconds ? [`stepSeconds ${inputs.stepSeconds} raised to ${stepSeconds} (twice the monitor's lossAfterMs)`] : []), ...runs.flatMap((r) => r.result.plan.clamped), ...(connections < inputs.connections ? [`connections ${inputs.connections} lowered to maxConnections ${connections}`] : [])])];
    const steps = allSteps.map(({ step, phase, what: request }) => ({ ...step, request, handling: loadHandling(step), monitor: phase ? { verdict: phase.verdict, text: phase.text } : { verdict: 'not_determined', text: 'no phase judgement' } }));
    const evidence = [ctx.evidence.save('steps.json', { request: what, plan, clamped, steps, phases: allSteps.flatMap(({ phase }) => (phase ? [phaseEvidence(phase)] : [])) })];

    const findings: Finding[] = [];
    for (const { step, phase, what: request } of allSteps) {
      if (!phase || !isLoss(phase)) continue;
      findings.push(finding({
        code: 'function-lost-under-load', severity: 'high', requirements: [CR71, RE1], evidence,
        message: `At ${step.targetRate} requests/s (${request}; achieved ${step.achievedRate}/s, answered ${step.answeredRate}/s, ${step.refused} refused, ${step.errors} errors) the essential function was ${phase.verdict}: ${citePhase(phase)}.`,
      }));
    }
    const unjudged = allSteps.filter(({ phase }) => !phase || phase.verdict === 'not_determined');
    if (unjudged.length > 0) {
      findings.push(finding({ code: 'function-not-judged', severity: 'info', requirements: [CR71], evidence, message: `No monitor sample judged the step(s) ${unjudged.map(({ step }) => step.label).join(', ')}.` }));
    }
    const judgements: Judgement[] = [];
    const allKept = allSteps.length > 0 && allSteps.every(({ phase }) => phase !== undefined && isKept(phase));
    if (findings.some((f) => f.code.endsWith('function-lost-under-load')) || allKept) {
      judgements.push({ requirement: CR71, coverage: 'partial', passReason: `the essential function was kept at every step (${what}): ${allSteps.map(({ step, phase }) => `${step.label} ${phase?.verdict}`).join(', ')}` });
      const tops = runs.flatMap((r) => r.result.steps.slice(-1).map((top) => `${r.flood.label(top.targetRate)}: ${handlingText(top)}`));
      judgements.push({ requirement: RE1, coverage: 'partial', passReason: `under the highest load the device kept its essential function; ${tops.join('; ')}` });
    }
    const nothingSent = allSteps.length === 0 && monitor.signal.aborted
      ? { notDetermined: 'the essential function was already lost before the first step (stopOnLoss): no load was sent, so none was judged' } : {};
    return {
      observations: {
        ...nothingSent, request: what, plan, clamped, connections,
        steps: steps.map((s) => ({ label: s.label, targetRate: s.targetRate, achievedRate: s.achievedRate, answeredRate: s.answeredRate, sent: s.sent, answered: s.answered, refused: s.refused, errors: s.errors, backlogged: s.backlogged, handling: s.handling, monitor: s.monitor.verdict, ...(s.stoppedBy ? { stoppedBy: s.stoppedBy } : {}) })),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
