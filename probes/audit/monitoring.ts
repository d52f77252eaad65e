import { defineProbe, finding, judge, type Finding } from '../../src/sdk';
import { AUDIT_PHASE, AUDIT_TIMEOUT_MS, commonObservations, gatherAuditEvidence } from '../../src/protocols/audit';

const CR = 'CR 6.2';

/** The value at quantile q (0..1) of a non-empty list, nearest rank. */
const quantile = (xs: readonly number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};

export default defineProbe({
  id: 'audit.monitoring',
  protocol: 'audit',
  title: 'The device can be monitored continuously: it pushes security events to a collector as they happen (CR 6.2)',
  description: 'Runs last on the host. Of the provoked security events (matched as in audit.events), the ones the device pushed to '
    + 'the lab syslog collector by itself, and how late: the 95th percentile of the delay between the action and the record\'s '
    + 'arrival must be within the baseline\'s monitoringLatencySeconds. Coverage is always partial: only access-control events are '
    + 'provoked, while CR 6.2 asks for every security mechanism. No provoked event arrived → not determined (the device may offer '
    + 'monitoring through an interface the lab does not collect). Sends nothing to the device.',
  requirements: [CR],
  findings: {
    late: 'security events reach the collector later than the baseline allows: breaches are not reported in a timely manner (CR 6.2)',
  },
  safety: 'passive',
  scope: 'host',
  appliesTo: [],
  phase: AUDIT_PHASE,
  timeoutMs: AUDIT_TIMEOUT_MS,
  async run(ctx) {
    const e = await gatherAuditEvidence(ctx);
    if ('notDetermined' in e) return { observations: { notDetermined: e.notDetermined }, findings: [], outcomes: [] };
    const pushed = e.matches.filter((m) => m.record && m.latencyMs !== undefined);
    if (pushed.length === 0) {
      return {
        observations: { ...commonObservations(e), notDetermined: 'no provoked event reached the lab collector: continuous monitoring through it cannot be shown (another monitoring interface would be attested by hand)' },
        findings: [], outcomes: [],
      };
    }
    const latencies = pushed.map((m) => Math.max(0, m.latencyMs!));
    const latency = { median: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), max: Math.max(...latencies) };
    const limitMs = e.baseline.monitoringLatencySeconds * 1000;
    const transports = [...new Set(pushed.map((m) => m.record!.transport))].sort();
    const kinds = [...new Set(pushed.map((m) => `${m.action.kind} via ${m.action.interface}`))].sort();
    const findings: Finding[] = latency.p95 > limitMs ? [finding({
      code: 'late', severity: 'medium', requirements: [CR], evidence: e.evidence,
      message: `95% of ${pushed.length} pushed record(s) arrived within ${latency.p95} ms of the event, over the ${limitMs} ms the baseline allows (median ${latency.median} ms)`,
    })] : [];
    return {
      observations: { ...commonObservations(e), pushedRecords: pushed.length, latencyMs: latency, transports, pushedKinds: kinds },
      findings,
      outcomes: judge([{
        requirement: CR, coverage: 'partial',
        passReason: `${pushed.length} provoked event(s) (${kinds.join(', ')}) were pushed over syslog/${transports.join(', ')} within ${latency.p95} ms (95%); `
          + 'only access-control events were provoked',
      }], findings),
    };
  },
});
