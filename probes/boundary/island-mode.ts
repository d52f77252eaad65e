import { InvalidInput, defineProbe, finding, judge, type BoundaryDecl, type Finding, type IslandModeHooks, type ProbeContext } from '../../src/sdk';
import {
  checkEndpoints, describeHookRun, hookSucceeded, keepCapture, runHook, testConduits, type Endpoint, type HookRun, type MatrixRow,
} from '../../src/protocols/boundary';

const RE2 = 'NDR 5.2 RE(2)';

interface Inputs {
  connectTimeoutMs: number;
}

const notDetermined = (reason: string) => ({ observations: { notDetermined: reason }, findings: [], outcomes: [] });
const describeRow = (r: MatrixRow) => `${r.from}->${r.to} ${r.protocol}/${r.protocol === 'icmp' ? `type ${r.icmpType}` : r.port} (${r.conduit}, ${r.way})`;

/** Every conduit flow both ways, with the far endpoints' captures kept under `label`. */
async function conduitFlows(ctx: ProbeContext<Inputs>, decl: BoundaryDecl, endpoints: Map<string, Endpoint>, label: string): Promise<{ rows: MatrixRow[]; evidence: string[] }> {
  const run = await testConduits(decl, endpoints, ctx.signal, ctx.inputs.connectTimeoutMs);
  const evidence = run.captures.map((c) => keepCapture(ctx.evidence, `${label}-far-${c.to}-from-${c.from}.pcap`, c.file));
  return { rows: run.rows, evidence: [ctx.evidence.save(`${label}-matrix.json`, run.rows), ...evidence] };
}

/** Enters island mode, tries every conduit, and always leaves it again (even on Ctrl-C: leave runs without the attempt's signal). */
async function inIslandMode(ctx: ProbeContext<Inputs>, decl: BoundaryDecl, hooks: IslandModeHooks, endpoints: Map<string, Endpoint>) {
  const runs: HookRun[] = [];
  try {
    runs.push(await runHook('enter', hooks.enter, ctx.signal));
    if (!hookSucceeded(runs[0])) return { runs };
    await ctx.wait(hooks.settleMs, 'island mode: letting the device apply it');
    return { runs, island: await conduitFlows(ctx, decl, endpoints, 'island') };
  } finally {
    runs.push(await runHook('leave', hooks.leave));
    ctx.evidence.save('hooks.json', runs);
  }
}

export default defineProbe<Inputs>({
  id: 'boundary.island-mode',
  protocol: 'boundary',
  title: 'Island mode: when triggered, nothing crosses between the zones, declared conduits included',
  description:
    'Runs the profile\'s island-mode enter hook, then tries every declared conduit both ways between the zone endpoints (as ' +
    'boundary.conduits does, far-side captures kept): none may arrive. Runs the leave hook (always, even on Ctrl-C) and tries ' +
    'the conduits again: the declared ones must pass, which shows the blocking came from island mode.',
  requirements: [RE2, 'NDR 5.2'],
  findings: {
    'island-crossed': 'a flow crossed between the zones while the device was in island mode',
    'not-restored': 'after leaving island mode a declared conduit did not pass again',
  },
  // Island mode cuts every conduit of the plant, and only the leave hook undoes it: not a state that heals by itself.
  safety: 'destructive',
  scope: 'host',
  appliesTo: [],
  locks: () => [{ key: 'boundary:zones', mode: 'exclusive' }],
  inputs: { schema: { type: 'object', additionalProperties: false, properties: { connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 30000 } } }, defaults: { connectTimeoutMs: 1000 } },
  timeoutMs: 300_000,
  async run(ctx) {
    const decl = ctx.boundary;
    if (!decl) return notDetermined('the profile declares no zones (network components only)');
    const hooks = decl.hooks?.islandMode;
    if (!hooks) return notDetermined('the profile names no boundaryHooks.islandMode (how to enter and leave island mode): NDR 5.2 RE(2) is not determined');
    if (decl.conduits.length === 0) return notDetermined('the profile declares no conduits: nothing passes normally, so island mode cannot be told apart');
    const endpoints = await checkEndpoints(decl);
    const { runs, island } = await inIslandMode(ctx, decl, hooks, endpoints);
    const failed = runs.filter((r) => !hookSucceeded(r));
    if (failed.length > 0 || !island) throw new InvalidInput(`island-mode hook failed (hooks.json): ${failed.map(describeHookRun).join('; ')}`);
    await ctx.wait(hooks.settleMs, 'island mode left: letting the device return to normal');
    const after = await conduitFlows(ctx, decl, endpoints, 'after');
    const evidence = [...island.evidence, ...after.evidence];
    const findings: Finding[] = island.rows.filter((r) => r.observed === 'pass').map((r) => finding({
      code: 'island-crossed', severity: 'high', requirements: [RE2], evidence, message: `in island mode ${describeRow(r)} crossed (${r.seen} of ${r.sent} packets seen on the far endpoint)`,
    }));
    const blockedAfter = after.rows.filter((r) => r.declared === 'allow' && r.observed === 'blocked');
    for (const r of blockedAfter) {
      findings.push(finding({ code: 'not-restored', severity: 'medium', requirements: ['NDR 5.2'], evidence, message: `after leaving island mode the declared ${describeRow(r)} did not pass` }));
    }
    // Without declared flows passing afterwards, "nothing crossed" could be the device blocking everything anyway.
    const restored = after.rows.some((r) => r.declared === 'allow' && r.observed === 'pass');
    const judged = [
      ...(restored || findings.some((f) => f.requirements.includes(RE2)) ? [{ requirement: RE2, coverage: 'partial' as const, passReason: `in island mode none of the ${island.rows.length} conduit flows (both ways) crossed; after leaving it the declared ones passed again` }] : []),
      ...(blockedAfter.length > 0 ? [{ requirement: 'NDR 5.2', coverage: 'partial' as const, passReason: '' }] : []),
    ];
    return {
      observations: { island: island.rows, after: after.rows, hooks: runs.map((r) => ({ hook: r.hook, code: r.code, ended: r.ended, ms: r.endedAt - r.startedAt })), ...(judged.length === 0 ? { notDetermined: 'no declared conduit passed after leaving island mode: the blocking cannot be attributed to island mode' } : {}) },
      findings,
      outcomes: judge(judged, findings),
    };
  },
});
