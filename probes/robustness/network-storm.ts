import * as net from 'node:net';
import { defineProbe, finding, inputsSchema, judge, type Finding, type HostUnderTest, type Judgement, type ProbeContext } from '../../src/sdk';
import { citePhase, judgeSteps, phaseEvidence, plannedStepTotal, runSteps, type SteppedLoadResult } from '../../src/protocols/load';
import {
  NPING_MAX_RATE, linkTo, rawSocketsAllowed, stormStepRunner, stormTools, type LinkToTarget, type StormGenerator, type StormKind, type StormSpec,
} from '../../src/protocols/storm';

export interface NetworkStormInputs {
  /** Which storms, in this order. */
  storms: StormKind[];
  /** Packets per second of each step, lowest first (each clamped to the profile's robustness.maxRate). */
  rates: number[];
  /** Seconds per step (clamped to robustness.maxStepSeconds, raised to twice the monitor's lossAfterMs). */
  stepSeconds: number;
  /** The SYN storm's port; default the host's first declared TCP service. */
  tcpPort?: number;
  /** The UDP port the closed-port storm goes to (the next one up when the profile declares it). */
  closedUdpPort: number;
  /** UDP storms: Node's dgram (no root needed) or hping3. */
  udpGenerator: 'node' | 'hping3';
  /** UDP payload bytes (Node generator). */
  payloadBytes: number;
}

const CR71 = 'CR 7.1';
const KINDS: readonly StormKind[] = ['syn', 'udp', 'udp-closed', 'icmp', 'arp'];
const NAMES: Record<StormKind, string> = { syn: 'TCP SYN', udp: 'UDP', 'udp-closed': 'UDP to a closed port', icmp: 'ICMP echo', arp: 'ARP request' };

/** A storm as planned: sent (spec), or not, and why; "not-applicable" storms do not keep CR 7.1 from passing. */
type Planned = { spec: StormSpec; what: string } | { kind: StormKind; what: string; status: 'not-applicable' | 'not-run'; reason: string };

interface Situation {
  address: string;
  link: LinkToTarget;
  raw: boolean;
  tools: { hping3?: string; nping?: string };
}

function closedPort(host: HostUnderTest, from: number): number {
  const declared = new Set(host.services.filter((s) => s.transport === 'udp').map((s) => s.port));
  let port = from;
  while (declared.has(port) && port < 65535) port++;
  return port;
}

/** Every storm the inputs ask for, with its target and generator, or the reason it is not sent. */
function planStorms(ctx: ProbeContext<NetworkStormInputs>, at: Situation): Planned[] {
  const { inputs, host } = ctx;
  const needRaw = (kind: StormKind, what: string, generator: StormGenerator, spec: Omit<StormSpec, 'kind' | 'generator' | 'address'>): Planned => {
    if (generator !== 'node' && !at.raw) return { kind, what, status: 'not-run', reason: 'raw sockets need root or CAP_NET_RAW, which this process lacks' };
    if (generator !== 'node' && !at.tools[generator]) return { kind, what, status: 'not-run', reason: `${generator} is not installed (Debian package ${generator === 'hping3' ? 'hping3' : 'nmap'})` };
    return { spec: { kind, generator, address: at.address, ...spec, ...(at.link.direct ? { interface: at.link.dev } : {}) }, what };
  };
  return inputs.storms.flatMap((kind): Planned[] => {
    switch (kind) {
      case 'syn': {
        const port = inputs.tcpPort ?? host.services.find((s) => s.transport === 'tcp')?.port;
        if (port === undefined) return [{ kind, what: NAMES.syn, status: 'not-applicable', reason: 'the host declares no TCP service' }];
        return [needRaw(kind, `${NAMES.syn} to ${port}/tcp`, 'hping3', { port })];
      }
      case 'udp': {
        const udp = host.services.filter((s) => s.transport === 'udp');
        if (udp.length === 0) return [{ kind, what: NAMES.udp, status: 'not-applicable', reason: 'the host declares no UDP service' }];
        return udp.map((s) => needRaw(kind, `${NAMES.udp} to ${s.port}/udp (${s.name})`, inputs.udpGenerator, { port: s.port, payloadBytes: inputs.payloadBytes }));
      }
      case 'udp-closed': {
        const port = closedPort(host, inputs.closedUdpPort);
        return [needRaw(kind, `${NAMES['udp-closed']} (${port}/udp, not declared)`, inputs.udpGenerator, { port, payloadBytes: inputs.payloadBytes })];
      }
      case 'icmp': return [needRaw(kind, NAMES.icmp, 'hping3', {})];
      case 'arp':
        if (!at.link.direct) return [{ kind, what: NAMES.arp, status: 'not-applicable', reason: `ARP only on a directly connected bench link: ${at.link.why ?? 'not one'}` }];
        return [needRaw(kind, `${NAMES.arp} on ${at.link.dev}`, 'nping', {})];
    }
  });
}

interface StormRun {
  what: string;
  kind: StormKind;
  generator?: StormGenerator;
  status: 'run' | 'not-applicable' | 'not-run';
  reason?: string;
  result?: SteppedLoadResult;
  clamped: string[];
}

/** Runs the storms in order, one stepped load each, sharing the attempt's total budget; stops after a loss (stopOnLoss). */
async function runStorms(ctx: ProbeContext<NetworkStormInputs>, planned: Planned[], stepSeconds: number, scope: readonly string[], tools: Situation['tools']): Promise<StormRun[]> {
  const monitor = ctx.monitor!;
  const budget = { left: ctx.load.limits.maxTotal };
  const runs: StormRun[] = [];
  for (const p of planned) {
    if (!('spec' in p)) {
      runs.push({ what: p.what, kind: p.kind, status: p.status, reason: p.reason, clamped: [] });
      continue;
    }
    const { spec } = p;
    const base = { what: p.what, kind: spec.kind, generator: spec.generator };
    if (monitor.signal.aborted) { runs.push({ ...base, status: 'not-run', reason: 'the function was lost at an earlier storm (stopOnLoss)', clamped: [] }); continue; }
    if (budget.left <= 0) { runs.push({ ...base, status: 'not-run', reason: `the attempt's packet budget (robustness.maxTotal ${ctx.load.limits.maxTotal}) was spent`, clamped: [] }); continue; }
    const clamped: string[] = [];
    let rates = ctx.inputs.rates;
    if (spec.generator === 'nping' && rates.some((r) => r > NPING_MAX_RATE)) {
      clamped.push(`ARP steps above ${NPING_MAX_RATE}/s held at ${NPING_MAX_RATE}/s: nping sends one unpaced burst when asked for less than 1 ms between packets`);
      rates = [...new Set(rates.map((r) => Math.min(r, NPING_MAX_RATE)))];
    }
    const result = await runSteps(
      { rates, stepSeconds, limits: ctx.load.limits, signal: ctx.signal, monitor, label: (rate) => `${p.what} ${rate}/s` },
      stormStepRunner(spec, scope, tools), undefined, budget,
    );
    runs.push({ ...base, status: 'run', result, clamped: [...clamped, ...result.plan.clamped] });
  }
  return runs;
}

function verdict(runs: StormRun[], evidence: string[]): { findings: Finding[]; judgements: Judgement[]; notDetermined?: string } {
  const findings: Finding[] = [];
  const ran = runs.filter((r) => r.result);
  const judged = ran.map((r) => ({ run: r, ...judgeSteps(r.result!) }));
  for (const { run, lost } of judged) {
    for (const { step, phase } of lost) {
      findings.push(finding({
        code: 'function-lost-under-storm', severity: 'high', requirements: [CR71], evidence,
        message: `At ${step.targetRate} packets/s (${run.what}; ${step.sent} sent, achieved ${step.achievedRate}/s) the essential function was ${phase.verdict}: ${citePhase(phase)}.`,
      }));
    }
  }
  const unjudged = judged.flatMap((j) => j.unjudged.map((s) => s.label));
  if (unjudged.length > 0) findings.push(finding({ code: 'function-not-judged', severity: 'info', requirements: [CR71], evidence, message: `No monitor sample judged the step(s) ${unjudged.join(', ')}.` }));
  const passReason = `the essential function was kept under every storm: ${ran.map((r) => `${r.what} up to ${r.result!.steps.at(-1)?.achievedRate ?? 0}/s achieved`).join('; ')}`
    + (runs.some((r) => r.status === 'not-applicable') ? ` (not applicable: ${runs.filter((r) => r.status === 'not-applicable').map((r) => `${r.what}: ${r.reason}`).join('; ')})` : '');
  const judgement: Judgement = { requirement: CR71, coverage: 'partial', passReason };
  if (judged.some((j) => j.lost.length > 0)) return { findings, judgements: [judgement] };
  const notRun = runs.filter((r) => r.status === 'not-run');
  if (notRun.length > 0) return { findings, judgements: [], notDetermined: `not every storm was sent: ${notRun.map((r) => `${r.what}: ${r.reason}`).join('; ')}` };
  if (ran.length === 0) return { findings, judgements: [], notDetermined: 'no storm applies to this host' };
  if (!judged.every((j) => j.allKept)) return { findings, judgements: [], notDetermined: 'a storm step was not judged by the monitor' };
  return { findings, judgements: [judgement] };
}

export default defineProbe<NetworkStormInputs>({
  id: 'robustness.network-storm',
  protocol: 'robustness',
  title: 'Storms below the application layer (TCP SYN, UDP, ICMP, ARP) at stepped rates with the essential function monitored',
  description:
    'Sends per-layer storms to the host\'s own address while the essential-function monitor watches: TCP SYN to a declared TCP '
    + 'port, UDP to each declared UDP service and to one closed port, ICMP echo, and ARP requests where the host is on a '
    + 'directly connected bench link. Stepped rates (default 100, 1000 and 10000 packets/s) within the profile\'s robustness '
    + 'caps; hping3 (SYN, ICMP, UDP on request), nping (ARP) and Node\'s dgram (UDP) send, paced, never in flood mode and never '
    + 'from a spoofed source. Each step records what was sent and the achieved rate, measured (the tool\'s statistics, the '
    + 'interface counter). CR 7.1 fails when the function is lost under a storm and passes only when every applicable storm was '
    + 'sent and the function kept; without raw sockets (root or CAP_NET_RAW) or without a monitor it is not determined.',
  requirements: [CR71],
  findings: {
    'function-lost-under-storm': 'the essential function was lost while the host was stormed with packets',
    'function-not-judged': 'a storm step had no monitor sample, so the function under that storm is unknown',
  },
  safety: 'destructive',
  scope: 'host',
  appliesTo: [],
  timeoutMs: 900_000,
  locks: (plan) => [{ key: `load:${plan.host.host}`, mode: 'exclusive' }],
  load: ({ host, inputs, limits, lossAfterMs }) => {
    // One stepped load per destination; ARP counted although it goes only to a directly connected host.
    const destinations = inputs.storms.map((kind) => ({
      kind,
      count: kind === 'udp' ? host.services.filter((s) => s.transport === 'udp').length
        : kind === 'syn' ? (inputs.tcpPort !== undefined || host.services.some((s) => s.transport === 'tcp') ? 1 : 0) : 1,
    })).filter((d) => d.count > 0);
    const step = plannedStepTotal(inputs.rates, inputs.stepSeconds, limits, lossAfterMs);
    const n = destinations.reduce((sum, d) => sum + d.count, 0);
    return {
      unit: 'packets', total: n * step.total,
      basis: `${n} stepped storm(s) (${destinations.map((d) => (d.count > 1 ? `${d.kind} ×${d.count}` : d.kind)).join(', ')}), each ${step.rates.join(' + ')} packets/s for ${step.stepSeconds} s per step`,
    };
  },
  inputs: {
    schema: inputsSchema({
      storms: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...KINDS] } },
      rates: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
      stepSeconds: { type: 'number', exclusiveMinimum: 0 },
      tcpPort: { type: 'integer', minimum: 1, maximum: 65535 },
      closedUdpPort: { type: 'integer', minimum: 1, maximum: 65535 },
      udpGenerator: { type: 'string', enum: ['node', 'hping3'] },
      payloadBytes: { type: 'integer', minimum: 0, maximum: 1472 },
    }),
    defaults: { storms: [...KINDS], rates: [100, 1000, 10_000], stepSeconds: 5, closedUdpPort: 33434, udpGenerator: 'node', payloadBytes: 16 },
  },
  async run(ctx) {
    const monitor = ctx.monitor;
    if (!monitor) {
      return { observations: { notDetermined: 'no essential-function monitor watches this host (profile essentialFunction): a storm without it is no evidence, so none was sent' }, findings: [], outcomes: [] };
    }
    const address = [ctx.host.host, ...ctx.host.addresses].find((a) => net.isIPv4(a) && ctx.host.addresses.includes(a));
    if (!address) return { observations: { notDetermined: `the host has no IPv4 address (${ctx.host.addresses.join(', ')}): the generators send IPv4 only` }, findings: [], outcomes: [] };
    ctx.assertInScope(address);
    const situation: Situation = { address, link: await linkTo(address, ctx.signal), raw: rawSocketsAllowed(), tools: stormTools() };
    // A step shorter than twice the monitor's loss window could not show a loss it causes.
    const stepSeconds = Math.max(ctx.inputs.stepSeconds, (2 * monitor.lossAfterMs) / 1000);
    const runs = await runStorms(ctx, planStorms(ctx, situation), stepSeconds, ctx.host.addresses, situation.tools);
    const clamped = [...ctx.load.clamped, ...(stepSeconds > ctx.inputs.stepSeconds ? [`stepSeconds ${ctx.inputs.stepSeconds} raised to ${stepSeconds} (twice the monitor's lossAfterMs)`] : []), ...new Set(runs.flatMap((r) => r.clamped))];
    const storms = runs.map((r) => ({
      storm: r.what, kind: r.kind, status: r.status, ...(r.generator ? { generator: r.generator } : {}), ...(r.reason ? { reason: r.reason } : {}),
      ...(r.result ? { steps: r.result.steps.map((s, i) => ({ ...s, monitor: r.result!.phases[i]?.verdict ?? 'not_determined' })) } : {}),
    }));
    const evidence = [ctx.evidence.save('storms.json', {
      address, link: situation.link, rawSockets: situation.raw, spoofedSource: false, clamped, storms,
      phases: runs.flatMap((r) => r.result?.phases.map(phaseEvidence) ?? []),
    })];
    const { findings, judgements, notDetermined } = verdict(runs, evidence);
    return {
      observations: { address, link: situation.link.direct ? `direct on ${situation.link.dev}` : situation.link.why ?? situation.link.dev, rawSockets: situation.raw, clamped, storms, ...(notDetermined ? { notDetermined } : {}) },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
