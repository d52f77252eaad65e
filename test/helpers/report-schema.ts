import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import * as fs from 'node:fs';
import { expect } from 'chai';

let validate: ReturnType<Ajv['compile']> | undefined;

/** Asserts that a report object validates against the shipped schema/report.schema.json. */
export function expectValidReport(report: unknown): void {
  if (!validate) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    addFormats(ajv);
    validate = ajv.compile(JSON.parse(fs.readFileSync('schema/report.schema.json', 'utf8')) as object);
  }
  const ok = validate(report);
  expect(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 2)).to.equal(true);
}
