import { expect } from 'chai';
import { diffReports, diffValues, renderDiffText } from '../../src/report/diff';
import type { Report } from '../../src/report/model';
import { expectGolden } from '../helpers/golden';
import { finish, makeReport } from '../helpers/report-factory';

const clone = (r: Report): Report => JSON.parse(JSON.stringify(r)) as Report;

/** The same device after a restart of an emulator: one service on another (ephemeral) port. */
function movePort(r: Report, host: string, from: number, to: number): Report {
  const at = host.includes(':') ? `[${host}]` : host;
  const text = JSON.stringify(r)
    .split(`${at}:${from}`).join(`${at}:${to}`)
    .split(`${host.replace(/:/g, '_')}_${from}`).join(`${host.replace(/:/g, '_')}_${to}`);
  const out = JSON.parse(text) as Report;
  for (const s of out.targets.find((t) => t.host === host)!.services) if (s.port === from) s.port = to;
  const ports = out.attempts.find((a) => a.probe === 'ports.tcp')!.observations.open as { port: number }[];
  for (const p of ports) if (p.port === from) p.port = to;
  return out;
}

/** Baseline A and a worse B: a new open port, a weak cipher that fails CR 4.3, and CR 2.8 losing its evidence. */
function pair(): { a: Report; b: Report } {
  const a = makeReport({ hostile: false });
  const b = movePort(clone(a), '127.0.0.1', 22, 40022);
  b.run.id = '20250315T101010Z-beef00';
  b.component.firmware = '1.0.1';
  const ports = b.attempts.find((a) => a.probe === 'ports.tcp')!;
  (ports.observations.open as unknown[]).push({ port: 8080, service: 'http', declared: false });
  const ssh = b.attempts.find((x) => x.probe === 'ssh.algorithms')!;
  ssh.status = 'fail';
  (ssh.observations.ciphers as string[]).push('aes128-cbc');
  ssh.findings.push({ code: 'ssh.weak-cipher', severity: 'medium', requirements: ['CR 4.3'], message: 'aes128-cbc offered', evidence: [] });
  ssh.outcomes = [{ requirement: 'CR 4.3', verdict: 'fail', coverage: 'partial', reason: 'aes128-cbc offered' }];
  const cr43 = b.requirements.find((r) => r.id === 'CR 4.3')!;
  Object.assign(cr43, { verdict: 'fail', findings: ['ssh.weak-cipher'], reason: 'ssh.algorithms@127.0.0.1:40022: aes128-cbc offered' });
  const mod = b.attempts.find((x) => x.probe === 'modbus.identity')!;
  Object.assign(mod, { status: 'error', reason: 'timeout', outcomes: [], message: 'no answer' });
  Object.assign(b.requirements.find((r) => r.id === 'CR 2.8')!, { verdict: 'not_determined', source: 'none', basis: [] });
  return { a, b: finish(b) };
}

describe('diff between two runs', () => {
  it('lists what got worse, with services matched across a port change (golden text and JSON)', () => {
    const { a, b } = pair();
    const d = diffReports(a, b);
    expect(d.portMoves).to.deep.equal([{ host: '127.0.0.1', service: 'ssh "ssh plain text"', from: 22, to: 40022 }]);
    expect(d.requirements.map((r) => [r.id, r.before, r.after, r.worse])).to.deep.equal([
      ['CR 2.8', 'not_applicable', 'not_determined', true], ['CR 4.3', 'pass', 'fail', true],
    ]);
    expect(d.sl).to.deep.equal([{ fr: 'FR2', before: 4, after: 0, worse: true }]);
    expect(d.findingsAppeared.map((f) => `${f.code}@${f.target}`)).to.deep.equal(['ssh.weak-cipher@127.0.0.1:40022']);
    expect(d.findingsGone).to.deep.equal([]);
    const ssh = d.attempts.find((x) => x.key === 'ssh.algorithms@127.0.0.1:40022')!;
    expect(ssh).to.deep.include({ statusBefore: 'pass', statusAfter: 'fail' });
    expect(ssh.changes).to.deep.equal([{ path: 'ciphers', kind: 'added', after: 'aes128-cbc' }]);
    // The moved ssh port is not a change of ports.tcp's open list; the new port 8080 is.
    expect(d.attempts.find((x) => x.key === 'ports.tcp@127.0.0.1')!.changes).to.deep.equal([
      { path: 'open[port=8080]', kind: 'added', after: { port: 8080, service: 'http', declared: false } },
    ]);
    expect(d.regressions).to.deep.equal([
      'FR2 SL achieved 4 -> 0', 'CR 2.8 not applicable -> not determined', 'CR 4.3 pass -> fail', 'new medium finding ssh.weak-cipher @ 127.0.0.1:40022',
      'modbus.identity@[::1]:502 now ends in an error (was not_applicable)',
    ]);
    expectGolden('test/report/diff.golden.txt', renderDiffText(d));
    expectGolden('test/report/diff.golden.json', JSON.stringify(d, null, 2) + '\n');
  });

  it('the other way round nothing got worse', () => {
    const { a, b } = pair();
    const d = diffReports(b, a);
    expect(d.regressions).to.deep.equal([]);
    expect(d.findingsGone.map((f) => f.code)).to.deep.equal(['ssh.weak-cipher']);
    expect(d.requirements.every((r) => !r.worse)).to.equal(true);
    expect(renderDiffText(d)).to.match(/No regression \(B is as good or better\)\.\n$/);
  });

  it('a probe that now errors, or a run that did not complete, is a regression on its own', () => {
    const a = makeReport({ hostile: false });
    const b = clone(a);
    const passing = b.attempts.find((x) => x.status === 'pass')!;
    Object.assign(passing, { status: 'error', reason: 'timeout', message: 'no answer' });
    expect(diffReports(a, b).regressions).to.deep.equal([`${passing.probe}@${passing.target} now ends in an error (was pass)`]);
    const c = clone(a);
    c.run.complete = false;
    expect(diffReports(a, c).regressions).to.deep.equal(['the run did not complete']);
  });

  it('two runs of the same device on other ephemeral ports show no difference', () => {
    const a = makeReport({ hostile: false });
    const b = movePort(clone(a), '::1', 4840, 41234);
    const d = diffReports(a, b);
    expect(d.portMoves).to.have.length(1);
    expect([d.attempts, d.requirements, d.findingsAppeared, d.findingsGone, d.regressions]).to.deep.equal([[], [], [], [], []]);
  });

  it('a finding whose message differs only by a value is not new; one more of the same code is', () => {
    const a = makeReport({ hostile: false });
    const b = clone(a);
    const ports = b.attempts.find((x) => x.probe === 'ports.tcp')!;
    ports.findings[1] = { ...ports.findings[1], message: 'tcp/45999 is open but not declared' };
    expect(diffReports(a, b).findingsAppeared).to.deep.equal([]);
    ports.findings.push({ ...ports.findings[1], message: 'tcp/46000 is open but not declared' });
    expect(diffReports(a, b).findingsAppeared.map((f) => f.message)).to.deep.equal(['tcp/45999 is open but not declared']);
    expect(diffReports(a, b).regressions).to.deep.equal(['new medium finding ports.tcp.undeclared-open @ 127.0.0.1']);
  });

  it('deep diff: nested objects by key, lists of values as sets, lists of records by an identity key', () => {
    expect(diffValues(
      { protocols: { 'TLSv1.2': true, 'TLSv1.3': true }, ciphers: { 'TLSv1.2': ['A', 'B'] }, certificate: { keyBits: 2048 }, endpoints: [{ endpointUrl: 'u1', securityMode: 'None' }] },
      { protocols: { 'TLSv1.2': true, 'TLSv1.1': true }, ciphers: { 'TLSv1.2': ['B', 'C'] }, certificate: { keyBits: 1024 }, endpoints: [{ endpointUrl: 'u1', securityMode: 'Sign' }] },
    )).to.deep.equal([
      { path: 'certificate.keyBits', kind: 'changed', before: 2048, after: 1024 },
      { path: 'ciphers.TLSv1.2', kind: 'removed', before: 'A' },
      { path: 'ciphers.TLSv1.2', kind: 'added', after: 'C' },
      { path: 'endpoints[endpointUrl=u1].securityMode', kind: 'changed', before: 'None', after: 'Sign' },
      { path: 'protocols.TLSv1.1', kind: 'added', after: true },
      { path: 'protocols.TLSv1.3', kind: 'removed', before: true },
    ]);
  });
});
