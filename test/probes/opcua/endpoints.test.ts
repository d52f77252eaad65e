import { expect } from 'chai';
import probe from '../../../probes/opcua/endpoints';
import { startOpcua, weakAndHardened } from '../../helpers/opcua';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();

const WEAK_FINDINGS = [
  'opcua.endpoints.anonymous-offered', 'opcua.endpoints.cleartext-password', 'opcua.endpoints.deprecated-policy', 'opcua.endpoints.security-mode-none',
  'opcua.endpoints.server-certificate-short-key', 'opcua.endpoints.server-certificate-weak-hash',
];

describe('probe opcua.endpoints', function () {
  this.timeout(60_000);
  const devices = weakAndHardened();

  it('weak posture: every endpoint finding, with the observation names of the report contract', async () => {
    const { attempt, read } = await runProbe(probe, { service: { port: devices.weak.port, protocol: 'opcua' } });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(WEAK_FINDINGS);
    const endpoints = attempt.observations.endpoints as Record<string, unknown>[];
    expect(endpoints).to.have.length(5);
    for (const e of endpoints) {
      expect(e).to.include.keys('endpointUrl', 'securityMode', 'securityPolicy', 'userTokens');
      expect(['None', 'Sign', 'SignAndEncrypt']).to.include(e.securityMode);
      expect(['None', 'Basic128Rsa15', 'Basic256Sha256']).to.include(e.securityPolicy);
      expect(e.userTokens).to.include.members(['Anonymous', 'UserName', 'Certificate']);
    }
    expect(attempt.observations.certificate).to.deep.include({ keyBits: 1024, signatureAlgorithm: 'sha1WithRSAEncryption', selfSigned: true });
    expect(read(attempt.evidence.find((p) => p.endsWith('server-certificate.pem'))!)).to.match(/^-----BEGIN CERTIFICATE-----/);
    expect(JSON.parse(read(attempt.evidence.find((p) => p.endsWith('endpoints.json'))!))).to.have.length(5);
    const failed = attempt.outcomes.filter((o) => o.verdict === 'fail').map((o) => o.requirement).sort();
    expect(failed).to.deep.equal(['CR 1.1', 'CR 1.5', 'CR 1.9', 'CR 2.1', 'CR 3.1', 'CR 4.1', 'CR 4.3']);
    expect(attempt.outcomes.find((o) => o.requirement === 'CR 1.2')).to.deep.include({ verdict: 'pass', coverage: 'partial' });
  });

  it('hardened posture: no finding, every evaluated requirement passes (partially)', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened.port, protocol: 'opcua' } });
    expect(attempt.status).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.outcomes.map((o) => o.requirement).sort()).to.deep.equal(['CR 1.1', 'CR 1.2', 'CR 1.5', 'CR 1.9', 'CR 2.1', 'CR 3.1', 'CR 4.1', 'CR 4.3']);
    expect(attempt.outcomes.every((o) => o.verdict === 'pass' && o.coverage === 'partial')).to.equal(true);
    expect((attempt.observations.endpoints as { userTokens: string[] }[]).every((e) => !e.userTokens.includes('Anonymous'))).to.equal(true);
  });

  it('thresholds come from the baseline per SL: at SL 3 the hardened device fails on Sign-only endpoints and its 2048-bit key', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened.port, protocol: 'opcua' }, sl: 3 });
    expect(codes(attempt)).to.deep.equal(['opcua.endpoints.server-certificate-short-key', 'opcua.endpoints.sign-only-endpoint']);
  });

  it('a None-only device: no secure endpoint (CR 1.2), and the advertised host name is reported but not followed', async () => {
    const noneOnly = await startOpcua('weak', { securityModes: ['None'], securityPolicies: ['None'], advertisedHostname: 'plc.example.invalid' });
    try {
      const { attempt } = await runProbe(probe, { service: { port: noneOnly.port, protocol: 'opcua' } });
      expect(codes(attempt)).to.include.members(['opcua.endpoints.no-secure-endpoint', 'opcua.endpoints.security-mode-none']);
      expect(attempt.outcomes.find((o) => o.requirement === 'CR 1.2')?.verdict).to.equal('fail');
      expect(attempt.observations.advertisedHosts).to.deep.equal(['plc.example.invalid']);
      expect(attempt.observations.connectedTo).to.equal(`127.0.0.1:${noneOnly.port}`);
    } finally {
      await noneOnly.emulator.close();
    }
  });

  describeMisbehavingPeers(probe, {
    service: (port) => ({ port, protocol: 'opcua' }), timeoutMs: 1500,
  });
});
