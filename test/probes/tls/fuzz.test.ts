import { expect } from 'chai';
import probe from '../../../probes/tls/fuzz';
import { generateCases } from '../../../src/protocols/fuzz';
import { tlsTemplates } from '../../../src/protocols/tls/fuzz';
import { fuzzCaseLines } from '../../helpers/fuzz';
import { assessFuzz, dyingProxy, type AssessedFuzz } from '../../helpers/fuzz-targets';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { hardenedOpensslServer, type OpensslServer } from '../../helpers/openssl-server';
import { findExecutable, requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';

const FAST = { cases: 25, ratePerSecond: 200, waitMs: 100, recoveryMs: 500 };
const https = (port: number) => ({ port, protocol: 'https' as const });

describe('probe tls.fuzz', function () {
  this.timeout(60_000);
  let server: OpensslServer | undefined;
  before(async function () {
    server = await hardenedOpensslServer(requirePeer(this, 'openssl', findExecutable('openssl')), 'ec:P-256');
  });
  after(async () => server?.close());

  describe('a whole run against openssl s_server (Debian, not ours)', () => {
    let run: AssessedFuzz | undefined;
    before(async () => {
      run = await assessFuzz('tls.fuzz', https(server!.port), FAST);
    });
    after(() => run?.remove());

    it('records every case and passes CR 3.5', () => {
      expect(run!.attempt.status, run!.attempt.message).to.equal('pass');
      expect(run!.requirement).to.equal('pass');
      expect(run!.campaign).to.include({ type: 'campaign', probe: 'tls.fuzz', protocol: 'tls', port: server!.port, planned: 25 });
      expect(run!.cases).to.have.length(25);
      expect(run!.cases.every((c) => c.stillAnswers)).to.equal(true);
      // The hellos reached the TLS layer in the clear: the server refused some with an alert.
      expect(run!.cases.some((c) => c.reaction.kind === 'exception' && /alert/.test(c.reaction.detail))).to.equal(true);
    });

    it('`iacs-probe replay` re-sends one of its cases and the server still answers (exit 0)', async () => {
      const c = run!.cases.find((x) => x.reaction.kind === 'exception') ?? run!.cases[0];
      const r = await run!.replay(c.id);
      expect(r.code, r.out).to.equal(0);
      expect(r.out).to.contain(`case ${c.id}`).and.contain(`sent to 127.0.0.1:${server!.port}: ${c.hex}`).and.contain('afterwards: the device answers');
    });
  });

  it('fails CR 3.5 naming the case after which a deceptive device stopped completing handshakes', async () => {
    const cases = generateCases(tlsTemplates('localhost'), 62443, FAST.cases);
    const killer = cases.slice(5).find((c) => c.field !== 'frame')!;
    const proxy = await dyingProxy(server!, killer.bytes);
    try {
      const run = await runProbe(probe, { service: https(proxy.port), inputs: FAST });
      expect(run.attempt.status, run.attempt.message).to.equal('fail');
      expect(run.attempt.findings.map((f) => f.code)).to.deep.equal(['tls.fuzz.function-killed']);
      const { cases: records } = fuzzCaseLines(run);
      const last = records.at(-1)!;
      expect(last).to.include({ index: killer.index, mutation: killer.mutation, stillAnswers: false });
      expect(run.attempt.findings[0].message).to.contain(last.id);
      expect(records.slice(0, -1).every((r) => r.stillAnswers)).to.equal(true);
    } finally {
      await proxy.close();
    }
  });

  describeMisbehavingPeers(probe, { service: https, timeoutMs: 3000, inputs: { waitMs: 200, recoveryMs: 300, cases: 20 } });
});
