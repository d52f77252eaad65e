import { expect } from 'chai';
import probe from '../../../probes/modbus/access';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { type TestServer } from '../../../fixtures/servers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { modbusPosture, readWholeMap } from '../../helpers/modbus';
import { requirePymodbus, startPymodbus, type PymodbusServer } from '../../helpers/pymodbus';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const EMULATOR_MAP = { holdingRegisters: 128, inputRegisters: 128, coils: 64, discreteInputs: 64 };

describe('probe modbus.access', () => {
  let weak: Emulator;
  let hardened: Emulator;
  // A counter that does not move during a test, so the whole register map can be compared.
  before(async () => {
    weak = await startEmulator(modbusPosture('weak', { counter: { periodMs: 3_600_000 } }), { ephemeralPorts: true });
    hardened = await startEmulator(modbusPosture('hardened', { counter: { periodMs: 3_600_000 } }), { ephemeralPorts: true });
  });
  after(async () => {
    await weak?.close();
    await hardened?.close();
  });
  const service = (e: Emulator | TestServer | PymodbusServer, extra: { unitId?: number } = {}) => ({
    port: 'endpoint' in e ? e.endpoint('modbus').port : e.port, protocol: 'modbus' as const, unitId: 1, ...extra,
  });

  it('weak: reads every table unauthenticated, unit ids 0 and 255 answer too (fail CR 1.1, 2.1, 1.2)', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(weak), inputs: { requestTimeoutMs: 300 } });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['modbus.access.no-peer-authentication', 'modbus.access.other-unit-ids-answer', 'modbus.access.unauthenticated-read']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 2.1': 'fail', 'CR 1.2': 'fail' });
    const obs = attempt.observations as { unitIds: { unitId: number; answer: string }[]; reads: { table: string; answer: string; values?: number[] }[]; write: { performed: boolean } };
    expect(obs.unitIds.map((u) => [u.unitId, u.answer])).to.deep.equal([[1, 'data'], [0, 'data'], [255, 'data']]);
    expect(obs.reads.find((r) => r.table === 'input-registers')?.values).to.deep.equal([2000, 2001, 2002, 2003, 2004, 2005, 2006, 2007]);
    expect(obs.write).to.deep.include({ performed: false, reason: 'no test register named in the inputs' });
    const transcript = read(attempt.evidence.find((e) => e.endsWith('modbus-access.txt'))!);
    expect(transcript).to.match(/> 00 01 00 00 00 06 01 03 00 00 00 01/).and.match(/< 00 01 00 00 00 05 01 03 02/);
  });

  it('hardened: still unauthenticated (Modbus has none), but other unit ids get exception 0x0B', async () => {
    const { attempt } = await runProbe(probe, { service: service(hardened), inputs: { requestTimeoutMs: 300 } });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['modbus.access.no-peer-authentication', 'modbus.access.unauthenticated-read']);
    const obs = attempt.observations as { unitIds: { unitId: number; answer: string; exception?: number }[] };
    expect(obs.unitIds.filter((u) => u.unitId !== 1).map((u) => [u.answer, u.exception])).to.deep.equal([['exception', 11], ['exception', 11]]);
  });

  it('at SL 1 CR 1.2 is not evaluated; ranges the device lacks leave CR 1.1 and 2.1 without evidence', async () => {
    const sl1 = await runProbe(probe, { service: service(hardened), sl: 1, inputs: { requestTimeoutMs: 300 } });
    expect(verdicts(sl1.attempt)).to.deep.equal({ 'CR 1.1': 'fail', 'CR 2.1': 'fail' });
    const none = await runProbe(probe, {
      service: service(hardened), inputs: {
        requestTimeoutMs: 300, unitIds: [], holdingRegisters: [{ address: 500, count: 2 }], inputRegisters: [], coils: [{ address: 100, count: 1 }], discreteInputs: [],
      },
    });
    expect(codes(none.attempt)).to.deep.equal(['modbus.access.no-peer-authentication']);
    expect(verdicts(none.attempt)).to.deep.equal({ 'CR 1.2': 'fail' });
    expect((none.attempt.observations as { reads: { answer: string; exception?: number }[] }).reads.map((r) => r.exception)).to.deep.equal([2, 2]);
  });

  it('destructive + test register: writes, reads back and restores only that register (whole map identical)', async () => {
    const port = weak.endpoint('modbus').port;
    const before = await readWholeMap(port, 1, EMULATOR_MAP);
    const { attempt } = await runProbe(probe, {
      service: service(weak), allow: ['passive', 'active', 'destructive'], inputs: { requestTimeoutMs: 300, testRegister: 10, testValue: 4242 },
    });
    expect(await readWholeMap(port, 1, EMULATOR_MAP)).to.deep.equal(before);
    expect(attempt.observations.write).to.deep.equal({
      performed: true, register: 10, original: 1010, written: 4242, writeReply: 'ok', readBack: 4242, restoreReply: 'ok', afterRestore: 1010, restored: true,
    });
    expect(codes(attempt)).to.include('modbus.access.unauthenticated-write');
  });

  it('destructive on a write-protected register: the refusal is recorded and nothing needs restoring', async () => {
    const { attempt } = await runProbe(probe, {
      service: service(hardened), allow: ['passive', 'active', 'destructive'], inputs: { requestTimeoutMs: 300, testRegister: 5 },
    });
    expect(attempt.observations.write).to.deep.include({ performed: true, writeReply: 'exception 2 (ILLEGAL DATA ADDRESS)', readBack: 1005, restored: true });
    expect(attempt.observations.write).to.not.have.property('restoreReply');
    expect(codes(attempt)).to.not.include('modbus.access.unauthenticated-write');
  });

  it('without destructive allowed the named test register is not written', async () => {
    const { attempt } = await runProbe(probe, { service: service(weak), inputs: { requestTimeoutMs: 300, testRegister: 10 } });
    expect(attempt.observations.write).to.deep.equal({ performed: false, register: 10, reason: 'destructive probes are not allowed in this run' });
  });

  describe('against pymodbus (python3-pymodbus, not ours)', () => {
    let server: PymodbusServer;
    before(async function () {
      server = await startPymodbus(requirePymodbus(this));
    });
    after(async () => server?.close());

    it('reads unauthenticated; the test write restores the register and leaves the whole map identical', async () => {
      const sizes = { holdingRegisters: 100, inputRegisters: 100, coils: 64, discreteInputs: 64 };
      const before = await readWholeMap(server.port, 1, sizes);
      const { attempt } = await runProbe(probe, {
        service: service(server), allow: ['passive', 'active', 'destructive'], inputs: { requestTimeoutMs: 500, testRegister: 10 },
      });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(await readWholeMap(server.port, 1, sizes)).to.deep.equal(before);
      expect(codes(attempt)).to.deep.equal(['modbus.access.no-peer-authentication', 'modbus.access.unauthenticated-read', 'modbus.access.unauthenticated-write']);
      expect(attempt.observations.write).to.deep.include({ original: 110, written: 111, readBack: 111, afterRestore: 110, restored: true });
      const reads = (attempt.observations as { reads: { table: string; values?: number[] }[] }).reads;
      expect(reads.find((r) => r.table === 'holding-registers')?.values).to.deep.equal([100, 101, 102, 103, 104, 105, 106, 107]);
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'modbus', unitId: 1 }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
