import { expect } from 'chai';
import { assess } from '../../src/assess';
import { loadCatalog } from '../../src/catalog';
import type { Attempt, Report } from '../../src/report/model';
import { renderConsoleSummary } from '../../src/report/console';
import { renderHtml } from '../../src/report/html';
import { FRS, type ComponentInfo, type RequirementOutcome, type SlVector } from '../../src/sdk';
import { makeReport } from '../helpers/report-factory';
import { expectValidReport } from '../helpers/report-schema';

const catalog = loadCatalog();
const sl = (n: number) => Object.fromEntries(FRS.map((fr) => [fr, n])) as SlVector;
const component: ComponentInfo = { name: 'c', types: ['embedded'], slTarget: sl(2) };

function attempt(probe: string, status: Attempt['status'], outcomes: RequirementOutcome[], findings: Attempt['findings'] = []): Attempt {
  return {
    probe, target: '10.0.0.1:1', service: 'x', safety: 'passive', status, startedAt: '', durationMs: 1, observations: {}, findings, outcomes, evidence: [],
    ...(status === 'error' ? { reason: 'timeout', message: 'no answer' } : {}),
  };
}
const pass = (requirement: string, coverage: 'full' | 'partial' = 'full'): RequirementOutcome => ({ requirement, verdict: 'pass', coverage, reason: 'ok' });
const fail = (requirement: string): RequirementOutcome => ({ requirement, verdict: 'fail', coverage: 'partial', reason: 'bad' });
const weak = { code: 'x.weak', severity: 'high' as const, requirements: ['CR 3.1'], message: 'm', evidence: [] };

// FR4 rows for embedded components: CR 4.1 (SL 1-4), CR 4.2 (2-4), CR 4.2 RE(1) (3-4), CR 4.2 RE(2) (3-4), CR 4.3 (1-4).
// FR3: CR 3.1 (1-4) among rows no probe of this table evidences.
const probeRequirements = new Map<string, string[]>([
  ['p.dc', ['CR 4.1', 'CR 4.3']],
  ['p.re', ['CR 4.2 RE(1)']],
  ['p.si', ['CR 3.1']],
  ['p.ra', ['CR 7.7']],
]);

/** One run with mixed outcomes: FR4 probe rows pass, FR3's probe row fails, FR7's errored, FR5's partly covered. */
function mixedAssessment() {
  return assess({
    catalog, component, probeRequirements,
    attempts: [
      attempt('p.dc', 'pass', [pass('CR 4.1'), pass('CR 4.3')]),
      attempt('p.si', 'fail', [fail('CR 3.1')], [weak]),
      attempt('p.ra', 'error', []),
    ],
  });
}

describe('readiness next to SL-C', () => {
  it('FR whose probe rows pass: ready to the level the first probe-testable row without a verdict blocks; rows no probe evidences need attestation', () => {
    const fr4 = mixedAssessment().gaps.find((g) => g.fr === 'FR4')!;
    expect(fr4.achieved).to.equal(1); // strict SL-C: CR 4.2 (SL 2) has no verdict
    expect(fr4.readiness).to.deep.equal({
      level: 2,
      blockedAt: { level: 3, failing: [], notEvidenced: ['CR 4.2 RE(1)'] }, // p.re could evidence it and did not run
      probeEvidenced: ['CR 4.1', 'CR 4.3'],
      needAttestation: ['CR 4.2'],
      notEvidenced: [],
    });
  });

  it('a failing probe row blocks readiness at its level', () => {
    const fr3 = mixedAssessment().gaps.find((g) => g.fr === 'FR3')!;
    expect(fr3.readiness!.level).to.equal(0);
    expect(fr3.readiness!.blockedAt).to.deep.equal({ level: 1, failing: ['CR 3.1'], notEvidenced: [] });
    expect(fr3.readiness!.needAttestation).to.not.include('CR 3.1'); // an attestation cannot lift a probe failure
    expect(fr3.readiness!.needAttestation.length).to.be.greaterThan(0);
  });

  it('a not-determined probe-testable row is listed as not evidenced, never counted ready', () => {
    const fr7 = mixedAssessment().gaps.find((g) => g.fr === 'FR7')!;
    expect(fr7.readiness!.level).to.equal(0);
    expect(fr7.readiness!.notEvidenced).to.include('CR 7.7');
    expect(fr7.readiness!.needAttestation).to.not.include('CR 7.7');
    expect(fr7.readiness!.blockedAt!.notEvidenced).to.include('CR 7.7');
  });

  it('a partial probe pass is left to attest; an attestation then lifts the strict SL-C', () => {
    const partial = assess({ catalog, component, probeRequirements, attempts: [attempt('p.dc', 'pass', [pass('CR 4.1'), pass('CR 4.3', 'partial')])] });
    const fr4 = partial.gaps.find((g) => g.fr === 'FR4')!;
    expect(fr4.achieved).to.equal(0);
    expect(fr4.readiness!.level).to.equal(2);
    expect(fr4.readiness!.needAttestation).to.deep.equal(['CR 4.2', 'CR 4.3']);
    expect(fr4.readiness!.probeEvidenced).to.deep.equal(['CR 4.1']); // the partial pass is not counted as evidenced
    const attested = assess({
      catalog, component, probeRequirements, attempts: [attempt('p.dc', 'pass', [pass('CR 4.1'), pass('CR 4.3', 'partial')])],
      attestations: ['CR 4.2', 'CR 4.3'].map((id) => ({ id, verdict: 'pass' as const, reviewer: 'A. Tester', date: '2026-12-01' })),
    }).gaps.find((g) => g.fr === 'FR4')!;
    expect(attested.achieved).to.equal(2);
    expect(attested.readiness!.needAttestation).to.deep.equal([]);
    expect(attested.readiness!.probeEvidenced).to.deep.equal(['CR 4.1']); // attested rows count, but not as probe evidence
  });

  it('without any attempt nothing probe-testable is ready: every FR with a probe row stays at 0', () => {
    const none = assess({ catalog, component, probeRequirements, attempts: [] });
    for (const fr of ['FR3', 'FR4', 'FR7']) expect(none.gaps.find((g) => g.fr === fr)!.readiness!.level, fr).to.equal(0);
  });

  describe('in the reports', () => {
    function reportWithReadiness(): Report {
      const a = mixedAssessment();
      return { ...makeReport({ hostile: false }), requirements: a.requirements, slAchieved: a.slAchieved, slTarget: sl(2), gaps: a.gaps };
    }

    it('report.json validates with readiness', () => {
      expectValidReport(JSON.parse(JSON.stringify(reportWithReadiness())));
    });

    it('the console summary says what blocks and how many rows need attestation', () => {
      const text = renderConsoleSummary(reportWithReadiness(), 'runs/x');
      const fr4 = mixedAssessment().gaps.find((g) => g.fr === 'FR4')!.readiness!;
      expect(text).to.contain('Readiness');
      expect(text).to.match(new RegExp(`FR4 DC +no probe-testable row blocks SL 2; 2 rows evidenced by probes, ${fr4.needAttestation.length} rows? to attest for SL 2`));
      expect(text).to.match(/FR3 SI +probe-testable rows block SL 1; SL 1 blocked by 1 failing \(CR 3\.1\)/);
      expect(text).to.match(/FR7 RA .*not evidenced by probes \(.*CR 7\.7/);
    });

    it('report.html shows the readiness bar in the SL chart and the table next to it', () => {
      const html = renderHtml(reportWithReadiness());
      const section = html.slice(html.indexOf('<section id="sl">'), html.indexOf('</section>', html.indexOf('<section id="sl">')));
      expect(section).to.contain('probe evidence supports');
      expect(section).to.contain('<title>FR4: no probe-testable row blocks SL 2');
      expect(section).to.contain('Readiness: what the probe evidence supports');
      expect(section).to.match(/SL 1 blocked by 1 failing \(CR 3\.1\)/);
      expect(section).to.contain('1: CR 4.2</td>');
    });

    it('a report without readiness (written before it existed) renders without it', () => {
      const old = makeReport({ hostile: false });
      expect(renderHtml(old)).to.not.contain('Readiness: what the probe evidence supports');
      expect(renderConsoleSummary(old, 'runs/x')).to.not.contain('Readiness');
    });
  });
});
