import { MissingInput, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement, type PhaseJudgement, type ProbeContext } from '../../src/sdk';
import { citePhase, fillConnections, isKept, isLoss, normalRequest, phaseEvidence, requireNormalAnswer, type ConnectionFate, type HeldConnections } from '../../src/protocols/load';

export interface ConnectionExhaustionInputs {
  /** Connections to open at most (clamped to the profile's robustness.maxConnections). */
  maxConnections: number;
  /** Connection attempts per second (clamped to robustness.maxRate). */
  connectRate: number;
  connectTimeoutMs: number;
  /** Attempts in a row that end other than held after which the device's limit counts as reached. */
  stopAfterFailures: number;
  /** How long the connections are held once the limit (or the cap) is reached (clamped to maxStepSeconds). */
  holdSeconds: number;
  /** After the release, a normal request must succeed within this time. */
  recoverySeconds: number;
}

const CR = 'CR 7.2';

const count = (records: readonly { fate: ConnectionFate }[], fate: ConnectionFate) => records.filter((r) => r.fate === fate).length;

/** Polls a normal request every 250 ms until one succeeds or `withinMs` has passed. */
async function recovery(ctx: ProbeContext<ConnectionExhaustionInputs>, withinMs: number): Promise<{ ok: boolean; afterMs: number; detail: string }> {
  const started = Date.now();
  for (;;) {
    const r = await normalRequest(ctx.service!, Math.min(2000, withinMs), ctx.signal);
    const afterMs = Date.now() - started;
    if (r.ok || afterMs >= withinMs) return { ok: r.ok, afterMs, detail: r.detail };
    await ctx.wait(250, 'connection-exhaustion: the service did not answer a normal request yet after the release');
  }
}

export default defineProbe<ConnectionExhaustionInputs>({
  id: 'robustness.connection-exhaustion',
  protocol: 'robustness',
  title: 'TCP connection exhaustion: clean refusal, essential function kept, recovery after release',
  description:
    'Opens full TCP handshakes to a declared service at a capped rate and holds them (default up to 200, within the profile\'s '
    + 'robustness caps) until the device stops accepting, records how each attempt ended (held, refused with RST, accepted then '
    + 'closed, no answer), holds the connections for a while with the essential-function monitor watching, releases them, and '
    + 'checks that a normal request succeeds again within the recovery time (CR 7.2). A device that leaves SYNs unanswered '
    + 'instead of refusing, loses its function, or does not recover fails; a pass needs the monitor.',
  requirements: [CR],
  findings: {
    'no-clean-refusal': 'connection attempts beyond the device\'s limit went unanswered instead of being refused',
    'function-lost-while-exhausted': 'the essential function was lost while the connection slots were held',
    'not-recovered': 'after the connections were released, a normal request still failed',
  },
  safety: 'destructive',
  scope: 'service',
  appliesTo: ['ssh', 'tls', 'https', 'http', 'opcua', 'modbus', 'modbus-tls', 'telnet', 'ftp', 's7', 'enip', 'dnp3', 'iec104', 'mqtt', 'tcp'],
  when: (s) => s.transport === 'tcp',
  timeoutMs: 300_000,
  locks: (plan) => (plan.service ? [{ key: `load:${plan.service.host}`, mode: 'exclusive' }] : []),
  inputs: {
    schema: inputsSchema({
      maxConnections: { type: 'integer', minimum: 1 },
      connectRate: { type: 'integer', minimum: 1 },
      connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 30_000 },
      stopAfterFailures: { type: 'integer', minimum: 1, maximum: 1000 },
      holdSeconds: { type: 'number', minimum: 0 },
      recoverySeconds: { type: 'number', minimum: 0.1, maximum: 600 },
    }),
    defaults: { maxConnections: 200, connectRate: 100, connectTimeoutMs: 3000, stopAfterFailures: 5, holdSeconds: 5, recoverySeconds: 10 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('robustness.connection-exhaustion needs a declared service');
    const { inputs } = ctx;
    const { limits } = ctx.load;
    const clamped = [...ctx.load.clamped];
    const clamp = (name: string, value: number, cap: number, capName: string) => {
      if (value <= cap) return value;
      clamped.push(`${name} ${value} lowered to ${capName} ${cap}`);
      return cap;
    };
    const max = clamp('maxConnections', inputs.maxConnections, limits.maxConnections, 'robustness.maxConnections');
    const rate = clamp('connectRate', inputs.connectRate, limits.maxRate, 'robustness.maxRate');
    const monitor = ctx.monitor;
    // A hold shorter than the monitor's loss window could not show a loss it causes: hold at least twice that.
    const wanted = Math.max(inputs.holdSeconds, monitor ? (2 * monitor.lossAfterMs) / 1000 : 0);
    if (wanted > inputs.holdSeconds) clamped.push(`holdSeconds ${inputs.holdSeconds} raised to ${wanted} (twice the monitor's lossAfterMs)`);
    const holdSeconds = clamp('holdSeconds', wanted, limits.maxStepSeconds, 'robustness.maxStepSeconds');
    const stop = monitor ? AbortSignal.any([ctx.signal, monitor.signal]) : ctx.signal;

    await requireNormalAnswer(service, Math.min(2000, inputs.connectTimeoutMs), ctx.signal);
    let held: HeldConnections | undefined;
    const fill = monitor?.phase(`open up to ${max} connections`);
    let heldCount: number;
    try {
      held = await fillConnections({ host: service.host, port: service.port, max, rate, connectTimeoutMs: inputs.connectTimeoutMs, stopAfterFailures: inputs.stopAfterFailures, signal: stop });
      fill?.end();
      heldCount = held.open();
      const hold = monitor?.phase(`hold ${heldCount} connections`);
      try {
        if (!stop.aborted) await new Promise<void>((resolve) => { const t = setTimeout(resolve, holdSeconds * 1000); stop.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true }); });
      } finally {
        hold?.end();
      }
    } finally {
      fill?.end();
      held?.release();
    }
    ctx.signal.throwIfAborted();
    const recovered = await recovery(ctx, inputs.recoverySeconds * 1000);
    if (monitor) await ctx.wait(monitor.periodMs + 50, 'connection-exhaustion: one monitor period, so the hold phase has the sample after it');
    const phases: PhaseJudgement[] = monitor ? monitor.phases().filter((p) => p.label.startsWith('open up to') || p.label.startsWith('hold ')) : [];

    const records = held?.records ?? [];
    const fates = { held: count(records, 'held'), refused: count(records, 'refused'), closedByDevice: count(records, 'closed-by-device'), timeout: count(records, 'timeout'), error: count(records, 'error') };
    const firstNotHeld = [...records].sort((a, b) => a.index - b.index).find((r) => r.fate !== 'held');
    const limitReached = records.length < max || firstNotHeld !== undefined;
    const summary = {
      attempted: records.length, ...fates, heldAtEnd: heldCount, closedWhileHeld: held?.closedWhileHeld() ?? 0, cap: max, connectRate: rate,
      limitReached, ...(firstNotHeld ? { firstRefusal: { index: firstNotHeld.index, fate: firstNotHeld.fate, ...(firstNotHeld.detail ? { detail: firstNotHeld.detail } : {}) } } : {}),
      stoppedByLoss: monitor?.signal.aborted ?? false,
    };
    const evidence = [ctx.evidence.save('connections.json', { summary, clamped, recovery: recovered, records, phases: phases.map(phaseEvidence) })];

    const findings: Finding[] = [];
    if (fates.timeout > 0) {
      findings.push(finding({
        code: 'no-clean-refusal', severity: 'medium', requirements: [CR], evidence,
        message: `${fates.timeout} of ${records.length} connection attempts got no answer within ${inputs.connectTimeoutMs} ms once ${fates.held} were held: the device hangs instead of refusing (RST, or accept then close).`,
      }));
    }
    for (const p of phases.filter(isLoss)) {
      findings.push(finding({ code: 'function-lost-while-exhausted', severity: 'high', requirements: [CR], evidence, message: `With ${fates.held} connections held the essential function was ${p.verdict}: ${citePhase(p)}.` }));
    }
    if (!recovered.ok) {
      findings.push(finding({ code: 'not-recovered', severity: 'high', requirements: [CR], evidence, message: `${recovered.afterMs} ms after the ${heldCount} connections were released a normal request still failed (${recovered.detail}).` }));
    }
    // Failures stand on their own; a pass needs the monitor's evidence that the function was kept throughout.
    const judgements: Judgement[] = [];
    const kept = monitor !== undefined && phases.length > 0 && phases.every(isKept);
    if (findings.length > 0 || kept) {
      const refusal = firstNotHeld ? `refused connection ${firstNotHeld.index + 1} cleanly (${firstNotHeld.fate})` : `accepted all ${max} connections (the cap)`;
      judgements.push({ requirement: CR, coverage: 'partial', passReason: `the device ${refusal}, kept its essential function (${phases.map((p) => `${p.label}: ${p.verdict}`).join('; ')}) and answered a normal request ${recovered.afterMs} ms after the release` });
    }
    return {
      observations: {
        ...summary, clamped, recovery: recovered,
        ...(monitor ? { monitor: phases.map((p) => ({ label: p.label, verdict: p.verdict })) } : { notDetermined: 'no essential-function monitor watched this host (profile essentialFunction): the function under exhaustion is unknown, so CR 7.2 can fail but not pass' }),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
