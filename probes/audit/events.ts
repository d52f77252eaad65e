import { defineProbe, finding, judge, type Finding } from '../../src/sdk';
import { AUDIT_PHASE, AUDIT_TIMEOUT_MS, byKindAndInterface, commonObservations, gatherAuditEvidence } from '../../src/protocols/audit';

const CR = 'CR 2.8';

export default defineProbe({
  id: 'audit.events',
  protocol: 'audit',
  title: 'The device logs the security events the run provoked (CR 2.8)',
  description: 'Runs last on the host. Reads the run\'s action log (failed and successful logins, the expected lockout, sessions '
    + 'opened, closed and refused at the limit, caused by the login, lockout and sessions probes) and matches each event to a record '
    + 'the device sent to the lab syslog collector (from the device\'s address, within the baseline\'s window, worded as that kind; a '
    + 'record that fits contradictory kinds is no evidence). A kind provoked on an interface and never logged there fails CR 2.8. '
    + 'Coverage is full only when every declared login interface was exercised and every provoked kind arrived. Without a lab block or '
    + 'without provoked events the requirement stays undetermined. Sends nothing to the device; waits lab.settleSeconds.',
  requirements: [CR],
  findings: {
    'category-not-logged': 'a kind of security event provoked on an interface has no record at all (CR 2.8)',
    'events-not-logged': 'some events of a kind provoked on an interface have no record (CR 2.8)',
  },
  safety: 'passive',
  scope: 'host',
  appliesTo: [],
  phase: AUDIT_PHASE,
  timeoutMs: AUDIT_TIMEOUT_MS,
  async run(ctx) {
    const e = await gatherAuditEvidence(ctx);
    if ('notDetermined' in e) return { observations: { notDetermined: e.notDetermined }, findings: [], outcomes: [] };
    const groups = byKindAndInterface(e.matches);
    if (groups.length === 0) {
      return { observations: { ...commonObservations(e), notDetermined: 'only refusals without a verdict were provoked: no event the device must log' }, findings: [], outcomes: [] };
    }
    const findings: Finding[] = groups.filter((g) => g.logged < g.provoked).map((g) => (g.logged === 0
      ? finding({ code: 'category-not-logged', severity: 'high', requirements: [CR], evidence: e.evidence, message: `${g.kind} via ${g.interface}: none of ${g.provoked} provoked event(s) was logged` })
      : finding({ code: 'events-not-logged', severity: 'medium', requirements: [CR], evidence: e.evidence, message: `${g.kind} via ${g.interface}: ${g.provoked - g.logged} of ${g.provoked} provoked event(s) not logged` })));
    const logged = groups.filter((g) => g.logged > 0).map((g) => `${g.kind} via ${g.interface}`);
    const coverage = e.unexercised.length === 0 && findings.length === 0 ? 'full' : 'partial';
    const passReason = `every provoked kind was logged (${logged.join(', ')})${e.unexercised.length ? `; not exercised: ${e.unexercised.join(', ')}` : ''}`;
    return { observations: commonObservations(e), findings, outcomes: judge([{ requirement: CR, coverage, passReason }], findings) };
  },
});
