import { expect } from 'chai';
import probe from '../../../probes/dnp3/access';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { FUNCTION, IIN, challengeObject, class0Objects, crobObjects, expectResponse, readAnswer, withConnection } from '../../../src/protocols/dnp3';
import { dnp3Posture, scriptedDnp3Server } from '../../helpers/dnp3';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const service = (port: number) => ({ port, protocol: 'dnp3' as const, options: { outstationAddress: 1024 } });
const DESTRUCTIVE = ['passive', 'active', 'destructive'] as ('passive' | 'active' | 'destructive')[];

/** Binary output states (g10v2 state bits) as our own client reads them with a class 0 poll. */
async function outputs(port: number): Promise<number[]> {
  return withConnection({ host: '127.0.0.1', port }, { signal: AbortSignal.timeout(5000), waitMs: 1000, master: 1, outstation: 1024 }, async (c) => {
    const a = readAnswer(expectResponse(await c.request(FUNCTION.read, class0Objects()), 'class 0', 1000));
    if (a.status !== 'served') throw new Error(a.status);
    return a.blocks.find((b) => b.group === 10)!.values.map((v) => v[0] >> 7);
  });
}

describe('probe dnp3.access', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(dnp3Posture('weak'), { ephemeralPorts: true }), startEmulator(dnp3Posture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: the integrity poll is served to an unknown master (fail CR 1.1, 2.1); nothing is operated', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(weak.endpoint('dnp3').port) });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['dnp3.access.unauthenticated-poll']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 2.1': 'fail' });
    expect(attempt.observations.poll).to.deep.equal({ kind: 'integrity', answer: 'served: g1v2×4 g10v2×2 g30v1×2, IIN device-restart', points: 8, moreFragments: false });
    expect(attempt.observations.control).to.deep.equal({ performed: false, reason: 'no control point named in the inputs' });
    expect(attempt.observations.restart).to.deep.equal({ performed: false, reason: 'no restart named in the inputs' });
    // READ class 1, 2, 3, 0 (g60v2, v3, v4, v1, qualifier 0x06) in one frame with its CRCs.
    expect(read(attempt.evidence.find((e) => e.endsWith('dnp3-access.txt'))!)).to.match(/> 05 64 14 c4 00 04 01 00 .. .. c0 c0 01 3c 02 06 3c 03 06 3c 04 06 3c 01 06 .. ..\n/);
  });

  it('hardened: the poll is challenged with SAv5 g120v1 (partial pass of CR 1.1, 2.1)', async () => {
    const { attempt } = await runProbe(probe, { service: service(hardened.endpoint('dnp3').port) });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 1.1', 'pass', 'partial'], ['CR 2.1', 'pass', 'partial']]);
    expect((attempt.observations.poll as { answer: string }).answer).to.match(/^challenged: g120v1, critical request, HMAC-SHA-256/);
  });

  it('destructive + a named CROB: select then operate latch-on, seen in the binary output status afterwards', async () => {
    const port = weak.endpoint('dnp3').port;
    expect(await outputs(port)).to.deep.equal([0, 0]);
    const { attempt } = await runProbe(probe, { service: service(port), allow: DESTRUCTIVE, inputs: { control: { index: 1, code: 'latch-on' } } });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['dnp3.access.unauthenticated-control', 'dnp3.access.unauthenticated-poll']);
    expect(attempt.observations.control).to.deep.include({ performed: true, index: 1, code: 'latch-on', mode: 'select-operate', status: 'SUCCESS', accepted: true, refused: false });
    expect(await outputs(port)).to.deep.equal([0, 1]);
    await runProbe(probe, { service: service(port), allow: DESTRUCTIVE, inputs: { control: { index: 1, code: 'latch-off', mode: 'direct-operate' } } });
    expect(await outputs(port)).to.deep.equal([0, 0]);
  });

  it('destructive + a cold restart named: accepted, the outstation drops the connection and answers again', async () => {
    const emu = await startEmulator(dnp3Posture('weak', { restartDelayMs: 300 }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: service(emu.endpoint('dnp3').port), allow: DESTRUCTIVE, inputs: { restart: 'cold', recoveryMs: 5000 } });
      expect(codes(attempt)).to.deep.equal(['dnp3.access.unauthenticated-poll', 'dnp3.access.unauthenticated-restart']);
      const restart = attempt.observations.restart as { accepted: boolean; answer: string; recoveredAfterMs: number };
      expect(restart).to.deep.include({ performed: true, kind: 'cold', accepted: true, refused: false });
      expect(restart.answer).to.match(/^served: g52v2×1/);
      expect(restart.recoveredAfterMs).to.be.a('number').and.to.be.below(5000);
    } finally {
      await emu.close();
    }
  });

  it('destructive on the hardened outstation: select and restart are challenged, nothing is executed', async () => {
    const port = hardened.endpoint('dnp3').port;
    const { attempt } = await runProbe(probe, { service: service(port), allow: DESTRUCTIVE, inputs: { control: { index: 0, code: 'latch-on' }, restart: 'warm' } });
    expect(attempt.status).to.equal('pass');
    expect(attempt.observations.control).to.deep.include({ performed: true, accepted: false, refused: true });
    expect(attempt.observations.restart).to.deep.include({ performed: true, accepted: false, refused: true });
  });

  it('without destructive allowed neither the named control nor the restart is sent', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(weak.endpoint('dnp3').port), inputs: { control: { index: 0 }, restart: 'cold' } });
    expect(attempt.observations.control).to.deep.equal({ performed: false, reason: 'destructive probes are not allowed in this run' });
    expect(attempt.observations.restart).to.deep.equal({ performed: false, reason: 'destructive probes are not allowed in this run' });
    expect(read(attempt.evidence.find((e) => e.endsWith('dnp3-access.txt'))!)).to.not.match(/SELECT|RESTART/);
  });

  it('a poll answered "object unknown" proves nothing: not determined', async () => {
    const peer = await scriptedDnp3Server(() => ({ iin: IIN['object-unknown'] }));
    try {
      const { attempt } = await runProbe(probe, { service: service(peer.port) });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.note).to.match(/not determined/);
    } finally {
      await peer.close();
    }
  });

  it('a CROB answered NOT_AUTHORIZED is the outstation\'s refusal, a challenge of the poll too', async () => {
    const peer = await scriptedDnp3Server((r) => {
      if (r.fn === FUNCTION.read) return { fn: FUNCTION.authResponse, objects: challengeObject({ sequence: 7, user: 1, macAlgorithm: 4, reason: 1, challengeData: Buffer.alloc(4, 1) }) };
      return { objects: crobObjects({ index: 0, code: 1, count: 1, onTimeMs: 100, offTimeMs: 100, status: 9 }) };
    });
    try {
      const { attempt } = await runProbe(probe, { service: service(peer.port), allow: DESTRUCTIVE, inputs: { control: { index: 0, mode: 'direct-operate' } } });
      expect(attempt.status).to.equal('pass');
      expect(attempt.observations.control).to.deep.include({ status: 'NOT_AUTHORIZED', accepted: false, refused: true });
    } finally {
      await peer.close();
    }
  });

  it('an outstation that never answers the poll is a timeout, not a verdict', async () => {
    const silent = await scriptedDnp3Server(() => null);
    try {
      const { attempt } = await runProbe(probe, { service: service(silent.port), timeoutMs: 5000, inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('timeout');
    } finally {
      await silent.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'dnp3' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
