import { InvalidInput, defineProbe, finding, judge, type FailCloseHooks, type Finding, type ProbeContext } from '../../src/sdk';
import {
  checkEndpoints, crossingsOf, declaredSet, describeHookRun, hookSucceeded, isFailOpen, keepCapture, runHook, startStream, witnessOf,
  type Crossing, type Endpoint, type HookRun, type OutageTimeline, type RunningStream,
} from '../../src/protocols/boundary';

const RE3 = 'NDR 5.2 RE(3)';

interface Inputs {
  /** Gap between two packets of one sender (µs): 3 undeclared senders and one per declared port run at once. */
  intervalMicros: number;
  /** How long the stream runs with the filter up before the stop hook (its packets prove the stream reaches the far side). */
  baselineMs: number;
  /** How often the witness flow is tried after the start hook, until the device forwards again. */
  pollMs: number;
}

interface StreamOf { near: Endpoint; far: Endpoint; stream: RunningStream }

const notDetermined = (reason: string, extra: Record<string, unknown> = {}) => ({ observations: { ...extra, notDetermined: reason }, findings: [], outcomes: [] });

/** Streams from every untrusted endpoint to every trusted one that has a declared tcp/udp conduit to witness forwarding. */
async function startStreams(ctx: ProbeContext<Inputs>, endpoints: Map<string, Endpoint>): Promise<{ streams: StreamOf[]; unwitnessed: string[] }> {
  const decl = ctx.boundary!;
  const streams: StreamOf[] = [];
  const unwitnessed: string[] = [];
  try {
    for (const near of decl.zones.filter((z) => !z.trusted).map((z) => endpoints.get(z.name)!)) {
      for (const far of decl.zones.filter((z) => z.trusted).map((z) => endpoints.get(z.name)!)) {
        const declared = declaredSet(decl, near, far);
        const witness = witnessOf(declared);
        if (!witness) unwitnessed.push(`${near.zone.name}->${far.zone.name}`);
        else streams.push({ near, far, stream: await startStream(near, far, declared, witness, { intervalMicros: ctx.inputs.intervalMicros, firstPort: 1 }, ctx.signal) });
      }
    }
  } catch (err) {
    await Promise.all(streams.map((s) => s.stream.abandon()));
    throw err;
  }
  return { streams, unwitnessed };
}

/** Polls every stream's witness until it crosses again (or the recovery budget ends); epoch ms, or undefined. */
async function recovery(ctx: ProbeContext<Inputs>, streams: StreamOf[], hooks: FailCloseHooks): Promise<number | undefined> {
  const until = Date.now() + hooks.recoverTimeoutMs;
  while (Date.now() < until) {
    const tried = Date.now();
    const crossed = await Promise.all(streams.map((s) => s.stream.probe(Math.min(1000, ctx.inputs.pollMs * 4))));
    if (crossed.every(Boolean)) return tried;
    await ctx.wait(Math.max(0, ctx.inputs.pollMs - (Date.now() - tried)), 'device restarting: trying the declared conduit again');
  }
  return undefined;
}

/** Stops the filter, keeps it down for outageMs, and always runs start (even on Ctrl-C, without the attempt's signal). */
async function outage(ctx: ProbeContext<Inputs>, hooks: FailCloseHooks, streams: StreamOf[]): Promise<{ stop: HookRun; start: HookRun }> {
  let stop: HookRun | undefined;
  let start: HookRun | undefined;
  try {
    stop = await runHook('stop', hooks.stop, ctx.signal);
    if (hookSucceeded(stop)) await ctx.wait(hooks.outageMs, 'filter down: streaming across the outage');
  } finally {
    // On Ctrl-C the senders stop while the device restarts, so the attempt ends within a second of it.
    const stopping = ctx.signal.aborted ? streams.map((s) => s.stream.abandon()) : [];
    start = await runHook('start', hooks.start);
    await Promise.all(stopping);
    ctx.evidence.save('hooks.json', [stop, start].filter(Boolean));
  }
  return { stop: stop!, start };
}

const describeCrossings = (list: Crossing[]) =>
  `${list.slice(0, 8).map((c) => `${c.protocol}/${c.port ?? `type ${c.icmpType}`}${c.declared ? ' (declared)' : ''} at +${c.at} ms`).join(', ')}${list.length > 8 ? ' ...' : ''}`;

function failOpenFinding(crossings: Crossing[], evidence: string[]): Finding[] {
  const open = crossings.filter(isFailOpen);
  if (open.length === 0) return [];
  const byPhase = ['stopping', 'down', 'restarting'].map((p) => `${open.filter((c) => c.phase === p).length} ${p}`).join(', ');
  const sample = describeCrossings(open);
  return [finding({ code: 'fail-open', severity: 'high', requirements: [RE3], evidence, message: `${open.length} packets crossed while the filtering function was stopped or restarting (${byPhase}): ${sample}` })];
}

export default defineProbe<Inputs>({
  id: 'boundary.fail-close',
  protocol: 'boundary',
  title: 'Fail close: nothing crosses the boundary while the filtering function is stopped or restarting',
  description:
    'Streams SYNs, datagrams and ICMP from each untrusted zone endpoint to each trusted one (undeclared ports walking the port ' +
    'space, and every declared port) while the far endpoint captures; runs the profile\'s stop hook (filtering function off or ' +
    'power cut), keeps it down for outageMs, runs the start hook (always, even on Ctrl-C), and streams on until a declared ' +
    'conduit passes again. Any packet that crossed while the filter was down or restarting is a finding. Evidence: the hook ' +
    'runs with their output, the timeline of the crossings, the far endpoint\'s pcap.',
  requirements: [RE3, 'NDR 5.2', 'NDR 5.2 RE(1)'],
  findings: {
    'fail-open': 'packets crossed the boundary while the filtering function was stopped or restarting (the device fails open)',
    'undeclared-while-up': 'undeclared packets of the stream crossed while the filter was running (deny by default does not hold)',
    'not-recovered': 'after the start hook the declared conduit did not pass again within recoverTimeoutMs',
  },
  safety: 'destructive',
  scope: 'host',
  appliesTo: [],
  locks: () => [{ key: 'boundary:zones', mode: 'exclusive' }],
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        intervalMicros: { type: 'integer', minimum: 1000, maximum: 1_000_000 },
        baselineMs: { type: 'integer', minimum: 200, maximum: 60_000 },
        pollMs: { type: 'integer', minimum: 50, maximum: 10_000 },
      },
    },
    defaults: { intervalMicros: 2000, baselineMs: 1000, pollMs: 250 },
  },
  timeoutMs: 900_000,
  async run(ctx) {
    const decl = ctx.boundary;
    if (!decl) return notDetermined('the profile declares no zones (network components only)');
    const hooks = decl.hooks?.failClose;
    if (!hooks) return notDetermined('the profile names no boundaryHooks.failClose (how to stop and restart the filtering function): NDR 5.2 RE(3) is not determined');
    const endpoints = await checkEndpoints(decl);
    const { streams, unwitnessed } = await startStreams(ctx, endpoints);
    if (streams.length === 0) return notDetermined(`no declared tcp/udp conduit from an untrusted to a trusted zone (${unwitnessed.join(', ')}) to show the device forwarding before and after the outage`);
    try {
      await ctx.wait(ctx.inputs.baselineMs, 'stream with the filter up (baseline)');
      const before = await Promise.all(streams.map((s) => s.stream.probe(1000)));
      if (!before.every(Boolean)) {
        await Promise.all(streams.map((s) => s.stream.abandon()));
        return notDetermined('a declared conduit did not pass with the filter up: the device does not forward it, so an outage cannot be told from normal operation');
      }
    } catch (err) {
      await Promise.all(streams.map((s) => s.stream.abandon()));
      throw err;
    }
    const { stop, start } = await outage(ctx, hooks, streams);
    if (!hookSucceeded(stop) || !hookSucceeded(start)) {
      await Promise.all(streams.map((s) => s.stream.abandon()));
      throw new InvalidInput(`fail-close hook failed (the device may be left without its filter; hooks.json): ${[stop, start].filter((h) => !hookSucceeded(h)).map(describeHookRun).join('; ')}`);
    }
    const recoveredAt = await recovery(ctx, streams, hooks).catch(async (err: unknown) => {
      await Promise.all(streams.map((s) => s.stream.abandon()));
      throw err;
    });
    const timeline: OutageTimeline = { stopStarted: stop.startedAt, downFrom: stop.endedAt + hooks.settleMs, startStarted: start.startedAt, ...(recoveredAt ? { recoveredAt } : {}) };
    return judgeStreams(ctx, streams, timeline, hooks);
  },
});

async function judgeStreams(ctx: ProbeContext<Inputs>, streams: StreamOf[], timeline: OutageTimeline, hooks: FailCloseHooks) {
  const evidence: string[] = [];
  const results = [];
  for (const [i, { near, far, stream }] of streams.entries()) {
    const { packets, file, sent } = await stream.stop().catch(async (err: unknown) => {
      await Promise.all(streams.slice(i + 1).map((s) => s.stream.abandon()));
      throw err;
    });
    evidence.push(keepCapture(ctx.evidence, `stream-far-${far.zone.name}-from-${near.zone.name}.pcap`, file));
    results.push({ from: near.zone.name, to: far.zone.name, sent, witness: stream.witness, crossings: crossingsOf(packets, stream.declared, timeline) });
  }
  const crossings = results.flatMap((r) => r.crossings);
  const count = (phase: string, declared: boolean) => crossings.filter((c) => c.phase === phase && c.declared === declared).length;
  const phases = Object.fromEntries(['before', 'stopping', 'down', 'restarting', 'after'].map((p) => [p, { declared: count(p, true), undeclared: count(p, false) }]));
  const rel = (t?: number) => (t === undefined ? null : Math.round(t - timeline.stopStarted));
  const summary = { phases, timeline: { stop: 0, down: rel(timeline.downFrom), start: rel(timeline.startStarted), recovered: rel(timeline.recoveredAt) }, streams: results.map(({ crossings: c, ...r }) => ({ ...r, crossed: c.length })) };
  evidence.unshift(ctx.evidence.save('timeline.json', { ...summary, crossings: results.map((r) => ({ from: r.from, to: r.to, crossings: r.crossings.filter((c) => !c.declared || (c.phase !== 'before' && c.phase !== 'after')) })) }));
  const findings = [...failOpenFinding(crossings, evidence)];
  const leaks = crossings.filter((c) => !c.declared && (c.phase === 'before' || c.phase === 'after'));
  if (leaks.length > 0) findings.push(finding({ code: 'undeclared-while-up', severity: 'high', requirements: ['NDR 5.2', 'NDR 5.2 RE(1)'], evidence, message: `${leaks.length} undeclared packets crossed while the filter was running (${describeCrossings(leaks)}; boundary.deny-default tests this in full)` }));
  if (timeline.recoveredAt === undefined) findings.push(finding({ code: 'not-recovered', severity: 'medium', requirements: ['NDR 5.2'], evidence, message: `the declared conduit did not pass again within ${hooks.recoverTimeoutMs} ms after the start hook: the device is left not forwarding` }));
  const judged = [{ requirement: RE3, coverage: 'partial' as const, passReason: `nothing crossed while the filter was stopped or restarting (down ${rel(timeline.startStarted)} ms after the stop hook, forwarding again ${rel(timeline.recoveredAt)} ms after it; ${crossings.filter((c) => c.phase === 'before').length} packets crossed before, as declared); the failure tested is the one the stop hook causes` }];
  const extra = findings.filter((f) => f.requirements.includes('NDR 5.2')).length > 0 ? ['NDR 5.2', 'NDR 5.2 RE(1)'].map((requirement) => ({ requirement, coverage: 'partial' as const, passReason: 'no undeclared packet of the stream crossed while the filter was running' })) : [];
  return { observations: summary, findings, outcomes: judge([...judged, ...extra], findings) };
}
