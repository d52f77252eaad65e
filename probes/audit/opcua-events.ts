import { defineProbe, finding, judge, type ProbeContext } from '../../src/sdk';
import { AUDIT_PHASE, AUDIT_TIMEOUT_MS, REQUIRED_KINDS, correlate, opcuaAuditRecords, type AuditBaseline } from '../../src/protocols/audit';

const RE1 = 'CR 6.1 RE(1)';

/** The result without an outcome: the requirement stays not determined, with the reason. */
const undetermined = (reason: string, observations: Record<string, unknown> = {}) => ({ observations: { ...observations, notDetermined: reason }, findings: [], outcomes: [] });

/** Why the host's subscriptions brought no provoked event (most telling reason first). */
function whyNothing(subs: readonly { state: string; reason?: string; serverAuditing: boolean | null; port: number }[], received: number): string {
  const down = subs.filter((s) => s.state !== 'subscribed');
  if (down.length === subs.length) return `no audit subscription: ${down.map((s) => `port ${s.port}: ${s.reason ?? 'unavailable'}`).join('; ')}`;
  if (subs.every((s) => s.serverAuditing === false) && received === 0) return 'the server does not audit (Server_Auditing false) and raised no audit event';
  if (received === 0) return 'the subscription received no audit event while the probes acted';
  return `${received} audit event(s) arrived, none reporting a provoked event`;
}

export default defineProbe({
  id: 'audit.opcua-events',
  protocol: 'audit',
  title: 'Audit records are readable through a standard interface: OPC UA audit events (CR 6.1 RE(1))',
  description: 'Runs last on the host. With lab.opcuaAudit the runner subscribed, before the first attempt, to the AuditEventType events '
    + '(Part 5 §6.4: CreateSession, ActivateSession with ClientUserId, CloseSession, ...) of the Server object of every declared opcua '
    + 'service, with the account credentials.audit.opcua (else opcua). When events the login, session and lockout probes provoked on that '
    + 'interface arrived through the subscription (matched by event type and Status, the subscriber\'s own session excluded), the device '
    + 'gives programmatic access to its audit records: CR 6.1 RE(1) passes. Otherwise (no subscription, Server_Auditing false, nothing '
    + 'arrived, nothing provoked) the requirement stays undetermined. Sends nothing to the device itself.',
  requirements: [RE1],
  findings: {
    'no-audit-access': 'the OPC UA server offers no audit events to the lab\'s subscription (Server_Auditing false, or the subscription was refused); information only, CR 6.1 RE(1) stays undetermined',
  },
  safety: 'passive',
  scope: 'host',
  appliesTo: [],
  phase: AUDIT_PHASE,
  timeoutMs: AUDIT_TIMEOUT_MS,
  async run(ctx: ProbeContext<unknown>) {
    const opcua = ctx.lab?.opcuaAudit;
    if (!opcua) return undetermined('the profile does not subscribe to OPC UA audit events (lab.opcuaAudit)');
    const subs = opcua.subscriptions.filter((s) => s.host === ctx.host.host);
    if (subs.length === 0) return undetermined('no opcua service is declared on this host');
    const actions = ctx.actions.list().filter((a) => a.host === ctx.host.host && a.interface === 'opcua' && REQUIRED_KINDS.has(a.kind));
    const subscriptions = subs.map(({ host: _h, ...s }) => s);
    if (actions.length === 0) return undetermined('no probe provoked a security event on the OPC UA interface (run the opcua login, session or lockout probes)', { subscriptions });
    const remaining = Math.max(...actions.map((a) => a.atMs)) + ctx.lab!.settleMs - Date.now();
    if (remaining > 0) await ctx.wait(remaining, 'audit: OPC UA events in flight after the last provoked event (lab.settleSeconds)');

    const events = opcua.events.filter((e) => e.host === ctx.host.host);
    const records = opcuaAuditRecords(events);
    const baseline = ctx.baseline<AuditBaseline>('audit');
    const matches = correlate(actions, records, { deviceAddresses: [], windowMs: baseline.windowSeconds * 1000 });
    const obtained = matches.filter((m) => m.record);
    const eventTypes: Record<string, number> = {};
    for (const e of events) eventTypes[e.eventType] = (eventTypes[e.eventType] ?? 0) + 1;
    const observations = {
      subscriptions, eventsReceived: events.length, ownSessionEvents: events.filter((e) => e.own).length, eventTypes,
      provoked: actions.length, obtained: obtained.length,
    };
    const evidence = [ctx.evidence.save('opcua-correlation.json', {
      journal: opcua.journal, windowSeconds: baseline.windowSeconds,
      matches: matches.map((m) => ({
        action: { seq: m.action.seq, at: m.action.at, kind: m.action.kind, port: m.action.port, account: m.action.account, probe: m.action.probe },
        event: m.record ? JSON.parse(m.record.raw.toString('utf8')) as unknown : null, latencyMs: m.latencyMs, userPresent: m.userPresent,
      })),
    }), opcua.journal];
    if (obtained.length === 0) {
      const why = whyNothing(subs, events.length - observations.ownSessionEvents);
      // Severity info: an observation for the report, never a verdict (no outcome is given).
      const offered = !/^no audit subscription|Server_Auditing false/.test(why);
      return { ...undetermined(why, observations), evidence, findings: offered ? [] : [finding({ code: 'no-audit-access', severity: 'info', requirements: [RE1], evidence, message: why })] };
    }
    const kinds = [...new Set(obtained.map((m) => m.action.kind))].join(', ');
    return {
      observations, findings: [], evidence,
      outcomes: judge([{
        requirement: RE1, coverage: 'full',
        passReason: `${obtained.length} of ${actions.length} provoked OPC UA event(s) (${kinds}) were read as AuditEventType events through a subscription on the Server object (OPC UA Part 5, a standard machine-readable interface)`,
      }], []),
    };
  },
});
