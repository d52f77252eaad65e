import Ajv from 'ajv';
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadCatalog } from '../../src/catalog';
import { PROBES_DIR, loadProbes, probeFiles } from '../../src/runner/registry';
import { SAFETY_CLASSES, SERVICE_PROTOCOLS } from '../../src/sdk';

/** Polices the probes as data, the way ESLint's checkRuleFiles and ssh-audit's DB tests do. */
describe('meta: probes, catalog and profiles', () => {
  const probes = loadProbes();
  const catalogIds = new Set(loadCatalog().requirements.map((r) => r.id));
  const readme = fs.readFileSync('README.md', 'utf8');

  it('discovers every probe file', () => {
    expect(probes.length).to.equal(probeFiles().length).and.to.be.greaterThan(0);
  });

  for (const probe of loadProbes()) {
    describe(probe.id, () => {
      it('has a well-formed id equal to its file path', () => {
        expect(probe.id).to.match(/^[a-z0-9]+(\.[a-z0-9-]+)+$/);
        const file = probeFiles().find((f) => path.relative(PROBES_DIR, f).replace(/\.(ts|js)$/, '').replace(/[\\/]/g, '.') === probe.id);
        expect(file, `probes/${probe.id.replace('.', '/')}.ts`).to.not.equal(undefined);
        expect(probe.id.split('.')[0]).to.equal(probe.protocol);
      });

      it('cites only catalog requirements, and at least one', () => {
        expect(probe.requirements.length).to.be.greaterThan(0);
        for (const r of probe.requirements) expect(catalogIds.has(r), r).to.equal(true);
      });

      it('declares a safety class, a budget, a description and what it runs against', () => {
        expect(SAFETY_CLASSES).to.include(probe.safety);
        expect(probe.timeoutMs).to.be.within(100, 3_600_000);
        expect(probe.description.length).to.be.greaterThan(40);
        if (probe.scope === 'service') {
          expect(probe.appliesTo.length).to.be.greaterThan(0);
          for (const p of probe.appliesTo) expect(SERVICE_PROTOCOLS).to.include(p);
        }
      });

      it('has input defaults that satisfy its input schema', () => {
        if (!probe.inputs) return;
        const validate = new Ajv({ strict: false }).compile(probe.inputs.schema);
        expect(validate(probe.inputs.defaults), JSON.stringify(validate.errors)).to.equal(true);
      });

      it('has a test file with pass and fail cases, and is documented in the README', () => {
        const [protocol, ...rest] = probe.id.split('.');
        const testFile = path.join('test', 'probes', protocol, `${rest.join('.')}.test.ts`);
        expect(fs.existsSync(testFile), testFile).to.equal(true);
        const text = fs.readFileSync(testFile, 'utf8');
        expect(text, `${testFile} asserts a pass`).to.match(/['"]pass['"]/);
        expect(text, `${testFile} asserts a fail`).to.match(/['"]fail['"]/);
        expect(readme, `README mentions ${probe.id}`).to.contain(`\`${probe.id}\``);
      });
    });
  }

  it('the catalog validates against its schema', () => {
    const schema = JSON.parse(fs.readFileSync('src/catalog/catalog.schema.json', 'utf8')) as object;
    const validate = new Ajv({ strict: true, allErrors: true }).compile(schema);
    expect(validate(JSON.parse(fs.readFileSync('src/catalog/catalog.json', 'utf8'))), JSON.stringify(validate.errors)).to.equal(true);
  });

  it('no shipped profile or posture allows destructive probes', () => {
    for (const dir of ['profiles/examples', 'profiles/docker']) {
      if (!fs.existsSync(dir)) continue;
      for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
        const doc = parseYaml(fs.readFileSync(path.join(dir, f), 'utf8')) as { allow?: string[] } | null;
        expect(doc?.allow ?? [], f).to.not.include('destructive');
      }
    }
  });

  it('every baseline file cites its basis and defines level 1', () => {
    for (const f of fs.readdirSync('profiles/baselines').filter((x) => x.endsWith('.yaml'))) {
      const doc = parseYaml(fs.readFileSync(path.join('profiles/baselines', f), 'utf8')) as { basis?: unknown[]; levels?: Record<string, unknown> };
      expect(doc.basis, f).to.be.an('array').that.is.not.empty;
      expect(doc.levels?.['1'], `${f} level 1`).to.not.equal(undefined);
    }
  });
});
