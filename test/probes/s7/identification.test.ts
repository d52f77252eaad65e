import { expect } from 'chai';
import probe, { identityMismatches } from '../../../probes/s7/identification';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { ROSCTR } from '../../../src/protocols/s7';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { asNmapFields, nmapS7Info, requireSnap7, s7Posture, scriptedS7Server, startSnap7, type Snap7Peer } from '../../helpers/s7';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const service = (port: number) => ({ port, protocol: 's7' as const });

describe('probe s7.identification', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(s7Posture('weak'), { ephemeralPorts: true }), startEmulator(s7Posture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('hardened: module, firmware and serial from SZL 0x0011/0x001C; positive, partial evidence for CR 7.8', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(hardened.endpoint('s7').port) });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes).to.have.length(1);
    expect(attempt.outcomes[0]).to.include({ requirement: 'CR 7.8', verdict: 'pass', coverage: 'partial' });
    expect(attempt.observations.identity).to.deep.equal({
      module: 'EPLC1', basicHardware: 'EPLC1', firmware: 'V1.0.0', systemName: 'EPLC-1', moduleName: 'Example Automation EPLC-1',
      copyright: 'Example Automation', serial: 'SN-HARD-0001', moduleTypeName: 'EPLC-1',
    });
    expect(attempt.observations.tsap).to.equal('0x0102');
    const transcript = read(attempt.evidence.find((e) => e.endsWith('s7-identification.txt'))!);
    // COTP CR (calling 0x0100, called 0x0102), setup communication, SZL 0x0011 index 0: every byte we send is evidence.
    expect(transcript).to.match(/> 03 00 00 16 11 e0 00 00 00 01 00 c0 01 0a c1 02 01 00 c2 02 01 02/)
      .and.match(/> 03 00 00 19 02 f0 80 32 01 00 00 00 01 00 08 00 00 f0 00 00 01 00 01 01 e0/)
      .and.match(/> 03 00 00 21 02 f0 80 32 07 00 00 00 02 00 08 00 08 00 01 12 04 11 44 01 00 ff 09 00 04 00 11 00 00/);
  });

  it('weak: the same identity; a profile naming another firmware and serial gets identity-mismatch (info)', async () => {
    const { attempt } = await runProbe(probe, { service: service(weak.endpoint('s7').port) });
    expect(attempt.status).to.equal('pass');
    expect((attempt.observations.identity as Record<string, string>).serial).to.equal('SN-WEAK-0001');
    expect(identityMismatches(attempt.observations.identity as Record<string, string>, { model: 'EPLC-1', firmware: '2.0', serial: 'SN-WEAK-0001' }))
      .to.deep.equal(['firmware "V1.0.0" (profile: "2.0")']);
  });

  it('a CPU that refuses both identification lists: unsupported (info), CR 7.8 not determined', async () => {
    const refusing = await scriptedS7Server((pdu) => (pdu.rosctr === ROSCTR.userData
      ? { rosctr: ROSCTR.userData, pduRef: pdu.pduRef, param: Buffer.from([0, 1, 0x12, 8, 0x12, 0x84, 1, 0, 0, 0, 0xd4, 0x01]), data: Buffer.from([0x0a, 0, 0, 0]) }
      : null));
    try {
      const { attempt } = await runProbe(probe, { service: service(refusing.port), inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(codes(attempt)).to.deep.equal(['s7.identification.unsupported']);
    } finally {
      await refusing.close();
    }
  });

  it('compares the reported identity with the profile\'s model, firmware and serial', () => {
    const identity = { module: '6ES7 315-2EH14-0AB0', moduleName: 'CPU 315-2 PN/DP', firmware: 'V3.2.6', serial: 'S C-C2UR28922012' };
    expect(identityMismatches(identity, { model: 'CPU 315-2', firmware: 'v3.2.6', serial: 'S C-C2UR28922012' })).to.deep.equal([]);
    expect(identityMismatches(identity, {})).to.deep.equal([]);
    expect(identityMismatches(identity, { model: 'CPU 1511', serial: 'X' })).to.have.length(2);
  });

  describe('against snap7\'s S7Server (node-snap7, not ours) and nmap s7-info', () => {
    let snap7: Snap7Peer;
    before(async function () {
      requireSnap7(this);
      snap7 = await startSnap7();
    });
    after(async () => snap7?.close());

    it('reads snap7\'s identity, and every field nmap s7-info reports is equal to ours', async function () {
      this.timeout(40_000);
      const { attempt } = await runProbe(probe, { service: service(snap7.port) });
      expect(attempt.status, attempt.message).to.equal('pass');
      const identity = attempt.observations.identity as Record<string, string>;
      expect(identity).to.include({ module: '6ES7 315-2EH14-0AB0', firmware: 'V3.2.6', systemName: 'SNAP7-SERVER', moduleName: 'CPU 315-2 PN/DP', serial: 'S C-C2UR28922012' });
      const nmap = await nmapS7Info(this, snap7.port);
      expect(Object.keys(nmap)).to.include.members(['Module', 'Basic Hardware', 'Version', 'System Name', 'Module Type', 'Serial Number', 'Copyright']);
      expect(asNmapFields(identity, nmap)).to.deep.equal(nmap);
    });

    it('nmap s7-info agrees with us on the emulated CPU too', async function () {
      this.timeout(40_000);
      const port = hardened.endpoint('s7').port;
      const { attempt } = await runProbe(probe, { service: service(port) });
      const nmap = await nmapS7Info(this, port);
      expect(Object.keys(nmap)).to.include.members(['Module', 'Version', 'System Name', 'Serial Number']);
      expect(asNmapFields(attempt.observations.identity as Record<string, string>, nmap)).to.deep.equal(nmap);
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 's7' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
