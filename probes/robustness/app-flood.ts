import { MissingInput, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement, type ServiceUnderTest } from '../../src/sdk';
import {
  citePhase, httpGetFlood, judgeSteps, loadHandling, modbusReadFlood, phaseEvidence, runSteppedLoad, type LoadGenerator,
} from '../../src/protocols/load';

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
}

const CR71 = 'CR 7.1';
const RE1 = 'CR 7.1 RE(1)';

function generatorFor(service: ServiceUnderTest, inputs: AppFloodInputs): { generator: LoadGenerator; what: string } {
  if (service.protocol === 'modbus') {
    return {
      what: `Modbus read of holding register ${inputs.register}`,
      generator: modbusReadFlood({
        host: service.host, port: service.port, unitId: service.unitId ?? 1, address: inputs.register,
        connections: inputs.connections, window: 16, requestTimeoutMs: inputs.requestTimeoutMs,
      }),
    };
  }
  return {
    what: `HTTP GET ${inputs.path}`,
    generator: httpGetFlood({ host: service.host, port: service.port, tls: service.tls, path: inputs.path, connections: inputs.connections, requestTimeoutMs: inputs.requestTimeoutMs }),
  };
}

export default defineProbe<AppFloodInputs>({
  id: 'robustness.app-flood',
  protocol: 'robustness',
  title: 'Application request flood at stepped rates with the essential function monitored',
  description:
    'Floods a declared Modbus/TCP service with read requests (raw MBAP frames over a few connections) or an HTTP(S) '
    + 'service with GETs over keep-alive connections, at stepped rates (default 100, 1000 and 10000 requests/s, 5 s each, '
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
  appliesTo: ['modbus', 'http', 'https'],
  when: (s) => s.protocol !== 'modbus' || !s.tls,
  timeoutMs: 300_000,
  locks: (plan) => (plan.service ? [{ key: `load:${plan.service.host}`, mode: 'exclusive' }] : []),
  inputs: {
    schema: inputsSchema({
      rates: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
      stepSeconds: { type: 'number', exclusiveMinimum: 0 },
      connections: { type: 'integer', minimum: 1, maximum: 64 },
      register: { type: 'integer', minimum: 0, maximum: 65535 },
      path: { type: 'string', pattern: '^/' },
      requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
    }),
    defaults: { rates: [100, 1000, 10_000], stepSeconds: 5, connections: 4, register: 0, path: '/', requestTimeoutMs: 2000 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('robustness.app-flood needs a declared service');
    const monitor = ctx.monitor;
    if (!monitor) {
      return { observations: { notDetermined: 'no essential-function monitor watches this host (profile essentialFunction): a flood without it is no evidence, so none was sent' }, findings: [], outcomes: [] };
    }
    const { inputs } = ctx;
    const { generator, what } = generatorFor(service, inputs);
    const connections = Math.min(inputs.connections, ctx.load.limits.maxConnections);
    // A step shorter than twice the monitor's loss window could not show a loss it causes.
    const stepSeconds = Math.max(inputs.stepSeconds, (2 * monitor.lossAfterMs) / 1000);
    const result = await runSteppedLoad(generator, {
      rates: inputs.rates, stepSeconds, limits: ctx.load.limits, signal: ctx.signal, monitor,
      label: (rate) => `${service.protocol} flood ${rate}/s`, drainMs: inputs.requestTimeoutMs,
    });
    const clamped = [...ctx.load.clamped, ...(stepSeconds > inputs.stepSeconds ? [`stepSeconds ${inputs.stepSeconds} raised to ${stepSeconds} (twice the monitor's lossAfterMs)`] : []), ...result.plan.clamped, ...(connections < inputs.connections ? [`connections ${inputs.connections} lowered to maxConnections ${connections}`] : [])];
    const steps = result.steps.map((s, i) => {
      const phase = result.phases[i];
      return { ...s, handling: loadHandling(s), monitor: phase ? { verdict: phase.verdict, text: phase.text } : { verdict: 'not_determined', text: 'no phase judgement' } };
    });
    const evidence = [ctx.evidence.save('steps.json', { request: what, plan: result.plan, clamped, steps, phases: result.phases.map(phaseEvidence) })];

    const findings: Finding[] = [];
    const { lost, unjudged, allKept } = judgeSteps(result);
    for (const { step, phase } of lost) {
      findings.push(finding({
        code: 'function-lost-under-load', severity: 'high', requirements: [CR71, RE1], evidence,
        message: `At ${step.targetRate} requests/s (${what}; achieved ${step.achievedRate}/s, answered ${step.answeredRate}/s, ${step.refused} refused, ${step.errors} errors) the essential function was ${phase.verdict}: ${citePhase(phase)}.`,
      }));
    }
    if (unjudged.length > 0) {
      findings.push(finding({ code: 'function-not-judged', severity: 'info', requirements: [CR71], evidence, message: `No monitor sample judged the step(s) ${unjudged.map((s) => s.label).join(', ')}.` }));
    }
    const judgements: Judgement[] = [];
    const top = result.steps.at(-1);
    if (lost.length > 0 || allKept) {
      judgements.push({ requirement: CR71, coverage: 'partial', passReason: `the essential function was kept at every step up to ${top?.targetRate}/s (${what}): ${result.phases.map((p) => `${p.label} ${p.verdict}`).join(', ')}` });
      const handling = top ? loadHandling(top) : 'served-all';
      const how = handling === 'refused-excess' ? `refused the excess (${top!.refused} refusals at ${top!.targetRate}/s)`
        : handling === 'plateau' ? `answered ${top!.answeredRate}/s of ${top!.achievedRate}/s sent (its answered rate levelled off)`
          : `served all ${top!.achievedRate}/s without needing to limit`;
      judgements.push({ requirement: RE1, coverage: 'partial', passReason: `under the highest load the device ${how} while its essential function was kept` });
    }
    return {
      observations: {
        request: what, plan: result.plan, clamped, connections,
        steps: steps.map((s) => ({ label: s.label, targetRate: s.targetRate, achievedRate: s.achievedRate, answeredRate: s.answeredRate, sent: s.sent, answered: s.answered, refused: s.refused, errors: s.errors, backlogged: s.backlogged, handling: s.handling, monitor: s.monitor.verdict, ...(s.stoppedBy ? { stoppedBy: s.stoppedBy } : {}) })),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
