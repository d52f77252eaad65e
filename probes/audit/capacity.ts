import {
  defineProbe, finding, inputsSchema, judge, sleep, type ActionRecord, type LabSyslog, type ProbeContext, type ServiceUnderTest, type SyslogRecord,
} from '../../src/sdk';
import {
  CAPACITY_ACCOUNT_PREFIX, CAPACITY_HARD_CAPS, CAPACITY_PHASE, WarningWatch, auditCapacityOf, clampCaps, eventLimit, isWarning, loggedFailures,
  namesAccount, reportsFailedLogin, thresholdRecords, type AuditCapacity, type CapacityInputs,
} from '../../src/protocols/audit';
import { failLoginsWithUnknownUsers, loginServices, type UnknownUserLogin } from '../../src/protocols/auth/checks/unknown-users';

const CR = 'CR 2.9 RE(1)';

type Ctx = ProbeContext<CapacityInputs>;

const notDetermined = (reason: string, extra: Record<string, unknown> = {}) => ({ observations: { ...extra, notDetermined: reason }, findings: [], outcomes: [] });

/** A device that locks per source address would lock the lab out: at most threshold − 1 failures in all. */
function failureBudget(ctx: Ctx): number {
  const lockout = ctx.policy.lockout;
  return lockout?.scope === 'source' && lockout.threshold !== undefined ? Math.max(0, lockout.threshold - 1) : Number.POSITIVE_INFINITY;
}

/** What one failed login per login interface showed: which interface to fill through, whether records name users. */
interface Controls {
  readonly logins: readonly UnknownUserLogin[];
  readonly records: readonly { readonly action: ActionRecord; readonly record: SyslogRecord }[];
  readonly unsupported: readonly string[];
  /** The logged interface whose login was quickest. */
  readonly fill: ServiceUnderTest;
  readonly namesUsers: boolean;
}

/** The record of each control login: one naming its account or, from a device that names nobody, one naming none of ours. */
function controlRecords(actions: readonly ActionRecord[], records: readonly SyslogRecord[], deviceAddresses: readonly string[]): Map<ActionRecord, SyslogRecord> {
  const out = new Map<ActionRecord, SyslogRecord>();
  for (const a of actions) {
    const r = records.find((x) => reportsFailedLogin(x, a, deviceAddresses) && namesAccount(x, a.account!));
    if (r) out.set(a, r);
  }
  if (out.size > 0) return out;
  const taken = new Set<number>();
  for (const a of actions) {
    const r = records.find((x) => !taken.has(x.seq) && reportsFailedLogin(x, a, deviceAddresses) && !actions.some((o) => namesAccount(x, o.account!)));
    if (r) { out.set(a, r); taken.add(r.seq); }
  }
  return out;
}

async function controlEvents(ctx: Ctx, syslog: LabSyslog, services: readonly ServiceUnderTest[], deviceAddresses: readonly string[], waitMs: number): Promise<Controls | { reason: string; logins: UnknownUserLogin[] }> {
  const logins: UnknownUserLogin[] = [];
  const unsupported: string[] = [];
  const speed = new Map<ServiceUnderTest, number>();
  for (const service of services) {
    const started = Date.now();
    const done = await failLoginsWithUnknownUsers(ctx, service, { prefix: CAPACITY_ACCOUNT_PREFIX, first: logins.length, count: 1 });
    if ('unsupported' in done) unsupported.push(`${service.name}: ${done.unsupported}`);
    else { logins.push(...done); speed.set(service, Date.now() - started); }
  }
  const accounts = new Set(logins.map((l) => l.account));
  const actions = ctx.actions.list().filter((a) => a.host === ctx.host.host && a.kind === 'login-failed' && accounts.has(a.account ?? ''));
  if (actions.length === 0) return { logins, reason: `no failed login could be made (${unsupported.join('; ') || 'no login interface answered with a verdict'})` };
  // Up to the usual wait for a first record; then the others get lab.settleSeconds (an interface that logs
  // nothing, like a port that refuses every client, must not hold up the fill for the whole window).
  const count = () => controlRecords(actions, syslog.records, deviceAddresses).size;
  await syslog.waitFor(() => count() > 0, waitMs, ctx.signal);
  if (count() > 0) await syslog.waitFor(() => count() === actions.length, Math.min(waitMs, ctx.lab!.settleMs), ctx.signal);
  ctx.signal.throwIfAborted();
  const matched = controlRecords(actions, syslog.records, deviceAddresses);
  const records = actions.flatMap((action) => (matched.has(action) ? [{ action, record: matched.get(action)! }] : []));
  const logged = [...speed.keys()].filter((s) => records.some((r) => r.action.port === s.port && r.action.interface === s.protocol));
  if (logged.length === 0) {
    return { logins, reason: `the device logged none of the failed logins ${actions.map((a) => `${a.account} via ${a.interface}`).join(', ')} within ${waitMs} ms: events it does not log cannot fill its audit storage (CR 2.8, audit.events, judges the missing records)` };
  }
  const fill = logged.reduce((a, b) => (speed.get(b)! < speed.get(a)! ? b : a));
  return { logins, records, unsupported, fill, namesUsers: records.every((r) => namesAccount(r.record, r.action.account!)) };
}

interface Fill {
  readonly logins: readonly UnknownUserLogin[];
  readonly startedAt: number;
  readonly stoppedBy: 'warning' | 'limit' | 'budget';
}

/**
 * Failed logins on `controls.fill`, at most `count`, paced to `ratePerSecond`, until the warning arrives or
 * too little of the attempt's budget is left to wait for a late warning (`reserveMs`).
 */
async function fillLog(ctx: Ctx, controls: Controls, o: { first: number; count: number; ratePerSecond: number; reserveMs: number; watch: WarningWatch }): Promise<Fill> {
  const startedAt = Date.now();
  const intervalMs = 1000 / o.ratePerSecond;
  let stoppedBy: Fill['stoppedBy'] = 'limit';
  // Each login at least one interval after the previous one was sent: a login delayed by a slow answer is not
  // made up for by a burst afterwards, so no stretch of the fill goes faster than the cap.
  let nextAt = startedAt;
  const pace = async () => {
    if (o.watch.check()) { stoppedBy = 'warning'; return false; }
    if (Date.now() + o.reserveMs >= ctx.deadline) { stoppedBy = 'budget'; return false; }
    await sleep(nextAt - Date.now(), ctx.signal);
    if (o.watch.check()) { stoppedBy = 'warning'; return false; }
    nextAt = Math.max(nextAt, Date.now()) + intervalMs;
    return true;
  };
  const logins = o.count > 0 ? await failLoginsWithUnknownUsers(ctx, controls.fill, { prefix: CAPACITY_ACCOUNT_PREFIX, first: o.first, count: o.count, beforeEach: pace }) : [];
  // The control showed this interface takes logins; a channel that now says otherwise provoked nothing more.
  return { logins: 'unsupported' in logins ? [] : logins, startedAt, stoppedBy };
}

export default defineProbe<CapacityInputs>({
  id: 'audit.capacity',
  protocol: 'audit',
  title: 'The device warns when its audit storage reaches the documented threshold (CR 2.9 RE(1))',
  description: 'Destructive: fills the device\'s audit storage, which may overwrite or push out older records. Runs last on the host. '
    + 'One failed login with an unknown user (iacs-capacity-<n>) on each login interface shows which ones the device logs; then failed '
    + 'logins with unknown users on the quickest logged interface, at most maxRatePerSecond (hard cap 200/s) and maxEvents (hard cap '
    + '20 000), until the lab collector receives a record matching policy.auditLog.capacity.warning or records × (warnAtPercent + '
    + 'marginPercent) / 100 events were provoked. The log may already hold records, so the count is an upper bound of what was needed.',
  requirements: [CR],
  findings: {
    'no-warning': 'the device logged enough provoked events to pass its documented audit storage threshold (plus the margin) and sent no warning (CR 2.9 RE(1))',
  },
  safety: 'destructive',
  scope: 'host',
  appliesTo: [],
  phase: CAPACITY_PHASE,
  timeoutMs: 300_000,
  inputs: {
    schema: inputsSchema({
      maxEvents: { type: 'integer', minimum: 1, description: `Events the probe may provoke at most (hard cap ${CAPACITY_HARD_CAPS.maxEvents}: more is clamped)` },
      maxRatePerSecond: { type: 'number', exclusiveMinimum: 0, description: `Provoked events per second at most (hard cap ${CAPACITY_HARD_CAPS.maxRatePerSecond}: more is clamped)` },
    }),
    defaults: { maxEvents: 5000, maxRatePerSecond: 50 },
  },
  // The collector is the run's: no outage while the warning is awaited.
  locks: () => [{ key: 'lab:syslog', mode: 'exclusive' }],
  async run(ctx) {
    const syslog = ctx.lab?.syslog;
    if (!syslog) return notDetermined('the profile has no lab syslog collector (lab: block): the device\'s warning cannot be received');
    const capacity = auditCapacityOf(ctx.policy);
    if ('reason' in capacity) return notDetermined(capacity.reason);
    const caps = clampCaps(ctx.inputs);
    for (const c of caps.clamped) ctx.log.warn(`audit.capacity: ${c}`);
    const limit = eventLimit(capacity);
    const settings = { ...summary(capacity), thresholdRecords: thresholdRecords(capacity), eventLimit: limit, caps: { maxEvents: caps.maxEvents, maxRatePerSecond: caps.maxRatePerSecond, clamped: caps.clamped } };
    const services = loginServices(ctx.host.services);
    if (services.length === 0) return notDetermined('the host declares no login interface (ssh, http, https, opcua, mqtt) on which to provoke audit events', settings);
    if (failureBudget(ctx) < limit + services.length) {
      return notDetermined(`the profile documents a lockout per source address after ${ctx.policy.lockout!.threshold} failures: ${limit} failed logins would lock the lab out`, settings);
    }
    const deviceAddresses = [ctx.host.host, ...ctx.host.addresses];
    const windowMs = ctx.baseline<{ windowSeconds: number }>('audit').windowSeconds * 1000;
    const reserveMs = ctx.lab!.settleMs + windowMs;
    const watch = new WarningWatch(syslog.records, capacity.warning, deviceAddresses);
    const probeStart = Date.now();
    const earlier = watch.check();
    if (earlier) return notDetermined(warnedBefore(ctx, earlier), { ...settings, provoked: 0, warningBeforeProbe: { seq: earlier.seq, text: earlier.raw.toString('utf8') } });

    const controls = await controlEvents(ctx, syslog, services, deviceAddresses, reserveMs);
    if ('reason' in controls) return notDetermined(controls.reason, { ...settings, provoked: controls.logins.length });
    // A pattern that also fits the records the fill produces would take the first of them for the warning.
    const ordinary = controls.records.find((r) => isWarning(r.record, capacity.warning));
    if (ordinary) {
      return notDetermined(`the warning pattern /${capacity.warning.source}/ also matches the device's record of an ordinary failed login ("${ordinary.record.raw.toString('utf8').slice(0, 160)}"): `
        + 'it cannot tell the warning from the records that fill the log; give a pattern of the warning alone (policy.auditLog.capacity.warning)', { ...settings, provoked: controls.logins.length });
    }
    const toProvoke = Math.min(limit, caps.maxEvents);
    const fill = await fillLog(ctx, controls, { first: controls.logins.length, count: toProvoke - controls.logins.length, ratePerSecond: caps.maxRatePerSecond, reserveMs, watch });
    const logins = [...controls.logins, ...fill.logins];
    if (!watch.check()) {
      const left = Math.min(reserveMs, ctx.deadline - Date.now() - 500);
      if (left > 0) await syslog.waitFor(() => watch.check() !== undefined, left, ctx.signal);
      ctx.signal.throwIfAborted();
    }
    const warning = watch.check();
    const logged = loggedFailures(syslog.records, { deviceAddresses, sinceMs: probeStart, iface: controls.fill.protocol, namesUsers: controls.namesUsers });
    const evidence = [ctx.evidence.save('capacity.json', capacityEvidence({ settings, controls, fill, logins, warning, logged })), syslog.journal];
    const observations = {
      ...settings, fillInterface: controls.fill.name, namesUsers: controls.namesUsers, interfacesWithoutLogin: controls.unsupported,
      provoked: logins.length, loggedOfProvoked: logged, stoppedBy: warning ? 'warning' : fill.stoppedBy,
      ratePerSecond: rateOf(fill.logins),
      warning: warning ? { seq: warning.seq, text: warning.raw.toString('utf8'), afterEvents: eventsBefore(logins, warning) } : null,
    };
    return { observations: { ...observations, ...verdictNotes(observations) }, ...verdict(observations, capacity, evidence) };
  },
});

/** Provoked events per second the fill achieved (null with fewer than two or no time between them). */
function rateOf(logins: readonly UnknownUserLogin[]): number | null {
  const spanMs = logins.length > 1 ? logins.at(-1)!.at - logins[0].at : 0;
  return spanMs > 0 ? Math.round(((logins.length - 1) / (spanMs / 1000)) * 10) / 10 : null;
}

function summary(c: AuditCapacity) {
  return { capacity: { records: c.records, warnAtPercent: c.warnAtPercent, marginPercent: c.marginPercent, warning: c.warning.source } };
}

/** Provoked events before the warning was received (the login that made it counts). */
const eventsBefore = (logins: readonly UnknownUserLogin[], warning: SyslogRecord) => logins.filter((l) => l.at <= warning.receivedAt).length;

/**
 * A record matching the pattern before this probe provoked anything: the run's other probes may have filled the
 * log past the threshold, or the pattern fits some other record; either way the fill level it speaks of is unknown.
 */
function warnedBefore(ctx: Ctx, record: SyslogRecord): string {
  const runEvents = ctx.actions.list().filter((a) => a.host === ctx.host.host && a.atMs <= record.receivedAt).length;
  return `a record matching the warning pattern came from the device before this probe provoked anything, after ${runEvents} event(s) the run caused on the host `
    + `("${record.raw.toString('utf8').slice(0, 160)}"): whether it is the warning at the documented threshold cannot be told (the log's fill level then is unknown); `
    + 'empty the device\'s log and run audit.capacity on its own (--only audit.capacity)';
}

interface Judged {
  readonly provoked: number;
  readonly loggedOfProvoked: number;
  readonly eventLimit: number;
  readonly thresholdRecords: number;
  readonly stoppedBy: string;
  readonly warning: { text: string; afterEvents: number } | null;
  readonly caps: { maxEvents: number };
}

/** Why nothing was judged, or the upper-bound statement the evidence must carry. */
function verdictNotes(o: Judged): Record<string, string> {
  if (o.warning) return { upperBound: `the log may already have held records before the run: ${o.warning.afterEvents} provoked event(s) is an upper bound of what it took to reach the threshold` };
  if (o.provoked < o.eventLimit) {
    const cause = o.stoppedBy === 'budget' ? 'the attempt\'s time budget (probes.audit.capacity.timeoutMs) ran out' : `maxEvents (${o.caps.maxEvents}) is below it`;
    return { notDetermined: `no warning after ${o.provoked} provoked event(s), fewer than the ${o.eventLimit} the threshold + margin needs from an empty log: ${cause}` };
  }
  if (o.loggedOfProvoked < o.thresholdRecords) {
    return { notDetermined: `no warning after ${o.provoked} provoked event(s), but the collector received only ${o.loggedOfProvoked} record(s) of them, fewer than the ${o.thresholdRecords} at the threshold: the storage may not have reached it` };
  }
  return {};
}

function verdict(o: Judged, capacity: AuditCapacity, evidence: string[]) {
  if (o.warning) {
    const passReason = `the device warned after ${o.warning.afterEvents} provoked event(s) (limit ${o.eventLimit}: ${capacity.warnAtPercent}% + ${capacity.marginPercent} points of ${capacity.records} records; an upper bound, the log may have held records before): ${o.warning.text.slice(0, 160)}`;
    return { findings: [], outcomes: judge([{ requirement: CR, coverage: 'full', passReason }], []) };
  }
  if (verdictNotes(o).notDetermined) return { findings: [], outcomes: [] };
  const findings = [finding({
    code: 'no-warning', severity: 'high', requirements: [CR], evidence,
    message: `no record matching /${capacity.warning.source}/ came from the device after ${o.provoked} provoked event(s), ${o.loggedOfProvoked} of them logged (documented: a warning at ${capacity.warnAtPercent}% of ${capacity.records} records, ${o.thresholdRecords} records)`,
  })];
  return { findings, outcomes: judge([{ requirement: CR, coverage: 'full', passReason: '' }], findings) };
}

/** The evidence file: settings, the control events and their records, the provoking timeline, the warning record. */
function capacityEvidence(o: { settings: Record<string, unknown>; controls: Controls; fill: Fill; logins: readonly UnknownUserLogin[]; warning?: SyslogRecord; logged: number }) {
  const iso = (ms: number) => new Date(ms).toISOString();
  const record = (r: SyslogRecord) => ({ seq: r.seq, receivedAt: iso(r.receivedAt), transport: r.transport, text: r.raw.toString('utf8') });
  return {
    settings: o.settings,
    note: 'The device\'s log may already have held records when the probe began: the number of events provoked before the warning is an upper bound of what it took to reach the threshold.',
    controls: { namesUsers: o.controls.namesUsers, fillInterface: o.controls.fill.name, records: o.controls.records.map((r) => ({ account: r.action.account, interface: r.action.interface, port: r.action.port, record: record(r.record) })) },
    fill: { startedAt: iso(o.fill.startedAt), stoppedBy: o.warning ? 'warning' : o.fill.stoppedBy, provoked: o.logins.length, loggedOfProvoked: o.logged },
    timeline: [
      ...o.logins.map((l, i) => ({ at: iso(l.at), event: i + 1, account: l.account, via: l.service, outcome: l.outcome })),
      ...(o.warning ? [{ at: iso(o.warning.receivedAt), event: 'warning record received' }] : []),
    ].sort((a, b) => a.at.localeCompare(b.at)),
    warning: o.warning ? record(o.warning) : null,
  };
}
