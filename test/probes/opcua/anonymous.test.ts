import { expect } from 'chai';
import probe from '../../../probes/opcua/anonymous';
import { withOpcuaClient } from '../../../src/protocols/opcua';
import { closedPort, stallServer } from '../../../fixtures/servers';
import { handleSnapshot } from '../../helpers/leaks';
import { BENCH_CLIENT, weakAndHardened } from '../../helpers/opcua';
import { runProbe } from '../../helpers/probe-harness';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

describe('probe opcua.anonymous', function () {
  this.timeout(60_000);
  const devices = weakAndHardened();

  it('weak posture: an anonymous session activates, browses and reads (no write without destructive)', async () => {
    const { attempt, read } = await runProbe(probe, { service: { port: devices.weak.port, protocol: 'opcua' }, inputs: { testNode: 'ns=1;s=TestSetpoint' } });
    expect(attempt.status).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.anonymous.session-activated']);
    const session = attempt.observations.session as { endpoint: string; browsed: number; readable: number; write: { attempted: boolean; reason: string } };
    expect(session.endpoint).to.equal('None/None');
    expect(session.browsed).to.be.greaterThan(3);
    expect(session.readable).to.be.greaterThan(3);
    expect(session.write).to.deep.include({ attempted: false });
    expect(session.write.reason).to.match(/destructive/);
    const dump = JSON.parse(read(attempt.evidence.find((p) => p.endsWith('anonymous-session.json'))!)) as { browsed: { nodeId: string }[] };
    expect(dump.browsed.map((b) => b.nodeId)).to.include('ns=1;s=TestSetpoint');
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.1:fail', 'CR 2.1:fail']);
  });

  it('weak posture with destructive allowed and a test node: anonymous write, read back, restored', async () => {
    const { attempt } = await runProbe(probe, {
      service: { port: devices.weak.port, protocol: 'opcua' }, inputs: { testNode: 'ns=1;s=TestSetpoint' }, allow: ['passive', 'active', 'destructive'],
    });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.anonymous.session-activated', 'opcua.anonymous.write-accepted']);
    const write = (attempt.observations.session as { write: Record<string, unknown> }).write;
    expect(write).to.deep.include({ writeStatus: 'Good', changed: true, restored: true });
    const value = await withOpcuaClient({ host: '127.0.0.1', port: devices.weak.port }, { signal: new AbortController().signal }, (c) =>
      c.withSession({ type: 'anonymous' }, async (s) => (await s.read(['ns=1;s=TestSetpoint']))[0].value));
    expect(value).to.equal(write.original);
  });

  it('hardened posture: an unadvertised AnonymousIdentityToken is refused (pass), sent over the commissioned client certificate', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened.port, protocol: 'opcua', options: BENCH_CLIENT } });
    expect(attempt.status).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.observations).to.deep.include({ anonymousOffered: false });
    expect(attempt.observations.attempts).to.deep.equal([
      { endpoint: 'Sign/Aes128_Sha256_RsaOaep', advertised: false, outcome: 'refused', status: 'BadIdentityTokenInvalid' },
    ]);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.1:pass', 'CR 2.1:pass']);
  });

  it('hardened posture with an unknown client certificate: nothing decisive, so no requirement is claimed', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened.port, protocol: 'opcua' } });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect((attempt.observations.attempts as { outcome: string; status: string }[])[0]).to.deep.include({ outcome: 'channel-refused', status: 'BadSecurityChecksFailed' });
    expect(attempt.observations.reason).to.match(/trusted one named in the profile/);
  });

  it('closed port and hung server end as errors, with nothing left running', async () => {
    const handles = await handleSnapshot();
    const closed = await closedPort();
    const stall = await stallServer();
    try {
      const refused = (await runProbe(probe, { service: { port: closed.port, protocol: 'opcua' }, timeoutMs: 1000 })).attempt;
      expect([refused.status, refused.reason]).to.deep.equal(['error', 'unreachable']);
      const hung = (await runProbe(probe, { service: { port: stall.port, protocol: 'opcua' }, timeoutMs: 1000 })).attempt;
      expect([hung.status, hung.reason]).to.deep.equal(['error', 'timeout']);
    } finally {
      await stall.close();
    }
    await handles.check();
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'opcua' }), timeoutMs: 1500, stallTimeoutMs: 600 });
});
