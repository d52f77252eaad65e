import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import probe from '../../../probes/ports/udp';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { namedPortStates, parseNmapXml } from '../../../src/protocols/nmap';
import { formatPortSpec } from '../../../src/protocols/tcp';
import type { TestServer } from '../../../fixtures/servers';
import { closedUdpPort, garbageUdpServer, otherPortUdpServer, silentUdpServer } from '../../../fixtures/udp-servers';
import { requirePeer, requireRoot } from '../../helpers/peers';
import { postureWith } from '../../helpers/postures';
import { runProbe } from '../../helpers/probe-harness';

type Scanner = 'builtin' | 'nmap';
const SCANNERS: readonly Scanner[] = ['builtin', 'nmap'];
/** Short waits on loopback, where nothing rate-limits ICMP errors. */
const QUICK = { responseTimeoutMs: 400, retryIntervalMs: 100 };

/** nmap -sU needs nmap and root: skips (fails under IACS_REQUIRE_PEERS=1) without them. */
function scannerInputs(ctx: Mocha.Context, scanner: Scanner, extra: Record<string, unknown>): Record<string, unknown> {
  if (scanner === 'nmap') {
    requirePeer(ctx, 'nmap');
    requireRoot(ctx, 'nmap -sU needs raw sockets');
  }
  return { scanner, ...QUICK, ...extra };
}

/** `count` UDP ports of 127.0.0.1 nothing listens on (each refused a datagram just now). */
async function closedPorts(count: number): Promise<number[]> {
  return Promise.all(Array.from({ length: count }, async () => (await closedUdpPort()).port));
}

const portsOf = (list: unknown) => (list as { port: number }[]).map((p) => p.port).sort((a, b) => a - b);

describe('probe ports.udp', function () {
  this.timeout(60_000);

  describe('against the emulated PLC (SNMP and TFTP on OS-chosen ports)', () => {
    let weak: Emulator;
    let hardened: Emulator;
    let closed: number[];
    before(async () => {
      [weak, hardened] = await Promise.all([
        startEmulator(postureWith('weak', ['snmp', 'tftp']), { ephemeralPorts: true }),
        startEmulator(postureWith('hardened', ['snmp']), { ephemeralPorts: true }),
      ]);
      closed = await closedPorts(3);
    });
    after(async () => {
      await Promise.all([weak?.close(), hardened?.close()]);
    });

    for (const scanner of SCANNERS) {
      it(`${scanner}: weak posture, both UDP services declared: SNMP answers the v1 get, TFTP the read request; pass, partially`, async function () {
        const snmp = weak.endpoint('snmp').port;
        const tftp = weak.endpoint('tftp').port;
        const { attempt, read } = await runProbe(probe, {
          services: [{ port: snmp, protocol: 'snmp' }, { port: tftp, protocol: 'tftp' }], inputs: scannerInputs(this, scanner, { ports: formatPortSpec(closed) }),
        });
        expect(attempt.status, attempt.message).to.equal('pass');
        expect(attempt.findings).to.deep.equal([]);
        expect(portsOf(attempt.observations.open)).to.deep.equal([snmp, tftp].sort((a, b) => a - b));
        expect(attempt.observations).to.deep.include({ closed: 3, complete: true, openFiltered: { count: 0, ports: '' }, declaredNotOpen: [] });
        const payloads = JSON.parse(read(attempt.evidence.find((e) => e.endsWith('payloads.json'))!)) as { name: string; ports: string; hex: string }[];
        expect(payloads.find((p) => p.name === 'snmp-v1-get-public')).to.include({ ports: String(snmp) });
        expect(payloads.find((p) => p.name === 'tftp-read-random')).to.include({ ports: String(tftp) });
        if (scanner === 'nmap') {
          expect(attempt.observations.scanner).to.match(/^nmap \d+\.\d+/);
          // nmap has no payload for these port numbers: our requests found the services it left open|filtered.
          const xml = read(attempt.evidence.find((e) => e.endsWith('nmap-udp.xml'))!);
          expect(namedPortStates(parseNmapXml(xml), 'udp').get(snmp)?.state).to.equal('open|filtered');
          expect((attempt.observations.open as { by: string }[]).map((p) => p.by)).to.deep.equal(['builtin', 'builtin']);
        }
      });

      it(`${scanner}: an undeclared UDP service that answers fails CR 7.7`, async function () {
        const snmp = weak.endpoint('snmp').port;
        const agent = await garbageUdpServer();
        try {
          const { attempt } = await runProbe(probe, {
            services: [{ port: snmp, protocol: 'snmp' }], inputs: scannerInputs(this, scanner, { ports: formatPortSpec([agent.port, ...closed]) }),
          });
          expect(attempt.status, attempt.message).to.equal('fail');
          expect(attempt.findings.map((f) => f.code)).to.deep.equal(['ports.udp.undeclared-open']);
          expect(attempt.findings[0].message).to.match(new RegExp(`^udp/${agent.port} is open but not declared in the communication matrix`));
          expect(attempt.outcomes).to.deep.equal([{
            requirement: 'CR 7.7', verdict: 'fail', coverage: 'partial', part: { name: 'udp', of: ['tcp', 'udp'] }, reason: attempt.findings[0].message,
          }]);
        } finally {
          await agent.close();
        }
      });

      it(`${scanner}: hardened posture: the SNMPv3-only agent answers the v3 discovery; every open port declared passes, partially`, async function () {
        const snmp = hardened.endpoint('snmp').port;
        const { attempt } = await runProbe(probe, {
          services: [{ port: snmp, protocol: 'snmp' }], inputs: scannerInputs(this, scanner, { ports: formatPortSpec(closed) }),
        });
        expect(attempt.status, attempt.message).to.equal('pass');
        expect(attempt.findings).to.deep.equal([]);
        const [cr77] = attempt.outcomes;
        expect(cr77).to.deep.include({ requirement: 'CR 7.7', verdict: 'pass', coverage: 'partial', part: { name: 'udp', of: ['tcp', 'udp'] } });
        expect(cr77.reason).to.equal(`every UDP port that answered among 4 UDP ports (${formatPortSpec([snmp, ...closed])}) is declared; UDP coverage partial: not every UDP port was scanned (ports: all scans 1-65535)`);
        expect(portsOf(attempt.observations.open)).to.deep.equal([snmp]);
      });
    }

    it('an undeclared TFTP responder on a port number no protocol is known for gets an empty datagram, ignores it, and stays open|filtered', async () => {
      // The limit of any payload scan (nmap -sU too): only a request the service understands makes it answer.
      const tftp = weak.endpoint('tftp').port;
      const { attempt } = await runProbe(probe, {
        services: [{ port: weak.endpoint('snmp').port, protocol: 'snmp' }], inputs: { scanner: 'builtin', ...QUICK, ports: formatPortSpec([tftp, ...closed]) },
      });
      expect(attempt.status).to.equal('pass');
      expect(attempt.observations.openFiltered).to.deep.equal({ count: 1, ports: String(tftp) });
      expect(attempt.outcomes[0]).to.include({ verdict: 'pass', coverage: 'partial' });
    });
  });

  describe('ports that do not answer', () => {
    const servers: TestServer[] = [];
    afterEach(async () => {
      await Promise.all(servers.splice(0).map((s) => s.close()));
    });
    const keep = <T extends TestServer>(s: T) => {
      servers.push(s);
      return s;
    };

    it('a silent port is open|filtered, reported, and keeps the UDP part of CR 7.7 partial', async () => {
      const silent = keep(await silentUdpServer());
      const answering = keep(await garbageUdpServer());
      const { attempt } = await runProbe(probe, {
        services: [{ port: answering.port, protocol: 'udp' }], inputs: { scanner: 'builtin', ...QUICK, ports: formatPortSpec([silent.port, ...await closedPorts(2)]) },
      });
      expect(attempt.status).to.equal('pass');
      expect(attempt.observations.openFiltered).to.deep.equal({ count: 1, ports: String(silent.port) });
      expect(attempt.outcomes[0].reason).to.contain('1 port(s) gave no answer (open|filtered)');
      expect(attempt.outcomes[0].coverage).to.equal('partial');
    });

    it('the only declared UDP service never answers: not determined, declared-not-open reported', async () => {
      const silent = keep(await silentUdpServer());
      const { attempt } = await runProbe(probe, {
        services: [{ port: silent.port, protocol: 'snmp' }], inputs: { scanner: 'builtin', ...QUICK, ports: formatPortSpec(await closedPorts(2)) },
      });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.message).to.match(new RegExp(`^every declared UDP service port \\(${silent.port}\\) went unanswered`));
      expect(attempt.findings.map((f) => [f.code, f.severity, f.message])).to.deep.equal([
        ['ports.udp.declared-not-open', 'info', `declared snmp service udp/${silent.port} is not open (open|filtered: no answer to the protocol request)`],
      ]);
    });

    it('every port silent: "the host answered nothing", not determined', async () => {
      const silent = [keep(await silentUdpServer()), keep(await silentUdpServer())];
      const { attempt } = await runProbe(probe, { inputs: { scanner: 'builtin', ...QUICK, ports: formatPortSpec(silent.map((s) => s.port)) } });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.observations.note).to.match(/^the host answered nothing: none of the 2 UDP ports scanned answered/);
    });

    it('a declared service that answers from another port: not counted as open, reported as other-port-answer', async () => {
      const peer = keep(await otherPortUdpServer());
      const { attempt } = await runProbe(probe, {
        services: [{ port: peer.port, protocol: 'udp' }], inputs: { scanner: 'builtin', ...QUICK, ports: formatPortSpec(await closedPorts(1)) },
      });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.findings.map((f) => f.code)).to.have.members(['ports.udp.other-port-answer', 'ports.udp.declared-not-open']);
      expect(attempt.findings.find((f) => f.code === 'ports.udp.other-port-answer')!.message).to.equal(
        `udp/${peer.port} stayed silent, but the host answered its probe from udp/${peer.otherPort}: not counted as open`,
      );
    });

    it('agrees with nmap -sU on loopback: the same open, closed and open|filtered ports', async function () {
      const nmap = requirePeer(this, 'nmap');
      requireRoot(this, 'nmap -sU needs raw sockets');
      const open = keep(await garbageUdpServer());
      const silent = keep(await silentUdpServer());
      const closed = await closedPorts(3);
      const list = formatPortSpec([open.port, silent.port, ...closed]);
      const { attempt } = await runProbe(probe, { inputs: { scanner: 'builtin', ...QUICK, ports: list } });
      // Asynchronously: the answering peer lives in this process and must keep answering while nmap runs.
      const { stdout: xml } = await promisify(execFile)(nmap, ['-sU', '-Pn', '-n', '--reason', '-p', list, '-oX', '-', '127.0.0.1'], { encoding: 'utf8', timeout: 60_000 });
      const theirs = namedPortStates(parseNmapXml(xml), 'udp');
      const byState = (state: string) => [...theirs].filter(([, s]) => s.state === state).map(([p]) => p).sort((a, b) => a - b);
      expect(portsOf(attempt.observations.open)).to.deep.equal(byState('open')).and.deep.equal([open.port]);
      expect(attempt.observations.openFiltered).to.deep.equal({ count: 1, ports: formatPortSpec(byState('open|filtered')) });
      expect(attempt.observations.closed).to.equal(byState('closed').length).and.equal(3);
    });
  });

  it('a scan that outlives its budget ends as timeout', async () => {
    const { attempt } = await runProbe(probe, { inputs: { scanner: 'builtin', ports: 'all', maxParallel: 1 }, timeoutMs: 300 });
    expect(attempt).to.include({ status: 'error', reason: 'timeout' });
  });

  it('refuses a malformed port list in its inputs', async () => {
    const { attempt } = await runProbe(probe, { inputs: { scanner: 'builtin', ports: '70-60' } });
    expect(attempt).to.include({ status: 'error', reason: 'input' });
    expect(attempt.message).to.match(/invalid port range/);
  });
});
