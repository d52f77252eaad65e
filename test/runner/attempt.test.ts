import { expect } from 'chai';
import ports from '../../probes/ports/tcp';
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
