import { expect } from 'chai';
import * as dgram from 'node:dgram';
import probe from '../../../probes/snmp/fuzz';
import { generateCases, systematicCases } from '../../../src/protocols/fuzz';
import { snmpCheckRequest, snmpTemplates } from '../../../src/protocols/snmp-fuzz';
import { fuzzCaseLines, tsharkFields } from '../../helpers/fuzz';
import { requirePeer } from '../../helpers/peers';
import { startDeviceProcess, type DeviceProcess } from '../../helpers/device-process';
import { runProbe } from '../../helpers/probe-harness';
import { findSnmpd, startSnmpd, type RunningSnmpd } from '../../helpers/snmpd';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const TEMPLATES = snmpTemplates({ version: 'v2c', community: 'public' });
const FAST = { cases: 120, ratePerSecond: 200, waitMs: 100, recoveryMs: 1500 };
const snmp = (port: number) => ({ port, protocol: 'snmp' as const });
const community = (value: string) => ({ 'snmp.community': { username: 'community', password: value } });

/** A UDP agent that answers the normal GET (its own bytes with the PDU type turned into GetResponse) and
 * optionally dies (closes its socket) on the first datagram longer than `dieAbove` bytes. Silent otherwise. */
async function udpAgent(options: { answer: 'normal' | 'garbage' | 'never'; dieAbove?: number }): Promise<{ port: number; died(): boolean; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  const check = snmpCheckRequest({ version: 'v2c', community: 'public' });
  let dead = false;
  socket.on('message', (msg, from) => {
    if (options.dieAbove !== undefined && msg.length > options.dieAbove) {
      dead = true;
      socket.close();
      return;
    }
    if (!msg.equals(check) || options.answer === 'never') return;
    const reply = options.answer === 'garbage' ? Buffer.from('not snmp') : Buffer.from(msg);
    if (options.answer === 'normal') reply[reply.indexOf(0xa0)] = 0xa2;
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  return { port, died: () => dead, close: () => new Promise((resolve) => (dead ? resolve() : socket.close(() => resolve()))) };
}

describe('probe snmp.fuzz', function () {
  this.timeout(60_000);

  describe('the grammar', () => {
    it('the same seed gives the same cases byte for byte; another seed another order', () => {
      const key = (seed: number) => generateCases(TEMPLATES, seed, 300).map((c) => `${c.template}|${c.mutation}|${c.bytes.toString('hex')}`);
      expect(key(62443)).to.have.length(300).and.deep.equal(key(62443));
      expect(key(7)).to.not.deep.equal(key(62443));
    });

    it('tshark decodes the valid templates as SNMP with the fields we meant, and a re-encoded case keeps its lengths consistent', function () {
      requirePeer(this, 'tshark');
      requirePeer(this, 'text2pcap');
      const longCommunity = systematicCases(TEMPLATES[0]).find((c) => c.mutation.startsWith('community of 255 bytes'))!;
      const rows = tsharkFields([...TEMPLATES.map((t) => t.bytes), longCommunity.bytes], '-u', 161,
        ['snmp.version', 'snmp.community', 'snmp.data', 'snmp.request_id', 'snmp.name', '_ws.malformed']);
      expect(rows.map((r) => r.slice(0, 5))).to.deep.equal([
        ['1', 'public', '0', '439041101', '1.3.6.1.2.1.1.3.0'],
        ['0', 'public', '0', '439041101', '1.3.6.1.2.1.1.3.0'],
        ['1', 'public', '1', '439041101', '1.3.6.1.2.1.1'],
        ['1', 'public', '5', '439041101', '1.3.6.1.2.1.1'],
        ['1', 'c'.repeat(255), '0', '439041101', '1.3.6.1.2.1.1.3.0'],
      ]);
      expect(rows.every((r) => r[5] === '')).to.equal(true);
    });
  });

  describe('against the emulator (its SNMP agent in a process of its own, so that a crash ends that process only)', () => {
    let device: DeviceProcess | undefined;
    afterEach(async () => {
      await device?.close();
      device = undefined;
    });

    // The fuzzer found a real defect: net-snmp's Agent throws from its message handler on some malformed PDUs
    // (e.g. a GetBulk without varbinds), which ended the emulator process. The emulator now drops such a PDU; the
    // weak posture's crash fault (crashOn: malformed-pdu) makes its agent stop answering for 20 s instead.
    it('weak (v1/v2c, community public): the agent crashes on a malformed PDU; CR 3.5 fails naming that case; the community is redacted', async () => {
      device = await startDeviceProcess('weak', 'snmp');
      const run = await runProbe(probe, { service: snmp(device.port('snmp')), inputs: { ...FAST, cases: 400, recoveryMs: 500 }, credentials: community('public') });
      expect(run.attempt.status, run.attempt.message).to.equal('fail');
      expect(run.attempt.findings.map((f) => f.code)).to.deep.equal(['snmp.fuzz.function-killed']);
      expect(await device.exited(), 'only the agent crashed, not the process').to.equal(false);
      const { campaign, cases } = fuzzCaseLines(run);
      expect(campaign).to.deep.include({ protocol: 'snmp', transport: 'udp', params: { version: 'v2c' }, check: 'v2c GetRequest sysUpTime.0' });
      expect(JSON.stringify(campaign)).to.not.contain('public');
      const killer = cases.at(-1)!;
      expect(killer.stillAnswers).to.equal(false);
      expect(run.attempt.findings[0].message).to.contain(killer.id);
      expect(cases.slice(0, -1).every((c) => c.stillAnswers)).to.equal(true);
      // "public" is 70 75 62 6c 69 63: never in a record; '*' bytes (2a) where it was.
      expect(cases.every((c) => !c.hex.includes('70 75 62 6c 69 63') && !c.reaction.hex.includes('70 75 62 6c 69 63'))).to.equal(true);
      expect(cases.filter((c) => c.redacted?.community).length).to.be.above(cases.length / 2);
    });

    it('hardened (SNMPv3 only): v1/v2c are dropped, so the normal GET is not answered: an error, CR 3.5 not determined', async () => {
      device = await startDeviceProcess('hardened', 'snmp');
      const run = await runProbe(probe, { service: snmp(device.port('snmp')), inputs: FAST, credentials: community('public') });
      expect(run.attempt.status).to.equal('error');
      expect(run.attempt.reason).to.equal('timeout');
      expect(run.attempt.message).to.contain('v2c GetRequest sysUpTime.0 before the first case got timeout');
    });
  });

  describe('against Debian snmpd (not ours)', () => {
    let snmpd: RunningSnmpd | undefined;
    let ctxPort = 0;
    before(async function () {
      snmpd = await startSnmpd(requirePeer(this, 'snmpd', findSnmpd()), 'rocommunity Bench-c0mm 127.0.0.1\nsysName bench-snmpd');
      ctxPort = snmpd.port;
    });
    after(() => snmpd?.stop());

    it('survives the campaign: every case answered or dropped, GET sysUpTime keeps working (pass)', async () => {
      const run = await runProbe(probe, { service: snmp(ctxPort), inputs: FAST, credentials: community('Bench-c0mm') });
      expect(run.attempt.status, `${run.attempt.message ?? ''} ${snmpd!.output()}`).to.equal('pass');
      const { cases } = fuzzCaseLines(run);
      expect(cases).to.have.length(120);
      expect(cases.every((c) => c.stillAnswers)).to.equal(true);
      expect(cases.some((c) => c.reaction.kind === 'timeout')).to.equal(true);
      expect(cases.some((c) => c.reaction.kind === 'reply')).to.equal(true);
      expect(run.attempt.outcomes[0].reason).to.contain('120 SNMP fuzz cases (seed 62443)');
    });

    it('no community in the profile: an error naming what to give', async () => {
      const run = await runProbe(probe, { service: snmp(ctxPort), inputs: FAST });
      expect(run.attempt.status).to.equal('error');
      expect(run.attempt.message).to.contain('credentials snmp.community');
    });

    it('caps: the case cap holds; Ctrl-C stops the campaign within 1 s', async () => {
      const capped = await runProbe(probe, { service: snmp(ctxPort), inputs: { ...FAST, cases: 5 }, credentials: community('Bench-c0mm') });
      expect(capped.attempt.observations).to.deep.include({ sent: 5, planned: 5, end: 'all-cases' });
      const controller = new AbortController();
      let abortedAt = 0;
      setTimeout(() => {
        abortedAt = Date.now();
        controller.abort(new Error('cancelled by SIGINT'));
      }, 700);
      const { attempt } = await runProbe(probe, { service: snmp(ctxPort), inputs: { ratePerSecond: 20 }, credentials: community('Bench-c0mm'), runSignal: controller.signal });
      expect(attempt.reason).to.equal('cancelled');
      expect(Date.now() - abortedAt).to.be.below(1000);
    });
  });

  describe('peers written here', () => {
    it('an agent that dies on a datagram over 1000 bytes fails CR 3.5 with that case recorded', async () => {
      const agent = await udpAgent({ answer: 'normal', dieAbove: 1000 });
      try {
        const run = await runProbe(probe, { service: snmp(agent.port), inputs: { ...FAST, cases: 400, recoveryMs: 500 }, credentials: community('public') });
        expect(agent.died()).to.equal(true);
        expect(run.attempt.status, run.attempt.message).to.equal('fail');
        expect(run.attempt.findings.map((f) => f.code)).to.deep.equal(['snmp.fuzz.function-killed']);
        const { cases } = fuzzCaseLines(run);
        const last = cases.at(-1)!;
        expect(last.hex.split(' ').length).to.be.above(1000);
        expect(last.stillAnswers).to.equal(false);
        expect(cases.slice(0, -1).every((c) => c.stillAnswers && c.hex.split(' ').length <= 1000)).to.equal(true);
        expect(run.attempt.findings[0].message).to.contain(last.id);
      } finally {
        await agent.close();
      }
    });

    for (const [name, answer, reason] of [['silent', 'never', 'timeout'], ['answers garbage', 'garbage', 'protocol']] as const) {
      it(`an agent that is ${name}: an error (${reason}), not a pass`, async () => {
        const agent = await udpAgent({ answer });
        try {
          const run = await runProbe(probe, { service: snmp(agent.port), inputs: FAST, credentials: community('public'), timeoutMs: 5000 });
          expect(run.attempt.status).to.equal('error');
          expect(run.attempt.reason).to.equal(reason);
        } finally {
          await agent.close();
        }
      });
    }

    it('a closed UDP port (ICMP port unreachable): an error (unreachable)', async () => {
      const agent = await udpAgent({ answer: 'never' });
      await agent.close();
      const run = await runProbe(probe, { service: snmp(agent.port), inputs: FAST, credentials: community('public') });
      expect(run.attempt.status).to.equal('error');
      expect(run.attempt.reason).to.equal('unreachable');
    });
  });

  describeMisbehavingPeers(probe, { service: snmp, timeoutMs: 1500, inputs: { cases: 20, waitMs: 100, recoveryMs: 300 }, credentials: community('public') });
});
