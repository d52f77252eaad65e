import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import probe from '../../../probes/accounts/password-policy';
import type { Emulator } from '../../../src/emulator';
import { weakCandidates } from '../../../src/protocols/accounts';
import { ACCOUNT_CREDENTIALS, DOCUMENTED_PASSWORDS, EMULATOR_ACCOUNT_API, startWebDevice } from '../../helpers/accounts';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

const https = (d: Emulator) => ({ port: d.endpoint('https').port, protocol: 'https' as const });
const policy = { accountManagement: EMULATOR_ACCOUNT_API, passwords: DOCUMENTED_PASSWORDS };
type Tried = { kind: string; accepted: boolean; loginConfirmed?: boolean; violates: string[] };

describe('probe accounts.password-policy (CR 1.7)', function () {
  this.timeout(30_000);
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startWebDevice('weak'), startWebDevice('hardened')]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('makes one password per declared rule, each breaking it, and none for undeclared rules', () => {
    const all = weakCandidates(DOCUMENTED_PASSWORDS, 'iacs0123456789');
    expect(all.map((c) => c.kind)).to.deep.equal(['too-short', 'only-digits', 'user-name', 'dictionary-word']);
    for (const c of all) expect(c.violates, c.kind).to.have.length(1);
    expect(weakCandidates({ minLength: 8 }, 'iacs0123456789').map((c) => c.kind)).to.deep.equal(['too-short']);
  });

  it('hardened device: every weak password refused (422), the compliant one accepted -> pass; nothing secret in the evidence', async () => {
    const { attempt, dir } = await runProbe(probe, { service: https(hardened), policy, credentials: ACCOUNT_CREDENTIALS.hardened });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
    expect(attempt.outcomes).to.deep.equal([{ requirement: 'CR 1.7', verdict: 'pass', coverage: 'full', reason: attempt.outcomes[0].reason }]);
    const tried = attempt.observations.tried as Tried[];
    expect(tried.map((t) => `${t.kind}:${t.accepted}`)).to.deep.equal(['too-short:false', 'only-digits:false', 'user-name:false', 'dictionary-word:false']);
    expect((attempt.observations.compliant as { accepted: boolean }).accepted).to.equal(true);
    const evidence = fs.readFileSync(path.join(dir, attempt.evidence.find((e) => e.endsWith('password-policy.json'))!), 'utf8');
    expect(evidence).to.not.contain('Administrator');
    expect(evidence).to.not.contain(ACCOUNT_CREDENTIALS.hardened['accounts.admin'].password);
    expect((attempt.observations.removals as { removed: boolean }[]).map((r) => r.removed)).to.deep.equal([true]);
  });

  it('weak device: every weak password accepted and then logs in -> fail (CR 1.7)', async () => {
    const { attempt } = await runProbe(probe, { service: https(weak), policy, credentials: ACCOUNT_CREDENTIALS.weak });
    expect(attempt.status).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(Array(4).fill('accounts.password-policy.weak-password-accepted'));
    expect((attempt.observations.tried as Tried[]).every((t) => t.accepted && t.loginConfirmed)).to.equal(true);
    expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 1.7', verdict: 'fail' });
  });

  it('no documented policy, or a control password the device refuses too -> not determined, never a pass', async () => {
    const none = await runProbe(probe, { service: https(hardened), policy: { accountManagement: EMULATOR_ACCOUNT_API }, credentials: ACCOUNT_CREDENTIALS.hardened });
    expect(none.attempt.status).to.equal('not_determined');
    // An "admin" who may not create accounts: no test account, so no refusal can be shown.
    const operator = ACCOUNT_CREDENTIALS.hardened['accounts.operator'];
    const refused = await runProbe(probe, { service: https(hardened), policy, credentials: { 'accounts.admin': operator } });
    expect(refused.attempt.status).to.equal('not_determined');
    expect(String(refused.attempt.observations.notDetermined)).to.match(/could not create the test account/);
  });

  describeMisbehavingPeers(probe, {
    service: (port) => ({ port, protocol: 'http' }), timeoutMs: 3000, policy, credentials: ACCOUNT_CREDENTIALS.hardened,
  });
});
