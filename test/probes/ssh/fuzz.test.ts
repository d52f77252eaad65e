import { expect } from 'chai';
import probe from '../../../probes/ssh/fuzz';
import { generateCases } from '../../../src/protocols/fuzz';
import { sshTemplates } from '../../../src/protocols/ssh/fuzz';
import { fuzzCaseLines } from '../../helpers/fuzz';
import { assessFuzz, dyingProxy, type AssessedFuzz } from '../../helpers/fuzz-targets';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { HARDENED_SSHD, startSshd, type Sshd } from '../../helpers/sshd';

const FAST = { cases: 25, ratePerSecond: 200, waitMs: 100, recoveryMs: 500 };
const ssh = (port: number) => ({ port, protocol: 'ssh' as const });

describe('probe ssh.fuzz', function () {
  this.timeout(60_000);
  let sshd: Sshd | undefined;
  before(async function () {
    sshd = await startSshd(this, HARDENED_SSHD);
  });
  after(async () => sshd?.close());

  describe('a whole run against OpenSSH (Debian sshd, not ours)', () => {
    let run: AssessedFuzz | undefined;
    before(async () => {
      run = await assessFuzz('ssh.fuzz', ssh(sshd!.port), FAST);
    });
    after(() => run?.remove());

    it('records every case and passes CR 3.5', () => {
      expect(run!.attempt.status, `${run!.attempt.message ?? ''} ${sshd!.log().slice(-500)}`).to.equal('pass');
      expect(run!.requirement).to.equal('pass');
      expect(run!.campaign).to.include({ type: 'campaign', probe: 'ssh.fuzz', protocol: 'ssh', port: sshd!.port, planned: 25 });
      expect(run!.cases).to.have.length(25);
      expect(run!.cases.every((c) => c.stillAnswers)).to.equal(true);
      expect(run!.cases.some((c) => /OpenSSH/.test(c.reaction.detail))).to.equal(true);
    });

    it('`iacs-probe replay` re-sends one of its KEXINIT cases after the identification exchange (exit 0)', async () => {
      const c = run!.cases.find((x) => x.template === 'kexinit')!;
      const r = await run!.replay(c.id);
      expect(r.code, r.out).to.equal(0);
      expect(r.out).to.contain(`case ${c.id}`).and.contain(`sent to 127.0.0.1:${sshd!.port}: ${c.hex}`).and.contain('afterwards: the device answers');
    });
  });

  it('fails CR 3.5 naming the case after which a deceptive device stopped answering', async () => {
    const cases = generateCases(sshTemplates(), 62443, FAST.cases);
    const killer = cases.slice(5).find((c) => c.template === 'kexinit' && c.field !== 'frame')!;
    const proxy = await dyingProxy(sshd!, killer.bytes);
    try {
      const run = await runProbe(probe, { service: ssh(proxy.port), inputs: FAST });
      expect(run.attempt.status, run.attempt.message).to.equal('fail');
      expect(run.attempt.findings.map((f) => f.code)).to.deep.equal(['ssh.fuzz.function-killed']);
      const { cases: records } = fuzzCaseLines(run);
      expect(records.at(-1)).to.include({ index: killer.index, mutation: killer.mutation, stillAnswers: false });
      expect(records.slice(0, -1).every((r) => r.stillAnswers)).to.equal(true);
    } finally {
      await proxy.close();
    }
  });

  describeMisbehavingPeers(probe, { service: ssh, timeoutMs: 3000, inputs: { waitMs: 200, recoveryMs: 300, cases: 20 } });
});
