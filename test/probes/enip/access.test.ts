import { expect } from 'chai';
import probe, { testValueFor } from '../../../probes/enip/access';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { CIP_SERVICES, COMMANDS, encodeCipReply, encodeCipRequest, registerSession, sendRRData, sendRRDataPayload, withEnip } from '../../../src/protocols/enip';
import type { Safety } from '../../../src/sdk';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { enipPosture, scriptedEnipServer } from '../../helpers/enip';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const OUTPUT = { class: 4, instance: 150, attribute: 3 };
const DESTRUCTIVE: Safety[] = ['passive', 'active', 'destructive'];

/** The output assembly's value, read over a session of our own. */
async function outputAssembly(port: number): Promise<string> {
  return withEnip({ host: '127.0.0.1', port }, { signal: AbortSignal.timeout(5000) }, async (conn) => {
    const session = await registerSession(conn, 1000);
    if (session.status !== 'ok') throw new Error('no session');
    const reply = await sendRRData(conn, session.value, encodeCipRequest(CIP_SERVICES.getAttributeSingle, { classId: 4, instance: 150, attribute: 3 }), 1000, 'read');
    if (reply.status !== 'ok') throw new Error('no reply');
    return reply.value.data.toString('hex');
  });
}

describe('probe enip.access', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(enipPosture('weak'), { ephemeralPorts: true }), startEmulator(enipPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });
  const port = (e: Emulator) => e.endpoint('enip').port;

  it('weak, default run: a session for anyone, the Identity object served, foreign session handles accepted; nothing written', async () => {
    const { attempt, read } = await runProbe(probe, { service: { port: port(weak), protocol: 'enip' }, allow: ['passive', 'active'] });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['enip.access.session-not-checked', 'enip.access.unauthenticated-explicit-messaging']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 2.1': 'fail', 'CR 3.5': 'fail' });
    expect(attempt.observations.access).to.deep.equal({ result: 'served', via: 'Get_Attributes_All', productName: 'Example Automation EPLC-1' });
    expect(attempt.observations.write).to.deep.equal({ performed: false, reason: 'no test attribute named in the inputs' });
    expect(attempt.observations.reset).to.deep.equal({ performed: false, reason: 'the Reset service is not named in the inputs' });
    const transcript = read(attempt.evidence.find((e) => e.endsWith('.txt'))!);
    // RegisterSession: protocol version 1, options 0; Get_Attributes_All: service 01, path 20 01 24 01.
    expect(transcript).to.match(/> 65 00 04 00 00 00 00 00 00 00 00 00 (\S\S ){8}00 00 00 00 01 00 00 00/);
    expect(transcript).to.match(/b2 00 06 00 01 02 20 01 24 01/);
  });

  it('weak, destructive with the output assembly and Reset named: the write is read back and restored, the Reset restarts the device', async () => {
    const emu = await startEmulator(enipPosture('weak', { resetDowntimeMs: 600 }), { ephemeralPorts: true });
    try {
      const before = await outputAssembly(port(emu));
      const { attempt } = await runProbe(probe, { service: { port: port(emu), protocol: 'enip' }, allow: DESTRUCTIVE, inputs: { testAttribute: OUTPUT, testValue: '0a0b0c0d0e0f1011', reset: { type: 0 } } });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(codes(attempt)).to.deep.equal([
        'enip.access.session-not-checked', 'enip.access.unauthenticated-explicit-messaging', 'enip.access.unauthenticated-reset', 'enip.access.unauthenticated-write',
      ]);
      expect(attempt.observations.write).to.deep.include({ performed: true, original: before, written: '0a0b0c0d0e0f1011', writeReply: 'success', readBack: '0a0b0c0d0e0f1011', afterRestore: before, restored: true });
      expect(attempt.observations.reset).to.deep.include({ performed: true, type: 0, reply: 'success', accepted: true, wentDown: true });
      expect((attempt.observations.reset as { recoveredAfterMs: number }).recoveredAfterMs).to.be.a('number').within(0, 5000);
      expect(await outputAssembly(port(emu))).to.equal(before);
    } finally {
      await emu.close();
    }
  });

  it('destructive steps named but not allowed: nothing is written or reset', async () => {
    const { attempt } = await runProbe(probe, { service: { port: port(weak), protocol: 'enip' }, allow: ['passive', 'active'], inputs: { testAttribute: OUTPUT, reset: { type: 0 } } });
    expect(attempt.observations.write).to.deep.include({ performed: false, reason: 'destructive probes are not allowed in this run' });
    expect(attempt.observations.reset).to.deep.include({ performed: false, reason: 'destructive probes are not allowed in this run' });
  });

  it('hardened: RegisterSession refused with 0x006A on the plain port; CR 1.1/2.1 pass with partial coverage', async () => {
    const { attempt } = await runProbe(probe, { service: { port: port(hardened), protocol: 'enip' }, allow: DESTRUCTIVE, inputs: { testAttribute: OUTPUT, reset: { type: 0 } } });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 1.1', 'pass', 'partial'], ['CR 2.1', 'pass', 'partial']]);
    expect(attempt.observations.access).to.deep.equal({ result: 'session-refused', encapStatus: '0x006a', statusName: 'encapsulated CIP service not allowed on this port' });
    expect(attempt.observations.write).to.deep.equal({ performed: false, reason: 'no session' });
  });

  it('plain explicit messaging with access control: reads served, the write and the Reset refused, foreign handles refused (CR 3.5 pass)', async () => {
    const emu = await startEmulator(enipPosture('hardened', { plainCommands: 'all', cipSecurity: null }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: { port: port(emu), protocol: 'enip' }, allow: DESTRUCTIVE, inputs: { testAttribute: OUTPUT, testValue: 'ffffffffffffffff', reset: { type: 0 } } });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['enip.access.unauthenticated-explicit-messaging']);
      expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 2.1': 'fail', 'CR 3.5': 'pass' });
      expect(attempt.observations.write).to.deep.include({ performed: true, writeReply: 'privilege violation', restored: true });
      expect(attempt.observations.write).to.not.have.property('restoreReply'); // refused by status: nothing to restore
      expect(attempt.observations.reset).to.deep.equal({ performed: true, type: 0, reply: 'privilege violation', accepted: false });
    } finally {
      await emu.close();
    }
  });

  it('a privilege violation on the Identity object is the device\'s own refusal: pass', async () => {
    const peer = await scriptedEnipServer((r) => (r.command === COMMANDS.registerSession ? { session: 0x11, data: r.data }
      : r.command === COMMANDS.sendRRData ? { data: sendRRDataPayload(encodeCipReply(r.data[16], 0x0f)) } : null));
    try {
      const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'enip' }, inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(attempt.observations.access).to.deep.equal({ result: 'message-refused', generalStatus: '0x0f', statusName: 'privilege violation' });
    } finally {
      await peer.close();
    }
  });

  it('the default test value adds one to a 1-, 2- or 4-byte attribute and needs an input otherwise', () => {
    expect(testValueFor(Buffer.from('ff', 'hex'))!.toString('hex')).to.equal('00');
    expect(testValueFor(Buffer.from('ff00', 'hex'))!.toString('hex')).to.equal('0001');
    expect(testValueFor(Buffer.from('01020304', 'hex'))!.toString('hex')).to.equal('02020304');
    expect(testValueFor(Buffer.from('010203', 'hex'))).to.equal(undefined);
    expect(testValueFor(Buffer.from('010203', 'hex'), 'aabbcc')!.toString('hex')).to.equal('aabbcc');
  });

  describeMisbehavingPeers(probe, { service: (p) => ({ port: p, protocol: 'enip' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
