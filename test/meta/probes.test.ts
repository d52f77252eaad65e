import Ajv from 'ajv';
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { parse as parseYaml } from 'yaml';
import { loadCatalog } from '../../src/catalog';
import { PROBES_DIR, loadProbes, probeFiles } from '../../src/runner/registry';
import { SAFETY_CLASSES, SERVICE_PROTOCOLS } from '../../src/sdk';

const VERDICTS = ['pass', 'fail', 'not_applicable', 'error'] as const;

/**
 * The verdicts a probe test asserts, read from its syntax tree (not its words): `expect(<…status|verdict…>)`
 * followed by a matcher whose arguments hold the verdict literal, or a matcher argument that is an object
 * with `status: '<verdict>'` / `verdict: '<verdict>'`. Whether it runs the misbehaving-peer table too.
 */
function assertedVerdicts(file: string): { verdicts: string[]; misbehavingPeers: boolean } {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const verdicts = new Set<string>();
  let misbehavingPeers = false;
  const literalsIn = (node: ts.Node, into: (v: string) => void) => {
    const walk = (n: ts.Node) => {
      if (ts.isStringLiteral(n) && (VERDICTS as readonly string[]).includes(n.text)) into(n.text);
      ts.forEachChild(n, walk);
    };
    walk(node);
  };
  const visit = (n: ts.Node) => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression)) {
      if (n.expression.text === 'describeMisbehavingPeers') misbehavingPeers = true;
      if (n.expression.text === 'expect' && n.arguments.length > 0) {
        const aboutVerdict = /\b(status|verdict)\b/.test(n.arguments[0].getText(src));
        // The matcher calls chained on expect(...): expect(x).to.deep.equal(...), .to.include(...)
        let chain: ts.Node = n;
        while (ts.isPropertyAccessExpression(chain.parent) || (ts.isCallExpression(chain.parent) && chain.parent.expression === chain)) chain = chain.parent;
        const matchers: ts.CallExpression[] = [];
        for (let c: ts.Node = chain; c !== n; c = ts.isCallExpression(c) ? c.expression : (c as ts.PropertyAccessExpression).expression) {
          if (ts.isCallExpression(c)) matchers.push(c);
        }
        for (const m of matchers) {
          for (const arg of m.arguments) {
            if (aboutVerdict) literalsIn(arg, (v) => verdicts.add(v));
            const walk = (x: ts.Node) => {
              if (ts.isPropertyAssignment(x) && /^(status|verdict)$/.test(x.name.getText(src)) && ts.isStringLiteral(x.initializer)) verdicts.add(x.initializer.text);
              ts.forEachChild(x, walk);
            };
            walk(arg);
          }
        }
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return { verdicts: [...verdicts], misbehavingPeers };
}

/** Verdicts a probe cannot give, and why (its test cannot assert them). */
const CANNOT: Record<string, Partial<Record<'pass' | 'fail', string>>> = {
  'modbus.access': { pass: 'plain Modbus/TCP has no authentication: without readable data there is no evidence either way, so CR 1.1/2.1 are judged only when data was read' },
  'modbus.identification': { fail: 'identification is positive evidence for CR 7.8 only' },
  's7.identification': { fail: 'identification is positive evidence for CR 7.8 only' },
  'enip.identity': { fail: 'ListIdentity is positive evidence for CR 7.8 only' },
  'iec104.identification': { fail: 'a general interrogation is positive evidence for CR 7.8 only' },
  'bacnet.identification': { fail: 'reading the device object is positive evidence for CR 7.8 only' },
  'dnp3.identification': { fail: 'device attributes are positive evidence for CR 7.8 only' },
  'audit.opcua-events': { fail: 'CR 6.1 RE(1) is shown by audit events read through the subscription; events that do not arrive leave it undetermined (CR 2.8 judges missing records)' },
  'cleartext.telnet': { pass: 'a Telnet service carries every credential in clear: it fails CR 1.5/4.1 or, with an unknown prompt, judges nothing' },
};

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

      it('declares its findings by name (kebab-case), each documented in docs/ with its code <probe id>.<name>', () => {
        const names = Object.keys(probe.findings);
        const docs = fs.readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => fs.readFileSync(path.join('docs', f), 'utf8')).join('\n');
        const generic = probe.id.replace(/^[a-z0-9]+\./, '<protocol>.');
        for (const name of names) {
          expect(name, `${probe.id}: finding name`).to.match(/^[a-z0-9]+(-[a-z0-9]+)*$/);
          expect(probe.findings[name].length, `${probe.id}.${name}: a one-line meaning`).to.be.greaterThan(10);
          const documented = docs.includes(`\`${probe.id}.${name}\``) || docs.includes(`\`${generic}.${name}\``);
          expect(documented, `docs/ documents \`${probe.id}.${name}\``).to.equal(true);
        }
      });

      it('has input defaults that satisfy its input schema', () => {
        if (!probe.inputs) return;
        const validate = new Ajv({ strict: false }).compile(probe.inputs.schema);
        expect(validate(probe.inputs.defaults), JSON.stringify(validate.errors)).to.equal(true);
      });

      it('has a test file that asserts a pass, a fail and an error, and is documented in the README', () => {
        const [protocol, ...rest] = probe.id.split('.');
        const testFile = path.join('test', 'probes', protocol, `${rest.join('.')}.test.ts`);
        expect(fs.existsSync(testFile), testFile).to.equal(true);
        const seen = assertedVerdicts(testFile);
        const exempt = CANNOT[probe.id] ?? {};
        for (const verdict of ['pass', 'fail'] as const) {
          if (exempt[verdict]) continue;
          expect(seen.verdicts, `${testFile} never asserts an attempt or outcome '${verdict}'`).to.include(verdict);
        }
        expect(seen.verdicts.includes('error') || seen.misbehavingPeers, `${testFile} asserts no error case (describeMisbehavingPeers or status 'error')`).to.equal(true);
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
