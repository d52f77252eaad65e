import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { PROBES_DIR, loadProbes, probeFiles } from '../../src/runner/registry';

/**
 * The finding names a file makes with a literal: `finding({ code: '<name>', ... })`. A name built from data
 * (a table lookup) is not a literal; its table is typed against the data instead (e.g. probes/opcua/endpoints.ts).
 */
function literalFindingNames(file: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const names: string[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'finding') {
      const [arg] = n.arguments;
      if (arg && ts.isObjectLiteralExpression(arg)) {
        for (const p of arg.properties) {
          if (ts.isPropertyAssignment(p) && p.name.getText(src) === 'code' && ts.isStringLiteralLike(p.initializer)) names.push(p.initializer.text);
        }
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return names;
}

/**
 * Where a probe's findings are made: its file, and for a probe file that is `export default factory(...)`
 * (the authentication checks), the module the factory comes from.
 */
function sourcesOf(file: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const factory = src.statements.filter(ts.isExportAssignment).map((e) => e.expression)
    .find((e): e is ts.CallExpression => ts.isCallExpression(e) && ts.isIdentifier(e.expression));
  if (!factory) return [file];
  const name = (factory.expression as ts.Identifier).text;
  const from = src.statements.filter(ts.isImportDeclaration).find((d) => {
    const bindings = d.importClause?.namedBindings;
    return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.some((e) => e.name.text === name);
  });
  if (!from || !ts.isStringLiteral(from.moduleSpecifier)) return [file];
  const base = path.resolve(path.dirname(file), from.moduleSpecifier.text);
  const module = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
  return module ? [file, module] : [file];
}

/**
 * The runner turns a result with an undeclared finding name into a probe error. A path the probe's tests
 * never reach (a restore that failed, a malformed answer) would only show that in a real run: this reads
 * the names from the probe's source instead.
 */
describe('meta: finding names in probe sources', () => {
  const fileOf = (id: string) => probeFiles().find((f) => path.relative(PROBES_DIR, f).replace(/\.(ts|js)$/, '').replace(/[\\/]/g, '.') === id);

  it('reads the names a probe makes, in its file or in the factory module its file calls', () => {
    expect(literalFindingNames(fileOf('modbus.access')!)).to.have.members([
      'unauthenticated-read', 'unauthenticated-write', 'test-register-not-restored', 'other-unit-ids-answer', 'no-peer-authentication',
    ]);
    const sessions = sourcesOf(fileOf('opcua.sessions')!);
    expect(sessions.map((f) => path.relative(process.cwd(), f))).to.deep.equal(['probes/opcua/sessions.ts', 'src/protocols/auth/checks/sessions.ts']);
    expect(sessions.flatMap(literalFindingNames)).to.not.be.empty;
  });

  const withFindings = loadProbes().filter((p) => p.findings);
  const literalNames = new Map(withFindings.map((p) => [p.id, sourcesOf(fileOf(p.id)!).flatMap(literalFindingNames)]));

  for (const probe of withFindings.filter((p) => literalNames.get(p.id)!.length > 0)) {
    it(`${probe.id}: every finding name made with a literal is declared in its findings`, () => {
      for (const name of literalNames.get(probe.id)!) {
        expect(Object.hasOwn(probe.findings!, name), `${probe.id} makes '${name}' without declaring it`).to.equal(true);
      }
    });
  }

  it('probes whose names all come from data (tables, a variable) declare them from that data', () => {
    // Nothing to read statically here: the runner refuses an undeclared name at run time, and their tests
    // exercise the tables (e.g. the TLS suite flags, the SSH policy rules, the lockout verdicts).
    const fromData = withFindings.filter((p) => literalNames.get(p.id)!.length === 0);
    for (const p of fromData) expect(Object.keys(p.findings!), p.id).to.not.be.empty;
    expect(fromData.map((p) => p.id).sort()).to.deep.equal([
      'audit.log-protection', 'boundary.person-to-person', 'boundary.spoof-fragment', 'boundary.vlan-isolation', 'http.headers', 'http.lockout', 'mqtt.lockout', 'opcua.lockout', 'ssh.algorithms', 'ssh.lockout', 'tls.certificate', 'tls.client-certificate', 'tls.protocols',
    ]);
  });
});
