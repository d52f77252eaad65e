import Ajv from 'ajv';
import { expect } from 'chai';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROFILE_SCHEMA_FILE, ProfileError, parseProfile } from '../../src/profile';
import { InputRejected } from '../../src/sdk';

/**
 * Property: whatever profile text comes in, the loader either accepts it, and then the document is valid against
 * the shipped schema (checked here by a validator of our own), or rejects it with a ProfileError (the CLI's exit 3)
 * whose every line is located (`file[:line:column]: field: message`). Nothing else may be thrown. Runs are bounded;
 * fast-check prints the seed and the shrunk counterexample on failure (IACS_FC_SEED=<seed> replays it).
 */

const VALID = {
  apiVersion: 'iacs-probe/v1',
  component: { name: 'Bench PLC', vendor: 'Example', firmware: '1.0.0', types: ['embedded'], slTarget: 2 },
  targets: [{ host: '192.0.2.10', services: [{ port: 502, protocol: 'modbus', unitId: 1 }, { port: 22, protocol: 'ssh' }] }],
  policy: { lockout: { threshold: 5, durationSeconds: 60 } },
  essentialFunction: { modbus: { unitId: 1, register: 0, kind: 'counter' } },
  limits: { perHost: 2, global: 4 },
  allow: ['passive', 'active'],
};

const NUM_RUNS = 300;
const SEED = process.env.IACS_FC_SEED === undefined ? undefined : Number(process.env.IACS_FC_SEED);
const LOCATED = /^\S+?(:\d+:\d+)?: \S.*?: .+$|^\.\.\. and \d+ more problem\(s\)$/;

/** Every path to a value in the document (objects and arrays included). */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const children = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...children.flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
}

function withValueAt(doc: unknown, at: readonly (string | number)[], value: unknown): unknown {
  if (at.length === 0) return value;
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let node = copy;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[at[at.length - 1]] = value;
  return copy;
}

const PATHS = pathsOf(VALID);
const mutated = fc.oneof(
  // one field changed to another value of any JSON type (wrong type, wrong value, or by chance a right one)
  fc.tuple(fc.constantFrom(...PATHS), fc.jsonValue({ maxDepth: 3 })).map(([at, v]) => withValueAt(VALID, at, v)),
  // one extra key somewhere an object is
  fc.tuple(fc.constantFrom(...PATHS.filter((p) => { const v = p.reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], VALID); return v !== null && typeof v === 'object' && !Array.isArray(v); })), fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }))
    .map(([at, key, v]) => withValueAt(VALID, [...at, key], v)),
  // anything at all
  fc.jsonValue({ maxDepth: 4 }),
);

describe('profile loader, property-based (fast-check)', function () {
  this.timeout(30_000);
  let dir: string;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(fs.readFileSync(PROFILE_SCHEMA_FILE, 'utf8')) as object);
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-profile-fc-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`accepts a schema-valid document or rejects with located issues, never anything else (${NUM_RUNS} runs per form)`, () => {
    let accepted = 0;
    let rejected = 0;
    const property = fc.property(mutated, fc.boolean(), (doc, asYamlFlow) => {
      // JSON is YAML; the flow form also exercises the YAML parser's positions.
      const text = asYamlFlow ? JSON.stringify(doc, null, 1) : JSON.stringify(doc);
      try {
        parseProfile(Buffer.from(text), 'p.yaml', dir);
      } catch (err) {
        if (!(err instanceof ProfileError)) throw new Error(`threw ${err instanceof InputRejected ? 'another rejection' : 'something else'}: ${String((err as Error)?.stack ?? err)}`, { cause: err });
        for (const line of err.message.split('\n')) expect(line).to.match(LOCATED);
        for (const issue of err.issues) expect(issue.file).to.equal('p.yaml');
        rejected++;
        return;
      }
      // Validate what the loader read, not the generator's object: a generated key "__proto__" sets that object's
      // prototype, which ajv's key loop sees and JSON.stringify (the text the loader got) leaves out.
      expect(validate(JSON.parse(text)), JSON.stringify(validate.errors)).to.equal(true);
      accepted++;
    });
    fc.assert(property, { numRuns: NUM_RUNS * 3, ...(SEED !== undefined ? { seed: SEED } : {}) });
    console.log(`      fast-check: ${accepted + rejected} profiles (${accepted} accepted and schema-valid, ${rejected} rejected with located issues)`);
    expect(accepted, 'some mutations keep the profile valid').to.be.above(0);
    expect(rejected, 'most mutations break it').to.be.above(accepted);
  });
});
