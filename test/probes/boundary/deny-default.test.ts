import { expect } from 'chai';
import probe from '../../../probes/boundary/deny-default';
import { createBoundaryBench, type BoundaryBench } from '../../../src/labnet/boundary-bench';
import { ip, listNamespaces } from '../../../src/labnet/netns';
import { parseNmapXml, portStates } from '../../../src/protocols/nmap';
import { parsePortSpec } from '../../../src/protocols/tcp';
import { declOf, requireBoundaryBench, routerBench } from '../../helpers/boundary';
import { configureRouter, type RouterPosture } from '../../helpers/nft-router';
import { requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';
import { TEST_CONDUITS } from '../../helpers/boundary';

interface Sweep { from: string; to: string; tcp: { ports: number; sent: number; crossed: number }; udp: { crossed: number[] }; icmp: { crossed: number[] } }

describe('probe boundary.deny-default (two-sided bench, nftables router)', function () {
  this.timeout(90_000);
  let bench: BoundaryBench;

  before(async function () {
    await requireBoundaryBench(this);
    bench = await routerBench('hardened');
  });
  after(async () => bench?.close());

  const sweepOn = async (posture: RouterPosture, inputs: Record<string, unknown> = {}) => {
    await configureRouter(bench, posture, TEST_CONDUITS);
    return runProbe(probe, { boundary: declOf(bench), types: ['network'], inputs });
  };

  it('the bench cannot send anything out: no default route and no link outside its namespaces', async () => {
    for (const netns of bench.namespaces) {
      expect(JSON.parse(await ip(['-n', netns, '-j', '-4', 'route', 'show', 'default']))).to.deep.equal([]);
      const links = (JSON.parse(await ip(['-n', netns, '-j', 'link', 'show'])) as { ifname: string; link_netnsid?: number }[]);
      for (const l of links.filter((x) => x.ifname !== 'lo')) expect(l.link_netnsid, `${netns} ${l.ifname} is a veth into another bench namespace`).to.not.equal(undefined);
    }
    const peers = new Set<string>();
    for (const netns of bench.namespaces) for (const id of (await ip(['-n', netns, 'netns', 'list-id'])).matchAll(/nsid \d+ \(iproute2 netns name: (\S+)\)/g)) peers.add(id[1]);
    for (const p of peers) expect(bench.namespaces, 'a bench veth peer lives outside the bench').to.include(p);
  });

  it('weak router (forward accept): every undeclared TCP port, UDP port and ICMP type crosses (fail, full sweep)', async () => {
    const { attempt } = await sweepOn('weak');
    expect(attempt.status).to.equal('fail');
    const [sweep] = attempt.observations.sweeps as Sweep[];
    expect(sweep).to.include({ from: 'untrusted', to: 'trusted' });
    expect(sweep.tcp).to.deep.equal({ ports: 65_534, sent: 65_534, crossed: 65_534 }); // 65 535 minus the declared 8443
    expect(sweep.udp.crossed).to.include(161);
    expect(sweep.icmp.crossed).to.include(13).and.not.include(8); // echo request is a declared conduit both ways
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['boundary.deny-default.undeclared-tcp', 'boundary.deny-default.undeclared-udp', 'boundary.deny-default.undeclared-icmp']);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['NDR 5.2:fail:full', 'NDR 5.2 RE(1):fail:full']);
  });

  it('hardened router (deny by default + conduits): nothing undeclared arrives (pass, full coverage)', async () => {
    const { attempt } = await sweepOn('hardened');
    expect(attempt.status, attempt.message).to.equal('pass');
    const [sweep] = attempt.observations.sweeps as Sweep[];
    expect(sweep.tcp).to.deep.equal({ ports: 65_534, sent: 65_534, crossed: 0 });
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['NDR 5.2:pass:full', 'NDR 5.2 RE(1):pass:full']);
    expect(attempt.evidence.some((e) => e.endsWith('far-trusted-from-untrusted.pcap'))).to.equal(true);
  });

  it('a shorter port list gives partial coverage', async () => {
    const { attempt } = await sweepOn('hardened', { tcpPorts: '1-1024' });
    expect(attempt.status).to.equal('pass');
    expect(attempt.outcomes.every((o) => o.coverage === 'partial')).to.equal(true);
  });

  for (const posture of ['weak', 'hardened'] as const) {
    it(`agrees with nmap -sS from the untrusted endpoint through the ${posture} router (crossed = nmap's open|closed)`, async function () {
      const nmap = requirePeer(this, 'nmap');
      const ports = '1-500';
      const { attempt } = await sweepOn(posture, { tcpPorts: ports });
      const far = bench.zones[0].endpoint.address;
      const scan = await bench.run(bench.zones[1].endpoint.namespace, [nmap, '-sS', '-Pn', '-n', '-T4', '--max-retries', '2', '--initial-rtt-timeout', '50ms', '--max-rtt-timeout', '100ms', '--min-parallelism', '200', '--reason', '-p', ports, '-oX', '-', far], { timeoutMs: 60_000 });
      const states = portStates(parseNmapXml(scan.stdout));
      expect(states.incomplete).to.equal(undefined);
      const nmapCrossed = [...states.open.map((p) => p.port), ...states.closed].sort((a, b) => a - b);
      const ours = (attempt.observations.matrix as { protocol: string; port?: number }[]).filter((r) => r.protocol === 'tcp').map((r) => r.port);
      expect(ours).to.deep.equal(nmapCrossed);
      expect(nmapCrossed.length).to.equal(posture === 'weak' ? parsePortSpec(ports).length : 0);
    });
  }

  it('an endpoint that would route through a default route is refused, nothing sent (error, scope)', async () => {
    const other = await createBoundaryBench({ trustedSubnet: '198.19.11.0/24', untrustedSubnet: '198.19.12.0/24' });
    try {
      const untrusted = other.zones[1].endpoint;
      // The untrusted endpoint loses its route via the router and gets a default route via another next hop instead.
      await ip(['-n', untrusted.namespace, 'route', 'del', other.zones[0].subnet]);
      await ip(['-n', untrusted.namespace, 'route', 'add', 'default', 'via', '198.19.12.99', 'dev', 'eth0']);
      const { attempt } = await runProbe(probe, { boundary: declOf(other), types: ['network'] });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('scope');
      expect(attempt.message).to.contain('198.19.12.99').and.contain('refusing');
      expect(attempt.evidence).to.deep.equal([]);
    } finally {
      await other.close();
    }
  });

  it('close() leaves no namespace of the bench', async () => {
    const other = await createBoundaryBench();
    const made = [...other.namespaces];
    expect(made).to.have.length(3);
    await other.close();
    const left = await listNamespaces();
    expect(made.filter((n) => left.includes(n))).to.deep.equal([]);
  });
});
