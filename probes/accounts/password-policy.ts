import { defineProbe, finding, judge, type Finding, type ProbeContext } from '../../src/sdk';
import {
  compliantPassword, managementLocks, preparedInterface, testAccountName, weakCandidates, withJournaledAccounts,
  type Candidate, type Declared, type PasswordPolicy, type Step,
} from '../../src/protocols/accounts';

const STRENGTH = 'CR 1.7';

interface Tried {
  kind: Candidate['kind'];
  length: number;
  violates: Candidate['violates'];
  accepted: boolean;
  /** A login with the accepted password worked (it really is the account's password now). */
  loginConfirmed?: boolean;
  detail: string;
}

interface Outcome {
  created?: Step;
  tried: Tried[];
  compliant?: Step;
}

/** Creates the test account, tries each weak password as the user, then a compliant one (the control). */
async function exercise(ctx: ProbeContext<unknown>, declared: Declared, policy: PasswordPolicy, journal: (name: string) => void): Promise<Outcome> {
  const { api, secrets } = declared;
  const user = testAccountName(policy);
  let current = compliantPassword(policy);
  secrets.add(current);
  journal(user);
  const created = await api.create('admin', user, current);
  ctx.actions.record({ kind: 'config-changed', account: declared.actors.admin!.username, detail: `test account ${user} ${created.accepted ? 'created' : 'refused'}` });
  if (!created.accepted) return { created, tried: [] };
  const tried: Tried[] = [];
  for (const candidate of weakCandidates(policy, user)) {
    // Only the candidates that hide nothing public (the user-name one is the account's name) are secrets to scrub.
    if (candidate.kind !== 'user-name') secrets.add(candidate.password);
    const step = await api.setPassword(user, current, candidate.password);
    const entry: Tried = { kind: candidate.kind, length: candidate.password.length, violates: candidate.violates, accepted: step.accepted, detail: step.detail };
    if (step.accepted) {
      entry.loginConfirmed = (await api.login(user, candidate.password)).accepted;
      current = candidate.password;
    }
    tried.push(entry);
  }
  const next = compliantPassword(policy);
  secrets.add(next);
  const compliant = await api.setPassword(user, current, next);
  return { created, tried, compliant };
}

function findingsOf(tried: readonly Tried[], evidence: string[]): Finding[] {
  return tried.filter((t) => t.accepted).map((t) => finding({
    code: 'weak-password-accepted', severity: 'high', requirements: [STRENGTH], evidence,
    message: `the device accepted a ${t.kind} password (${t.length} characters; breaks ${t.violates.join(', ')} of the documented policy)`
      + (t.loginConfirmed ? ' and the account then logged in with it' : ''),
  }));
}

export default defineProbe({
  id: 'accounts.password-policy',
  protocol: 'accounts',
  title: 'Setting a password that breaks the documented policy is refused (CR 1.7)',
  description: 'Through the declared account-management interface (policy.accountManagement: SSH commands or web/REST templates), '
    + 'the administrator (credentials.accounts.admin) creates a test account with a strong random password; the account then sets, '
    + 'one after the other, passwords that break the documented policy (policy.passwords: too short, only digits, the user name, a '
    + 'dictionary word — only the rules the profile declares) and finally a compliant one. Every weak password must be refused and '
    + 'the compliant one accepted (the control: without it the refusals prove nothing). The account is journaled before it is created '
    + 'and deleted at the end, also after a failure or Ctrl-C; leftovers of a run that died are removed first. Passwords never reach the evidence.',
  requirements: [STRENGTH],
  findings: {
    'weak-password-accepted': 'the device accepted a password that breaks its documented policy (CR 1.7)',
  },
  safety: 'intrusive',
  scope: 'host',
  appliesTo: [],
  timeoutMs: 120_000,
  locks: managementLocks,
  async run(ctx) {
    const prepared = await preparedInterface(ctx);
    if ('notDetermined' in prepared) return { observations: { notDetermined: prepared.notDetermined }, findings: [], outcomes: [] };
    const { declared, replayed } = prepared;
    const policy = declared.passwords;
    if (!policy) {
      return { observations: { replayed, notDetermined: 'the profile documents no password policy (policy.passwords): there is no rule to break' }, findings: [], outcomes: [] };
    }
    const { result, removals } = await withJournaledAccounts(ctx, declared.api, (journal) => exercise(ctx, declared, policy, journal));
    const observations = { interface: declared.api.where, policy, replayed, created: result.created, tried: result.tried, compliant: result.compliant ?? null, removals };
    const evidence = [ctx.evidence.save('password-policy.json', observations)];
    const findings = findingsOf(result.tried, evidence);
    if (result.created?.accepted && result.tried.length === 0) {
      return { observations: { ...observations, notDetermined: 'the documented policy gives no rule a password could be made to break' }, findings: [], outcomes: [] };
    }
    // A refusal counts only when the same account could then set a compliant password.
    const controlled = result.compliant?.accepted === true;
    if (findings.length === 0 && !controlled) {
      const why = !result.created?.accepted ? `the administrator could not create the test account (${result.created?.detail})`
        : `the compliant control password was refused too (${result.compliant?.detail}): the refusals are not shown to come from the policy`;
      return { observations: { ...observations, notDetermined: why }, findings: [], outcomes: [] };
    }
    const declaresAll = policy.minLength > 0 && (policy.minClasses ?? 1) >= 2;
    return {
      observations, findings,
      outcomes: judge([{
        requirement: STRENGTH, coverage: declaresAll ? 'full' : 'partial',
        passReason: `${result.tried.length} password(s) breaking the documented policy refused (${result.tried.map((t) => t.kind).join(', ')}); a compliant one accepted`,
      }], findings),
    };
  },
});
