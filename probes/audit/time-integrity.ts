import { defineProbe, finding, inputsSchema, judge, type LabNtp, type NtpAnswerMac, type ProbeContext } from '../../src/sdk';
import { AUDIT_PHASE, clockObservables, type ClockObservable, type ClockReading } from '../../src/protocols/audit';

const RE2 = 'CR 2.11 RE(2)';

interface Inputs {
  /** The attack: served unauthenticated (+1 h by default). */
  attackOffsetSeconds: number;
  /** The authenticated control: a different offset the device must follow. */
  controlOffsetSeconds: number;
  /** How long each phase waits for the device to follow (a real device polls every 64 s or more). */
  observeSeconds: number;
  /** Between two readings of the device clock. */
  readEverySeconds: number;
  /** A device clock within this of the served offset follows it (HTTP Date has whole seconds). */
  toleranceSeconds: number;
}

const DEFAULTS: Inputs = { attackOffsetSeconds: 3600, controlOffsetSeconds: 600, observeSeconds: 150, readEverySeconds: 2, toleranceSeconds: 5 };

interface PhaseResult {
  readonly phase: 'attack-no-mac' | 'attack-wrong-mac' | 'control' | 'restore';
  readonly offsetMs: number;
  readonly mac: NtpAnswerMac;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly requestsFromDevice: number;
  /** The MAC status of the device's requests in this phase (none, valid, invalid ...), counted. */
  readonly requestMacs: Record<string, number>;
  readonly readings: number;
  /** The last reading of device clock − lab clock (ms), or null without one. */
  readonly lastOffsetMs: number | null;
  readonly followed: boolean;
}

const seconds = (ms: number) => `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(1)} s`;

/** One reading from the best observable that gives one (http(s) Date before syslog timestamps). */
async function readClock(observables: readonly ClockObservable[], signal: AbortSignal): Promise<ClockReading | undefined> {
  for (const o of observables) {
    const readings = await o.read(signal);
    if (readings.length > 0) return readings[readings.length - 1];
  }
  return undefined;
}

/**
 * Serves `offsetMs` with `mac` (the switch is journaled in lab/ntp.ndjson; the restore phase only watches, its
 * switch was made in a finally) and reads the device clock every readEverySeconds for up to `windowMs`; stops
 * as soon as the device follows (within tolerance of the served offset).
 */
async function runPhase(
  ctx: ProbeContext<Inputs>, ntp: LabNtp, observables: readonly ClockObservable[], readings: ClockReading[],
  phase: PhaseResult['phase'], offsetMs: number, mac: NtpAnswerMac, windowMs: number,
): Promise<PhaseResult> {
  const addresses = new Set([ctx.host.host, ...ctx.host.addresses]);
  const firstRequest = ntp.requests.length;
  const started = Date.now();
  if (phase !== 'restore') ntp.setMode({ offsetMs, mac }, `audit.time-integrity ${phase} on ${ctx.host.host}`);
  const tolerance = ctx.inputs.toleranceSeconds * 1000;
  let last: ClockReading | undefined;
  let count = 0;
  let followed = false;
  while (!followed && Date.now() - started < windowMs) {
    await ctx.wait(ctx.inputs.readEverySeconds * 1000, `reading the device clock (${phase})`);
    const r = await readClock(observables, ctx.signal);
    if (!r) continue;
    readings.push(r);
    last = r;
    count += 1;
    followed = Math.abs(r.offsetMs - offsetMs) <= tolerance;
  }
  const mine = ntp.requests.slice(firstRequest).filter((q) => addresses.has(q.peer));
  const requestMacs: Record<string, number> = {};
  for (const q of mine) requestMacs[q.requestMac ?? 'none'] = (requestMacs[q.requestMac ?? 'none'] ?? 0) + 1;
  return {
    phase, offsetMs, mac, startedAt: new Date(started).toISOString(), endedAt: new Date().toISOString(), requestsFromDevice: mine.length,
    requestMacs, readings: count, lastOffsetMs: last ? Math.round(last.offsetMs) : null, followed,
  };
}

/** Why the probe cannot judge before it touches the time source, or undefined. */
function precondition(ctx: ProbeContext<Inputs>, observables: readonly ClockObservable[]): string | undefined {
  const ntp = ctx.lab?.ntp;
  if (!ntp) return 'the profile has no lab NTP server (lab.ntp)';
  if (ntp.keyIds.length === 0) return 'the lab NTP server has no key (lab.ntp.keys): no authenticated control is possible';
  if (observables.length === 0) return 'no observable of the device clock: declare an http or https service, or a lab syslog collector the device logs to';
  const { attackOffsetSeconds: a, controlOffsetSeconds: c, toleranceSeconds: t } = ctx.inputs;
  if (Math.abs(a - c) <= 2 * t || Math.abs(a) <= 2 * t || Math.abs(c) <= 2 * t) return 'the attack and control offsets must differ from each other and from 0 by more than twice the tolerance';
  const needed = 4 * ctx.inputs.observeSeconds * 1000;
  if (ctx.deadline - Date.now() < needed) return `the attempt budget (${Math.round((ctx.deadline - Date.now()) / 1000)} s) is shorter than four observation windows (${needed / 1000} s): raise probes.audit.time-integrity.timeoutMs`;
  return undefined;
}

export default defineProbe<Inputs>({
  id: 'audit.time-integrity',
  protocol: 'audit',
  title: 'The device refuses an unauthenticated change of its time (CR 2.11 RE(2))',
  description: 'Runs after every other audit probe on the host and holds the lab NTP server alone. Reads the device clock (Date header '
    + 'of a declared http/https service, else the timestamps of its syslog records), then switches the lab NTP server (lab.ntp.keys): '
    + 'attack 1 serves lab time + attackOffsetSeconds without a MAC, attack 2 the same with a wrong MAC; if the device follows either, '
    + 'it accepted unauthenticated time (fail). Otherwise the control serves controlOffsetSeconds with a valid MAC: the device must '
    + 'follow it, else nothing is shown (it may not ask the lab server) and the row stays undetermined. Each phase lasts up to '
    + 'observeSeconds. Finally the server is set back to offset 0 with normal authentication, journaled, and the device is watched '
    + 'returning. Intrusive: shifts the device clock; it heals when the offset is removed.',
  requirements: [RE2],
  findings: {
    'unauthenticated-time-accepted': 'the device clock followed a time served without a valid MAC (CR 2.11 RE(2))',
  },
  safety: 'intrusive',
  scope: 'host',
  appliesTo: [],
  // After audit.timestamps (RE(1) reads the served offset) and the other audit probes on the host.
  phase: AUDIT_PHASE + 1,
  // The lab NTP server is one per run: no other attempt may see it switched (audit.timestamps holds it shared).
  locks: () => [{ key: 'lab:ntp', mode: 'exclusive' }],
  timeoutMs: 12 * 60_000,
  inputs: {
    schema: inputsSchema({
      attackOffsetSeconds: { type: 'number' }, controlOffsetSeconds: { type: 'number' },
      observeSeconds: { type: 'number', minimum: 1, maximum: 900 }, readEverySeconds: { type: 'number', minimum: 0.2, maximum: 60 },
      toleranceSeconds: { type: 'number', minimum: 1, maximum: 300 },
    }),
    defaults: DEFAULTS,
  },
  async run(ctx) {
    const observables = clockObservables(ctx.host, ctx.lab?.syslog);
    const notDetermined = precondition(ctx, observables);
    if (notDetermined) return { observations: { notDetermined }, findings: [], outcomes: [] };
    const ntp = ctx.lab!.ntp!;
    const windowMs = ctx.inputs.observeSeconds * 1000;
    const readings: ClockReading[] = [];
    const before = await readClock(observables, ctx.signal);
    if (!before) return { observations: { notDetermined: `the device clock could not be read (${observables.map((o) => o.name).join(', ')})` }, findings: [], outcomes: [] };
    readings.push(before);
    const phases: PhaseResult[] = [];
    const attackMs = ctx.inputs.attackOffsetSeconds * 1000;
    const controlMs = ctx.inputs.controlOffsetSeconds * 1000;
    let restored: { offsetMs: number; at: string; deviceFollowed?: boolean; why?: string };
    try {
      for (const [phase, mac] of [['attack-no-mac', 'none'], ['attack-wrong-mac', 'wrong']] as const) {
        const p = await runPhase(ctx, ntp, observables, readings, phase, attackMs, mac, windowMs);
        phases.push(p);
        if (p.followed) break;
      }
      if (!phases.some((p) => p.followed)) phases.push(await runPhase(ctx, ntp, observables, readings, 'control', controlMs, 'valid', windowMs));
    } finally {
      // Always back to lab time with normal authentication, even when aborted; the device heals from here.
      ntp.setMode({ offsetMs: 0, mac: 'auto' }, `audit.time-integrity restore on ${ctx.host.host}`);
      restored = { offsetMs: 0, at: new Date().toISOString() };
    }
    const restore = await runPhase(ctx, ntp, observables, readings, 'restore', 0, 'auto', windowMs).catch((err: Error) => err);
    restored = restore instanceof Error ? { ...restored, why: restore.message } : { ...restored, deviceFollowed: restore.followed };
    const evidenceFile = ctx.evidence.save('time-integrity.json', { observables: observables.map((o) => o.name), phases, restored, readings });
    const evidence = [evidenceFile, ntp.journal];
    const observations = {
      observable: before.source, deviceOffsetBeforeMs: Math.round(before.offsetMs), phases, restored,
    };
    const accepted = phases.find((p) => p.followed && p.phase !== 'control');
    if (accepted) {
      const how = accepted.mac === 'none' ? 'without a MAC' : 'with a MAC that does not verify';
      const f = finding({
        code: 'unauthenticated-time-accepted', severity: 'high', requirements: [RE2], evidence,
        message: `the device clock followed lab time ${seconds(accepted.offsetMs)} served ${how}: ${seconds(accepted.lastOffsetMs!)} from lab time (${before.source})`,
      });
      return { observations, findings: [f], outcomes: judge([{ requirement: RE2, coverage: 'full', passReason: '' }], [f]) };
    }
    const control = phases.find((p) => p.phase === 'control')!;
    if (!control.followed) {
      const asked = phases.reduce((n, p) => n + p.requestsFromDevice, 0);
      const why = asked === 0 ? 'the device never asked the lab NTP server' : `the device asked ${asked} time(s) but did not follow the authenticated control either (${control.lastOffsetMs === null ? 'no reading' : seconds(control.lastOffsetMs)} vs ${seconds(controlMs)} served)`;
      return { observations: { ...observations, notDetermined: `refusing the unauthenticated time shows nothing: ${why}; check its NTP server, key and step limits` }, findings: [], outcomes: [] };
    }
    // A device that did not ask during an attack phase was never offered the unauthenticated time: ignoring it
    // shows nothing (a device polling every 64 s would otherwise pass a short window by chance).
    const unasked = phases.filter((p) => p.phase !== 'control' && p.requestsFromDevice === 0);
    if (unasked.length > 0) {
      return { observations: { ...observations, notDetermined: `the device did not ask the lab NTP server during ${unasked.map((p) => p.phase).join(', ')} (${ctx.inputs.observeSeconds} s each): it was never offered the unauthenticated time; raise observeSeconds above its poll interval` }, findings: [], outcomes: [] };
    }
    // Likewise an attack phase without a single clock reading saw nothing (e.g. syslog records that did not arrive).
    const unread = phases.filter((p) => p.phase !== 'control' && p.readings === 0);
    if (unread.length > 0) {
      return { observations: { ...observations, notDetermined: `the device clock could not be read during ${unread.map((p) => p.phase).join(', ')}: whether it followed is unknown` }, findings: [], outcomes: [] };
    }
    const passReason = `the device ignored ${seconds(attackMs)} served without a MAC and with a wrong MAC for ${ctx.inputs.observeSeconds} s each, `
      + `and followed ${seconds(controlMs)} served with a valid MAC (${seconds(control.lastOffsetMs!)}, ${before.source})`;
    return { observations, findings: [], outcomes: judge([{ requirement: RE2, coverage: 'full', passReason }], []) };
  },
});
