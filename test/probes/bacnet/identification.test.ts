import { expect } from 'chai';
import probe, { identityMismatches } from '../../../probes/bacnet/identification';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { closedUdpPort, garbageUdpServer, silentUdpServer } from '../../../fixtures/udp-servers';
import { ERROR_CLASS, ERROR_CODE, encodeError, unicastDatagram } from '../../../src/protocols/bacnet';
import { bacnetPosture, nmapBacnetInfo, scriptedBacnetServer } from '../../helpers/bacnet';
import { requirePeer, requireRoot } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const service = (port: number) => ({ port, protocol: 'bacnet' as const });

describe('probe bacnet.identification', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(bacnetPosture('weak'), { ephemeralPorts: true }), startEmulator(bacnetPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });
  const port = (e: Emulator) => e.endpoint('bacnet').port;

  it('hardened: vendor, model, firmware, name, location and serial of the device object; positive, partial evidence for CR 7.8', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(port(hardened)) });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes).to.have.length(1);
    expect(attempt.outcomes[0]).to.include({ requirement: 'CR 7.8', verdict: 'pass', coverage: 'partial' });
    expect(attempt.observations).to.include({ deviceInstance: 27808, instanceVia: 'wildcard', wildcard: 'acknowledged' });
    expect(attempt.observations.identity).to.deep.equal({
      vendorId: 0, vendorName: 'Example Automation', modelName: 'EPLC-1', firmwareRevision: '1.0.0', applicationSoftwareVersion: '1.0.0',
      objectName: 'EPLC-1-27808', description: 'Example Automation EPLC-1 BACnet/IP interface', location: 'Plant room 1', serialNumber: 'SN-HARD-0001',
    });
    expect(attempt.findings).to.deep.equal([]);
    // The first request as sent: Original-Unicast-NPDU, expecting reply, ReadProperty device,4194303 object-identifier.
    expect(read(attempt.evidence.find((e) => e.endsWith('.txt'))!)).to.match(/> 81 0a 00 11 01 04 00 05 [0-9a-f]{2} 0c 0c 02 3f ff ff 19 4b\n/)
      .and.to.match(/ReadProperty device,27808 model-name \(ReadProperty, invoke id \d+\) to 127\.0\.0\.1:\d+\/udp/);
  });

  it('weak: the same facts; a profile naming another firmware and serial gets identity-mismatch (info), CR 7.8 still passes', async () => {
    const { attempt } = await runProbe(probe, { service: service(port(weak)) });
    expect(attempt.status, attempt.message).to.equal('pass');
    const identity = attempt.observations.identity as Record<string, unknown>;
    expect(identity).to.include({ serialNumber: 'SN-WEAK-0001', location: 'Plant room 1' });
    expect(identityMismatches(identity, { model: 'EPLC-1', firmware: '2.0', serial: 'SN-WEAK-0001' })).to.deep.equal(['firmware revision "1.0.0" (profile: "2.0")']);
  });

  it('compares model, firmware and (when read) serial with the profile', () => {
    const identity = { modelName: 'UC-32 Controller', firmwareRevision: 'v3.1.4' };
    expect(identityMismatches(identity, { model: 'uc-32', firmware: '3.1.4', serial: 'X-1' })).to.deep.equal([]);
    expect(identityMismatches({ ...identity, serialNumber: 'X-2' }, { model: 'UC-40', serial: 'X-1' })).to.have.length(2);
  });

  it('a device that refuses the wildcard and does not answer Who-Is: no-identity (info), CR 7.8 not determined', async () => {
    const peer = await scriptedBacnetServer(({ apdu }) => (apdu?.type === 'confirmed' ? unicastDatagram(encodeError(apdu.invokeId, apdu.service, ERROR_CLASS.object, ERROR_CODE.unknownObject), false) : null));
    try {
      const { attempt } = await runProbe(probe, { service: service(peer.port), inputs: { requestTimeoutMs: 200, udpRetries: 0 } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(codes(attempt)).to.deep.equal(['bacnet.identification.no-identity']);
      expect(attempt.observations).to.include({ wildcard: 'Error object/unknown-object', whoIs: 'no-answer' });
    } finally {
      await peer.close();
    }
  });

  it('nmap bacnet-info (not ours) reports the identity we observe', async function () {
    this.timeout(60_000);
    const nmap = requirePeer(this, 'nmap');
    requireRoot(this, 'nmap -sU needs raw sockets');
    const { attempt } = await runProbe(probe, { service: service(port(weak)) });
    const ours = attempt.observations.identity as Record<string, string | number>;
    const theirs = await nmapBacnetInfo(nmap, port(weak));
    expect(theirs, 'nmap printed no bacnet-info result').to.not.deep.equal({});
    expect(theirs).to.deep.equal({
      'Vendor ID': `ASHRAE (${ours.vendorId})`, 'Vendor Name': ours.vendorName, 'Object-identifier': String(attempt.observations.deviceInstance),
      Firmware: ours.firmwareRevision, 'Application Software': ours.applicationSoftwareVersion, 'Object Name': ours.objectName,
      'Model Name': ours.modelName, Description: ours.description, Location: ours.location,
    });
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
