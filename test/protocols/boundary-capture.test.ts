import { expect } from 'chai';
import type { Capture, Endpoint } from '../../src/protocols/boundary/endpoint';
import { stopCapture, stopFarCapture } from '../../src/protocols/boundary/flows';
import type { CapturedPacket } from '../../src/protocols/boundary/pcap';
import { classifyError } from '../../src/runner/attempt';
import { InstrumentFailure } from '../../src/sdk';

// The far capture's liveness marker (a capture that started late would read crossed flows as blocked): judged on
// the packets a capture returns, so these cases need no namespace. The probes' tests run it on real captures.
const far = { address: '198.18.9.2', namespace: 'n', interface: 'i', zone: { name: 'plant', endpoint: { gateway: '198.18.9.1' } } } as unknown as Endpoint;
const syn: CapturedPacket = { src: '198.18.8.2', dst: far.address, protocol: 'tcp', dport: 502, tcpFlags: 0x02 };
const marker: CapturedPacket = { src: far.address, dst: '198.18.9.1', protocol: 'udp', dport: 9 };
const captured = (packets: CapturedPacket[]): Capture => ({ stop: () => Promise.resolve({ packets, file: 'f.pcap', dropped: 0 }) });

describe('boundary far capture: the liveness marker', () => {
  it('a capture without its marker is refused (it may have missed the first flows) as an instrument failure, not a bug', async () => {
    const refused = await stopFarCapture(captured([syn]), far).then(() => undefined, (e: unknown) => e as Error);
    expect(refused).to.be.instanceOf(InstrumentFailure);
    expect(refused?.message).to.match(/does not hold its own marker datagram/);
    // The attempt's reason: no stack trace, and nothing that tells the engineer to report a defect.
    expect(classifyError(refused)).to.deep.equal({ reason: 'instrument', message: refused?.message });
  });

  it('a capture that dropped packets, or gave no drop count, is refused as an instrument failure', async () => {
    for (const dropped of [3, undefined]) {
      const capture: Capture = { stop: () => Promise.resolve({ packets: [marker, syn], file: 'f.pcap', dropped }) };
      const refused = await stopCapture(capture).then(() => undefined, (e: unknown) => e as Error);
      expect(refused, String(dropped)).to.be.instanceOf(InstrumentFailure);
      expect(classifyError(refused).reason).to.equal('instrument');
    }
  });

  it('with the marker: the flows are kept and the marker is left out', async () => {
    const { packets } = await stopFarCapture(captured([marker, syn]), far);
    expect(packets).to.deep.equal([syn]);
  });

  it('a datagram from the near side to port 9 is a flow, not the marker', async () => {
    const udp9: CapturedPacket = { src: '198.18.8.2', dst: far.address, protocol: 'udp', dport: 9 };
    const { packets } = await stopFarCapture(captured([marker, udp9]), far);
    expect(packets).to.deep.equal([udp9]);
  });
});
