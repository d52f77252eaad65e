import { expect } from 'chai';
import probe from '../../../probes/boundary/management';
import type { BoundaryBench } from '../../../src/labnet/boundary-bench';
import type { ManagementTry } from '../../../src/protocols/boundary';
import { declOf, requireBoundaryBench, routerBench } from '../../helpers/boundary';
import { MANAGEMENT_PORT, configureRouter, type RouterPosture } from '../../helpers/nft-router';
import { runProbe } from '../../helpers/probe-harness';

const SSH = { port: MANAGEMENT_PORT, protocol: 'ssh' as const, name: 'ssh' };
const reached = (tries: ManagementTry[]) => tries.filter((t) => t.connected).map((t) => `${t.from}->${t.side}`).sort();

describe('probe boundary.management (NDR 1.13, two-sided bench, nftables router)', function () {
  this.timeout(30_000);
  let bench: BoundaryBench;

  before(async function () {
    await requireBoundaryBench(this);
    bench = await routerBench('hardened');
  });
  after(async () => bench?.close());

  const manage = async (posture: RouterPosture, services = [SSH]) => {
    await configureRouter(bench, posture, []);
    return runProbe(probe, { host: bench.router.trustedAddress, services, boundary: declOf(bench), types: ['network'], inputs: { connectTimeoutMs: 300 } });
  };

  it('weak router (management on every side): the untrusted endpoint completes a handshake with ssh (fail, untrusted-reachable)', async () => {
    const { attempt } = await manage('weak');
    expect(attempt.status).to.equal('fail');
    expect(reached(attempt.observations.tries as ManagementTry[])).to.deep.equal(['trusted->trusted', 'trusted->untrusted', 'untrusted->trusted', 'untrusted->untrusted']);
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['boundary.management.untrusted-reachable', 'boundary.management.untrusted-reachable']);
    expect(attempt.findings[0].message).to.contain('untrusted zone untrusted');
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['NDR 1.13:fail:full']);
  });

  it('hardened router (management only from the trusted side): reached from the trusted zone only (pass)', async () => {
    const { attempt } = await manage('hardened');
    expect(attempt.status, attempt.message).to.equal('pass');
    const tries = attempt.observations.tries as ManagementTry[];
    expect(reached(tries)).to.deep.equal(['trusted->trusted', 'trusted->untrusted']);
    expect(tries.filter((t) => !t.trusted).every((t) => t.error === 'timeout')).to.equal(true);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['NDR 1.13:pass:full']);
  });

  it('a service that answers from no side cannot be judged (not_determined, never pass)', async () => {
    const { attempt } = await manage('hardened', [{ port: 2222, protocol: 'ssh' as const, name: 'ssh-alt' }]);
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.observations.silent).to.deep.equal(['ssh-alt']);
  });

  it('an endpoint whose gateway is not the device: refused before anything is sent (error, scope)', async () => {
    const decl = declOf(bench, []);
    const wrong = { ...decl, zones: [decl.zones[0], { ...decl.zones[1], endpoint: { ...decl.zones[1].endpoint, gateway: '198.19.2.99' } }] };
    const { attempt } = await runProbe(probe, { services: [SSH], boundary: wrong, types: ['network'] });
    expect(attempt.status).to.equal('error');
    expect(attempt.reason).to.equal('scope');
  });
});
