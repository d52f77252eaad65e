import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/snmp/inventory';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { closedUdpPort, garbageUdpServer, silentUdpServer } from '../../../fixtures/udp-servers';
import { requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';
import { findSnmpd, startSnmpd, type RunningSnmpd } from '../../helpers/snmpd';
import { postureWith } from '../../helpers/postures';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const FAST = { requestTimeoutMs: 250, retries: 0 };
const OPERATOR = { snmp: { username: 'operator', password: 'Op3rator!Bench-2026' } };

interface Inventory {
  access: Record<string, unknown>;
  system: Record<string, unknown>;
  entities: Record<string, unknown>[];
  entityMib: boolean;
  comparison: Record<string, string>;
  engine?: { id: string; format: string; data: string; dataHex: string; enterprise: number; boots: number };
}

/**
 * nmap's snmp-info (SNMPv3 discovery) on one UDP port. snmp-info only runs on a port nmap calls "snmp",
 * so a one-line services file names the test port (--servicedb implies -F: only that port is scanned).
 */
async function nmapSnmpInfo(nmap: string, port: number): Promise<Record<string, string>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-nmap-'));
  try {
    fs.writeFileSync(path.join(dir, 'services'), `snmp\t${port}/udp\t0.5\n`);
    const out = await new Promise<string>((resolve, reject) => execFile(nmap,
      ['-sU', '-Pn', '-n', '--servicedb', path.join(dir, 'services'), '--script', 'snmp-info', '127.0.0.1'],
      { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))));
    return Object.fromEntries([...out.matchAll(/^\|_?\s+(\w+): (.*)$/gm)].map((m) => [m[1], m[2].trim()]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('probe snmp.inventory', () => {
  describe('against the emulated PLC', () => {
    let weak: Emulator;
    let hardened: Emulator;
    let bare: Emulator;
    before(async () => {
      weak = await startEmulator(postureWith('weak', ['snmp']), { ephemeralPorts: true });
      hardened = await startEmulator(postureWith('hardened', ['snmp']), { ephemeralPorts: true });
      bare = await startEmulator({ name: 'no-entity-mib', services: { snmp: { versions: ['v1'], communities: { public: 'read-only' }, entityMib: false } } }, { ephemeralPorts: true });
    });
    after(async () => {
      await Promise.all([weak.close(), hardened.close(), bare.close()]);
    });

    it('hardened posture, v3 user: system group and ENTITY-MIB serial/firmware: pass CR 7.8 (partial)', async () => {
      const ep = hardened.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST, credentials: OPERATOR });
      expect(attempt.status, attempt.message).to.equal('pass');
      const obs = attempt.observations as unknown as Inventory;
      expect(obs.access).to.deep.equal({ version: 'v3', user: 'operator', level: 'authPriv' });
      expect(obs.system).to.include({ sysDescr: 'Example Automation EPLC-1 firmware 1.0.0', sysObjectID: '1.3.6.1.4.1.32473.1.1', sysName: 'eplc-1' });
      expect(obs.system.sysUpTime).to.be.a('number');
      expect(obs.entities).to.have.length(2);
      expect(obs.entities[0]).to.include({ index: 1, class: 'chassis', serialNum: 'SN-HARD-0001', firmwareRev: '1.0.0', modelName: 'EPLC-1' });
      expect(obs.engine).to.include({ format: 'text', data: 'SN-HARD-0001' });
      expect(attempt.outcomes).to.deep.equal([{
        requirement: 'CR 7.8', verdict: 'pass', coverage: 'partial',
        reason: 'SNMP reports the device identity (sysDescr, sysObjectID) and 2 ENTITY-MIB entities (2 with serial, 2 with firmware/software revision)',
      }]);
      expect(attempt.findings).to.deep.equal([]);
    });

    it('weak posture: read with the well-known community; the declared serial is compared with what is reported', async () => {
      const ep = weak.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('pass');
      const obs = attempt.observations as unknown as Inventory;
      expect(obs.access).to.deep.equal({ version: 'v2c', community: { source: 'default', index: 0, community: 'public' } });
      expect(obs.entities.map((e) => e.serialNum)).to.deep.equal(['SN-WEAK-0001', 'SN-WEAK-0001-CPU']);
    });

    it('without ENTITY-MIB (SNMPv1 only): identity still passes, the gap is an info finding, and nothing is a fail', async () => {
      const ep = bare.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.not.equal('fail');
      expect(attempt.status).to.equal('pass');
      expect(attempt.observations).to.include({ entityMib: false });
      expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['snmp.inventory.incomplete', 'info']]);
    });

    it('no access at all (v3-only device, no credentials, defaults refused): an error, not a verdict', async () => {
      const ep = hardened.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST });
      expect(attempt).to.include({ status: 'error', reason: 'timeout' });
      const none = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: { ...FAST, tryDefaults: false } });
      expect(none.attempt).to.include({ status: 'error', reason: 'input' });
    });

    it('nmap snmp-info agrees on the engine ID and boots', async function () {
      const nmap = requirePeer(this, 'nmap');
      this.timeout(60_000);
      const ep = hardened.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST, credentials: OPERATOR });
      const ours = (attempt.observations as unknown as Inventory).engine!;
      const theirs = await nmapSnmpInfo(nmap, ep.port);
      expect(theirs).to.include({ engineIDFormat: 'text', engineIDData: ours.data, snmpEngineBoots: String(ours.boots) });
      expect(theirs.enterprise).to.match(/Documentation/); // IANA PEN 32473
    });
  });

  describe('against Debian snmpd', () => {
    let snmpd: RunningSnmpd | undefined;
    afterEach(async () => {
      await snmpd?.stop();
      snmpd = undefined;
    });

    it('reads sysDescr and the system group with a profile community (recorded by hash); nmap agrees on the engine', async function () {
      this.timeout(60_000);
      snmpd = await startSnmpd(requirePeer(this, 'snmpd', findSnmpd()),
        'rocommunity Bench-c0mm 127.0.0.1\ncreateUser benchuser SHA "bench-auth-pass" AES "bench-priv-pass"\nrouser benchuser priv\nsysDescr Bench snmpd\nsysName bench-snmpd');
      const { attempt } = await runProbe(probe, {
        service: { port: snmpd.port, protocol: 'snmp', options: { communities: ['Bench-c0mm'] } }, inputs: { ...FAST, tryDefaults: false },
      });
      expect(attempt.status, attempt.message).to.equal('pass');
      const obs = attempt.observations as unknown as Inventory;
      expect(obs.system).to.include({ sysDescr: 'Bench snmpd', sysName: 'bench-snmpd' });
      expect(obs.access).to.have.nested.property('community.source', 'profile');
      expect(JSON.stringify(attempt)).to.not.contain('Bench-c0mm');

      const v3 = await runProbe(probe, {
        service: { port: snmpd.port, protocol: 'snmp' }, inputs: { ...FAST, tryDefaults: false },
        credentials: { snmp: { username: 'benchuser', password: 'bench-auth-pass' }, 'snmp.priv': { username: 'benchuser', password: 'bench-priv-pass' } },
      });
      const engine = (v3.attempt.observations as unknown as Inventory).engine!;
      expect(engine.enterprise).to.equal(8072);
      const nmap = requirePeer(this, 'nmap');
      const theirs = await nmapSnmpInfo(nmap, snmpd.port);
      expect(theirs).to.include({ enterprise: 'net-snmp', engineIDData: engine.dataHex, snmpEngineBoots: String(engine.boots) });
    });
  });

  describe('misbehaving peers end as errors within the budget', () => {
    it('silence: timeout; garbage: protocol; closed: unreachable', async () => {
      const silent = await silentUdpServer();
      const garbage = await garbageUdpServer();
      const closed = await closedUdpPort();
      try {
        const cases: [number, string][] = [[silent.port, 'timeout'], [garbage.port, 'protocol'], [closed.port, 'unreachable']];
        for (const [port, reason] of cases) {
          const { attempt } = await runProbe(probe, { service: { port, protocol: 'snmp' }, inputs: FAST, timeoutMs: 10_000 });
          expect(attempt, String(port)).to.include({ status: 'error', reason });
        }
      } finally {
        await Promise.all([silent.close(), garbage.close()]);
      }
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'snmp' }), timeoutMs: 1500, inputs: FAST, credentials: OPERATOR });
});
