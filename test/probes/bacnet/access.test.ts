import { expect } from 'chai';
import probe, { testValueFor } from '../../../probes/bacnet/access';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { closedUdpPort, garbageUdpServer, silentUdpServer } from '../../../fixtures/udp-servers';
import { OBJECT_TYPE } from '../../../src/protocols/bacnet';
import { bacnetPosture } from '../../helpers/bacnet';
import { runProbe } from '../../helpers/probe-harness';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const service = (port: number) => ({ port, protocol: 'bacnet' as const });
const setpoint = { objectType: 'analog-value', instance: 1 };
const destructive = ['passive', 'active', 'destructive'] as ('passive' | 'active' | 'destructive')[];

describe('probe bacnet.access', function () {
  this.timeout(30_000);
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(bacnetPosture('weak'), { ephemeralPorts: true }), startEmulator(bacnetPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });
  const port = (e: Emulator) => e.endpoint('bacnet').port;

  it('weak: DCC and ReinitializeDevice acknowledged without a password fail CR 1.1 and CR 2.1; CR 1.5 is not judged', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(port(weak)) });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['bacnet.access.dcc-without-password', 'bacnet.access.reinitialize-without-password']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 2.1': 'fail' });
    expect(attempt.observations.write).to.deep.equal({ performed: false, reason: 'no test object named in the inputs' });
    // DCC enable (context 1 = 0) and ReinitializeDevice abort-restore (context 0 = 6), no password field, as sent.
    expect(read(attempt.evidence.find((e) => e.endsWith('.txt'))!)).to.match(/> 81 0a 00 0c 01 04 00 05 [0-9a-f]{2} 11 19 00\n/)
      .and.to.match(/> 81 0a 00 0c 01 04 00 05 [0-9a-f]{2} 14 09 06\n/);
  });

  it('hardened: password-failure without a password, with the empty and the default one: CR 1.1, CR 1.5 and CR 2.1 pass (partial)', async () => {
    const { attempt } = await runProbe(probe, { service: service(port(hardened)) });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'pass', 'CR 2.1': 'pass', 'CR 1.5': 'pass' });
    expect(attempt.outcomes.every((o) => o.coverage === 'partial')).to.equal(true);
    const checks = attempt.observations.checks as { withoutPassword: string; tried: { password: string; result: string }[] }[];
    expect(checks.map((c) => c.withoutPassword)).to.deep.equal(['password-refused', 'password-refused']);
    expect(checks[0].tried).to.deep.equal([
      { password: 'empty', answer: 'Error security/password-failure', result: 'password-refused' },
      { password: 'default #1', answer: 'Error security/password-failure', result: 'password-refused' },
    ]);
    expect(attempt.outcomes.find((o) => o.requirement === 'CR 2.1')!.reason).to.match(/writes not tested/);
  });

  it('a device whose password is the default one (or empty): default-password-accepted / empty-password-accepted fail CR 1.5', async () => {
    for (const [password, code] of [['filister', 'default-password-accepted'], ['', 'empty-password-accepted']] as const) {
      const emu = await startEmulator(bacnetPosture('hardened', { password }), { ephemeralPorts: true });
      try {
        const { attempt, read } = await runProbe(probe, { service: service(port(emu)) });
        expect(attempt.status, attempt.message).to.equal('fail');
        expect(codes(attempt)).to.deep.equal([`bacnet.access.${code}`, `bacnet.access.${code}`]);
        expect(verdicts(attempt)).to.include({ 'CR 1.5': 'fail', 'CR 2.1': 'fail', 'CR 1.1': 'pass' });
        if (password) expect(read(attempt.evidence.find((e) => e.endsWith('.json'))!)).to.not.contain(password);
      } finally {
        await emu.close();
      }
    }
  });

  it('weak, destructive with the setpoint named: written at priority 16, read back, relinquished; unauthenticated-write', async () => {
    const { attempt } = await runProbe(probe, { service: service(port(weak)), allow: destructive, inputs: { testObject: setpoint } });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(codes(attempt)).to.include('bacnet.access.unauthenticated-write').and.not.include('bacnet.access.test-object-not-restored');
    expect(attempt.observations.write).to.deep.include({
      performed: true, property: 'analog-value,1 present-value', commandable: true, priority: 16, original: 21.5, written: 22.5,
      writeAnswer: 'acknowledged', readBack: 22.5, restoreAnswer: 'acknowledged', afterRestore: 21.5, restored: true,
    });
  });

  it('hardened, destructive with the setpoint named: write-access-denied is the device\'s refusal; CR 2.1 passes on it', async () => {
    const { attempt } = await runProbe(probe, { service: service(port(hardened)), allow: destructive, inputs: { testObject: setpoint, reinitialize: { state: 'warmstart' } } });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.observations.write).to.deep.include({ performed: true, writeAnswer: 'Error property/write-access-denied', result: 'access-denied', restored: true });
    expect(attempt.observations.write).to.not.have.property('restoreAnswer');
    expect(attempt.outcomes.find((o) => o.requirement === 'CR 2.1')!.reason).to.match(/WriteProperty analog-value,1 present-value was refused/);
    expect(attempt.observations.restart).to.deep.equal({ performed: false, state: 'warmstart', reason: 'ReinitializeDevice was not accepted without a password at the safe check: not sent' });
  });

  it('without the destructive class nothing is written or restarted, even when named', async () => {
    const { attempt } = await runProbe(probe, { service: service(port(weak)), inputs: { testObject: setpoint, reinitialize: { state: 'warmstart' } } });
    expect(attempt.observations.write).to.include({ performed: false, reason: 'destructive probes are not allowed in this run' });
    expect(attempt.observations.restart).to.include({ performed: false, reason: 'destructive probes are not allowed in this run' });
  });

  it('weak, destructive with a warm start named: the device restarts (silent, then answers again); unauthenticated-restart', async () => {
    const emu = await startEmulator(bacnetPosture('weak', { restartDowntimeMs: 800 }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: service(port(emu)), allow: destructive, inputs: { reinitialize: { state: 'warmstart' }, requestTimeoutMs: 300, udpRetries: 0 } });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(codes(attempt)).to.include('bacnet.access.unauthenticated-restart').and.not.include('bacnet.access.not-recovered-after-restart');
      expect(attempt.observations.restart).to.include({ performed: true, state: 'warmstart', accepted: true, wentDown: true });
      expect((attempt.observations.restart as { recoveredAfterMs: number }).recoveredAfterMs).to.be.a('number');
    } finally {
      await emu.close();
    }
  });

  it('the test value: one more, a binary state toggled, or the given value', () => {
    expect(testValueFor({ type: 'real', value: 21.5 }, OBJECT_TYPE.analogValue)).to.deep.equal({ type: 'real', value: 22.5 });
    expect(testValueFor({ type: 'enumerated', value: 1 }, OBJECT_TYPE.binaryValue)).to.deep.equal({ type: 'enumerated', value: 0 });
    expect(testValueFor({ type: 'unsigned', value: 3 }, OBJECT_TYPE.multiStateValue, 1)).to.deep.equal({ type: 'unsigned', value: 1 });
    expect(testValueFor({ type: 'character-string', value: 'x', charset: 0 }, OBJECT_TYPE.analogValue)).to.equal(undefined);
  });

  describe('misbehaving UDP peers end as errors', () => {
    const cases = [
      { name: 'closed UDP port (ICMP unreachable)', make: closedUdpPort, reason: 'unreachable' },
      { name: 'silent UDP port', make: silentUdpServer, reason: 'timeout' },
      { name: 'garbage datagrams', make: () => garbageUdpServer(), reason: 'protocol' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const peer = await c.make();
        try {
          const { attempt } = await runProbe(probe, { service: service(peer.port), timeoutMs: 3000, inputs: { requestTimeoutMs: 200, udpRetries: 1 } });
          expect(attempt.status, attempt.message).to.equal('error');
          expect(attempt.reason, attempt.message).to.equal(c.reason);
        } finally {
          await peer.close();
        }
      });
    }
  });

  describeMisbehavingPeers(probe, { service, timeoutMs: 1500, inputs: { requestTimeoutMs: 200, udpRetries: 0 } });
});
