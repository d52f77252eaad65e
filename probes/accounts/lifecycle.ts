import { defineProbe, finding, judge, type Finding, type Judgement, type ProbeContext } from '../../src/sdk';
import {
  compliantPassword, managementLocks, preparedInterface, testAccountName, withJournaledAccounts, type Declared, type Step,
} from '../../src/protocols/accounts';

const ACCOUNTS = 'CR 1.3';
const AUTHORIZATION = 'CR 2.1';

/** Every step of the lifecycle as the device answered it; absent steps were not reached. */
interface Lifecycle {
  created?: Step;
  loginAfterCreate?: Step;
  disabled?: Step;
  loginWhileDisabled?: Step;
  deleted?: Step;
  loginAfterDelete?: Step;
  /** The same creation attempted with the operator's credential (absent: no operator account declared). */
  operatorCreate?: Step;
}

async function adminLifecycle(ctx: ProbeContext<unknown>, declared: Declared, journal: (name: string) => void): Promise<Lifecycle> {
  const { api, secrets, passwords } = declared;
  const user = testAccountName(passwords);
  const password = compliantPassword(passwords ?? { minLength: 16 });
  secrets.add(password);
  const admin = declared.actors.admin!.username;
  const out: Lifecycle = {};
  journal(user);
  out.created = await api.create('admin', user, password);
  ctx.actions.record({ kind: 'config-changed', account: admin, detail: `create account ${user}: ${out.created.accepted ? 'done' : 'refused'}` });
  if (!out.created.accepted) return out;
  out.loginAfterCreate = await api.login(user, password);
  if (!out.loginAfterCreate.accepted) return out;
  out.disabled = await api.disable(user);
  ctx.actions.record({ kind: 'config-changed', account: admin, detail: `disable account ${user}: ${out.disabled.accepted ? 'done' : 'refused'}` });
  if (out.disabled.accepted) {
    out.loginWhileDisabled = await api.login(user, password);
    ctx.actions.record({ kind: out.loginWhileDisabled.accepted ? 'login-succeeded' : 'login-refused', account: user, detail: 'login of a disabled account' });
  }
  out.deleted = await api.remove(user);
  ctx.actions.record({ kind: 'config-changed', account: admin, detail: `delete account ${user}: ${out.deleted.accepted ? 'done' : 'refused'}` });
  if (out.deleted.accepted) out.loginAfterDelete = await api.login(user, password);
  return out;
}

async function operatorCreate(ctx: ProbeContext<unknown>, declared: Declared, journal: (name: string) => void): Promise<Step | undefined> {
  if (!declared.actors.operator) return undefined;
  const user = testAccountName(declared.passwords);
  const password = compliantPassword(declared.passwords ?? { minLength: 16 });
  declared.secrets.add(password);
  journal(user);
  const step = await declared.api.create('operator', user, password);
  ctx.actions.record({ kind: step.accepted ? 'config-changed' : 'access-denied', account: declared.actors.operator.username, detail: `create account ${user} as operator: ${step.accepted ? 'done' : 'refused'}` });
  return step;
}

function findingsOf(l: Lifecycle, evidence: string[]): Finding[] {
  const out: Finding[] = [];
  const lifecycle = { requirements: [ACCOUNTS], evidence };
  if (l.disabled && !l.disabled.accepted) out.push(finding({ code: 'cannot-disable', severity: 'medium', ...lifecycle, message: `the administrator could not disable the account: ${l.disabled.detail}` }));
  if (l.loginWhileDisabled?.accepted) out.push(finding({ code: 'disabled-account-logs-in', severity: 'high', ...lifecycle, message: `a disabled account still logs in: ${l.loginWhileDisabled.detail}` }));
  if (l.deleted && !l.deleted.accepted) out.push(finding({ code: 'cannot-delete', severity: 'medium', ...lifecycle, message: `the administrator could not delete the account: ${l.deleted.detail}` }));
  if (l.loginAfterDelete?.accepted) out.push(finding({ code: 'deleted-account-logs-in', severity: 'high', ...lifecycle, message: `a deleted account still logs in: ${l.loginAfterDelete.detail}` }));
  if (l.operatorCreate?.accepted) {
    out.push(finding({ code: 'operator-creates-account', severity: 'high', requirements: [AUTHORIZATION], evidence, message: `the operator account created an account: ${l.operatorCreate.detail}` }));
  }
  return out;
}

/** What was shown: CR 1.3 once the whole lifecycle ran (or a step failed), CR 2.1 once the admin's creation worked and the operator tried. */
function judgements(l: Lifecycle, findings: readonly Finding[]): { judged: Judgement[]; notDetermined: string[] } {
  const judged: Judgement[] = [];
  const notDetermined: string[] = [];
  const lifecycleFailed = findings.some((f) => f.requirements.includes(ACCOUNTS));
  if (lifecycleFailed || l.loginAfterDelete?.accepted === false) {
    judged.push({ requirement: ACCOUNTS, coverage: 'partial', passReason: 'the administrator created an account that logged in, disabled it (login refused) and deleted it (login refused); activating and modifying accounts are not exercised' });
  } else if (!l.created?.accepted) notDetermined.push(`CR 1.3: the administrator could not create a test account (${l.created?.detail ?? 'not tried'})`);
  else if (!l.loginAfterCreate?.accepted) notDetermined.push(`CR 1.3: the new account could not log in (${l.loginAfterCreate?.detail}), so disabling it shows nothing`);
  if (!l.operatorCreate) notDetermined.push(`CR 2.1: no operator account (credentials.accounts.operator) to try the creation with`);
  else if (l.operatorCreate.accepted || l.created?.accepted) {
    judged.push({ requirement: AUTHORIZATION, coverage: 'partial', passReason: `the operator's attempt to create an account was refused (${l.operatorCreate.detail}), while the same creation worked for the administrator` });
  } else notDetermined.push('CR 2.1: the creation failed for the administrator too, so the operator\'s refusal proves no authorization check');
  return { judged, notDetermined };
}

export default defineProbe({
  id: 'accounts.lifecycle',
  protocol: 'accounts',
  title: 'An administrator creates, disables and deletes an account; a disabled or deleted account cannot log in; an operator cannot create one (CR 1.3, 2.1)',
  description: 'Through the declared account-management interface (policy.accountManagement: SSH commands or web/REST templates), the '
    + 'administrator (credentials.accounts.admin) creates a test account (it must log in), disables it (its login must be refused) and '
    + 'deletes it (its login must be refused); then the operator (credentials.accounts.operator) attempts the same creation, which '
    + 'must be refused. Every account is journaled before it is created and deleted at the end, also after a failure or Ctrl-C; '
    + 'leftovers of a run that died are removed first. Passwords never reach the evidence.',
  requirements: [ACCOUNTS, AUTHORIZATION],
  findings: {
    'cannot-disable': 'the administrator cannot disable an account through the declared interface (CR 1.3)',
    'disabled-account-logs-in': 'a disabled account still logs in (CR 1.3)',
    'cannot-delete': 'the administrator cannot delete an account through the declared interface (CR 1.3)',
    'deleted-account-logs-in': 'a deleted account still logs in (CR 1.3)',
    'operator-creates-account': 'an operator account can create accounts (CR 2.1)',
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
    const { result, removals } = await withJournaledAccounts(ctx, declared.api, async (journal) => {
      const lifecycle = await adminLifecycle(ctx, declared, journal);
      lifecycle.operatorCreate = await operatorCreate(ctx, declared, journal);
      return lifecycle;
    });
    const observations = { interface: declared.api.where, replayed, ...result, removals };
    const evidence = [ctx.evidence.save('lifecycle.json', observations)];
    const findings = findingsOf(result, evidence);
    const { judged, notDetermined } = judgements(result, findings);
    return {
      observations: { ...observations, ...(notDetermined.length > 0 ? { notDetermined: notDetermined.join('; ') } : {}) },
      findings, outcomes: judge(judged, findings),
    };
  },
});
