import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { verifyFolder, writeManifest } from '../../src/evidence/manifest';
import { RunStore, listFiles } from '../../src/evidence/store';

describe('evidence folder integrity', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-verify-'));
    const store = RunStore.create(dir, { overwrite: true });
    store.journal({ type: 'run-start' });
    const rec = store.recorder('ssh.algorithms', '127.0.0.1:22');
    rec.save('kexinit.bin', new Uint8Array([20, 1, 2, 3]));
    rec.save('lists.json', { kex: ['curve25519-sha256'] });
    store.writeFile('report.json', '{"schemaVersion":1}\n');
    store.close();
    writeManifest(dir, {
      runId: 'r', complete: true, tool: { name: 'iacs-probe', version: '0' },
      environment: { node: 'v20', platform: 'x', hostname: 'h', operator: 'o', libraries: {}, externalTools: {} },
    });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an untouched folder verifies, and sha256sum-compatible digest is written', () => {
    const r = verifyFolder(dir);
    expect(r.ok, JSON.stringify(r.problems)).to.equal(true);
    expect(r.checkedFiles).to.equal(4);
    expect(fs.readFileSync(path.join(dir, 'manifest.sha256'), 'utf8')).to.match(/^[0-9a-f]{64} {2}manifest\.json\n$/);
  });

  it('flipping any single byte of any file is detected and names the file', () => {
    for (const rel of listFiles(dir)) {
      const file = path.join(dir, rel);
      const original = fs.readFileSync(file);
      for (const at of [0, original.length - 1]) {
        const changed = Buffer.from(original);
        changed[at] ^= 0x01;
        fs.writeFileSync(file, changed);
        const r = verifyFolder(dir);
        expect(r.ok, `${rel} byte ${at}`).to.equal(false);
        // A digest that is still well-formed cannot say which of the two changed: the problem is on manifest.json.
        const named = rel === 'manifest.sha256' ? ['manifest.json', 'manifest.sha256'] : [rel];
        expect(r.problems.some((p) => named.includes(p.path)), rel).to.equal(true);
        fs.writeFileSync(file, original);
      }
    }
    expect(verifyFolder(dir).ok).to.equal(true);
  });

  it('a deleted, an added and a truncated file are each reported', () => {
    fs.rmSync(path.join(dir, 'report.json'));
    fs.writeFileSync(path.join(dir, 'evidence', 'extra.txt'), 'x');
    fs.truncateSync(path.join(dir, 'journal.ndjson'), 0);
    const kinds = verifyFolder(dir).problems.map((p) => `${p.kind}:${p.path}`);
    expect(kinds).to.include.members(['missing:report.json', 'unexpected:evidence/extra.txt', 'modified:journal.ndjson']);
  });

  it('a folder without a manifest is not an evidence folder', () => {
    fs.rmSync(path.join(dir, 'manifest.json'));
    expect(verifyFolder(dir).problems[0]).to.include({ kind: 'missing', path: 'manifest.json' });
  });

  it('evidence paths cannot escape the folder', () => {
    const store = RunStore.create(path.join(dir, 'x'));
    expect(() => store.recorder('p', 't').save('../../etc/passwd', 'x')).to.throw(/invalid evidence path/);
    store.close();
  });
});
