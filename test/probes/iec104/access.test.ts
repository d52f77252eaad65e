import { expect } from 'chai';
import probe from '../../../probes/iec104/access';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { endDataTransfer, interrogate, pointsOf, startDataTransfer } from '../../../src/protocols/iec104';
import { iec104Posture, iec104Services } from '../../helpers/iec104';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const DESTRUCTIVE = ['passive', 'active', 'destructive'] as ('passive' | 'active' | 'destructive')[];
const COMMAND = { singleCommand: { ioa: 2000, statusIoa: 100 } };

/** The single points as our own client reads them (to show that the probe left them as they were). */
async function singles(port: number): Promise<string> {
  const t = await startDataTransfer({ host: '127.0.0.1', port }, { signal: AbortSignal.timeout(5000), waitMs: 1000 });
  if (!t.started) throw new Error('no data transfer');
  const gi = await interrogate(t.link, 1);
  await endDataTransfer(t.link);
  return pointsOf(gi).filter((p) => p.type === 'M_SP_NA_1').map((p) => `${p.ioa}=${p.value}`).join(' ');
}

describe('probe iec104.access', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(iec104Posture('weak'), { ephemeralPorts: true }), startEmulator(iec104Posture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: STARTDT and the interrogation served to an unauthenticated client (fail CR 1.1, 2.1); nothing operated', async () => {
    const { attempt } = await runProbe(probe, iec104Services(weak));
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['iec104.access.unauthenticated-data-transfer']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 2.1': 'fail' });
    expect(attempt.findings[0].message).to.match(/7 information objects \(ASDU address 1\)/);
    expect(attempt.observations.command).to.deep.equal({ performed: false, reason: 'singleCommand is not set in the inputs' });
    expect(attempt.observations.clock).to.deep.equal({ performed: false, reason: 'clockSync is not set in the inputs' });
  });

  it('hardened: the plain port hangs up on STARTDT and the IEC 62351-3 control starts data transfer (partial pass of CR 1.1, 2.1)', async () => {
    const { attempt } = await runProbe(probe, iec104Services(hardened));
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 1.1', 'pass', 'partial'], ['CR 2.1', 'pass', 'partial']]);
    expect(attempt.observations).to.deep.include({ testFrame: 'confirmed', startDt: 'connection closed', interrogation: null });
    expect(attempt.observations.secureControl).to.deep.include({ status: 'started', stopDt: 'confirmed' });
  });

  it('hardened without a client certificate: a hang-up proves nothing, CR 1.1 and 2.1 not determined', async () => {
    const { attempt } = await runProbe(probe, iec104Services(hardened, false));
    expect(attempt.status, attempt.message).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.note).to.match(/no declared IEC 62351-3 service with a client certificate/);
  });

  it('destructive + named command: operates IOA 2000 to the opposite of point 100, reads it back, restores it; clock sync accepted', async () => {
    const port = weak.endpoint('iec104').port;
    const before = await singles(port);
    const { attempt } = await runProbe(probe, { ...iec104Services(weak), allow: DESTRUCTIVE, inputs: { ...COMMAND, clockSync: true } });
    expect(await singles(port)).to.equal(before);
    expect(attempt.observations.command).to.deep.include({ performed: true, ioa: 2000, statusIoa: 100, before: false, sent: true, after: true, afterRestore: false, restored: true });
    expect((attempt.observations.command as { reply: object }).reply).to.deep.include({ confirmation: 'positive', cause: 'actcon', terminated: true, end: 'actterm' });
    expect(attempt.observations.clock).to.deep.include({ performed: true });
    expect((attempt.observations.clock as { reply: object }).reply).to.deep.include({ confirmation: 'positive', end: 'confirmed' });
    expect(codes(attempt)).to.deep.equal(['iec104.access.unauthenticated-clock-sync', 'iec104.access.unauthenticated-command', 'iec104.access.unauthenticated-data-transfer']);
  });

  it('destructive on an outstation that refuses control (negative confirmations): nothing changes, only the data transfer fails', async () => {
    const emu = await startEmulator(iec104Posture('weak', { control: false }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { ...iec104Services(emu), allow: DESTRUCTIVE, inputs: { ...COMMAND, clockSync: true } });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['iec104.access.unauthenticated-data-transfer']);
      expect(attempt.observations.command).to.deep.include({ performed: true, after: false, restored: true });
      expect((attempt.observations.command as { reply: object }).reply).to.deep.include({ confirmation: 'negative', end: 'negative' });
      expect((attempt.observations.clock as { reply: object }).reply).to.deep.include({ confirmation: 'negative' });
    } finally {
      await emu.close();
    }
  });

  it('a command whose status point the interrogation does not report is not sent (nothing to restore to)', async () => {
    const { attempt } = await runProbe(probe, { ...iec104Services(weak), allow: DESTRUCTIVE, inputs: { singleCommand: { ioa: 2000, statusIoa: 4242 } } });
    expect(attempt.observations.command).to.deep.include({ performed: false, reason: 'the interrogation did not report single point 4242: nothing to restore to' });
  });

  it('without destructive allowed the named command and the clock are not touched', async () => {
    const { attempt } = await runProbe(probe, { ...iec104Services(weak), inputs: { ...COMMAND, clockSync: true } });
    expect(attempt.observations.command).to.deep.equal({ performed: false, reason: 'destructive probes are not allowed in this run' });
    expect(attempt.observations.clock).to.deep.equal({ performed: false, reason: 'destructive probes are not allowed in this run' });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'iec104' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
