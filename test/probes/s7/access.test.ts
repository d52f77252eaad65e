import { expect } from 'chai';
import probe from '../../../probes/s7/access';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { readArea, withSession } from '../../../src/protocols/s7';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { requireSnap7, s7Posture, scriptedS7Server, startSnap7, type Snap7Peer } from '../../helpers/s7';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const service = (port: number) => ({ port, protocol: 's7' as const });
const DESTRUCTIVE = ['passive', 'active', 'destructive'] as ('passive' | 'active' | 'destructive')[];

/** DB1 bytes 0..31 as our own client reads them (to show that the probe left them as they were). */
async function db1(port: number): Promise<string> {
  return withSession({ host: '127.0.0.1', port }, { signal: AbortSignal.timeout(5000), waitMs: 1000, tsaps: [0x0102] }, async ({ session }) => {
    const a = await readArea(session, { area: 'db', db: 1, offset: 0, length: 32 });
    return a.status === 'data' ? a.bytes.toString('hex') : a.status;
  });
}

describe('probe s7.access', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(s7Posture('weak'), { ephemeralPorts: true }), startEmulator(s7Posture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: protection level 1 with RUN-P, DB1 and the flags read without a password (fail CR 1.1, 2.1)', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(weak.endpoint('s7').port) });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['s7.access.no-protection', 's7.access.unauthenticated-read']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 2.1': 'fail' });
    expect(attempt.observations.protection).to.deep.include({ level: 1, levelName: 'no protection', modeSelector: 'RUN-P' });
    expect(attempt.observations.cpuMode).to.equal('RUN');
    expect(attempt.observations.reads).to.deep.equal([
      { area: 'DB1.0+8', answer: 'data (8 bytes)', bytes: '0102030405060708' },
      { area: 'M.0+8', answer: 'data (8 bytes)', bytes: '0000000000000000' },
    ]);
    expect(attempt.observations.write).to.deep.equal({ performed: false, reason: 'no test area named in the inputs' });
    // SZL 0x0232 index 4 and read var DB1.DBB0 (8 bytes, bit address 0) as sent.
    const transcript = read(attempt.evidence.find((e) => e.endsWith('s7-access.txt'))!);
    expect(transcript).to.match(/> .* 00 01 12 04 11 44 01 00 ff 09 00 04 02 32 00 04/).and.match(/> .* 04 01 12 0a 10 02 00 08 00 01 84 00 00 00/);
  });

  it('hardened: level 3, reads refused with 0x8104 (PUT/GET off): partial pass of CR 1.1 and 2.1', async () => {
    const { attempt } = await runProbe(probe, { service: service(hardened.endpoint('s7').port) });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 1.1', 'pass', 'partial'], ['CR 2.1', 'pass', 'partial']]);
    expect(attempt.observations.protection).to.deep.include({ level: 3, levelName: 'read/write protection', setInParameters: 3, modeSelector: 'RUN' });
    expect((attempt.observations.reads as { answer: string }[])[0].answer).to.match(/^refused: 0x8104/);
  });

  it('reads of areas the CPU lacks prove nothing: no finding and no refusal leave CR 1.1 and 2.1 not determined', async () => {
    const emu = await startEmulator(s7Posture('weak', { protectionLevel: 3 }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: service(emu.endpoint('s7').port), inputs: { reads: [{ area: 'db', db: 9, offset: 0, length: 4 }, { area: 'db', db: 1, offset: 500, length: 4 }] } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect((attempt.observations.reads as { answer: string }[]).map((r) => r.answer)).to.deep.equal([
        'item error 0x0a object does not exist', 'item error 0x05 invalid address',
      ]);
    } finally {
      await emu.close();
    }
  });

  it('destructive + test area: writes the complement, reads it back, restores it; STOP and hot restart back to RUN', async () => {
    const port = weak.endpoint('s7').port;
    const before = await db1(port);
    const { attempt } = await runProbe(probe, {
      service: service(port), allow: DESTRUCTIVE, inputs: { testArea: { db: 1, offset: 4, length: 2 }, cpuStopStart: true, restartWaitMs: 2000 },
    });
    expect(await db1(port)).to.equal(before);
    expect(attempt.observations.write).to.deep.equal({
      performed: true, area: 'DB1.4+2', original: '0506', written: 'faf9', writeReply: 'accepted', accessRefused: false, readBack: 'faf9',
      restoreReply: 'accepted', afterRestore: '0506', restored: true,
    });
    expect(attempt.observations.control).to.deep.include({ performed: true, modeBefore: 'RUN', modeAfterStop: 'STOP', modeAfterStart: 'RUN', restarted: true });
    expect(codes(attempt)).to.deep.equal(['s7.access.cpu-stop-accepted', 's7.access.no-protection', 's7.access.unauthenticated-read', 's7.access.unauthenticated-write']);
  });

  it('destructive on the hardened CPU: the write and the STOP are refused by its access control and nothing changes', async () => {
    const { attempt } = await runProbe(probe, {
      service: service(hardened.endpoint('s7').port), allow: DESTRUCTIVE, inputs: { testArea: { db: 1, offset: 0, length: 2 }, cpuStopStart: true },
    });
    expect(attempt.status).to.equal('pass');
    expect(attempt.observations.write).to.deep.include({ performed: false });
    expect((attempt.observations.write as { reason: string }).reason).to.match(/could not read the original bytes: refused: 0x8104/);
    expect(attempt.observations.control).to.deep.include({ performed: true, modeAfterStop: 'RUN', stopAccessRefused: true });
    expect((attempt.observations.control as { stopReply: string }).stopReply).to.match(/^refused: 0xd241/);
  });

  it('without destructive allowed neither the named test area nor the CPU mode is touched', async () => {
    const { attempt } = await runProbe(probe, { service: service(weak.endpoint('s7').port), inputs: { testArea: { db: 1, offset: 0, length: 2 }, cpuStopStart: true } });
    expect(attempt.observations.write).to.deep.equal({ performed: false, reason: 'destructive probes are not allowed in this run' });
    expect(attempt.observations.control).to.deep.equal({ performed: false, reason: 'destructive probes are not allowed in this run' });
  });

  it('a CPU whose SZL answer never comes is a timeout, not a verdict', async () => {
    const silent = await scriptedS7Server(() => null);
    try {
      const { attempt } = await runProbe(probe, { service: service(silent.port), timeoutMs: 5000, inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('timeout');
    } finally {
      await silent.close();
    }
  });

  describe('against snap7\'s S7Server (node-snap7, not ours)', () => {
    let snap7: Snap7Peer;
    before(async function () {
      requireSnap7(this);
      snap7 = await startSnap7();
    });
    after(async () => snap7?.close());

    it('level 1 and DB1 readable; the test write restores DB1 and STOP/START leaves snap7 in RUN', async () => {
      const before = (await snap7.state()).db1;
      const { attempt } = await runProbe(probe, {
        service: service(snap7.port), allow: DESTRUCTIVE, inputs: { testArea: { db: 1, offset: 10, length: 4 }, cpuStopStart: true, restartWaitMs: 2000 },
      });
      expect(attempt.status, attempt.message).to.equal('fail');
      const after = await snap7.state();
      expect(after.db1).to.equal(before);
      expect(after.cpuStatus).to.equal(0x08);
      expect(codes(attempt)).to.deep.equal(['s7.access.cpu-stop-accepted', 's7.access.no-protection', 's7.access.unauthenticated-read', 's7.access.unauthenticated-write']);
      expect(attempt.observations.protection).to.deep.include({ level: 1, setBySelector: 1, setInParameters: 0, modeSelector: 'RUN-P' });
      expect(attempt.observations.write).to.deep.include({ original: '464d545b', readBack: 'b9b2aba4', restored: true });
      expect(attempt.observations.control).to.deep.include({ modeAfterStop: 'STOP', restarted: true });
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 's7' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
