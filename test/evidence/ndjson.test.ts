import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appendDurably, parseNdjson, readNdjson } from '../../src/evidence/ndjson';

/** The append-only files (journal, cleanup and lockout records) after a kill in the middle of a write. */
describe('NDJSON reader and durable append: a torn last line is tolerated, never thrown', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-ndjson-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('skips a cut-off last line and reports it as torn; damage elsewhere is reported by line number', () => {
    expect(parseNdjson('{"a":1}\n{"a":2}\n{"a":3,"b":"cut')).to.deep.equal({ records: [{ a: 1 }, { a: 2 }], torn: true, unreadable: [] });
    expect(parseNdjson('{"a":1}\n')).to.deep.equal({ records: [{ a: 1 }], torn: false, unreadable: [] });
    expect(parseNdjson('{"a":1}\nnot json\n[1]\n{"a":2}\n')).to.deep.equal({ records: [{ a: 1 }, { a: 2 }], torn: false, unreadable: [2, 3] });
    expect(readNdjson(path.join(dir, 'absent.ndjson'))).to.deep.equal({ records: [], torn: false, unreadable: [] });
  });

  it('an append after a torn line starts on a line of its own, so the torn line spoils only itself', () => {
    const file = path.join(dir, 'state', 'records.ndjson');
    appendDurably(file, { op: 'one' });
    fs.appendFileSync(file, '{"op":"tw');
    appendDurably(file, { op: 'three' });
    expect(readNdjson(file)).to.deep.equal({ records: [{ op: 'one' }, { op: 'three' }], torn: false, unreadable: [2] });
  });
});
