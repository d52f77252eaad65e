import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import probe, { identityMismatches } from '../../../probes/enip/identity';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { closedUdpPort, garbageUdpServer, silentUdpServer } from '../../../fixtures/udp-servers';
import { COMMANDS, type CipIdentity } from '../../../src/protocols/enip';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { enipPosture, scriptedEnipServer } from '../../helpers/enip';
import { requirePeer, requireRoot } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';

const run = promisify(execFile);
const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();

describe('probe enip.identity', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(enipPosture('weak'), { ephemeralPorts: true }), startEmulator(enipPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });
  const port = (e: Emulator) => e.endpoint('enip').port;

  it('weak, TCP: the identity, the Communications service and no interfaces; positive, partial evidence for CR 7.8', async () => {
    const { attempt, read } = await runProbe(probe, { service: { port: port(weak), protocol: 'enip' } });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes).to.have.length(1);
    expect(attempt.outcomes[0]).to.include({ requirement: 'CR 7.8', verdict: 'pass', coverage: 'partial' });
    expect(attempt.observations.identity).to.include({
      vendorId: 0, deviceType: 14, deviceTypeName: 'Programmable Logic Controller', productCode: 1, revision: '1.0', status: '0x0030',
      productName: 'Example Automation EPLC-1', state: 3, encapsulationVersion: 1, socketAddress: `127.0.0.1:${port(weak)}`,
    });
    expect(attempt.observations.identity).to.have.property('serialNumber').that.matches(/^0x[0-9a-f]{8}$/);
    expect(attempt.observations.services).to.deep.equal([{ name: 'Communications', version: 1, tcp: true, udpClass01: true }]);
    expect(attempt.observations).to.include({ transport: 'tcp', interfaces: 0 });
    expect(attempt.observations).to.not.have.property('cipSecurity');
    expect(attempt.findings).to.deep.equal([]);
    // The request as sent: ListIdentity, length 0, session 0, status 0, our sender context, options 0.
    expect(read(attempt.evidence.find((e) => e.endsWith('.txt'))!)).to.match(/> 63 00 00 00 00 00 00 00 00 00 00 00 69 61 63 73 01 00 00 00 00 00 00 00/);
  });

  it('hardened, TCP: the identity with the CIP Security Information item; ListServices refused (0x006A) is an observation', async () => {
    const { attempt } = await runProbe(probe, { service: { port: port(hardened), protocol: 'enip' } });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.observations.cipSecurity).to.deep.equal({
      profiles: ['EtherNet/IP Integrity', 'EtherNet/IP Confidentiality'], cipSecurityState: 'configured', enipSecurityState: 'configured',
      openPorts: ['44818/tcp', '44818/udp', '2221/tcp', '2221/udp'],
    });
    expect(attempt.observations.services).to.equal('refused with encapsulation status 0x006a (encapsulated CIP service not allowed on this port)');
  });

  it('UDP: ListIdentity and ListServices as unicast datagrams to the declared port', async () => {
    const { attempt, read } = await runProbe(probe, { service: { port: port(hardened), protocol: 'enip', transport: 'udp' } });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.observations).to.include({ transport: 'udp' });
    expect(attempt.observations.identity).to.include({ productName: 'Example Automation EPLC-1' });
    expect(attempt.observations.services).to.deep.equal([{ name: 'Communications', version: 1, tcp: true, udpClass01: true }]);
    expect(read(attempt.evidence.find((e) => e.endsWith('udp.txt'))!)).to.match(/ListIdentity over UDP to 127\.0\.0\.1:\d+\/udp/);
  });

  it('a device that refuses ListIdentity: no identity, CR 7.8 stays without evidence', async () => {
    const peer = await scriptedEnipServer(() => ({ status: 0x0001 }));
    try {
      const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'enip' } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(codes(attempt)).to.deep.equal(['enip.identity.no-identity']);
    } finally {
      await peer.close();
    }
  });

  it('a ListIdentity reply whose item overruns the message is no identity either', async () => {
    const peer = await scriptedEnipServer((r) => (r.command === COMMANDS.listIdentity ? { data: Buffer.from('01000c00ff00', 'hex') } : null));
    try {
      const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'enip' }, inputs: { requestTimeoutMs: 200 } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.findings[0].message).to.match(/runs past the message/);
    } finally {
      await peer.close();
    }
  });

  it('compares the product name, revision and a numeric serial with the profile', () => {
    const id = { productName: 'Example Automation EPLC-1', revision: { major: 2, minor: 4 }, serialNumber: 0x1234 } as CipIdentity;
    expect(identityMismatches(id, { model: 'eplc-1', firmware: '2.4.1', serial: '0x1234' })).to.deep.equal([]);
    expect(identityMismatches(id, { serial: 'SN-0001' })).to.deep.equal([]); // not numeric: not comparable
    expect(identityMismatches(id, { model: 'EPLC-2', firmware: '2.5', serial: '4661' })).to.deep.equal([
      'product name "Example Automation EPLC-1" (profile model: "EPLC-2")', 'revision 2.4 (profile firmware: "2.5")', 'serial number 0x1234 (profile: 4661)',
    ]);
  });

  describe('nmap enip-info (not ours) reports the identity we observe, over TCP and UDP', () => {
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false });
    const nmapIdentity = async (nmap: string, scan: '-sT' | '-sU', p: number) => {
      const { stdout } = await run(nmap, ['-Pn', '-n', scan, '-p', String(p), '--script', '+enip-info', '-oX', '-', '127.0.0.1'], { timeout: 60_000 });
      const doc = parser.parse(stdout) as { nmaprun: { host: { ports: { port: { script?: { elem: { key: string; '#text': string }[] } } } } } };
      const elems = doc.nmaprun.host.ports.port.script?.elem ?? [];
      return Object.fromEntries(elems.map((e) => [e.key, String(e['#text'])]));
    };
    for (const scan of ['-sT', '-sU'] as const) {
      it(`nmap ${scan}`, async function () {
        const nmap = requirePeer(this, 'nmap');
        if (scan === '-sU') requireRoot(this, 'nmap -sU needs raw sockets');
        const transport = scan === '-sT' ? 'tcp' : 'udp';
        const { attempt } = await runProbe(probe, { service: { port: port(weak), protocol: 'enip', transport } });
        const ours = attempt.observations.identity as Record<string, string | number>;
        const theirs = await nmapIdentity(nmap, scan, port(weak));
        expect(theirs, 'nmap printed no enip-info result').to.not.deep.equal({});
        expect(theirs).to.include({
          productName: ours.productName, serialNumber: ours.serialNumber, productCode: String(ours.productCode), revision: ours.revision,
          status: ours.status, state: `0x${Number(ours.state).toString(16).padStart(2, '0')}`, deviceIp: '127.0.0.1',
        });
        expect(theirs.vendor).to.match(new RegExp(`\\(${ours.vendorId}\\)$`));
        expect(theirs.type).to.equal(`Programmable Logic Controller (${ours.deviceType})`);
      });
    }
  });

  describeMisbehavingPeers(probe, { service: (p) => ({ port: p, protocol: 'enip' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 },
    reasons: { duplicate: ['protocol', 'timeout', 'not_determined'] }, // an echoed ListIdentity request carries no identity item
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
          const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'enip', transport: 'udp' }, timeoutMs: 3000, inputs: { requestTimeoutMs: 200, udpRetries: 1 } });
          expect(attempt.status, attempt.message).to.equal('error');
          expect(attempt.reason, attempt.message).to.equal(c.reason);
        } finally {
          await peer.close();
        }
      });
    }
  });
});
