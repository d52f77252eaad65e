import { defineProbe, finding, judge, type Finding } from '../../src/sdk';
import { AUDIT_PHASE, AUDIT_TIMEOUT_MS, byKindAndInterface, commonObservations, gatherAuditEvidence } from '../../src/protocols/audit';

const CR = 'CR 2.12';

/** At most five names, then how many more. */
const listed = (names: readonly string[]) => (names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`);

export default defineProbe({
  id: 'audit.identity',
  protocol: 'audit',
  title: 'The device\'s records name the user who acted (CR 2.12)',
  description: 'Runs last on the host. Of the provoked events that the device logged to the lab syslog collector (matched as in '
    + 'audit.events), those done with an account must name that account in the record (message, tag or structured data, as a '
    + 'whole word). A kind whose records leave the user out fails CR 2.12. Without a lab block, provoked events or any matched record '
    + 'the requirement stays undetermined. Sends nothing to the device.',
  requirements: [CR],
  findings: {
    'user-missing': 'records of a kind of event do not name the account that acted (CR 2.12)',
  },
  safety: 'passive',
  scope: 'host',
  appliesTo: [],
  phase: AUDIT_PHASE,
  timeoutMs: AUDIT_TIMEOUT_MS,
  async run(ctx) {
    const e = await gatherAuditEvidence(ctx);
    if ('notDetermined' in e) return { observations: { notDetermined: e.notDetermined }, findings: [], outcomes: [] };
    const groups = byKindAndInterface(e.matches)
      .map((g) => ({ ...g, withAccount: g.matches.filter((m) => m.record && m.action.account !== undefined) }))
      .filter((g) => g.withAccount.length > 0);
    if (groups.length === 0) {
      return { observations: { ...commonObservations(e), notDetermined: 'no provoked event with an account was logged: nothing to attribute' }, findings: [], outcomes: [] };
    }
    const findings: Finding[] = groups.flatMap((g) => {
      const without = g.withAccount.filter((m) => !m.userPresent);
      return without.length === 0 ? [] : [finding({
        code: 'user-missing', severity: 'high', requirements: [CR], evidence: e.evidence,
        message: `${g.kind} via ${g.interface}: ${without.length} of ${g.withAccount.length} record(s) do not name the account (${listed([...new Set(without.map((m) => m.action.account!))])})`,
      })];
    });
    const attributed = groups.reduce((n, g) => n + g.withAccount.length, 0);
    const coverage = e.unexercised.length === 0 && groups.length === byKindAndInterface(e.matches).length ? 'full' : 'partial';
    return {
      observations: { ...commonObservations(e), attributedRecords: attributed },
      findings,
      outcomes: judge([{ requirement: CR, coverage, passReason: `all ${attributed} matched record(s) name the account that acted` }], findings),
    };
  },
});
