import { expect } from 'chai';
import probe from '../../../probes/opcua/fuzz';
import { generateCases } from '../../../src/protocols/fuzz';
import { helloMessage, opcuaTemplates } from '../../../src/protocols/opcua/fuzz';
import { targetUrl } from '../../../src/protocols/opcua';
import { fuzzCaseLines } from '../../helpers/fuzz';
import { assessFuzz, dyingProxy, stallingProxy, type AssessedFuzz } from '../../helpers/fuzz-targets';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { startOpcua, type StartedOpcua } from '../../helpers/opcua';
import { runProbe } from '../../helpers/probe-harness';

const FAST = { cases: 20, ratePerSecond: 200, waitMs: 100, recoveryMs: 1000 };
const opcua = (port: number) => ({ port, protocol: 'opcua' as const });
/** Bytes beyond the declared message size kill node-opcua 2.182 (test/protocols/fuzz-opcua.test.ts, docs/robustness.md). */
const overrunsMessage = (b: Buffer) => b.length >= 8 && b.length > b.readUInt32LE(4);
/** So does an OpenSecureChannel whose request type id is an opaque (ByteString) NodeId. */
function opaqueTypeId(c: { template: string; bytes: Buffer }): boolean {
  const at = opcuaTemplates('opc.tcp://x').find((t) => t.name === 'opn-none')!.fields.find((f) => f.name === 'opn.type-id.encoding')!.offset;
  return c.template === 'opn-none' && c.bytes[at] === 0x05;
}
/** A recorded case reaches one of the two (its `hex` is spaced bytes). */
function killsNodeOpcua(c: { template: string; hex: string }): boolean {
  const bytes = Buffer.from(c.hex.replace(/\s+/g, ''), 'hex');
  return overrunsMessage(bytes) || opaqueTypeId({ template: c.template, bytes });
}
/** The first seed whose first `n` cases against this port reach both inputs that kill node-opcua. */
function seedReachingBothCrashes(port: number, n: number): number {
  const templates = opcuaTemplates(targetUrl({ host: '127.0.0.1', port }));
  for (let seed = 1; seed < 5000; seed++) {
    const cases = generateCases(templates, seed, n);
    if (cases.some((c) => overrunsMessage(c.bytes)) && cases.some(opaqueTypeId)) return seed;
  }
  throw new Error('no seed below 5000 reaches both crash classes');
}

describe('probe opcua.fuzz', function () {
  this.timeout(90_000);
  let device: StartedOpcua | undefined;
  before(async function () {
    this.timeout(60_000);
    // The weak posture runs node-opcua in a helper process: a case that crashes it cannot take this test process along.
    device = await startOpcua('weak');
  });
  after(async () => device?.emulator.close());

  describe('a whole run against the emulator (node-opcua server)', () => {
    let run: AssessedFuzz | undefined;
    before(async () => {
      // This seed's first cases stay within their declared message sizes (the crash is shown elsewhere).
      const planned = generateCases(opcuaTemplates(targetUrl({ host: '127.0.0.1', port: device!.port })), 62443, FAST.cases);
      expect(planned.filter((c) => overrunsMessage(c.bytes)).map((c) => c.mutation)).to.deep.equal([]);
      run = await assessFuzz('opcua.fuzz', opcua(device!.port), FAST);
    });
    after(() => run?.remove());

    it('records every case and passes CR 3.5', () => {
      expect(run!.attempt.status, run!.attempt.message).to.equal('pass');
      expect(run!.requirement).to.equal('pass');
      expect(run!.campaign).to.include({ type: 'campaign', probe: 'opcua.fuzz', protocol: 'opcua', port: device!.port, planned: 20 });
      expect(run!.cases).to.have.length(20);
      expect(run!.cases.every((c) => c.stillAnswers)).to.equal(true);
      expect(run!.cases.some((c) => c.reaction.kind === 'exception' && /^ERR 0x80/.test(c.reaction.detail))).to.equal(true);
    });

    it('`iacs-probe replay` re-sends one of its cases (an OPN after a Hello) and the server still answers (exit 0)', async () => {
      const c = run!.cases.find((x) => x.template === 'opn-none') ?? run!.cases[0];
      const r = await run!.replay(c.id);
      expect(r.code, r.out).to.equal(0);
      expect(r.out).to.contain(`case ${c.id}`).and.contain(`sent to 127.0.0.1:${device!.port}: ${c.hex}`).and.contain('afterwards: the device answers');
    });
  });

  it('fails CR 3.5 naming the case after which a deceptive device stopped answering GetEndpoints', async () => {
    // The Hello carries the endpoint URL, so the cases (and their order) depend on the proxy's port.
    let killerBytes: Buffer = Buffer.alloc(0);
    const proxy = await dyingProxy({ host: '127.0.0.1', port: device!.port }, () => killerBytes);
    const cases = generateCases(opcuaTemplates(targetUrl({ host: '127.0.0.1', port: proxy.port })), 62443, FAST.cases);
    const killer = cases.slice(3).find((c) => c.template === 'opn-none' && c.field !== 'frame')!;
    killerBytes = killer.bytes;
    try {
      const run = await runProbe(probe, { service: opcua(proxy.port), inputs: FAST });
      const sent = fuzzCaseLines(run).cases.map((r) => `${r.index} ${r.template} ${r.mutation}: ${r.reaction.kind}, ${r.stillAnswers ? 'answers' : 'silent'}`);
      expect(run.attempt.status, `${run.attempt.message ?? ''}; killer ${killer.index} ${killer.mutation}; proxy died: ${proxy.died()}; cases:\n${sent.join('\n')}`).to.equal('fail');
      expect(run.attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.fuzz.function-killed']);
      const { cases: records } = fuzzCaseLines(run);
      expect(records.at(-1)).to.include({ mutation: killer.mutation, stillAnswers: false });
      expect(records.slice(0, -1).every((r) => r.stillAnswers)).to.equal(true);
    } finally {
      await proxy.close();
    }
  });

  it('an OpenSecureChannel case whose Hello the device does not acknowledge is recorded as not sent and tests nothing', async () => {
    // The proxy holds back exactly the harness's own Hello: node-opcua's normal request (another Hello) is answered.
    let url = '';
    const proxy = await stallingProxy({ host: '127.0.0.1', port: device!.port }, () => helloMessage(url));
    url = targetUrl({ host: '127.0.0.1', port: proxy.port });
    try {
      const run = await runProbe(probe, { service: opcua(proxy.port), inputs: { ...FAST, cases: 10 } });
      const { cases: records } = fuzzCaseLines(run);
      const opn = records.filter((r) => r.template.startsWith('opn'));
      expect(opn.length, 'seed 62443 reaches OPN cases in its first 10').to.be.greaterThan(0);
      expect(proxy.stalled()).to.equal(opn.length);
      for (const r of opn) expect(r.reaction, r.mutation).to.include({ notSent: 'no answer to the Hello' }).and.have.property('detail').match(/^the case was not sent/);
      for (const r of records.filter((x) => !x.template.startsWith('opn'))) expect(r.reaction, r.mutation).to.not.have.property('notSent');
      expect(run.attempt.observations).to.include({ sent: records.length - opn.length, notSent: opn.length });
      const reason = run.attempt.outcomes.find((o) => o.requirement === 'CR 3.5')?.reason ?? '';
      expect(reason).to.match(new RegExp(`^${records.length - opn.length} OPC UA fuzz cases .*; ${opn.length} more could not be sent`));
    } finally {
      await proxy.close();
    }
  });

  describe('seeded runs that reach both inputs that kill node-opcua (a fresh device each)', () => {
    const devices: Partial<Record<'weak' | 'hardened', StartedOpcua>> = {};
    before(async function () {
      this.timeout(60_000);
      [devices.weak, devices.hardened] = await Promise.all([startOpcua('weak'), startOpcua('hardened')]);
    });
    after(async () => Promise.all(Object.values(devices).map((d) => d.emulator.close())));

    it('the hardened emulator (strict framing in front of node-opcua) refuses them with ERR and passes CR 3.5', async () => {
      const port = devices.hardened!.port;
      // Its ERR is asserted for every killing case: a 500 ms wait (not FAST's 100) leaves room on a loaded machine (a full
      // parallel run once recorded "ACK (then silence)" at 100 ms); an answer ends the wait at once.
      const run = await assessFuzz('opcua.fuzz', opcua(port), { ...FAST, waitMs: 500, cases: 8, seed: seedReachingBothCrashes(port, 8) });
      try {
        expect(run.attempt.status, run.attempt.message).to.equal('pass');
        expect(run.requirement).to.equal('pass');
        const killers = run.cases.filter(killsNodeOpcua);
        expect(killers.length).to.be.greaterThan(1);
        for (const c of killers) expect(c, c.mutation).to.deep.include({ stillAnswers: true }).and.have.nested.property('reaction.detail').match(/ERR 0x80/);
      } finally {
        run.remove();
      }
    });

    it('the weak emulator (bare node-opcua in a helper process) loses its OPC UA service and fails CR 3.5', async () => {
      const port = devices.weak!.port;
      const run = await assessFuzz('opcua.fuzz', opcua(port), { ...FAST, cases: 8, seed: seedReachingBothCrashes(port, 8) });
      try {
        expect(run.attempt.status, run.attempt.message).to.equal('fail');
        expect(run.attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.fuzz.function-killed']);
        const last = run.cases.at(-1)!;
        expect(last.stillAnswers).to.equal(false);
        expect(killsNodeOpcua(last), last.mutation).to.equal(true);
      } finally {
        run.remove();
      }
    });
  });

  describeMisbehavingPeers(probe, { service: opcua, timeoutMs: 4000, inputs: { waitMs: 200, recoveryMs: 300, cases: 20 } });
});
