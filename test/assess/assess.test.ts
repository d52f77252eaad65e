import { expect } from 'chai';
import { assess, slAchieved } from '../../src/assess';
import { loadCatalog } from '../../src/catalog';
import type { Attempt, RequirementVerdict } from '../../src/report/model';
import { FRS, type ComponentInfo, type RequirementOutcome, type SlVector } from '../../src/sdk';

const catalog = loadCatalog();
const sl = (n: number) => Object.fromEntries(FRS.map((fr) => [fr, n])) as SlVector;
const component: ComponentInfo = { name: 'c', types: ['embedded'], slTarget: sl(2) };

function attempt(probe: string, outcomes: RequirementOutcome[], findings: Attempt['findings'] = []): Attempt {
  return {
    probe, target: '10.0.0.1:1', service: 'x', safety: 'passive', status: 'pass', startedAt: '', durationMs: 1,
    observations: {}, findings, outcomes, evidence: [],
  };
}
const pass = (requirement: string, coverage: 'full' | 'partial' = 'full'): RequirementOutcome => ({ requirement, verdict: 'pass', coverage, reason: 'ok' });
const fail = (requirement: string): RequirementOutcome => ({ requirement, verdict: 'fail', coverage: 'partial', reason: 'bad' });

describe('assessment', () => {
  const base = { catalog, component, probeRequirements: new Map<string, string[]>([['p.a', ['CR 4.3']]]) };

  it('a row no probe evidences is not_determined with the reason, never pass', () => {
    const r = assess({ ...base, attempts: [] }).requirements.find((x) => x.id === 'CR 1.3')!;
    expect(r).to.include({ verdict: 'not_determined', source: 'none' });
    expect(r.reason).to.match(/documentation review|manual/);
    const tls = assess({ ...base, attempts: [] }).requirements.find((x) => x.id === 'CR 4.3')!;
    expect(tls.reason).to.contain('p.a');
  });

  it('one failing outcome fails the row even when others pass', () => {
    const r = assess({ ...base, attempts: [attempt('p.a', [pass('CR 4.3')]), attempt('p.b', [fail('CR 4.3')], [{ code: 'x.weak', severity: 'high', requirements: ['CR 4.3'], message: 'm', evidence: [] }])] })
      .requirements.find((x) => x.id === 'CR 4.3')!;
    expect(r).to.include({ verdict: 'fail', source: 'probe' });
    expect(r.findings).to.deep.equal(['x.weak']);
    expect(r.basis).to.deep.equal(['p.b@10.0.0.1:1']);
  });

  it('a full-coverage pass passes; a partial-only pass stays not_determined until attested', () => {
    const full = assess({ ...base, attempts: [attempt('p.a', [pass('CR 4.3')])] }).requirements.find((x) => x.id === 'CR 4.3')!;
    expect(full).to.include({ verdict: 'pass', coverage: 'full' });
    const partial = assess({ ...base, attempts: [attempt('p.a', [pass('CR 4.3', 'partial')])] }).requirements.find((x) => x.id === 'CR 4.3')!;
    expect(partial).to.include({ verdict: 'not_determined', source: 'probe', coverage: 'partial' });
    const attested = assess({
      ...base, attempts: [attempt('p.a', [pass('CR 4.3', 'partial')])],
      attestations: [{ id: 'CR 4.3', verdict: 'pass', reviewer: 'A. Tester', date: '2026-11-29', evidence: 'design review DR-7' }],
    }).requirements.find((x) => x.id === 'CR 4.3')!;
    expect(attested).to.include({ verdict: 'pass', source: 'manual' });
    expect(attested.basis).to.deep.equal(['p.a@10.0.0.1:1', 'manual']);
  });

  it('probe evidence of a failure prevails over an attestation that says pass', () => {
    const r = assess({
      ...base, attempts: [attempt('p.a', [fail('CR 4.3')], [{ code: 'x', severity: 'high', requirements: ['CR 4.3'], message: 'm', evidence: [] }])],
      attestations: [{ id: 'CR 4.3', verdict: 'pass', reviewer: 'r', date: 'd' }],
    }).requirements.find((x) => x.id === 'CR 4.3')!;
    expect(r.verdict).to.equal('fail');
    expect(r.reason).to.contain('prevails');
  });

  it('only the component types\' rows are assessed', () => {
    const ids = assess({ ...base, attempts: [] }).requirements.map((r) => r.id);
    expect(ids).to.include('EDR 2.4');
    expect(ids.some((id) => id.startsWith('NDR') || id.startsWith('HDR') || id.startsWith('SAR'))).to.equal(false);
  });

  describe('a row passes only when every interface that should evidence it was examined (no pass from elsewhere)', () => {
    const lockoutProbes = new Map<string, string[]>([['ssh.lockout', ['CR 1.11']], ['http.lockout', ['CR 1.11']], ['opcua.lockout', ['CR 1.11']]]);
    const at = (a: Attempt, target: string, patch: Partial<Attempt> = {}): Attempt => ({ ...a, target, ...patch });
    const row = (attempts: Attempt[], probeRequirements: Map<string, string[]>, id: string) =>
      assess({ catalog, component, attempts, probeRequirements }).requirements.find((x) => x.id === id)!;

    it('a full pass on SSH with the web lockout errored and the OPC UA one skipped is not_determined, naming both', () => {
      const r = row([
        at(attempt('ssh.lockout', [pass('CR 1.11')]), '10.0.0.1:22'),
        at(attempt('http.lockout', []), '10.0.0.1:443', { status: 'error', reason: 'timeout', message: 'no result within the 240000 ms budget' }),
        at(attempt('opcua.lockout', []), '10.0.0.1:4840', { status: 'skipped', reason: 'not-allowed', message: 'intrusive is not allowed' }),
      ], lockoutProbes, 'CR 1.11');
      expect(r).to.include({ verdict: 'not_determined', source: 'probe' });
      expect(r.notExamined).to.deep.equal([
        'http.lockout@10.0.0.1:443: error (timeout): no result within the 240000 ms budget',
        'opcua.lockout@10.0.0.1:4840: skipped (not-allowed): intrusive is not allowed',
      ]);
      expect(r.reason).to.match(/^not examined on every interface: http\.lockout@10\.0\.0\.1:443: error \(timeout\)/).and.to.contain('supports a pass: ssh.lockout@10.0.0.1:22');
    });

    it('not applicable on one interface and an error on another is not_determined, never not_applicable', () => {
      const probes = new Map<string, string[]>([['tls.client-certificate', ['CR 1.9']], ['opcua.client-certificate', ['CR 1.2', 'CR 1.9']]]);
      const r = row([
        at(attempt('tls.client-certificate', [{ requirement: 'CR 1.9', verdict: 'not_applicable', coverage: 'full', reason: 'requests no client certificate' }]), '10.0.0.1:443', { status: 'not_applicable' }),
        at(attempt('opcua.client-certificate', []), '10.0.0.1:4840', { status: 'error', reason: 'protocol', message: 'reset' }),
      ], probes, 'CR 1.9');
      expect(r.verdict).to.equal('not_determined');
      expect(r.notExamined).to.deep.equal(['opcua.client-certificate@10.0.0.1:4840: error (protocol): reset']);
    });

    it('an attempt that ended without judging the row leaves its interface not examined unless another attempt there judged it', () => {
      const probes = new Map<string, string[]>([['a.one', ['CR 4.3']], ['a.two', ['CR 4.3']]]);
      const judgedByOther = row([
        at(attempt('a.one', [pass('CR 4.3')]), '10.0.0.1:443'),
        at(attempt('a.two', [], [], ), '10.0.0.1:443', { status: 'not_applicable', message: 'nothing to judge here' }),
      ], probes, 'CR 4.3');
      expect(judgedByOther.verdict).to.equal('pass');
      const nobodyThere = row([
        at(attempt('a.one', [pass('CR 4.3')]), '10.0.0.1:443'),
        at(attempt('a.two', []), '10.0.0.1:8443', { status: 'not_applicable', message: 'the TLS 1.3 flight could not be read' }),
      ], probes, 'CR 4.3');
      expect(nobodyThere.verdict).to.equal('not_determined');
      expect(nobodyThere.notExamined).to.deep.equal(['a.two@10.0.0.1:8443: not_applicable without a judgement of CR 4.3 (the TLS 1.3 flight could not be read)']);
    });

    it('a full pass on one interface and a partial one on another is not_determined, naming the partial interface', () => {
      const probes = new Map<string, string[]>([['a.one', ['CR 4.3']]]);
      const r = row([at(attempt('a.one', [pass('CR 4.3')]), '10.0.0.1:443'), at(attempt('a.one', [pass('CR 4.3', 'partial')]), '10.0.0.1:8443')], probes, 'CR 4.3');
      expect(r).to.include({ verdict: 'not_determined', coverage: 'partial' });
      expect(r.reason).to.contain('on 10.0.0.1:8443 the probes saw only part');
    });

    it('not applicable only when every interface says why', () => {
      const probes = new Map<string, string[]>([['tls.client-certificate', ['CR 1.9']]]);
      const na = (target: string) => at(attempt('tls.client-certificate', [{ requirement: 'CR 1.9', verdict: 'not_applicable', coverage: 'full', reason: `${target} requests no client certificate` }]), target, { status: 'not_applicable' });
      const r = row([na('10.0.0.1:443'), na('10.0.0.1:8443')], probes, 'CR 1.9');
      expect(r.verdict).to.equal('not_applicable');
      expect(r.reason).to.contain('10.0.0.1:443 requests no client certificate').and.to.contain('10.0.0.1:8443 requests no client certificate');
    });

    it('a failure still fails the row whatever else errored', () => {
      const r = row([
        at(attempt('ssh.lockout', [fail('CR 1.11')], [{ code: 'ssh.lockout.none', severity: 'high', requirements: ['CR 1.11'], message: 'm', evidence: [] }]), '10.0.0.1:22', { status: 'fail' }),
        at(attempt('http.lockout', []), '10.0.0.1:443', { status: 'error', reason: 'timeout' }),
      ], lockoutProbes, 'CR 1.11');
      expect(r.verdict).to.equal('fail');
    });
  });

  describe('SL achieved per FR', () => {
    const row = (id: string, fr: string, levels: number[], verdict: RequirementVerdict['verdict']): RequirementVerdict => ({
      id, title: id, fr: fr as 'FR1', sl: levels as 1[], verdict, source: 'probe', basis: [], reason: '', findings: [], requiredAtTarget: true, confidence: 'high',
    });

    it('is the highest level whose cumulative rows all pass or are not applicable', () => {
      const rows = [
        row('CR 4.1', 'FR4', [1, 2, 3, 4], 'pass'), row('CR 4.3', 'FR4', [1, 2, 3, 4], 'not_applicable'),
        row('CR 4.2', 'FR4', [2, 3, 4], 'pass'), row('CR 4.2 RE(1)', 'FR4', [3, 4], 'fail'),
      ];
      expect(slAchieved(rows).FR4).to.equal(2);
    });

    it('is 0 when an SL 1 row is not determined, even if higher rows pass', () => {
      const rows = [row('CR 7.1', 'FR7', [1, 2, 3, 4], 'not_determined'), row('CR 7.8', 'FR7', [2, 3, 4], 'pass')];
      expect(slAchieved(rows).FR7).to.equal(0);
    });

    it('reaches 4 only when every row passes', () => {
      expect(slAchieved([row('CR 5.1', 'FR5', [1, 2, 3, 4], 'pass')]).FR5).to.equal(4);
    });

    it('gaps list what blocks the target, split into failing and undetermined', () => {
      const result = assess({ ...base, attempts: [attempt('p.a', [fail('CR 4.3')], [{ code: 'x', severity: 'high', requirements: ['CR 4.3'], message: 'm', evidence: [] }])] });
      const fr4 = result.gaps.find((g) => g.fr === 'FR4')!;
      expect(fr4).to.deep.include({ target: 2, achieved: 0, failing: ['CR 4.3'] });
      expect(fr4.undetermined).to.include.members(['CR 4.1', 'CR 4.2']);
      expect(fr4.undetermined).to.not.include('CR 4.2 RE(1)');
    });
  });
});
