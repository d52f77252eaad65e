import { expect } from 'chai';
import probe from '../../../probes/snmp/v3';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { closedUdpPort, garbageUdpServer, silentUdpServer } from '../../../fixtures/udp-servers';
import { requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';
import { findSnmpd, startSnmpd, type RunningSnmpd } from '../../helpers/snmpd';
import { postureWith } from '../../helpers/postures';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const FAST = { requestTimeoutMs: 250, retries: 0 };
const OPERATOR = { snmp: { username: 'operator', password: 'Op3rator!Bench-2026' } };

describe('probe snmp.v3', () => {
  describe('against the emulated PLC', () => {
    let weak: Emulator;
    let hardened: Emulator;
    let lax: Emulator;
    before(async () => {
      weak = await startEmulator(postureWith('weak', ['snmp']), { ephemeralPorts: true });
      hardened = await startEmulator(postureWith('hardened', ['snmp']), { ephemeralPorts: true });
      lax = await startEmulator({
        name: 'lax-v3',
        accounts: [{ username: 'monitor', password: 'monitor-pass-1' }, { username: 'legacy', password: 'legacy-pass-1' }],
        services: {
          snmp: {
            versions: ['v3'],
            users: [
              { username: 'monitor', level: 'noAuthNoPriv' },
              { username: 'legacy', level: 'authPriv', auth: 'md5', priv: 'aes' },
            ],
          },
        },
      }, { ephemeralPorts: true });
    });
    after(async () => {
      await Promise.all([weak.close(), hardened.close(), lax.close()]);
    });

    it('hardened posture: engine discovered, unknown user refused, operator served only at authPriv (SHA/AES): pass', async () => {
      const ep = hardened.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST, credentials: OPERATOR });
      expect(attempt.status, attempt.message).to.equal('pass');
      const obs = attempt.observations as { engine: { id: string; format: string; data: string; enterprise: number }; unknownUser: string; levels: Record<string, { result: string }> };
      expect(obs.engine).to.include({ format: 'text', data: 'SN-HARD-0001', enterprise: 32473 });
      expect(obs.unknownUser).to.equal('report-unknown-user');
      expect(Object.fromEntries(Object.entries(obs.levels).map(([k, v]) => [k, v.result]))).to.deep.equal({
        noAuthNoPriv: 'refused', authNoPriv: 'refused', authPriv: 'accepted',
      });
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 2.1:pass', 'CR 4.1:pass', 'CR 4.3:pass']);
    });

    it('hardened posture without credentials: discovery only, CR 2.1 from the unknown-user check', async () => {
      const ep = hardened.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST });
      expect(attempt.status).to.equal('pass');
      expect(attempt.observations).to.not.have.property('levels');
      expect(attempt.outcomes.map((o) => o.requirement)).to.deep.equal(['CR 2.1']);
    });

    it('weak posture: v1/v2c answer but v3 does not: fail CR 4.1 (snmp.v3.not-offered)', async () => {
      const ep = weak.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.observations).to.deep.equal({ offered: false });
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['snmp.v3.not-offered']);
    });

    it('a user served at noAuthNoPriv fails CR 2.1 and CR 4.1', async () => {
      const ep = lax.endpoint('snmp');
      const { attempt } = await runProbe(probe, {
        service: { port: ep.port, protocol: 'snmp' }, inputs: FAST,
        credentials: { snmp: { username: 'monitor', password: 'monitor-pass-1' } },
      });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['snmp.v3.noauth-accepted']);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 2.1:fail', 'CR 4.1:fail', 'CR 4.3:pass']);
    });

    it('HMAC-MD5 authentication fails CR 4.3 (baseline weak list)', async () => {
      const ep = lax.endpoint('snmp');
      const { attempt } = await runProbe(probe, {
        service: { port: ep.port, protocol: 'snmp', options: { authProtocol: 'md5', privProtocol: 'aes' } }, inputs: FAST,
        credentials: { snmp: { username: 'legacy', password: 'legacy-pass-1' } },
      });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['snmp.v3.weak-auth']);
    });

    it('wrong credentials end as an auth error, with the reason per level', async () => {
      const ep = hardened.endpoint('snmp');
      const { attempt } = await runProbe(probe, {
        service: { port: ep.port, protocol: 'snmp' }, inputs: FAST,
        credentials: { snmp: { username: 'operator', password: 'not-the-password' } },
      });
      expect(attempt).to.include({ status: 'error', reason: 'auth' });
      expect(attempt.message).to.match(/noAuthNoPriv: report wrongDigest; authNoPriv: report wrongDigest; authPriv: (no-answer|report wrongDigest)/);
    });
  });

  describe('against Debian snmpd', () => {
    let snmpd: RunningSnmpd | undefined;
    afterEach(async () => {
      await snmpd?.stop();
      snmpd = undefined;
    });
    const CREDS = { snmp: { username: 'benchuser', password: 'bench-auth-pass' }, 'snmp.priv': { username: 'benchuser', password: 'bench-priv-pass' } };

    it('rouser ... priv: only authPriv is served: pass', async function () {
      snmpd = await startSnmpd(requirePeer(this, 'snmpd', findSnmpd()), 'createUser benchuser SHA "bench-auth-pass" AES "bench-priv-pass"\nrouser benchuser priv');
      const { attempt } = await runProbe(probe, { service: { port: snmpd.port, protocol: 'snmp' }, inputs: FAST, credentials: CREDS });
      expect(attempt.status, attempt.message).to.equal('pass');
      const obs = attempt.observations as { engine: { enterprise: number }; unknownUser: string; levels: Record<string, { result: string; by?: string }> };
      expect(obs.engine.enterprise).to.equal(8072);
      expect(obs.unknownUser).to.equal('report-unknown-user');
      expect(obs.levels.authNoPriv).to.deep.equal({ result: 'refused', by: 'response AuthorizationError' });
    });

    it('rouser ... auth: authNoPriv is served, which fails CR 4.1', async function () {
      snmpd = await startSnmpd(requirePeer(this, 'snmpd', findSnmpd()), 'createUser benchuser SHA "bench-auth-pass" AES "bench-priv-pass"\nrouser benchuser auth');
      const { attempt } = await runProbe(probe, { service: { port: snmpd.port, protocol: 'snmp' }, inputs: FAST, credentials: CREDS });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['snmp.v3.nopriv-accepted']);
    });
  });

  describe('misbehaving peers end as errors within the budget', () => {
    it('silence to v3 and to every community: timeout', async () => {
      const peer = await silentUdpServer();
      try {
        const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'snmp' }, inputs: FAST, timeoutMs: 10_000 });
        expect(attempt).to.include({ status: 'error', reason: 'timeout' });
      } finally {
        await peer.close();
      }
    });

    it('garbage: protocol; closed port: unreachable', async () => {
      const garbage = await garbageUdpServer();
      const closed = await closedUdpPort();
      try {
        const g = await runProbe(probe, { service: { port: garbage.port, protocol: 'snmp' }, inputs: FAST, timeoutMs: 10_000 });
        expect(g.attempt).to.include({ status: 'error', reason: 'protocol' });
        const c = await runProbe(probe, { service: { port: closed.port, protocol: 'snmp' }, inputs: FAST, timeoutMs: 10_000 });
        expect(c.attempt).to.include({ status: 'error', reason: 'unreachable' });
      } finally {
        await garbage.close();
      }
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'snmp' }), timeoutMs: 1500, inputs: FAST, credentials: OPERATOR });
});
