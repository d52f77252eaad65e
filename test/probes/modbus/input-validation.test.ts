import { expect } from 'chai';
import probe, { CASES, classify } from '../../../probes/modbus/input-validation';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { encodeFrame } from '../../../src/protocols/modbus';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { modbusPosture, scriptedModbusServer } from '../../helpers/modbus';
import { requirePymodbus, startPymodbus, type PymodbusServer } from '../../helpers/pymodbus';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
type Cases = { cases: { id: string; verdict: string; stillAnswers: boolean }[] };
const byCase = (a: { observations: Record<string, unknown> }) =>
  Object.fromEntries((a.observations as Cases).cases.map((c) => [c.id, c.verdict]));
const FAST = { waitMs: 250, monitorIntervalMs: 100, recoveryMs: 500 };
const modbus = (port: number, unitId = 1) => ({ port, protocol: 'modbus' as const, unitId });

describe('probe modbus.input-validation', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    weak = await startEmulator(modbusPosture('weak', { counter: { periodMs: 50 } }), { ephemeralPorts: true });
    hardened = await startEmulator(modbusPosture('hardened', { counter: { periodMs: 50 } }), { ephemeralPorts: true });
  });
  after(async () => {
    await weak?.close();
    await hardened?.close();
  });

  it('hardened: every invalid request is rejected with the right exception or dropped, and reads keep working', async () => {
    const { attempt, read } = await runProbe(probe, {
      service: modbus(hardened.endpoint('modbus').port),
      inputs: { ...FAST, essentialFunction: { table: 'holding-registers', address: 0, kind: 'counter', periodMs: 50 } },
    });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(Object.values(byCase(attempt))).to.have.length(CASES.length).and.to.satisfy((v: string[]) => v.every((x) => x === 'correct'));
    expect(verdicts(attempt)).to.deep.equal({ 'CR 3.5': 'pass', 'CR 3.7': 'pass' });
    expect(attempt.findings).to.deep.equal([]);
    const ef = attempt.observations.essentialFunction as { failed: number; degraded: boolean; samples: number };
    expect(ef).to.include({ failed: 0, degraded: false });
    expect(ef.samples).to.be.at.least(CASES.length + 1);
    // Every request and response is in the hex transcript.
    const transcript = read(attempt.evidence.find((e) => e.endsWith('modbus-input-validation.txt'))!);
    expect(transcript).to.contain('> 00 01 00 00 00 06 01 03 00 00 00 00').and.contain('< 00 01 00 00 00 03 01 83 03');
    const cases = JSON.parse(read(attempt.evidence.find((e) => e.endsWith('cases.json'))!)) as { id: string; request: string; response: string }[];
    expect(cases.find((c) => c.id === 'illegal-function')).to.include({ request: '00 01 00 00 00 06 01 37 00 00 00 01', response: '00 01 00 00 00 03 01 b7 01' });
  });

  it('without an input, watches the profile\'s essentialFunction.modbus block', async () => {
    const { attempt } = await runProbe(probe, {
      service: modbus(weak.endpoint('modbus').port), inputs: FAST,
      essentialFunction: { modbus: { register: 0, table: 'holding', kind: 'counter', periodMs: 1000 } },
    });
    expect((attempt.observations.essentialFunction as { function: object }).function)
      .to.deep.equal({ unitId: 1, table: 'holding-registers', kind: 'counter', address: 0, periodMs: 1000 });
    expect(attempt.status).to.equal('fail');
  });

  it('weak: out-of-range reads, quantity 0 and over maximum, bad lengths and protocol ids are accepted (fail CR 3.5)', async () => {
    // `register` is the profile's shorthand (essentialFunction.modbus.register) for a holding register.
    const { attempt } = await runProbe(probe, { service: modbus(weak.endpoint('modbus').port), inputs: { ...FAST, essentialFunction: { register: 5 } } });
    expect(attempt.status).to.equal('fail');
    expect((attempt.observations.essentialFunction as { function: object }).function).to.deep.equal({ unitId: 1, table: 'holding-registers', kind: 'value', address: 5 });
    expect(byCase(attempt)).to.deep.equal({
      'illegal-function': 'correct', 'address-out-of-range': 'accepted', 'address-wraps': 'accepted', 'quantity-zero': 'accepted',
      'quantity-above-max-registers': 'accepted', 'quantity-above-max-coils': 'accepted', 'mbap-length-short': 'accepted',
      'mbap-length-oversized': 'accepted', 'wrong-protocol-id': 'accepted', 'truncated-pdu': 'accepted', 'truncated-frame': 'correct',
    });
    expect(codes(attempt)).to.deep.equal(['modbus.input-validation.invalid-request-accepted']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 3.5': 'fail', 'CR 3.7': 'pass' });
  });

  it('a device that stops answering after a malformed frame fails CR 3.5, 3.7 and 7.1, and the rest is not sent', async () => {
    let dead = false;
    const fragile = await scriptedModbusServer((pdu) => {
      if (dead) return null;
      if (pdu[0] === 0x03 && pdu.length === 5 && pdu.readUInt16BE(3) === 0) dead = true; // quantity 0 "crashes" it
      return pdu[0] === 0x03 && pdu.length === 5 && pdu.readUInt16BE(3) <= 125 ? Buffer.from([0x03, 0x02, 0x00, 0x01]) : Buffer.from([pdu[0] | 0x80, 0x01]);
    });
    try {
      const { attempt } = await runProbe(probe, { service: modbus(fragile.port), inputs: { ...FAST, recoveryMs: 300 } });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.include('modbus.input-validation.unresponsive-after-invalid-request');
      expect(verdicts(attempt)).to.deep.include({ 'CR 7.1': 'fail', 'CR 3.5': 'fail', 'CR 3.7': 'fail' });
      const cases = (attempt.observations as Cases).cases;
      expect(cases.map((c) => c.id)).to.deep.equal(['illegal-function', 'address-out-of-range', 'address-wraps', 'quantity-zero']);
      expect(cases[cases.length - 1].stillAnswers).to.equal(false);
    } finally {
      await fragile.close();
    }
  });

  it('classifies wrong exception codes, silence where an exception is due, and foreign transaction ids', () => {
    const zero = CASES.find((c) => c.id === 'quantity-zero')!;
    const frame = (pdu: number[], transactionId = 1) => {
      const bytes = encodeFrame({ transactionId, unitId: 1, pdu: Buffer.from(pdu) });
      return { kind: 'frame' as const, bytes, elapsedMs: 1, frame: { transactionId, protocolId: 0, length: pdu.length + 1, unitId: 1, pdu: Buffer.from(pdu) } };
    };
    expect(classify(zero, frame([0x83, 0x02]), 1).verdict).to.equal('wrong-exception');
    expect(classify(zero, frame([0x83, 0x03]), 1).verdict).to.equal('correct');
    expect(classify(zero, frame([0x83, 0x03], 9), 1).verdict).to.equal('malformed-response');
    expect(classify(zero, { kind: 'no-answer', bytes: Buffer.alloc(0), elapsedMs: 5 }, 1).verdict).to.equal('dropped');
    const framing = CASES.find((c) => c.id === 'truncated-pdu')!;
    expect(classify(framing, { kind: 'closed', reset: true, bytes: Buffer.alloc(0), elapsedMs: 5 }, 1).verdict).to.equal('correct');
    expect(classify(framing, frame([0x03, 0x02, 0x00, 0x00]), 1).verdict).to.equal('accepted');
  });

  describe('against pymodbus (python3-pymodbus, not ours)', () => {
    let server: PymodbusServer;
    before(async function () {
      server = await startPymodbus(requirePymodbus(this));
    });
    after(async () => server?.close());

    it('pymodbus 3.0 rejects bad quantities and addresses but processes a frame with protocol id 1', async () => {
      const { attempt } = await runProbe(probe, { service: modbus(server.port), inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      const cases = byCase(attempt);
      expect(cases['wrong-protocol-id']).to.equal('accepted');
      for (const id of ['illegal-function', 'address-out-of-range', 'address-wraps', 'quantity-zero', 'quantity-above-max-registers', 'quantity-above-max-coils']) {
        expect(cases[id], id).to.equal('correct');
      }
      expect(codes(attempt)).to.deep.equal(['modbus.input-validation.invalid-request-accepted']);
      expect((attempt.observations as Cases).cases.every((c) => c.stillAnswers)).to.equal(true);
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => modbus(port), timeoutMs: 3000, inputs: FAST });
});
