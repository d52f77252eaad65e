import { expect } from 'chai';
import * as fs from 'node:fs';
import { loadCatalog, rowsRequiredAt } from '../../src/catalog';
import { COMPONENT_TYPES, FRS } from '../../src/sdk';

const ID = /^(CR|EDR|HDR|NDR|SAR) (\d+)\.(\d+)( RE\((\d+)\))?$/;
/** The public compilation the catalog was written from (copied from the project's shared reference). */
const REFERENCE = 'fixtures/reference/iec62443-4-2-catalog.json';

describe('catalog data', () => {
  const catalog = loadCatalog();
  const rows = catalog.requirements;

  it('has the 122 selectable rows of the reference', () => {
    expect(rows).to.have.length(122);
  });

  it('ids are unique and well-formed, and the class and kind match the id', () => {
    expect(new Set(rows.map((r) => r.id)).size).to.equal(rows.length);
    for (const r of rows) {
      const m = ID.exec(r.id);
      expect(m, r.id).to.not.equal(null);
      expect(r.class, r.id).to.equal(m![1]);
      expect(r.kind, r.id).to.equal(m![4] ? 'enhancement' : 'requirement');
    }
  });

  it('every enhancement names its base, which exists, shares its FR and is required no later', () => {
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const r of rows.filter((x) => x.kind === 'enhancement')) {
      expect(r.base, r.id).to.equal(r.id.replace(/ RE\(\d+\)$/, ''));
      const base = byId.get(r.base!);
      expect(base, `${r.id} base`).to.not.equal(undefined);
      expect(base!.fr).to.equal(r.fr);
      expect(Math.min(...base!.sl), r.id).to.be.at.most(Math.min(...r.sl));
      expect(base!.appliesTo).to.include.members([...r.appliesTo]);
    }
  });

  it('FR matches the requirement number, and type-specific rows apply to their type only', () => {
    const typeOf = { EDR: 'embedded', HDR: 'host', NDR: 'network', SAR: 'application' } as const;
    for (const r of rows) {
      expect(r.fr, r.id).to.equal(`FR${ID.exec(r.id)![2]}`);
      expect(FRS).to.include(r.fr);
      if (r.class === 'CR') expect([...r.appliesTo].sort()).to.deep.equal([...COMPONENT_TYPES].sort());
      else expect(r.appliesTo).to.deep.equal([typeOf[r.class]]);
    }
  });

  it('SL lists are non-empty, sorted and cumulative up to 4', () => {
    for (const r of rows) {
      expect(r.sl.length, r.id).to.be.greaterThan(0);
      const first = r.sl[0];
      expect([...r.sl], r.id).to.deep.equal([1, 2, 3, 4].filter((l) => l >= first));
    }
  });

  it('rows required per component type and SL match the research table', () => {
    const expected: Record<string, number[]> = {
      application: [34, 53, 67, 73], embedded: [36, 61, 77, 83], host: [36, 62, 78, 84], network: [40, 67, 86, 92],
    };
    for (const [type, counts] of Object.entries(expected)) {
      const got = [1, 2, 3, 4].map((sl) => rowsRequiredAt(catalog, [type as 'embedded'], sl).length);
      expect(got, type).to.deep.equal(counts);
    }
  });

  it('rows per FR match the research counts', () => {
    const perFr = Object.fromEntries(FRS.map((fr) => [fr, rows.filter((r) => r.fr === fr).length]));
    expect(perFr).to.deep.equal({ FR1: 24, FR2: 32, FR3: 42, FR4: 5, FR5: 6, FR6: 3, FR7: 10 });
  });

  it('agrees row by row with the reference compilation', () => {
    const ref = JSON.parse(fs.readFileSync(REFERENCE, 'utf8')) as { requirements: { id: string; sl: number[]; appliesTo: string[]; fr: string; title: string }[] };
    expect(ref.requirements.map((r) => r.id)).to.deep.equal(rows.map((r) => r.id));
    for (const [i, r] of ref.requirements.entries()) {
      expect({ sl: rows[i].sl, appliesTo: rows[i].appliesTo, fr: rows[i].fr, title: rows[i].title }, r.id)
        .to.deep.equal({ sl: r.sl, appliesTo: r.appliesTo, fr: r.fr, title: r.title });
    }
  });

  it('marks the NDR 1.13 RE(1) conflict instead of hiding it', () => {
    const row = rows.find((r) => r.id === 'NDR 1.13 RE(1)')!;
    expect(row.confidence).to.equal('conflict');
    expect(row.note).to.match(/SL2 or SL3/);
  });
});
