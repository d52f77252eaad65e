import { expect } from 'chai';
import probe from '../../../probes/smb/dialects';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { nmapSmbDialects } from '../../helpers/peer-output';
import { runProbe } from '../../helpers/probe-harness';
import { HARDENED_SAMBA, WEAK_SAMBA, startSamba, type Samba } from '../../helpers/samba';
import { nmapSmb } from '../../helpers/smb-peers';

const FAST = { waitMs: 2000, connectTimeoutMs: 1000 };
const verdicts = (outcomes: readonly { requirement: string; verdict: string }[]) => outcomes.map((o) => `${o.requirement}:${o.verdict}`);

describe('probe smb.dialects (Debian samba)', function () {
  this.timeout(60_000);
  const servers: Record<'weak' | 'hardened' | 'smb2only', Samba | undefined> = { weak: undefined, hardened: undefined, smb2only: undefined };
  before(async function () {
    [servers.weak, servers.hardened, servers.smb2only] = await Promise.all([
      startSamba(this, WEAK_SAMBA), startSamba(this, HARDENED_SAMBA), startSamba(this, { ...HARDENED_SAMBA, maxProtocol: 'SMB2_10' }),
    ]);
  });
  after(async () => Promise.all(Object.values(servers).map((s) => s?.close())));
  const run = (s: Samba | undefined) => runProbe(probe, { service: { port: s!.port, protocol: 'smb' }, inputs: FAST });

  it('server min protocol = NT1: SMBv1 offered, fails CR 4.3 and CR 7.7; SMB 3.x offers encryption, so CR 4.1 is not judged', async () => {
    const { attempt } = await run(servers.weak);
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.observations.dialects).to.deep.equal(['NT LM 0.12', '2.0.2', '2.1', '3.0', '3.0.2', '3.1.1']);
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['smb.dialects.smb1-offered']);
    expect(verdicts(attempt.outcomes)).to.deep.equal(['CR 4.3:fail', 'CR 7.7:fail']);
    expect(attempt.observations.encryptionOffered).to.deep.equal(['3.0', '3.0.2', '3.1.1']);
    expect((attempt.observations.smb2 as Record<string, { cipher?: string }>)['3.1.1'].cipher).to.equal('AES-128-GCM');
  });

  it('server min protocol = SMB2_02: SMBv1 refused, CR 4.3 and CR 7.7 pass (partial)', async () => {
    const { attempt } = await run(servers.hardened);
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.observations.dialects).to.deep.equal(['2.0.2', '2.1', '3.0', '3.0.2', '3.1.1']);
    expect(attempt.observations.smb1).to.deep.equal({ offered: false, answer: 'dialect index 0xffff' });
    expect(verdicts(attempt.outcomes)).to.deep.equal(['CR 4.3:pass', 'CR 7.7:pass']);
    expect(attempt.outcomes.every((o) => o.coverage === 'partial')).to.equal(true);
  });

  it('server max protocol = SMB2_10: no dialect can encrypt, fails CR 4.1', async () => {
    const { attempt } = await run(servers.smb2only);
    expect(attempt.status).to.equal('fail');
    expect(attempt.observations.dialects).to.deep.equal(['2.0.2', '2.1']);
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['smb.dialects.no-encryption']);
    expect(verdicts(attempt.outcomes)).to.deep.equal(['CR 4.3:pass', 'CR 7.7:pass', 'CR 4.1:fail']);
  });

  it('nmap smb-protocols lists the same dialects on the same servers', async function () {
    for (const s of [servers.weak, servers.hardened, servers.smb2only]) {
      const [{ attempt }, xml] = await Promise.all([run(s), nmapSmb(this, s!.port, 'smb-protocols')]);
      expect(nmapSmbDialects(xml), JSON.stringify(s!.config)).to.deep.equal(attempt.observations.dialects);
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'smb' }), timeoutMs: 4000, inputs: FAST });
});
