import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import lifecycle from '../../../probes/accounts/lifecycle';
import passwordPolicy from '../../../probes/accounts/password-policy';
import { DOCUMENTED_PASSWORDS } from '../../helpers/accounts';
import { PERMISSIVE_STACK, PWQUALITY_STACK, startPamHost, type PamHost } from '../../helpers/pam-host';
import { runProbe } from '../../helpers/probe-harness';

/**
 * The accounts.* probes against real Linux hosts over SSH with the default commands (useradd, chpasswd, passwd,
 * usermod, userdel through sudo -n): Debian's PAM with pam_pwquality (hardened) or without any quality check and
 * with a sudoer operator (weak). Each host lives in a mount namespace over a copy of /etc (helpers/pam-host.ts).
 */

const ADMIN = { username: 'benchadmin', password: 'Adm1n!Bench-2026x' };
const OPERATOR = { username: 'benchop', password: 'Op3r!Bench-2026x' };
const credentials = { 'accounts.admin': ADMIN, 'accounts.operator': OPERATOR };
const policy = { accountManagement: { ssh: {} }, passwords: DOCUMENTED_PASSWORDS };
const outcome = (a: { outcomes: { requirement: string }[] }, id: string) => a.outcomes.find((o) => o.requirement === id);
const digest = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

describe('accounts.* on real Linux hosts (OpenSSH, PAM, pam_pwquality, shadow utilities)', function () {
  this.timeout(60_000);
  let hardened: PamHost;
  let weak: PamHost;
  const machine = ['/etc/passwd', '/etc/shadow', '/etc/group'].map((f) => [f, digest(f)] as const);
  before(async function () {
    hardened = await startPamHost(this as unknown as Mocha.Context, { passwordStack: PWQUALITY_STACK, accounts: [{ ...ADMIN, sudo: true }, OPERATOR] });
    weak = await startPamHost(this as unknown as Mocha.Context, { passwordStack: PERMISSIVE_STACK, accounts: [{ ...ADMIN, sudo: true }, { ...OPERATOR, sudo: true }] });
  });
  after(async () => {
    await Promise.all([hardened?.close(), weak?.close()]);
  });
  const ssh = (h: PamHost) => ({ port: h.port, protocol: 'ssh' as const });
  /** Accounts the probes made that are still in the host's /etc/passwd. */
  const leftovers = (h: PamHost) => h.exec(['cat', '/etc/passwd']).split('\n').filter((l) => l.startsWith('iacs'));

  it('pam_pwquality: passwd refuses each weak password, takes the compliant one -> CR 1.7 pass', async () => {
    const { attempt } = await runProbe(passwordPolicy, { service: ssh(hardened), policy, credentials });
    expect(attempt.status, `${JSON.stringify(attempt.observations)}\n${hardened.log().slice(-2000)}`).to.equal('pass');
    const tried = attempt.observations.tried as { kind: string; accepted: boolean; detail: string }[];
    expect(tried.map((t) => `${t.kind}:${t.accepted}`)).to.deep.equal(['too-short:false', 'only-digits:false', 'user-name:false', 'dictionary-word:false']);
    expect(tried.map((t) => t.detail).join('\n')).to.match(/BAD PASSWORD|shorter than|dictionary|user name/i);
    expect(leftovers(hardened)).to.deep.equal([]);
  });

  it('no quality check: passwd takes every weak password -> CR 1.7 fail', async () => {
    const { attempt } = await runProbe(passwordPolicy, { service: ssh(weak), policy, credentials });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('fail');
    expect(attempt.findings).to.have.length(4);
    expect(leftovers(weak)).to.deep.equal([]);
  });

  it('hardened: useradd/usermod --lock/userdel by the sudoer admin, the locked and the deleted account refused, the operator\'s sudo refused -> pass', async () => {
    const { attempt } = await runProbe(lifecycle, { service: ssh(hardened), policy, credentials });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
    expect((attempt.observations.operatorCreate as { detail: string }).detail).to.match(/sudo.*password is required|not in the sudoers|not allowed/i);
    expect(leftovers(hardened)).to.deep.equal([]);
  });

  it('weak: the operator is a sudoer and creates an account -> CR 2.1 fail (CR 1.3 holds: Linux refuses locked accounts)', async () => {
    const { attempt } = await runProbe(lifecycle, { service: ssh(weak), policy, credentials });
    expect(attempt.status).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['accounts.lifecycle.operator-creates-account']);
    expect(outcome(attempt, 'CR 1.3')).to.deep.include({ verdict: 'pass' });
    expect(outcome(attempt, 'CR 2.1')).to.deep.include({ verdict: 'fail' });
    expect(leftovers(weak)).to.deep.equal([]);
  });

  it('the machine\'s own /etc is untouched', () => {
    for (const [file, sum] of machine) expect(digest(file), file).to.equal(sum);
  });
});
