import { expect } from 'chai';
import probe, { identityMismatches } from '../../../probes/modbus/identification';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { type TestServer } from '../../../fixtures/servers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { modbusPosture, scriptedModbusServer } from '../../helpers/modbus';
import { requirePymodbus, startPymodbus, type PymodbusServer } from '../../helpers/pymodbus';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const port = (e: Emulator | TestServer | PymodbusServer) => ('endpoint' in e ? e.endpoint('modbus').port : e.port);

describe('probe modbus.identification', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    weak = await startEmulator(modbusPosture('weak'), { ephemeralPorts: true });
    hardened = await startEmulator(modbusPosture('hardened'), { ephemeralPorts: true });
  });
  after(async () => {
    await weak?.close();
    await hardened?.close();
  });

  it('hardened: basic and regular objects are reported; positive, partial evidence for CR 7.8', async () => {
    const { attempt, read } = await runProbe(probe, { service: { port: port(hardened), protocol: 'modbus', unitId: 1 } });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes).to.have.length(1);
    expect(attempt.outcomes[0]).to.include({ requirement: 'CR 7.8', verdict: 'pass', coverage: 'partial' });
    expect(attempt.observations.identity).to.deep.equal({
      vendorName: 'Example Automation', productCode: 'EPLC1', majorMinorRevision: '1.0.0', vendorUrl: 'https://www.example.com/eplc-1',
      productName: 'Example Automation EPLC-1', modelName: 'EPLC-1', userApplicationName: 'bench line 1',
    });
    expect(attempt.observations.basic).to.include({ status: 'ok', conformityLevel: '0x82' });
    expect(read(attempt.evidence.find((e) => e.endsWith('.txt'))!)).to.match(/> 00 01 00 00 00 05 01 2b 0e 01 00/);
    expect(attempt.findings).to.deep.equal([]);
  });

  it('weak: 43/14 is not implemented (exception 01): CR 7.8 stays without evidence', async () => {
    const { attempt } = await runProbe(probe, { service: { port: port(weak), protocol: 'modbus', unitId: 1 } });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(codes(attempt)).to.deep.equal(['modbus.identification.unsupported']);
    expect(attempt.observations.basic).to.deep.equal({ status: 'exception', code: 1, name: 'ILLEGAL FUNCTION' });
  });

  it('a device that ignores 43/14 but answers reads: identification unsupported, not an error', async () => {
    const quiet = await scriptedModbusServer((pdu) => (pdu[0] === 0x03 ? Buffer.from([0x03, 0x02, 0x00, 0x07]) : null));
    try {
      const { attempt } = await runProbe(probe, { service: { port: quiet.port, protocol: 'modbus', unitId: 1 }, inputs: { requestTimeoutMs: 200 } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(codes(attempt)).to.deep.equal(['modbus.identification.unsupported']);
      expect(attempt.observations).to.include({ normalRead: 'data' });
      expect(attempt.observations.basic).to.deep.equal({ status: 'no-answer' });
    } finally {
      await quiet.close();
    }
  });

  it('a unit id that answers nothing at all is a timeout', async () => {
    const emu = await startEmulator(modbusPosture('hardened', { otherUnitIds: 'drop' }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: { port: port(emu), protocol: 'modbus', unitId: 9 }, timeoutMs: 5000, inputs: { requestTimeoutMs: 200 } });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('timeout');
    } finally {
      await emu.close();
    }
  });

  it('compares the reported identity with the profile\'s vendor, model and firmware', () => {
    const identity = { vendorName: 'Example Automation', productCode: 'EPLC1', majorMinorRevision: '2.4.1', modelName: 'EPLC-1' };
    expect(identityMismatches(identity, { vendor: 'example automation', model: 'EPLC-1', firmware: '2.4.1' })).to.deep.equal([]);
    expect(identityMismatches(identity, {})).to.deep.equal([]);
    expect(identityMismatches(identity, { vendor: 'Other', firmware: '2.5' })).to.deep.equal([
      'vendor "Example Automation" (profile: "Other")', 'revision "2.4.1" (profile firmware: "2.5")',
    ]);
  });

  describe('against pymodbus (python3-pymodbus, not ours)', () => {
    let server: PymodbusServer;
    before(async function () {
      server = await startPymodbus(requirePymodbus(this));
    });
    after(async () => server?.close());

    it('reads pymodbus\'s identity objects', async () => {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'modbus', unitId: 1 } });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(attempt.observations.identity).to.include({ vendorName: 'pymodbus', productCode: 'PM', majorMinorRevision: '3.0.0', modelName: 'fixture' });
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'modbus', unitId: 1 }), timeoutMs: 3000, inputs: { requestTimeoutMs: 200 },
    reasons: { duplicate: ['protocol', 'timeout', 'not_determined'] }, // an echoed Read Device Identification request carries no objects
  });
});
