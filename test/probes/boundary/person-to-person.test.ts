import { expect } from 'chai';
import probe from '../../../probes/boundary/person-to-person';
import type { BoundaryBench } from '../../../src/labnet/boundary-bench';
import type { MatrixRow } from '../../../src/protocols/boundary';
import type { Conduit } from '../../../src/sdk';
import { declOf, requireBoundaryBench, routerBench } from '../../helpers/boundary';
import { configureRouter, type RouterPosture } from '../../helpers/nft-router';
import { runProbe } from '../../helpers/probe-harness';

/** A declared mail relay: SMTP from the trusted zone to the untrusted one is allowed by the profile. */
const CONDUITS: readonly Conduit[] = [{ name: 'mail-relay', from: 'trusted', to: 'untrusted', protocol: 'tcp', ports: [25], direction: 'one-way' }];

describe('probe boundary.person-to-person (NDR 5.3, two-sided bench, nftables router)', function () {
  this.timeout(40_000);
  let bench: BoundaryBench;

  before(async function () {
    await requireBoundaryBench(this);
    bench = await routerBench('hardened', CONDUITS);
  });
  after(async () => bench?.close());

  const flows = async (posture: RouterPosture) => {
    await configureRouter(bench, posture, CONDUITS);
    return runProbe(probe, { boundary: declOf(bench, CONDUITS), types: ['network'], inputs: { connectTimeoutMs: 250 } });
  };

  it('weak router (forward accept): email, chat, VoIP and web-mail cross both ways (fail, one finding per kind)', async () => {
    const { attempt } = await flows('weak');
    expect(attempt.status).to.equal('fail');
    const matrix = attempt.observations.matrix as MatrixRow[];
    expect(matrix.length).to.equal(12 + 13); // untrusted->trusted: no web-mail; trusted->untrusted: all but the declared smtp
    expect(matrix.every((r) => r.observed === 'pass' && r.declared === 'deny')).to.equal(true);
    expect(matrix.filter((r) => r.conduit === 'voip/sip' && r.protocol === 'udp').map((r) => `${r.from}->${r.to}:${r.port}`)).to.deep.equal(['trusted->untrusted:5060', 'untrusted->trusted:5060']);
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['email', 'chat', 'voip', 'webmail'].map((k) => `boundary.person-to-person.${k}-crossed`));
    expect(attempt.observations.allowedByConduit).to.deep.equal(['trusted->untrusted tcp/25 (mail-relay)']);
  });

  it('hardened router (only the declared conduit): nothing arrives on either side (pass)', async () => {
    const { attempt } = await flows('hardened');
    expect(attempt.status, attempt.message).to.equal('pass');
    const matrix = attempt.observations.matrix as MatrixRow[];
    expect(matrix.every((r) => r.observed === 'blocked' && r.seen === 0 && r.sent > 0), JSON.stringify(matrix.filter((r) => r.sent === 0))).to.equal(true);
    expect(matrix.some((r) => r.port === 25 && r.from === 'trusted')).to.equal(false);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['NDR 5.3:pass']);
  });

  it('an endpoint whose gateway is not the device: refused before anything is sent (error, scope)', async () => {
    const decl = declOf(bench, CONDUITS);
    const wrong = { ...decl, zones: [{ ...decl.zones[0], endpoint: { ...decl.zones[0].endpoint, gateway: '198.19.1.99' } }, decl.zones[1]] };
    const { attempt } = await runProbe(probe, { boundary: wrong, types: ['network'] });
    expect(attempt.status).to.equal('error');
    expect(attempt.reason).to.equal('scope');
  });
});
