import { expect } from 'chai';
import probe, { identityMismatches } from '../../../probes/dnp3/identification';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { FUNCTION, IIN } from '../../../src/protocols/dnp3';
import { dnp3Posture, scriptedDnp3Server } from '../../helpers/dnp3';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const service = (port: number) => ({ port, protocol: 'dnp3' as const, options: { outstationAddress: 1024 } });

describe('probe dnp3.identification', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(dnp3Posture('weak'), { ephemeralPorts: true }), startEmulator(dnp3Posture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: link status, then the device attributes name manufacturer, product, software and serial (partial pass of CR 7.8)', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(weak.endpoint('dnp3').port) });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 7.8', 'pass', 'partial']]);
    expect(attempt.observations.linkStatus).to.equal('LINK_STATUS');
    expect(attempt.observations.identity).to.deep.include({
      manufacturer: 'Example Automation', productName: 'EPLC-1', softwareVersion: '1.0.0', serial: 'SN-WEAK-0001', maxTxFragment: '2048',
    });
    const transcript = read(attempt.evidence.find((e) => e.endsWith('dnp3-identification.txt'))!);
    // REQUEST_LINK_STATUS from 1 to 1024, then READ g0v254 (qualifier 0x00, 0..0) with its CRCs.
    expect(transcript).to.match(/> 05 64 05 c9 00 04 01 00 [0-9a-f]{2} [0-9a-f]{2}\n/).and.match(/> 05 64 0d c4 00 04 01 00 .. .. c0 c0 01 00 fe 00 00 00/);
  });

  it('hardened: attributes stay readable under SAv5 (only point data is critical there)', async () => {
    const { attempt } = await runProbe(probe, { service: service(hardened.endpoint('dnp3').port) });
    expect(attempt.status).to.equal('pass');
    expect((attempt.observations.identity as Record<string, string>).serial).to.equal('SN-HARD-0001');
  });

  it('an outstation without device attributes: unsupported (info), CR 7.8 not determined', async () => {
    const emu = await startEmulator(dnp3Posture('weak', { attributes: false }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: service(emu.endpoint('dnp3').port) });
      expect(attempt.status).to.equal('not_determined');
      expect(codes(attempt)).to.deep.equal(['dnp3.identification.unsupported']);
      expect(attempt.observations.attributes).to.equal('not processed, IIN device-restart object-unknown');
    } finally {
      await emu.close();
    }
  });

  it('another outstation\'s attributes; a profile naming another vendor and firmware gets identity-mismatch (info)', async () => {
    // g0v252 "Acme.", g0v250 "RTU-9", g0v242 "2.1": three attributes of set 0, visible strings.
    const peer = await scriptedDnp3Server((r) => (r.fn === FUNCTION.read
      ? { objects: Buffer.from('00fc000000010541636d652e' + '00fa00000001055254552d39' + '00f20000000103322e31', 'hex') } : null));
    try {
      const { attempt } = await runProbe(probe, { service: service(peer.port) });
      expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
      expect(attempt.observations.identity).to.deep.equal({ manufacturer: 'Acme.', productName: 'RTU-9', softwareVersion: '2.1' });
      expect(identityMismatches(attempt.observations.identity as Record<string, string>, { vendor: 'Example Automation', model: 'RTU-9', firmware: '2.1' }))
        .to.deep.equal(['manufacturer "Acme." (profile vendor: "Example Automation")']);
    } finally {
      await peer.close();
    }
  });

  it('attributes without the software version: incomplete (info), CR 7.8 not determined', async () => {
    const peer = await scriptedDnp3Server((r) => (r.fn === FUNCTION.read ? { objects: Buffer.from('00fc000000010541636d652e' + '00fa00000001055254552d39', 'hex') } : null));
    try {
      const { attempt } = await runProbe(probe, { service: service(peer.port) });
      expect(attempt.status).to.equal('not_determined');
      expect(codes(attempt)).to.deep.equal(['dnp3.identification.incomplete']);
    } finally {
      await peer.close();
    }
  });

  it('a wrong outstation address is silence to both requests: a timeout error, never a verdict', async () => {
    const { attempt } = await runProbe(probe, { service: { port: weak.endpoint('dnp3').port, protocol: 'dnp3', unitId: 10 }, inputs: { requestTimeoutMs: 300 }, timeoutMs: 5000 });
    expect(attempt.status).to.equal('error');
    expect(attempt.reason).to.equal('timeout');
    expect(attempt.message).to.match(/outstation 10/);
  });

  it('an answer with a function-not-supported IIN is not an identity', async () => {
    const peer = await scriptedDnp3Server(() => ({ iin: IIN['no-func-code-support'] }));
    try {
      const { attempt } = await runProbe(probe, { service: service(peer.port) });
      expect(attempt.status).to.equal('not_determined');
      expect(codes(attempt)).to.deep.equal(['dnp3.identification.unsupported']);
    } finally {
      await peer.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'dnp3' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
