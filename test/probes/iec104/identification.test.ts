import { expect } from 'chai';
import probe from '../../../probes/iec104/identification';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { COT, encodeAsdu } from '../../../src/protocols/iec104';
import { iec104Posture, iec104Services, scriptedIec104Server } from '../../helpers/iec104';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

describe('probe iec104.identification', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(iec104Posture('weak'), { ephemeralPorts: true }), startEmulator(iec104Posture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: TESTFR, STARTDT and a station interrogation report ASDU address 1 and 7 information objects (CR 7.8 partial pass)', async () => {
    const { attempt, read } = await runProbe(probe, iec104Services(weak));
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 7.8', 'pass', 'partial']]);
    expect(attempt.observations).to.deep.include({ testFrame: 'confirmed', startDt: 'confirmed', interrogatedOver: 'plain', stopDt: 'confirmed' });
    expect(attempt.observations.interrogation).to.deep.equal({
      confirmation: 'positive', end: 'actterm', asduAddresses: [1], informationObjects: 7, types: { M_SP_NA_1: 4, M_ME_NC_1: 2, M_ME_NB_1: 1 },
    });
    expect((attempt.observations.points as unknown[])[4]).to.deep.equal({ ioa: 200, type: 'M_ME_NC_1', value: 230.5 });
    // nmap iec-identify's TESTFR, STARTDT and C_IC_NA_1 bytes, as sent.
    const transcript = read(attempt.evidence.find((e) => e.endsWith('iec104-identification.txt'))!);
    expect(transcript).to.match(/> 68 04 43 00 00 00\n/).and.match(/> 68 04 07 00 00 00\n/).and.match(/> 68 0e 00 00 00 00 64 01 06 00 ff ff 00 00 00 14\n/);
  });

  it('hardened, IEC 62351-3 declared with the bench client certificate: the plain port hangs up on STARTDT and the interrogation runs over TLS', async () => {
    const { attempt } = await runProbe(probe, iec104Services(hardened));
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.observations.startDt).to.equal('connection closed');
    expect(attempt.observations.interrogatedOver).to.match(/^IEC 62351-3 \(127\.0\.0\.1:\d+\)$/);
    expect(attempt.observations.interrogation).to.deep.include({ asduAddresses: [1], informationObjects: 7 });
  });

  it('hardened without a client certificate for the IEC 62351-3 service: nothing is reported, CR 7.8 not determined', async () => {
    const { attempt } = await runProbe(probe, iec104Services(hardened, false));
    expect(attempt.status, attempt.message).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.note).to.match(/hangs up on STARTDT .* no IEC 62351-3 service with a client certificate is declared/);
  });

  it('an outstation that refuses the interrogation (negative confirmation) reports nothing: an info finding, no pass', async () => {
    const peer = await scriptedIec104Server({ onAsdu: (a, reply) => [reply(encodeAsdu({ ...a, cause: COT.activationCon, negative: true }))] });
    try {
      const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'iec104' } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['iec104.identification.interrogation-refused', 'info']]);
      expect(attempt.outcomes).to.deep.equal([]);
    } finally {
      await peer.close();
    }
  });

  it('a peer that confirms TESTFR but never STARTDT is a timeout, not a verdict', async () => {
    const peer = await scriptedIec104Server({ onU: (fn) => (fn === 'startdtAct' ? null : undefined) });
    try {
      const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'iec104' }, timeoutMs: 5000, inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('timeout');
    } finally {
      await peer.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'iec104' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
