import { expect } from 'chai';
import probe from '../../../probes/smb/guest-access';
import { RunActionLog } from '../../../src/runner/actions';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { HARDENED_SAMBA, WEAK_SAMBA, startSamba, type Samba } from '../../helpers/samba';
import { smbclientList } from '../../helpers/smb-peers';

const FAST = { waitMs: 2000, connectTimeoutMs: 1000 };
const verdicts = (outcomes: readonly { requirement: string; verdict: string }[]) => outcomes.map((o) => `${o.requirement}:${o.verdict}`);

describe('probe smb.guest-access (Debian samba)', function () {
  this.timeout(60_000);
  let weak: Samba | undefined;
  let hardened: Samba | undefined;
  before(async function () {
    [weak, hardened] = await Promise.all([startSamba(this, WEAK_SAMBA), startSamba(this, HARDENED_SAMBA)]);
  });
  after(async () => Promise.all([weak?.close(), hardened?.close()]));
  const run = (s: Samba | undefined) => runProbe(probe, { service: { port: s!.port, protocol: 'smb' }, inputs: FAST });

  it('map to guest = bad user, restrict anonymous = 0: a guest session for an unknown user and anonymous IPC$: fails CR 1.1, 1.2, 3.1', async () => {
    const { attempt, read } = await run(weak);
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.observations.guest).to.include({ granted: true, status: 'STATUS_SUCCESS' });
    expect((attempt.observations.guest as { sessionFlags: string[] }).sessionFlags).to.deep.equal(['IS_GUEST']);
    expect(attempt.observations.anonymous).to.deep.include({ granted: true, ipc: { status: 'STATUS_SUCCESS', connected: true } });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['smb.guest-access.guest-session', 'smb.guest-access.anonymous-ipc']);
    expect(verdicts(attempt.outcomes)).to.deep.equal(['CR 1.1:fail', 'CR 1.2:fail', 'CR 3.1:fail']);
    // The transcript holds both NTLMSSP exchanges and no secret (there is none to hold).
    expect(read(attempt.evidence[0])).to.match(/AUTHENTICATE, anonymous/).and.to.match(/TREE_CONNECT \\\\127\.0\.0\.1\\IPC\$/);
  });

  it('map to guest = never, restrict anonymous = 2: guest refused, anonymous session cannot open IPC$: CR 1.1 and 1.2 pass (partial)', async () => {
    const { attempt } = await run(hardened);
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.observations.guest).to.include({ granted: false, status: 'STATUS_LOGON_FAILURE' });
    expect(attempt.observations.anonymous).to.deep.include({ granted: true, ipc: { status: 'STATUS_ACCESS_DENIED', connected: false } });
    expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['smb.guest-access.anonymous-session', 'info']]);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['CR 1.1:pass:partial', 'CR 1.2:pass:partial']);
  });

  it('smbclient -L -N agrees: lists shares where we opened IPC$ anonymously, is denied the tree connect where we were', async function () {
    const weakList = await smbclientList(this, weak!.port);
    expect(weakList.code, weakList.output).to.equal(0);
    expect(weakList.output).to.match(/IPC\$\s+IPC/).and.to.match(/pub\s+Disk/);
    const hardenedList = await smbclientList(this, hardened!.port);
    expect(hardenedList.code).to.not.equal(0);
    expect(hardenedList.output).to.match(/Anonymous login successful/).and.to.match(/tree connect failed: NT_STATUS_ACCESS_DENIED/);
  });

  it('both logons are in the run action log (the audit probes check the device logged them)', async () => {
    const actions = new RunActionLog();
    const { attempt } = await runProbe(probe, { service: { port: hardened!.port, protocol: 'smb' }, inputs: FAST, actions });
    const guestUser = (attempt.observations.guest as { user: string }).user;
    expect(actions.list().map((a) => [a.kind, a.interface, a.account])).to.deep.equal([
      ['login-succeeded', 'smb', '(anonymous)'], ['login-failed', 'smb', guestUser],
    ]);
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'smb' }), timeoutMs: 4000, inputs: FAST });
});
