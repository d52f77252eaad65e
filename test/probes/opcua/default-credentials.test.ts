import { expect } from 'chai';
import probe from '../../../probes/opcua/default-credentials';
import { OPERATOR, POLICY, useAuthDevices } from '../../helpers/auth-devices';
import { BENCH_CLIENT, startSampleServer } from '../../helpers/opcua';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  interface: string;
  tried: number;
  accepted: { list: string; entry: string; username: string }[];
}

describe('probe opcua.default-credentials', function () {
  this.timeout(60_000);
  const devices = useAuthDevices('opcua');

  it('weak posture: admin/admin logs in with a UserName token -> CR 1.5 and CR 1.1 fail', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('opcua').port, protocol: 'opcua' }, policy: POLICY });
    expect(attempt.status, attempt.message).to.equal('fail');
    const o = attempt.observations as unknown as Observations;
    expect(o.interface).to.equal('OPC UA UserName token on SignAndEncrypt/Basic256Sha256');
    expect(o.accepted.map((a) => `${a.list}/${a.entry}`)).to.deep.equal(['generic/admin-admin', 'generic/operator-operator']);
  });

  it('hardened posture with the commissioned client certificate: no listed pair logs in -> pass', async () => {
    const { attempt } = await runProbe(probe, {
      service: { port: devices.hardened().endpoint('opcua').port, protocol: 'opcua', options: BENCH_CLIENT }, policy: POLICY, credentials: { opcua: OPERATOR },
    });
    expect(attempt.status, JSON.stringify([attempt.message, attempt.findings])).to.equal('pass');
    expect((attempt.observations as unknown as Observations).accepted).to.deep.equal([]);
  });

  it('hardened posture without a trusted client certificate: an input error that says so', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('opcua').port, protocol: 'opcua' }, policy: POLICY });
    expect([attempt.status, attempt.reason]).to.deep.equal(['error', 'input']);
    expect(attempt.message).to.match(/clientCertificate/);
  });

  describe("against node-opcua's sample server (a real third-party OPC UA server)", () => {
    let sample: { port: number; close(): Promise<void> } | undefined;
    before(async function () {
      this.timeout(40_000);
      sample = await startSampleServer(this as unknown as Mocha.Context);
    });
    after(async () => sample?.close());

    it('finds its demo account user1/password1 (a non-compliant default)', async () => {
      const { attempt } = await runProbe(probe, { service: { port: sample!.port, protocol: 'opcua' }, policy: POLICY, inputs: { lists: ['iacs'] } });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect((attempt.observations as unknown as Observations).accepted.map((a) => a.entry)).to.include('node-opcua-sample-user1');
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'opcua' }), timeoutMs: 1500, stallTimeoutMs: 600 });
});
