import { expect } from 'chai';
import probe from '../../../probes/smb/signing';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { nmapSmbSigningRequired } from '../../helpers/peer-output';
import { runProbe } from '../../helpers/probe-harness';
import { HARDENED_SAMBA, WEAK_SAMBA, startSamba, type Samba } from '../../helpers/samba';
import { nmapSmb } from '../../helpers/smb-peers';

const FAST = { waitMs: 2000, connectTimeoutMs: 1000 };

describe('probe smb.signing (Debian samba)', function () {
  this.timeout(60_000);
  let weak: Samba | undefined;
  let hardened: Samba | undefined;
  before(async function () {
    [weak, hardened] = await Promise.all([startSamba(this, WEAK_SAMBA), startSamba(this, HARDENED_SAMBA)]);
  });
  after(async () => Promise.all([weak?.close(), hardened?.close()]));
  const run = (s: Samba | undefined) => runProbe(probe, { service: { port: s!.port, protocol: 'smb' }, inputs: FAST });

  it('server signing = disabled: signing not required on SMB 3.1.1 nor on SMBv1, fails CR 3.1', async () => {
    const { attempt } = await run(weak);
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.observations.signing).to.deep.equal({
      '3.1.1': { enabled: true, required: false, securityMode: 1 },
      'NT LM 0.12': { enabled: false, required: false, securityMode: 3 },
    });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['smb.signing.signing-not-required', 'smb.signing.signing-not-required']);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 3.1:fail']);
  });

  it('server signing = mandatory (no SMBv1): required, passes CR 3.1', async () => {
    const { attempt } = await run(hardened);
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.observations.signing).to.deep.equal({ '3.1.1': { enabled: true, required: true, securityMode: 3 } });
    expect(attempt.observations.smb1).to.equal('dialect index 0xffff');
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['CR 3.1:pass:full']);
  });

  it('nmap smb2-security-mode says the same about the same servers', async function () {
    for (const s of [weak, hardened]) {
      const [{ attempt }, xml] = await Promise.all([run(s), nmapSmb(this, s!.port, 'smb2-security-mode')]);
      const ours = attempt.observations.signing as Record<string, { required: boolean }>;
      expect(nmapSmbSigningRequired(xml)).to.deep.equal({ '3.1.1': ours['3.1.1'].required });
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'smb' }), timeoutMs: 4000, inputs: FAST });
});
