import { expect } from 'chai';
import ports from '../../probes/ports/tcp';
import { defineProbe, judge } from '../../src/sdk';
import { buggyProbe, deafProbe, greetingProbe, liarProbe, strayProbe } from '../../fixtures/probes';
import { bannerServer, closedPort, resetServer, stallServer, type TestServer } from '../../fixtures/servers';
import { runProbe } from '../helpers/probe-harness';

describe('runner: one attempt against real sockets', () => {
  const servers: TestServer[] = [];
  after(async () => Promise.all(servers.map((s) => s.close())));
  const start = async (factory: () => Promise<TestServer>) => {
    const s = await factory();
    servers.push(s);
    return s;
  };

  it('a passing probe gives status pass, its outcomes and its evidence', async () => {
    const s = await start(() => bannerServer('hello\r\n'));
    const { attempt, read } = await runProbe(greetingProbe, { service: { port: s.port, protocol: 'tcp' } });
    expect(attempt.status).to.equal('pass');
    expect(attempt.outcomes).to.deep.equal([{ requirement: 'CR 4.1', verdict: 'pass', coverage: 'full', reason: 'greeting is not insecure' }]);
    expect(attempt.evidence).to.deep.equal([`evidence/fixture.greeting/127.0.0.1_${s.port}/greeting.txt`]);
    expect(read(attempt.evidence[0])).to.equal('hello\r\n');
  });

  it('a finding fails the requirement and the attempt', async () => {
    const s = await start(() => bannerServer('INSECURE device\r\n'));
    const { attempt } = await runProbe(greetingProbe, { service: { port: s.port, protocol: 'tcp' } });
    expect(attempt.status).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['fixture.greeting.insecure']);
  });

  it('a closed port is unreachable', async () => {
    const s = await closedPort();
    const { attempt } = await runProbe(greetingProbe, { service: { port: s.port, protocol: 'tcp' } });
    expect(attempt).to.include({ status: 'error', reason: 'unreachable' });
  });

  it('a server that accepts and never answers ends as timeout within its budget', async () => {
    const s = await start(stallServer);
    const { attempt } = await runProbe(greetingProbe, { service: { port: s.port, protocol: 'tcp' }, timeoutMs: 300 });
    expect(attempt).to.include({ status: 'error', reason: 'timeout' });
    expect(attempt.message).to.contain('300 ms');
  });

  it('a reset is a protocol error', async () => {
    const s = await start(resetServer);
    const { attempt } = await runProbe(greetingProbe, { service: { port: s.port, protocol: 'tcp' } });
    expect(attempt.status).to.equal('error');
    expect(['protocol', 'unreachable']).to.include(attempt.reason);
  });

  it('a probe that ignores its signal is abandoned after the grace period', async () => {
    const s = await start(stallServer);
    const { attempt } = await runProbe(deafProbe, { service: { port: s.port, protocol: 'tcp' } });
    expect(attempt).to.include({ status: 'error', reason: 'timeout' });
  });

  it('an exception that is not a device problem is classified as a bug, with the stack', async () => {
    const s = await start(stallServer);
    const { attempt } = await runProbe(buggyProbe, { service: { port: s.port, protocol: 'tcp' } });
    expect(attempt).to.include({ status: 'error', reason: 'bug' });
    expect(attempt.message).to.match(/TypeError: cannot read properties/);
  });

  it('a result citing an undeclared requirement is refused as a bug', async () => {
    const s = await start(stallServer);
    const { attempt } = await runProbe(liarProbe, { service: { port: s.port, protocol: 'tcp' } });
    expect(attempt).to.include({ status: 'error', reason: 'bug' });
    expect(attempt.message).to.contain('CR 1.1');
  });

  it('the scope guard refuses a connection to a host the profile does not name', async () => {
    const s = await start(() => bannerServer('hello\r\n'));
    const { attempt } = await runProbe(strayProbe, { service: { port: s.port, protocol: 'tcp' } });
    expect(attempt).to.include({ status: 'error', reason: 'scope' });
    expect(attempt.message).to.contain('127.0.0.99');
  });
});

/** Waits on purpose through ctx.wait (`waits` pauses of `ms`), then passes CR 3.5. */
function patientProbe(ms: number, waits: number, timeoutMs = 2000) {
  return defineProbe({
    id: 'fixture.patient', protocol: 'fixture', title: 'waits on purpose', description: 'test probe',
    requirements: ['CR 3.5'], safety: 'passive', scope: 'service', appliesTo: ['tcp'], timeoutMs, findings: {},
    async run(ctx) {
      for (let i = 1; i <= waits; i++) await ctx.wait(ms, `pause ${i} of ${waits}`);
      return { observations: { waited: waits }, findings: [], outcomes: judge([{ requirement: 'CR 3.5', coverage: 'partial', passReason: 'waited' }], []) };
    },
  });
}

interface WaitLine { type: string; probe: string; target: string; ms: number; why: string; at: string }
const waitLines = (journal: string): WaitLine[] => journal.trim().split('\n').map((l) => JSON.parse(l) as WaitLine).filter((r) => r.type === 'wait');

describe('runner: ctx.wait journals every deliberate wait', () => {
  it('one journal line per wait, before it sleeps: probe, target, ms, why, at', async () => {
    const before = Date.now();
    const { attempt, read } = await runProbe(patientProbe(30, 2), { service: { port: 9, protocol: 'tcp' } });
    expect(attempt.status, attempt.message).to.equal('pass');
    const lines = waitLines(read('journal.ndjson'));
    expect(lines.map(({ at: _at, ...rest }) => rest)).to.deep.equal([
      { type: 'wait', probe: 'fixture.patient', target: '127.0.0.1:9', ms: 30, why: 'pause 1 of 2' },
      { type: 'wait', probe: 'fixture.patient', target: '127.0.0.1:9', ms: 30, why: 'pause 2 of 2' },
    ]);
    const at = lines.map((l) => Date.parse(l.at));
    expect(at[0]).to.be.at.least(before - 1);
    // The second line is written after the first pause has elapsed: the lines are the waits, in order.
    expect(at[1] - at[0]).to.be.at.least(29);
  });

  it('a wait longer than the budget ends with the deadline (timeout, no grace period), and its line is in the journal', async () => {
    const { attempt, read } = await runProbe(patientProbe(60_000, 1, 200), { service: { port: 9, protocol: 'tcp' } });
    expect(attempt).to.include({ status: 'error', reason: 'timeout' });
    expect(attempt.durationMs).to.be.below(1500);
    expect(waitLines(read('journal.ndjson')).map((l) => [l.ms, l.why])).to.deep.equal([[60_000, 'pause 1 of 1']]);
  });
});

describe('runner: baselines', () => {
  it('a probe reading a baseline records which file, level and basis it applied', async () => {
    const { attempt, read } = await runProbe(ports, { inputs: { scanner: 'connect', ports: '1' }, sl: 3 });
    const about = JSON.parse(read(attempt.evidence.find((e) => e.endsWith('baseline-ports.json'))!)) as { file: string; level: number; basis: string[]; sha256: string };
    expect(about.file).to.equal('profiles/baselines/ports.yaml');
    expect(about.level).to.equal(1); // ports.yaml defines level 1 only; SL 3 inherits it
    expect(about.basis.join(' ')).to.contain('CR 7.7');
    expect(about.sha256).to.match(/^[0-9a-f]{64}$/);
  });
});
