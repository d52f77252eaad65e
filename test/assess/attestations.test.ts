import { expect } from 'chai';
import { assess } from '../../src/assess';
import { AttestationError, parseAttestations } from '../../src/assess/attestations';
import { loadCatalog } from '../../src/catalog';
import { FRS, type ComponentInfo, type SlVector } from '../../src/sdk';

const catalog = loadCatalog();
const parse = (text: string) => parseAttestations(Buffer.from(text), 'att.yaml', catalog, ['embedded']);

function errors(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    expect(err).to.be.instanceOf(AttestationError);
    return (err as Error).message.split('\n');
  }
  throw new Error('expected an AttestationError');
}

describe('manual attestations (--attest)', () => {
  it('reads filled entries and skips the ones a template left empty', () => {
    const file = parse(`# comment
- id: CR 1.1
  verdict: pass
  reviewer: A. Prüfer
  date: 2025-03-13
  evidence: user manual v2.1 §4.3
  remark: minimum length 12
- id: CR 1.3
  verdict:          # pass | fail | not_applicable
  reviewer:
  date:
  evidence:
  remark:
- { id: EDR 2.13, verdict: not_applicable, reviewer: B, date: "2025-03-14", evidence: 42 }
`);
    expect(file.attestations).to.deep.equal([
      { id: 'CR 1.1', verdict: 'pass', reviewer: 'A. Prüfer', date: '2025-03-13', evidence: 'user manual v2.1 §4.3', remark: 'minimum length 12' },
      { id: 'EDR 2.13', verdict: 'not_applicable', reviewer: 'B', date: '2025-03-14', evidence: '42' },
    ]);
    expect(file.untouched).to.deep.equal(['CR 1.3']);
    expect(parse('').attestations).to.deep.equal([]);
  });

  it('names file, line and field of every problem', () => {
    const lines = errors(`- id: CR1.1
  verdict: pass
- id: NDR 1.6
  verdict: pass
- id: CR 9.9
  verdict: pass
- id: CR 1.3
  verdict: passed
  reviewer: ""
  date: 2025-02-30
  evidence: doc
  signature: x
- id: CR 1.4
  verdict: fail
  reviewer: R
  date: 2025-01-01
- id: CR 1.4
  verdict: pass
  reviewer: R
  date: 2025-01-01
  evidence: doc
- just text
`);
    expect(lines).to.deep.equal([
      'att.yaml:1:3: [0].id: unknown requirement id "CR1.1" (did you mean "CR 1.1"?); `iacs-probe catalog` lists them',
      'att.yaml:3:3: [1].id: NDR 1.6 applies to network components, not to embedded',
      'att.yaml:5:3: [2].id: unknown requirement id "CR 9.9"; `iacs-probe catalog` lists them',
      'att.yaml:12:3: [3].signature: unknown field (expected id, verdict, reviewer, date, evidence, remark)',
      'att.yaml:8:3: [3].verdict: CR 1.3: verdict must be pass, fail or not_applicable (got "passed")',
      'att.yaml:9:3: [3].reviewer: CR 1.3: reviewer is missing: who reviewed the evidence',
      'att.yaml:10:3: [3].date: CR 1.3: date must be a calendar date YYYY-MM-DD (got "2025-02-30")',
      'att.yaml:13:3: [4].evidence: CR 1.4: evidence is missing: the document or test record the verdict rests on (e.g. "user manual v2.1 §4.3")',
      'att.yaml:17:3: [5].id: CR 1.4 is attested twice (also entry 5)',
      'att.yaml:22:3: [6]: each entry is a mapping with id, verdict, reviewer, date, evidence, remark',
    ]);
  });

  it('rejects a file that is not a list, and broken YAML, with a location', () => {
    expect(errors('id: CR 1.1\nverdict: pass\n')[0]).to.match(/^att\.yaml:1:1: \(top level\): expected a list of attestations/);
    expect(errors('- id: CR 1.1\n  verdict: [pass\n')[0]).to.match(/^att\.yaml:\d+:\d+: \(top level\): YAML: /);
  });

  it('attested rows enter the verdicts as source manual; a failing probe outcome still prevails', () => {
    const component: ComponentInfo = { name: 'c', types: ['embedded'], slTarget: Object.fromEntries(FRS.map((f) => [f, 1])) as SlVector };
    const { attestations } = parse(`- { id: CR 1.1, verdict: pass, reviewer: R, date: 2025-01-01, evidence: doc }
- { id: CR 4.1, verdict: pass, reviewer: R, date: 2025-01-01, evidence: doc }
`);
    const attempt = {
      probe: 'ports.tcp', target: 'h', service: 'host', safety: 'passive' as const, status: 'fail' as const, startedAt: '', durationMs: 1,
      observations: {}, evidence: [],
      findings: [{ code: 'ports.tcp.cleartext-service', severity: 'high' as const, requirements: ['CR 4.1'], message: 'telnet', evidence: [] }],
      outcomes: [{ requirement: 'CR 4.1', verdict: 'fail' as const, coverage: 'partial' as const, reason: 'telnet open' }],
    };
    const rows = assess({ catalog, component, attempts: [attempt], probeRequirements: new Map(), attestations }).requirements;
    expect(rows.find((r) => r.id === 'CR 1.1')).to.deep.include({ verdict: 'pass', source: 'manual', basis: ['manual'] });
    const cr41 = rows.find((r) => r.id === 'CR 4.1')!;
    expect(cr41).to.include({ verdict: 'fail', source: 'probe' });
    expect(cr41.reason).to.contain('probe evidence of a failure prevails');
  });
});
