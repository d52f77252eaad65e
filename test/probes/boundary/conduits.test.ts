import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import probe from '../../../probes/boundary/conduits';
import type { BoundaryBench } from '../../../src/labnet/boundary-bench';
import type { MatrixRow } from '../../../src/protocols/boundary';
import { readPcap } from '../../../src/protocols/boundary';
import { TEST_CONDUITS, declOf, requireBoundaryBench, routerBench } from '../../helpers/boundary';
import { configureRouter } from '../../helpers/nft-router';
import { runProbe } from '../../helpers/probe-harness';

/** "from->to protocol/port-or-type way" of the rows whose observation is `observed`. */
const rowsObserved = (rows: MatrixRow[], observed: 'pass' | 'blocked') =>
  rows.filter((r) => r.observed === observed).map((r) => `${r.from}->${r.to} ${r.protocol}/${r.port ?? r.icmpType} ${r.way}`).sort();

describe('probe boundary.conduits (two-sided bench, nftables router)', function () {
  this.timeout(60_000);
  let bench: BoundaryBench;

  before(async function () {
    await requireBoundaryBench(this);
    bench = await routerBench('hardened');
  });
  after(async () => bench?.close());

  it('hardened router: every declared conduit passes as declared, reverses of one-way conduits stay shut (pass, matrix = declaration)', async () => {
    await configureRouter(bench, 'hardened', TEST_CONDUITS);
    const { attempt, dir } = await runProbe(probe, { boundary: declOf(bench), types: ['network'] });
    expect(attempt.status, attempt.message).to.equal('pass');
    const matrix = attempt.observations.matrix as MatrixRow[];
    expect(matrix.every((r) => (r.declared === 'allow') === (r.observed === 'pass')), JSON.stringify(matrix)).to.equal(true);
    expect(rowsObserved(matrix, 'pass')).to.deep.equal([
      'trusted->untrusted icmp/8 forward', 'trusted->untrusted tcp/502 forward', 'untrusted->trusted icmp/8 reverse',
      'untrusted->trusted tcp/8443 forward', 'untrusted->trusted udp/514 forward',
    ]);
    expect(rowsObserved(matrix, 'blocked')).to.deep.equal(['trusted->untrusted tcp/8443 reverse', 'trusted->untrusted udp/514 reverse', 'untrusted->trusted tcp/502 reverse']);
    expect(matrix.find((r) => r.port === 502 && r.way === 'forward')).to.include({ handshake: true });
    // The far endpoint's capture holds the flows: the SYN to 502 arrived at the untrusted endpoint from the trusted one.
    const pcap = attempt.evidence.find((e) => e.endsWith('far-untrusted-from-trusted.pcap'))!;
    const packets = readPcap(fs.readFileSync(path.join(dir, pcap)));
    expect(packets.some((p) => p.protocol === 'tcp' && p.dport === 502 && p.src === bench.zones[0].endpoint.address)).to.equal(true);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['NDR 5.2:pass:partial', 'NDR 5.2 RE(1):pass:partial']);
  });

  it('weak router: the reverse of one-way conduits opens (fail, reverse-opened)', async () => {
    await configureRouter(bench, 'weak', TEST_CONDUITS);
    const { attempt } = await runProbe(probe, { boundary: declOf(bench), types: ['network'] });
    expect(attempt.status).to.equal('fail');
    const reverse = attempt.findings.filter((f) => f.code === 'boundary.conduits.reverse-opened');
    expect(reverse).to.have.length(3);
    expect(attempt.outcomes.find((o) => o.requirement === 'NDR 5.2 RE(1)')?.verdict).to.equal('fail');
  });

  it('a router that drops a declared conduit: conduit-blocked', async () => {
    await configureRouter(bench, 'hardened', TEST_CONDUITS.filter((c) => c.name !== 'syslog'));
    const { attempt } = await runProbe(probe, { boundary: declOf(bench), types: ['network'] });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['boundary.conduits.conduit-blocked']);
    expect(attempt.findings[0].message).to.contain('udp/514');
  });

  it('an endpoint whose gateway is not the device: refused before anything is sent (error, scope)', async () => {
    const decl = declOf(bench);
    const wrong = { ...decl, zones: [{ ...decl.zones[0], endpoint: { ...decl.zones[0].endpoint, gateway: '198.19.1.99' } }, decl.zones[1]] };
    const { attempt } = await runProbe(probe, { boundary: wrong, types: ['network'] });
    expect(attempt.status).to.equal('error');
    expect(attempt.reason).to.equal('scope');
    expect(attempt.message).to.contain('198.19.1.99');
    expect(attempt.evidence).to.deep.equal([]);
  });

  it('no zones in the profile: not determined (nothing was tested), never not applicable', async () => {
    const { attempt } = await runProbe(probe, { types: ['network'] });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(JSON.stringify(attempt.observations)).to.contain('declares no zones');
  });
});
