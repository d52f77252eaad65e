import { expect } from 'chai';
import probe from '../../../probes/s7/security';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { requireSnap7, s7Posture, startSnap7, type Snap7Peer } from '../../helpers/s7';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const service = (port: number) => ({ port, protocol: 's7' as const });

describe('probe s7.security', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(s7Posture('weak'), { ephemeralPorts: true }), startEmulator(s7Posture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: PUT/GET served over classic S7comm, no S7comm-plus TSAP (fail CR 3.1, 4.1)', async () => {
    const { attempt } = await runProbe(probe, { service: service(weak.endpoint('s7').port) });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['s7.security.putget-enabled']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 3.1': 'fail', 'CR 4.1': 'fail' });
    expect(attempt.observations.classic).to.deep.include({ offered: true, tsap: '0x0102', putGet: { area: 'DB1.0+1', answer: 'data (1 bytes)', served: true } });
    expect(attempt.observations.s7commPlus).to.deep.equal({ tsap: 'SIMATIC-ROOT-HMI', cotp: 'refused (COTP disconnect request, reason 3)' });
  });

  it('hardened: PUT/GET refused (0x8104) and TLS 1.3 inside COTP after InitSsl: partial pass of CR 3.1, 4.1', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(hardened.endpoint('s7').port) });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 3.1', 'pass', 'partial'], ['CR 4.1', 'pass', 'partial']]);
    const plus = attempt.observations.s7commPlus as { cotp: string; initSsl: Record<string, unknown>; tls: { status: string; protocol: string; cipher: string; certificate: { subject: string } } };
    expect(plus.cotp).to.equal('accepted');
    expect(plus.initSsl).to.deep.equal({ status: 'response', protocolVersion: 1, sequence: 1, returnValue: '0x0', accepted: true });
    expect(plus.tls).to.include({ status: 'established', protocol: 'TLSv1.3' });
    expect(plus.tls.certificate.subject).to.contain('SN-HARD-0001');
    const transcript = read(attempt.evidence.find((e) => e.endsWith('s7-security.txt'))!);
    // CR to "SIMATIC-ROOT-HMI" from 0x0600, then the InitSsl request (72 01 00 12 31 ... 05 b3 ... 30 ... 72 01 00 00).
    expect(transcript).to.match(/> 03 00 00 24 1f e0 00 00 00 01 00 c0 01 0a c1 02 06 00 c2 10 53 49 4d 41 54 49 43 2d 52 4f 4f 54 2d 48 4d 49/)
      .and.match(/> 03 00 00 21 02 f0 80 72 01 00 12 31 00 00 05 b3 00 00 00 01 00 00 00 00 30 00 00 00 00 72 01 00 00/);
  });

  it('S7comm-plus that refuses InitSsl (legacy firmware): tls-not-offered fails CR 3.1, 4.1', async () => {
    const emu = await startEmulator(s7Posture('hardened', { s7commPlus: 'legacy' }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: service(emu.endpoint('s7').port) });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['s7.security.tls-not-offered']);
      expect((attempt.observations.s7commPlus as { initSsl: { accepted: boolean } }).initSsl.accepted).to.equal(false);
    } finally {
      await emu.close();
    }
  });

  it('PUT/GET refused and no S7comm-plus: nothing protects engineering traffic either way, so not determined', async () => {
    const emu = await startEmulator(s7Posture('hardened', { s7commPlus: 'off' }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: service(emu.endpoint('s7').port) });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.note).to.match(/not determined/);
    } finally {
      await emu.close();
    }
  });

  describe('against snap7\'s S7Server (node-snap7, not ours)', () => {
    let snap7: Snap7Peer;
    before(async function () {
      requireSnap7(this);
      snap7 = await startSnap7();
    });
    after(async () => snap7?.close());

    it('PUT/GET served; snap7 confirms any TSAP, SIMATIC-ROOT-HMI too, but hangs up on InitSsl: no S7comm-plus claimed', async () => {
      const { attempt } = await runProbe(probe, { service: service(snap7.port) });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['s7.security.putget-enabled']);
      expect(attempt.observations.s7commPlus).to.deep.equal({ tsap: 'SIMATIC-ROOT-HMI', cotp: 'accepted', initSsl: { status: 'closed', reset: false } });
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 's7' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
