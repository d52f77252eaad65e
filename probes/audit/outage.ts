import {
  defineProbe, finding, judge, type ActionRecord, type CollectorOutage, type Finding, type LabOutageSettings, type LabSyslog,
  type ProbeContext, type ServiceUnderTest, type SyslogRecord,
} from '../../src/sdk';
import {
  OUTAGE_ACCOUNT_PREFIX, OUTAGE_PHASE, findAlarm, judgeDelivery, namesAccount, reportsFailedLogin, type AuditRecord, type Delivery,
} from '../../src/protocols/audit';
import { failLoginsWithUnknownUsers, loginServices, type UnknownUserLogin } from '../../src/protocols/auth/checks/unknown-users';
import { EssentialFunctionMonitor, type EssentialFunction, type MonitorReport } from '../../src/protocols/modbus';

const CR = 'CR 2.10';
/** Failed logins per login interface during the outage. */
const PER_SERVICE = 3;
/** After the listeners close, give the device this long to see its connection gone before events come. */
const NOTICE_MS = 1000;

type Ctx = ProbeContext<unknown>;

/** The profile's `essentialFunction.modbus` block in the monitor's terms (as modbus.input-validation reads it). */
function essentialFunction(block: unknown, unitId: number): EssentialFunction {
  const b = (block ?? {}) as { unitId?: number; register?: number; table?: 'holding' | 'input'; kind?: string; periodMs?: number };
  return {
    unitId: b.unitId ?? unitId, table: b.table === 'input' ? 'input-registers' : 'holding-registers', address: b.register ?? 0,
    kind: b.kind === 'counter' ? 'counter' : 'value', ...(b.periodMs !== undefined ? { periodMs: b.periodMs } : {}),
  };
}

/** The monitor of the profile's essential function, or why there is none. */
function monitorOf(ctx: Ctx): EssentialFunctionMonitor | { reason: string } {
  const block = ctx.essentialFunction.modbus;
  if (block === undefined) return { reason: 'the profile declares no essential function (essentialFunction.modbus): whether it survives the outage is not determined' };
  const modbus = ctx.host.services.find((s) => s.protocol === 'modbus');
  if (!modbus) return { reason: 'essentialFunction.modbus is declared, but the host has no plain modbus service to poll it on: not determined' };
  return new EssentialFunctionMonitor(modbus, essentialFunction(block, modbus.unitId ?? 1), { signal: ctx.signal });
}

/** The run's actions for these provoked logins. */
function actionsOf(ctx: Ctx, logins: readonly UnknownUserLogin[]): ActionRecord[] {
  const accounts = new Set(logins.map((l) => l.account));
  return ctx.actions.list().filter((a) => a.host === ctx.host.host && a.account !== undefined && accounts.has(a.account) && a.kind === 'login-failed');
}

/** Failed logins on each login interface (`first` upward), within `budget`; the reasons of interfaces without a login. */
async function provoke(ctx: Ctx, services: readonly ServiceUnderTest[], first: number, perService: number, budget: number) {
  const logins: UnknownUserLogin[] = [];
  const unsupported: string[] = [];
  let next = first;
  for (const service of services) {
    const count = Math.min(perService, budget - logins.length);
    if (count <= 0) break;
    const done = await failLoginsWithUnknownUsers(ctx, service, { prefix: OUTAGE_ACCOUNT_PREFIX, first: next, count });
    if ('unsupported' in done) unsupported.push(`${service.name}: ${done.unsupported}`);
    else logins.push(...done);
    next += count;
  }
  return { logins, unsupported };
}

/**
 * Failed logins with unknown users never lock a real account; a device that locks per source address would
 * lock us out, so stay below its documented threshold there (control events included).
 */
function failureBudget(ctx: Ctx): number {
  const lockout = ctx.policy.lockout;
  return lockout?.scope === 'source' && lockout.threshold !== undefined ? Math.max(0, lockout.threshold - 1) : Number.POSITIVE_INFINITY;
}

/** What the control events showed: which interfaces' failed logins the device logs, over which transport. */
interface Controls {
  readonly logged: readonly { readonly action: ActionRecord; readonly record: SyslogRecord }[];
  /** Control events the device did not log even with its collector up (audit.events judges those). */
  readonly notLogged: readonly ActionRecord[];
  readonly unsupported: readonly string[];
  /** The interfaces to provoke during the outage: those whose control event was logged. */
  readonly services: readonly ServiceUnderTest[];
  readonly transport: SyslogRecord['transport'];
  /** Every control record names its user. */
  readonly namesUsers: boolean;
  /** Failed logins made so far (for the per-source budget). */
  readonly spent: number;
}

/**
 * The record of each control event: one that names its account; for a device that names no users at all, one
 * that names none of the control accounts and no other control event took, so that one interface's record
 * (two MQTT ports) never stands for another's.
 */
function controlRecords(actions: readonly ActionRecord[], records: readonly SyslogRecord[], deviceAddresses: readonly string[]): Map<ActionRecord, SyslogRecord> {
  const out = new Map<ActionRecord, SyslogRecord>();
  const taken = new Set<number>();
  for (const a of actions) {
    const r = records.find((x) => reportsFailedLogin(x, a, deviceAddresses) && namesAccount(x, a.account!));
    if (r) { out.set(a, r); taken.add(r.seq); }
  }
  // A device that names users in some records names them in all: a record without the name is another event
  // (the MQTT channel's own probe login with a random user, say), not this one's.
  if (out.size > 0) return out;
  for (const a of actions.filter((x) => !out.has(x))) {
    const r = records.find((x) => !taken.has(x.seq) && reportsFailedLogin(x, a, deviceAddresses) && !actions.some((other) => namesAccount(x, other.account!)));
    if (r) { out.set(a, r); taken.add(r.seq); }
  }
  return out;
}

/** One failed login per login interface before the outage, and their records. */
async function controlEvents(ctx: Ctx, syslog: LabSyslog, services: readonly ServiceUnderTest[], deviceAddresses: readonly string[], waitMs: number): Promise<Controls | { reason: string }> {
  const { logins, unsupported } = await provoke(ctx, services, 0, 1, failureBudget(ctx));
  const actions = actionsOf(ctx, logins);
  if (actions.length === 0) return { reason: `no failed login could be made before the outage (${unsupported.join('; ') || 'no login interface answered with a verdict'})` };
  const assigned = () => controlRecords(actions, syslog.records, deviceAddresses);
  await syslog.waitFor(() => assigned().size === actions.length, waitMs, ctx.signal);
  ctx.signal.throwIfAborted();
  const records = assigned();
  const logged = actions.flatMap((action) => {
    const record = records.get(action);
    return record ? [{ action, record }] : [];
  });
  const notLogged = actions.filter((a) => !logged.some((l) => l.action === a));
  if (logged.length === 0) {
    return { reason: `the device did not log the failed logins of ${actions.map((a) => `${a.account} via ${a.interface}`).join(', ')} within ${waitMs} ms before the outage (see audit.events): what the outage does to its log cannot be told` };
  }
  const transports = logged.map((l) => l.record.transport);
  return {
    logged, notLogged, unsupported, spent: logins.length,
    services: services.filter((s) => logged.some((l) => l.action.port === s.port && l.action.interface === s.protocol)),
    transport: transports.find((t) => t !== 'udp') ?? 'udp',
    namesUsers: logged.every((l) => namesAccount(l.record, l.action.account!)),
  };
}

interface OutageRun {
  readonly outage: CollectorOutage;
  readonly logins: readonly UnknownUserLogin[];
  readonly unsupported: readonly string[];
}

/** Makes the collector unreachable, provokes failed logins, waits out the outage; the collector is back in every case. */
async function makeOutage(ctx: Ctx, syslog: LabSyslog, settings: LabOutageSettings, controls: Controls): Promise<OutageRun> {
  const started = await syslog.suspend({
    maxMs: settings.durationMs + 60_000, reason: `audit.outage on ${ctx.host.host}`, ...(settings.transports ? { transports: settings.transports } : {}),
  });
  try {
    await ctx.wait(Math.min(NOTICE_MS, settings.durationMs / 4), 'audit.outage: the device sees its collector connection gone');
    const { logins, unsupported } = settings.provoke
      ? await provoke(ctx, controls.services, controls.logged.length + controls.notLogged.length, PER_SERVICE, failureBudget(ctx) - controls.spent)
      : { logins: [], unsupported: [] };
    const left = started.startedAt + settings.durationMs - Date.now();
    if (left > 0) await ctx.wait(left, 'audit.outage: the lab syslog collector stays unreachable (lab.outage.seconds)');
    const ended = await syslog.resume();
    return { outage: ended ?? started, logins, unsupported };
  } finally {
    await syslog.resume();
  }
}

interface Parts {
  delivery?: Delivery;
  lossNotDetermined?: string;
  alarm?: SyslogRecord;
  alarmNotDetermined?: string;
  monitor?: MonitorReport;
  functionNotDetermined?: string;
}

function judgement(parts: Parts, settings: LabOutageSettings, outage: CollectorOutage, evidence: string[]) {
  const findings: Finding[] = [];
  const passed: string[] = [];
  const { delivery, monitor } = parts;
  if (delivery) {
    if (delivery.lost.length > 0) {
      const accounts = delivery.lost.map((a) => `${a.account} via ${a.interface}`).slice(0, 5).join(', ');
      findings.push(finding({ code: 'events-lost', severity: 'high', requirements: [CR], evidence, message: `${delivery.lost.length} of ${delivery.matches.length} failed login(s) provoked while the collector was unreachable never arrived after it came back (${accounts})` }));
    } else passed.push(`all ${delivery.matches.length} failed logins provoked during the ${Math.round((outage.endedAt! - outage.startedAt) / 1000)} s outage arrived afterwards`);
  }
  if (settings.alarm && !parts.alarmNotDetermined) {
    if (!parts.alarm) findings.push(finding({ code: 'no-alarm', severity: 'medium', requirements: [CR], evidence, message: `no record matching /${settings.alarm.source}/ came from the device during or after the collector outage` }));
    else passed.push(`the device raised the alarm (${parts.alarm.raw.toString('utf8').slice(0, 120)})`);
  }
  if (monitor) {
    if (monitor.degraded) findings.push(finding({ code: 'function-lost', severity: 'high', requirements: [CR], evidence, message: `the essential function degraded while the collector was unreachable: ${monitor.reasons.join('; ')}` }));
    else passed.push(`the essential function answered ${monitor.answered} of ${monitor.samples} reads`);
  }
  const determined = [delivery, settings.alarm && !parts.alarmNotDetermined, monitor].filter(Boolean).length;
  if (determined === 0) return { findings, outcomes: [] };
  const notDetermined = [parts.lossNotDetermined, parts.alarmNotDetermined, parts.functionNotDetermined].filter((x): x is string => x !== undefined);
  const passReason = `${passed.join('; ')}${notDetermined.length ? `; not determined: ${notDetermined.join('; ')}` : ''}`;
  return { findings, outcomes: judge([{ requirement: CR, coverage: determined === 3 ? 'full' : 'partial', passReason }], findings) };
}

const notDetermined = (reason: string, extra: Record<string, unknown> = {}) => ({ observations: { ...extra, notDetermined: reason }, findings: [], outcomes: [] });

export default defineProbe({
  id: 'audit.outage',
  protocol: 'audit',
  title: 'The device keeps its audit records, raises an alarm and keeps working while the log collector is unreachable (CR 2.10)',
  description: 'Runs after the other audit probes on the host. Makes one failed login with an unknown user (iacs-outage-<n>) on each '
    + 'login interface and waits for the records (which interfaces the device logs, over which transport); then makes the lab syslog collector unreachable for '
    + 'lab.outage.seconds (listeners closed, the device\'s connections destroyed, reconnects refused), provokes failed logins with '
    + 'unknown users on each interface it logged and polls the essential function (essentialFunction.modbus); after '
    + 'the collector listens again, waits up to lab.outage.reconnectSeconds + lab.settleSeconds. Stream senders (TCP/TLS) must '
    + 'deliver every provoked event afterwards; the device must send a record matching lab.outage.alarm; the essential function must '
    + 'keep working. Over UDP the loss is not judged (a sender cannot see it, RFC 5426). Parts without evidence stay undetermined.',
  requirements: [CR],
  findings: {
    'events-lost': 'security events that occurred while the collector was unreachable never reached it afterwards (CR 2.10)',
    'no-alarm': 'no record matching the profile\'s alarm pattern came from the device during or after the outage (CR 2.10)',
    'function-lost': 'the essential function degraded while the collector was unreachable (CR 2.10)',
  },
  safety: 'intrusive',
  scope: 'host',
  appliesTo: [],
  phase: OUTAGE_PHASE,
  timeoutMs: 180_000,
  // One outage at a time: the collector is the run's, shared by every host.
  locks: () => [{ key: 'lab:syslog', mode: 'exclusive' }],
  async run(ctx) {
    const syslog = ctx.lab?.syslog;
    const settings = ctx.lab?.outage;
    if (!syslog || !settings) return notDetermined('the profile has no lab syslog collector (lab: block): the device\'s records cannot be read');
    if (syslog.ports.tcp === undefined && syslog.ports.tls === undefined) return notDetermined('the lab collector has no stream transport (lab.syslog.tcp or tls): a device logging over UDP cannot see an outage');
    const services = loginServices(ctx.host.services);
    if (services.length === 0) return notDetermined('the host declares no login interface (ssh, http, https, opcua, mqtt) on which to provoke security events');
    const deviceAddresses = [ctx.host.host, ...ctx.host.addresses];
    const baselineWindowMs = ctx.baseline<{ windowSeconds: number }>('audit').windowSeconds * 1000;

    const controls = await controlEvents(ctx, syslog, services, deviceAddresses, ctx.lab!.settleMs + baselineWindowMs);
    if ('reason' in controls) return notDetermined(controls.reason);
    const { transport } = controls;
    const downed = settings.transports ?? (['udp', 'tcp', 'tls'] as const).filter((t) => syslog.ports[t] !== undefined);
    if (!downed.includes(transport)) return notDetermined(`the device logs over ${transport}, which lab.outage.transports does not take down`, { senderTransport: transport });

    const monitor = monitorOf(ctx);
    if ('start' in monitor) await monitor.start();
    let run: OutageRun;
    let report: MonitorReport | undefined;
    try {
      run = await makeOutage(ctx, syslog, settings, controls);
      await awaitRecords(ctx, syslog, settings, run, controls, deviceAddresses);
    } finally {
      if ('start' in monitor) report = await monitor.stop();
    }
    const { parts, delivery, outageActions } = assess(ctx, settings, run, controls, report, monitor, { deviceAddresses, baselineWindowMs });
    const evidence = [ctx.evidence.save('outage.json', outageEvidence(run, controls, delivery, parts, settings)), syslog.journal];
    const { findings, outcomes } = judgement(parts, settings, run.outage, evidence);
    const observations = observationsOf({ controls, run, parts, delivery, provoked: outageActions.length, judged: outcomes.length > 0 });
    return { observations, findings, outcomes };
  },
});

/** The three parts of CR 2.10 from what the collector received: delivery (stream senders), alarm, essential function. */
function assess(
  ctx: Ctx, settings: LabOutageSettings, run: OutageRun, controls: Controls, report: MonitorReport | undefined, monitor: EssentialFunctionMonitor | { reason: string },
  o: { deviceAddresses: readonly string[]; baselineWindowMs: number },
) {
  const syslog = ctx.lab!.syslog!;
  const { outage } = run;
  const parts: Parts = {};
  const outageActions = actionsOf(ctx, run.logins);
  // A record may arrive as late as the reconnect allowance after the outage, not only the usual window after its event.
  const windowMs = outage.endedAt! - outage.startedAt + settings.reconnectMs + ctx.lab!.settleMs + o.baselineWindowMs;
  const delivery = judgeDelivery(outageActions, syslog.records, { deviceAddresses: o.deviceAddresses, windowMs, namesUsers: controls.namesUsers, exclude: controls.logged.map((l) => l.record) });
  if (controls.transport === 'udp') parts.lossNotDetermined = `the device logs over UDP (RFC 5426): a sender cannot see the collector fail, so it cannot keep what it sent meanwhile; ${delivery.delivered.length} of ${outageActions.length} event(s) from the outage arrived`;
  else if (outageActions.length === 0) parts.lossNotDetermined = `no failed login was provoked during the outage (${settings.provoke ? run.unsupported.join('; ') || 'the failure budget of a per-source lockout is spent' : 'lab.outage.provoke is false'})`;
  else parts.delivery = delivery;
  if (settings.alarm) parts.alarm = findAlarm(syslog.records, settings.alarm, outage.startedAt, o.deviceAddresses);
  else parts.alarmNotDetermined = 'the profile gives no alarm pattern (lab.outage.alarm): whether the device alerts is not determined';
  if (report) parts.monitor = report;
  else parts.functionNotDetermined = 'reason' in monitor ? monitor.reason : 'the essential-function monitor gave no report';
  return { parts, delivery, outageActions };
}

function observationsOf(o: { controls: Controls; run: OutageRun; parts: Parts; delivery: Delivery; provoked: number; judged: boolean }): Record<string, unknown> {
  const { controls, run, parts } = o;
  const { outage } = run;
  const report = parts.monitor;
  return {
    senderTransport: controls.transport, namesUsers: controls.namesUsers,
    interfacesNotLogged: controls.notLogged.map((a) => `${a.interface}/${a.port}: the device did not log ${a.account}'s failed login with its collector up, so the outage is not judged there (see audit.events)`),
    outage: { startedAt: new Date(outage.startedAt).toISOString(), endedAt: new Date(outage.endedAt!).toISOString(), transports: outage.transports, connectionsDestroyed: outage.connectionsDestroyed },
    provoked: o.provoked, delivered: o.delivery.delivered.length, interfacesWithoutLogin: [...controls.unsupported, ...run.unsupported],
    alarm: parts.alarm ? { seq: parts.alarm.seq, text: parts.alarm.raw.toString('utf8') } : null,
    essentialFunction: report ? { samples: report.samples, failed: report.failed, degraded: report.degraded, reasons: report.reasons } : null,
    ...(parts.lossNotDetermined ? { lossNotDetermined: parts.lossNotDetermined } : {}),
    ...(parts.alarmNotDetermined ? { alarmNotDetermined: parts.alarmNotDetermined } : {}),
    ...(parts.functionNotDetermined ? { functionNotDetermined: parts.functionNotDetermined } : {}),
    ...(o.judged ? {} : { notDetermined: 'no part of CR 2.10 could be judged: ' + [parts.lossNotDetermined, parts.alarmNotDetermined, parts.functionNotDetermined].join('; ') }),
  };
}

/**
 * After the collector is back: until every provoked event arrived (stream senders) and the alarm did (when
 * a pattern is given), at most lab.outage.reconnectSeconds + lab.settleSeconds.
 */
async function awaitRecords(ctx: Ctx, syslog: LabSyslog, settings: LabOutageSettings, run: OutageRun, controls: Controls, deviceAddresses: readonly string[]): Promise<void> {
  const actions = actionsOf(ctx, run.logins);
  const stream = controls.transport !== 'udp';
  const o = { deviceAddresses, windowMs: Number.POSITIVE_INFINITY, namesUsers: controls.namesUsers, exclude: controls.logged.map((l) => l.record) };
  const complete = () => (!stream || judgeDelivery(actions, syslog.records, o).lost.length === 0)
    && (!settings.alarm || findAlarm(syslog.records, settings.alarm, run.outage.startedAt, deviceAddresses) !== undefined);
  const until = run.outage.endedAt! + settings.reconnectMs + ctx.lab!.settleMs;
  if (!complete() && until > Date.now()) {
    ctx.log.info(`audit.outage: waiting up to ${until - Date.now()} ms for the device to reconnect and deliver`);
    await syslog.waitFor(() => complete(), until - Date.now(), ctx.signal);
  }
  ctx.signal.throwIfAborted();
}

/** The evidence file: the outage's timeline, every provoked event with the record that reported it, the alarm, the monitor. */
function outageEvidence(run: OutageRun, controls: Controls, delivery: Delivery, parts: Parts, settings: LabOutageSettings) {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const record = (r: AuditRecord | undefined) => (r ? { seq: r.seq, receivedAt: iso(r.receivedAt), transport: r.transport, text: r.raw.toString('utf8') } : null);
  return {
    settings: { seconds: settings.durationMs / 1000, reconnectSeconds: settings.reconnectMs / 1000, alarm: settings.alarm?.source ?? null, provoke: settings.provoke, transports: settings.transports ?? 'all' },
    timeline: [
      ...[...controls.logged.map((l) => l.action), ...controls.notLogged].map((a) => ({ at: iso(a.atMs), event: `control: failed login ${a.account} via ${a.interface}` })),
      ...controls.logged.map((l) => ({ at: iso(l.record.receivedAt), event: `control record for ${l.action.account} received over ${l.record.transport}` })),
      { at: iso(run.outage.startedAt), event: `collector unreachable (${run.outage.transports.join(', ')}; ${run.outage.connectionsDestroyed} connection(s) destroyed)` },
      ...run.logins.map((l) => ({ at: iso(l.at), event: `failed login ${l.account} via ${l.service} (${l.outcome})` })),
      { at: iso(run.outage.endedAt), event: 'collector listening again' },
      ...(parts.alarm ? [{ at: iso(parts.alarm.receivedAt), event: 'alarm record received' }] : []),
    ],
    controls: {
      namesUsers: controls.namesUsers,
      logged: controls.logged.map((l) => ({ action: l.action, record: record(l.record) })),
      notLogged: controls.notLogged,
    },
    events: delivery.matches.map((m) => ({ action: { seq: m.action.seq, at: m.action.at, account: m.action.account, interface: m.action.interface, port: m.action.port }, record: record(m.record), latencyMs: m.latencyMs ?? null })),
    alarm: record(parts.alarm),
    notDetermined: { loss: parts.lossNotDetermined ?? null, alarm: parts.alarmNotDetermined ?? null, essentialFunction: parts.functionNotDetermined ?? null },
    essentialFunction: parts.monitor ?? null,
  };
}
