import { expect } from 'chai';
import { assess } from '../../src/assess';
import { loadCatalog } from '../../src/catalog';
import type { Attempt, AttemptStatus } from '../../src/report/model';
import { FRS, type RequirementOutcome, type SlVector } from '../../src/sdk';

/*
 * CR 7.7 on a host is examined in two parts, its TCP ports (ports.tcp) and its UDP ports (ports.udp), both
 * attempts on the host target. The row passes only when both parts have a full-coverage pass there.
 */
const slTarget = Object.fromEntries(FRS.map((fr) => [fr, 2])) as SlVector;
const PARTS = ['tcp', 'udp'];

function scan(probe: 'ports.tcp' | 'ports.udp', outcomes: RequirementOutcome[], status: AttemptStatus = 'pass', target = '10.0.0.1'): Attempt {
  return {
    probe, target, service: 'host', safety: 'passive', status, startedAt: '', durationMs: 1, observations: {}, findings: [], outcomes, evidence: [],
  };
}
const part = (name: 'tcp' | 'udp', verdict: 'pass' | 'fail', coverage: 'full' | 'partial'): RequirementOutcome => ({
  requirement: 'CR 7.7', verdict, coverage, reason: `${name} ${coverage}`, part: { name, of: PARTS },
});

function cr77(...attempts: Attempt[]) {
  const { requirements } = assess({
    catalog: loadCatalog(), component: { name: 'dut', types: ['embedded'], slTarget }, attempts,
    probeRequirements: new Map([['ports.tcp', ['CR 7.7', 'CR 4.1']], ['ports.udp', ['CR 7.7']]]),
  });
  return requirements.find((r) => r.id === 'CR 7.7')!;
}

describe('assessment: a requirement examined in parts (CR 7.7: tcp and udp)', () => {
  it('passes in full when both parts have a full-coverage pass on the host', () => {
    const row = cr77(scan('ports.tcp', [part('tcp', 'pass', 'full')]), scan('ports.udp', [part('udp', 'pass', 'full')]));
    expect(row).to.include({ verdict: 'pass', coverage: 'full', source: 'probe' });
    expect(row.basis).to.deep.equal(['ports.tcp@10.0.0.1', 'ports.udp@10.0.0.1']);
  });

  it('a full TCP part alone is not a pass: the UDP part was not examined', () => {
    const row = cr77(scan('ports.tcp', [part('tcp', 'pass', 'full')]));
    expect(row).to.include({ verdict: 'not_determined', coverage: 'partial' });
    expect(row.reason).to.contain('10.0.0.1 (its udp part was not examined: no attempt judged it)');
  });

  it('a full TCP part and a partial UDP part (open|filtered ports, or a list scan) is not a pass', () => {
    const row = cr77(scan('ports.tcp', [part('tcp', 'pass', 'full')]), scan('ports.udp', [part('udp', 'pass', 'partial')]));
    expect(row.verdict).to.equal('not_determined');
    expect(row.reason).to.contain('its udp part has partial coverage only (ports.udp)');
  });

  it('a UDP scan that judged nothing (the host answered nothing) leaves the UDP part unexamined', () => {
    const row = cr77(scan('ports.tcp', [part('tcp', 'pass', 'full')]), scan('ports.udp', [], 'not_determined'));
    expect(row.verdict).to.equal('not_determined');
    expect(row.reason).to.contain('its udp part was not examined');
  });

  it('a full UDP part does not stand in for a partial TCP part', () => {
    const row = cr77(scan('ports.tcp', [part('tcp', 'pass', 'partial')]), scan('ports.udp', [part('udp', 'pass', 'full')]));
    expect(row.verdict).to.equal('not_determined');
    expect(row.reason).to.contain('its tcp part has partial coverage only (ports.tcp)');
  });

  it('a UDP failure fails the row whatever the TCP part says', () => {
    const row = cr77(scan('ports.tcp', [part('tcp', 'pass', 'full')]), scan('ports.udp', [part('udp', 'fail', 'partial')], 'fail'));
    expect(row).to.include({ verdict: 'fail' });
    expect(row.basis).to.deep.equal(['ports.udp@10.0.0.1']);
  });

  it('parts are counted per host: full parts on two different hosts do not add up', () => {
    const row = cr77(scan('ports.tcp', [part('tcp', 'pass', 'full')], 'pass', '10.0.0.1'), scan('ports.udp', [part('udp', 'pass', 'full')], 'pass', '10.0.0.2'));
    expect(row.verdict).to.equal('not_determined');
    expect(row.reason).to.contain('10.0.0.1 (its udp part was not examined').and.contain('10.0.0.2 (its tcp part was not examined');
  });
});
