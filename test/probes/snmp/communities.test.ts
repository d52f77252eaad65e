import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import probe from '../../../probes/snmp/communities';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { EMULATOR_OIDS } from '../../../src/emulator/services/snmp';
import { withSnmp } from '../../../src/protocols/snmp';
import { sha256Hex } from '../../../src/protocols/snmp-access';
import { closedUdpPort, garbageUdpServer, silentUdpServer, truncatedSnmpServer } from '../../../fixtures/udp-servers';
import { handleSnapshot } from '../../helpers/leaks';
import { requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';
import { findSnmpd, startSnmpd, type RunningSnmpd } from '../../helpers/snmpd';
import { postureWith } from '../../helpers/postures';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const FAST = { requestTimeoutMs: 250, retries: 0, parallel: 8 };

function allEvidence(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(fs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out.join('\n');
}

describe('probe snmp.communities', () => {
  describe('against the emulated PLC', () => {
    let weak: Emulator;
    let hardened: Emulator;
    let secret: Emulator;
    before(async () => {
      weak = await startEmulator(postureWith('weak', ['snmp']), { ephemeralPorts: true });
      hardened = await startEmulator(postureWith('hardened', ['snmp']), { ephemeralPorts: true });
      secret = await startEmulator({
        name: 'own-community',
        services: { snmp: { versions: ['v2c'], communities: { 'Bench-0nly-c0mmunity': 'read-only' } } },
      }, { ephemeralPorts: true });
    });
    after(async () => {
      await Promise.all([weak.close(), hardened.close(), secret.close()]);
    });

    it('weak posture: public and private answer over v1 and v2c; SET is not tried without destructive', async () => {
      const ep = weak.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      const codes = attempt.findings.map((f) => f.code);
      expect(codes.filter((c) => c === 'snmp.communities.default-community')).to.have.length(2);
      expect(codes).to.include('snmp.communities.cleartext-community');
      expect(attempt.findings.find((f) => f.message.includes('"public"'))?.message).to.match(/v1 and v2c/);
      const answered = attempt.observations.answered as { community?: string; version: string; readable: boolean }[];
      expect(answered.map((a) => `${a.community}/${a.version}`).sort()).to.deep.equal(['private/v1', 'private/v2c', 'public/v1', 'public/v2c']);
      expect(answered.every((a) => a.readable)).to.equal(true);
      expect(attempt.observations.set).to.deep.include({ tried: false });
      expect((attempt.observations.set as { reason: string }).reason).to.match(/destructive/);
      for (const r of ['CR 1.5', 'CR 2.1', 'CR 4.1']) {
        expect(attempt.outcomes.find((o) => o.requirement === r)).to.include({ verdict: 'fail', coverage: 'partial' });
      }
    });

    it('weak posture, destructive with a named object: the write with "private" is read back and restored', async () => {
      const ep = weak.endpoint('snmp');
      const { attempt, read } = await runProbe(probe, {
        service: { port: ep.port, protocol: 'snmp', options: { setOid: EMULATOR_OIDS.testValue } },
        inputs: FAST, allow: ['passive', 'active', 'destructive'],
      });
      expect(attempt.status).to.equal('fail');
      const write = attempt.findings.find((f) => f.code === 'snmp.communities.default-community-write');
      expect(write?.severity).to.equal('critical');
      expect(write?.message).to.contain('"private"');
      const set = attempt.observations.set as { tried: boolean; written: boolean; restored: boolean; readBackMatches: boolean; attempts: { setStatus?: string; before?: { value: string } }[] };
      expect(set).to.include({ tried: true, written: true, restored: true, readBackMatches: true });
      // "public" (read-only) was refused before "private" was accepted.
      expect(set.attempts.map((a) => a.setStatus)).to.include('NoAccess');
      expect(set.attempts.at(-1)?.before?.value).to.equal('factory');
      expect(JSON.parse(read(attempt.evidence.find((e) => e.endsWith('set.json'))!))).to.have.property('oid', EMULATOR_OIDS.testValue);
      const now = await withSnmp(ep, { version: 'v2c', community: 'public' }, { timeoutMs: 500, retries: 0, signal: new AbortController().signal },
        (c) => c.get([EMULATOR_OIDS.testValue]));
      expect(now.varbinds[0].value).to.equal('factory');
    });

    describe('the guesses go out together: one timeout window, not one per guess', () => {
      interface RequestLine { t: number; event: 'sent' | 'response' | 'report' | 'no-answer'; round: number; version: string; community?: string }
      const requestLines = (run: { attempt: { evidence: string[] }; read(rel: string): string }): RequestLine[] => {
        const file = run.attempt.evidence.find((e) => e.endsWith('requests.ndjson'));
        expect(file, 'requests.ndjson in the evidence').to.be.a('string');
        return run.read(file!).trim().split('\n').map((l) => JSON.parse(l) as RequestLine);
      };
      /** Most requests in flight at one point of the transcript (sent and not yet ended). */
      const peakInFlight = (lines: RequestLine[]) => lines.reduce((acc, l) => {
        const now = acc.now + (l.event === 'sent' ? 1 : -1);
        return { now, peak: Math.max(acc.peak, now) };
      }, { now: 0, peak: 0 }).peak;

      it('defaults, weak posture: all 24 requests are sent before the first one times out; the 20 silent ones once more in a second window', async () => {
        const run = await runProbe(probe, { service: { port: weak.endpoint('snmp').port, protocol: 'snmp' } });
        expect(run.attempt.status, run.attempt.message).to.equal('fail');
        const lines = requestLines(run);
        for (const round of [1, 2]) {
          const inRound = lines.filter((l) => l.round === round);
          const firstSilence = inRound.findIndex((l) => l.event === 'no-answer');
          const sent = inRound.filter((l) => l.event === 'sent');
          expect(sent, `round ${round}`).to.have.length(round === 1 ? 24 : 20);
          // Structural, not a stopwatch: in the transcript every request of the window precedes the first silence.
          expect(inRound.slice(0, firstSilence).filter((l) => l.event === 'sent'), `round ${round}`).to.have.length(sent.length);
        }
        expect(lines.filter((l) => l.event === 'response').map((l) => `${l.community}/${l.version}`).sort())
          .to.deep.equal(['private/v1', 'private/v2c', 'public/v1', 'public/v2c']);
        expect(run.attempt.observations.tried).to.deep.include({ requests: 24, parallel: 32, rounds: 2, resent: 20 });
      });

      it('parallel bounds the requests in flight (4 here): the windows follow one another, and the observations are the same', async () => {
        const run = await runProbe(probe, { service: { port: weak.endpoint('snmp').port, protocol: 'snmp' }, inputs: { requestTimeoutMs: 150, retries: 0, parallel: 4 } });
        const lines = requestLines(run);
        expect(peakInFlight(lines)).to.equal(4);
        // With a bound below the number of guesses, silences come before the last request is sent.
        expect(lines.findIndex((l) => l.event === 'no-answer')).to.be.below(lines.map((l) => l.event).lastIndexOf('sent'));
        const answered = run.attempt.observations.answered as { community?: string; version: string }[];
        expect(answered.map((a) => `${a.community}/${a.version}`).sort()).to.deep.equal(['private/v1', 'private/v2c', 'public/v1', 'public/v2c']);
      });

      it('a retry window that would not fit the budget is not started, and the observations say so', async () => {
        const run = await runProbe(probe, {
          service: { port: weak.endpoint('snmp').port, protocol: 'snmp' }, inputs: { requestTimeoutMs: 1000, retries: 1 }, timeoutMs: 2600,
        });
        expect(run.attempt.status, run.attempt.message).to.equal('fail');
        const tried = run.attempt.observations.tried as { rounds: number; resent: number; retriesSkipped?: string };
        expect(tried).to.include({ rounds: 1, resent: 0 });
        expect(tried.retriesSkipped).to.match(/^20 silent request\(s\) not sent again/);
        expect(requestLines(run).filter((l) => l.event === 'sent')).to.have.length(24);
      });
    });

    it('destructive allowed but no object named: SET is not tried, and the observations say why', async () => {
      const ep = weak.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST, allow: ['passive', 'active', 'destructive'] });
      expect((attempt.observations.set as { reason: string }).reason).to.match(/names no object/);
      expect(attempt.findings.map((f) => f.code)).to.not.include('snmp.communities.default-community-write');
    });

    it('hardened posture (v3 only): no community answers, v3 discovery shows the agent is there: pass', async () => {
      const ep = hardened.endpoint('snmp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'snmp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(attempt.observations).to.include({ aliveBy: 'v3-discovery' });
      expect(attempt.observations.answered).to.deep.equal([]);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.5:pass', 'CR 2.1:pass']);
    });

    it('a profile community that answers is recorded by index and hash, never by value', async () => {
      const ep = secret.endpoint('snmp');
      const community = 'Bench-0nly-c0mmunity';
      const { attempt, dir } = await runProbe(probe, {
        service: { port: ep.port, protocol: 'snmp' }, inputs: { ...FAST, tryDefaults: false },
        credentials: { 'snmp.community': { username: 'community', password: community } },
      });
      expect(attempt.status).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['snmp.communities.cleartext-community']);
      expect(attempt.observations.answered).to.deep.equal([{
        version: 'v2c', source: 'profile', index: 0, sha256: sha256Hex(community), readable: true, errorStatus: 'NoError',
        sysDescr: 'Example Automation EPLC-1 firmware 1.0.0',
      }]);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 4.1:fail']);
      expect(allEvidence(dir)).to.not.contain(community);
      expect(JSON.stringify(attempt)).to.not.contain(community);
    });
  });

  describe('against Debian snmpd', () => {
    let snmpd: RunningSnmpd | undefined;
    afterEach(async () => {
      await snmpd?.stop();
      snmpd = undefined;
    });

    it('rocommunity public: the default community fails CR 1.5, CR 2.1 and CR 4.1', async function () {
      snmpd = await startSnmpd(requirePeer(this, 'snmpd', findSnmpd()), 'rocommunity public 127.0.0.1\nsysDescr snmpd under test');
      const { attempt } = await runProbe(probe, { service: { port: snmpd.port, protocol: 'snmp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      const answered = attempt.observations.answered as { community?: string; sysDescr?: string }[];
      expect(answered.map((a) => a.community)).to.deep.equal(['public', 'public']);
      expect(answered[0].sysDescr).to.equal('snmpd under test');
      expect(attempt.findings.map((f) => f.code).sort()).to.deep.equal(['snmp.communities.cleartext-community', 'snmp.communities.default-community']);
    });

    it('v3-only snmpd: no community answers and the agent is found through v3 discovery: pass', async function () {
      snmpd = await startSnmpd(requirePeer(this, 'snmpd', findSnmpd()), 'createUser benchuser SHA "bench-auth-pass" AES "bench-priv-pass"\nrouser benchuser priv');
      const { attempt } = await runProbe(probe, { service: { port: snmpd.port, protocol: 'snmp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(attempt.observations.aliveBy).to.equal('v3-discovery');
      expect(attempt.observations.engineId).to.match(/^80001f88/); // net-snmp's enterprise 8072
    });
  });

  describe('misbehaving peers end as errors within the budget', () => {
    it('a UDP port that never answers: timeout', async () => {
      const peer = await silentUdpServer();
      try {
        const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'snmp' }, inputs: FAST, timeoutMs: 10_000 });
        expect(attempt).to.include({ status: 'error', reason: 'timeout' });
        expect(attempt.message).to.match(/nor to SNMPv3 discovery/);
      } finally {
        await peer.close();
      }
    });

    it('a peer that answers garbage: protocol', async () => {
      for (const peer of [await garbageUdpServer(), await truncatedSnmpServer()]) {
        try {
          const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'snmp' }, inputs: FAST, timeoutMs: 10_000 });
          expect(attempt).to.include({ status: 'error', reason: 'protocol' });
        } finally {
          await peer.close();
        }
      }
    });

    it('a closed UDP port (ICMP port unreachable): unreachable', async () => {
      const peer = await closedUdpPort();
      const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'snmp' }, inputs: FAST, timeoutMs: 10_000 });
      expect(attempt).to.include({ status: 'error', reason: 'unreachable' });
    });

    it('a budget shorter than the requests: timeout, and the sockets are closed', async () => {
      const peer = await silentUdpServer();
      try {
        const handles = await handleSnapshot();
        const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'snmp' }, inputs: { requestTimeoutMs: 5000, retries: 2 }, timeoutMs: 300 });
        expect(attempt).to.include({ status: 'error', reason: 'timeout' });
        expect(attempt.message).to.match(/300 ms budget/);
        await handles.check();
      } finally {
        await peer.close();
      }
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'snmp' }), timeoutMs: 1500, inputs: FAST });
});
