import { expect } from 'chai';
import probe from '../../../probes/bacnet/bbmd';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { closedUdpPort, garbageUdpServer, silentUdpServer } from '../../../fixtures/udp-servers';
import { BVLC, encodeBvlc } from '../../../src/protocols/bacnet';
import { bacnetPosture, scriptedBacnetServer } from '../../helpers/bacnet';
import { runProbe } from '../../helpers/probe-harness';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const service = (port: number) => ({ port, protocol: 'bacnet' as const });
const result = (code: number) => encodeBvlc(BVLC.result, Buffer.from([code >> 8, code & 0xff]));

describe('probe bacnet.bbmd', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(bacnetPosture('weak'), { ephemeralPorts: true }), startEmulator(bacnetPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });
  const port = (e: Emulator) => e.endpoint('bacnet').port;

  it('weak: tables disclosed, our registration accepted (fails CR 2.1 and NDR 5.2), found in the FDT and deleted again', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(port(weak)) });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['bacnet.bbmd.bdt-disclosed', 'bacnet.bbmd.fdt-disclosed', 'bacnet.bbmd.foreign-device-accepted']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 2.1': 'fail', 'NDR 5.2': 'fail' });
    expect(attempt.observations.bdt).to.deep.equal([
      { address: '127.0.0.1', port: port(weak), mask: '255.255.255.255' }, { address: '192.0.2.20', port: 47808, mask: '255.255.255.255' },
    ]);
    expect(attempt.observations.fdt).to.deep.equal([{ address: '198.51.100.7', port: 47808, ttl: 300, remaining: 330 }]);
    const registration = attempt.observations.registration as { entry: { address: string; ttl: number }; removed: boolean; deleteAnswer: string };
    expect(registration).to.include({ accepted: true, refused: false, removed: true, deleteAnswer: 'acknowledged' });
    expect(registration.entry).to.include({ address: '127.0.0.1', ttl: 30 });
    // Register-Foreign-Device with a TTL of 30 s, as sent.
    expect(read(attempt.evidence.find((e) => e.endsWith('.txt'))!)).to.match(/> 81 05 00 06 00 1e\n/);
  });

  it('hardened (no BBMD): every request NAKed; the Register-Foreign-Device NAK passes CR 2.1 and NDR 5.2 (partial)', async () => {
    const { attempt } = await runProbe(probe, { service: service(port(hardened)) });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 2.1': 'pass', 'NDR 5.2': 'pass' });
    expect(attempt.observations).to.deep.include({
      bdt: 'BVLC-Result Read-Broadcast-Distribution-Table NAK', fdt: 'BVLC-Result Read-Foreign-Device-Table NAK',
      registration: { answer: 'BVLC-Result Register-Foreign-Device NAK', accepted: false, refused: true },
    });
  });

  it('a registration answered with another NAK code (Delete-FDT-Entry NAK) is no refusal of registration: nothing judged', async () => {
    const peer = await scriptedBacnetServer(({ fn }) => (fn === BVLC.registerForeignDevice ? result(0x0050) : result(fn === BVLC.readBdt ? 0x0020 : 0x0040)));
    try {
      const { attempt } = await runProbe(probe, { service: service(peer.port), inputs: { requestTimeoutMs: 200 } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/Delete-Foreign-Device-Table-Entry NAK/);
    } finally {
      await peer.close();
    }
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
