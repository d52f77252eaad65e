import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import probe from '../../../probes/opcua/client-certificate';
import { dropAfterFirstMessageServer } from '../../../fixtures/servers';
import { handleSnapshot } from '../../helpers/leaks';
import { weakAndHardened } from '../../helpers/opcua';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { pkcs1v15Decryption, pkcs1v15InProcess } from '../../../src/protocols/opcua';

interface Test { certificate: string; endpoint: string; outcome: string; stage: string; status: string; session?: string }

describe('probe opcua.client-certificate', function () {
  this.timeout(60_000);
  const devices = weakAndHardened();

  it('weak posture: an unknown self-signed and an expired client certificate are both accepted', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak.port, protocol: 'opcua' } });
    expect(attempt.status).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.client-certificate.untrusted-accepted', 'opcua.client-certificate.expired-accepted']);
    const tests = attempt.observations.tests as Test[];
    // One per policy (strongest first) and the expired one; the Basic128Rsa15 channel ran in the helper
    // process (this test process, like the harness, keeps RSA PKCS#1 v1.5 decryption disabled).
    expect(tests.map((t) => `${t.certificate} ${t.endpoint} ${t.outcome}`)).to.deep.equal([
      'fresh SignAndEncrypt/Basic256Sha256 accepted', 'fresh SignAndEncrypt/Basic128Rsa15 accepted', 'expired SignAndEncrypt/Basic256Sha256 accepted',
    ]);
    expect(tests[0].session).to.equal('activated');
    expect(attempt.observations.notTested).to.deep.equal([]);
    expect(attempt.observations.legacyCrypto).to.include({ available: true, where: 'helper-process' });
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.2:fail', 'CR 1.9:fail']);
  });

  it('hardened posture: both are refused at the OpenSecureChannel', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened.port, protocol: 'opcua' } });
    expect(attempt.status).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    const tests = attempt.observations.tests as Test[];
    expect(tests.map((t) => `${t.certificate} ${t.outcome} ${t.stage} ${t.status}`)).to.deep.equal([
      'fresh rejected channel BadSecurityChecksFailed', 'fresh rejected channel BadSecurityChecksFailed', 'expired rejected channel BadSecurityChecksFailed',
    ]);
    expect(attempt.outcomes.find((o) => o.requirement === 'CR 1.9')?.reason).to.match(/also unknown/);
  });

  it('this process cannot decrypt RSA PKCS#1 v1.5; only a helper started with --security-revert can, and says so', () => {
    expect(pkcs1v15InProcess(), 'mocha must run without --security-revert, as the harness does').to.equal(false);
    expect(pkcs1v15Decryption().reason).to.match(/helper process started with --security-revert=CVE-2023-46809/);
    const script = "const n=require('./src/protocols/opcua/names');console.log(JSON.stringify(n.pkcs1v15Decryption()))";
    // Node announces the revert on stdout first ("SECURITY WARNING: Reverting CVE-2023-46809 ..."): the last line is ours.
    const out = execFileSync(process.execPath, ['--security-revert=CVE-2023-46809', '--import', 'tsx', '-e', script], { encoding: 'utf8' });
    const helper = JSON.parse(out.trim().split('\n').pop()!) as { where: string };
    expect(helper.where).to.equal('this-process');
  });

  it('a server dropping the connection after Hello is a protocol error, with nothing left running', async () => {
    const handles = await handleSnapshot();
    const server = await dropAfterFirstMessageServer();
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'opcua' }, timeoutMs: 1500 });
      expect([attempt.status, attempt.reason]).to.deep.equal(['error', 'protocol']);
    } finally {
      await server.close();
    }
    await handles.check();
  });

  describeMisbehavingPeers(probe, {
    service: (port) => ({ port, protocol: 'opcua' }), timeoutMs: 1500,
  });
});
