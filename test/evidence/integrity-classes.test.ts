import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeManifest } from '../../src/evidence/manifest';
import { loadSigningKey, manifestSigner, signManifest, writeLabKey, type LabKeyFiles } from '../../src/evidence/signing';
import { RunStore } from '../../src/evidence/store';
import { inProcess } from '../helpers/cli';

/**
 * Every class of change to a finished, signed run folder, each caught by `iacs-probe verify` (exit 1) with the
 * changed file named in its output. The count of classes is the README's "integrity classes caught".
 */
interface ChangeClass {
  name: string;
  change(dir: string, keys: { other: LabKeyFiles; scratch: string }): void;
  /** Files the output must name. */
  names: string[];
  /** Caught only when verify is given the lab's key (without one, verify says whose key signed). */
  keyOnly?: boolean;
}

/** Rewrites the manifest naming `key`'s owner as signer (re-hashing every file) and signs it, as a run with --sign does. */
function resign(dir: string, key: LabKeyFiles): void {
  const signing = loadSigningKey(key.privateKey);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Parameters<typeof writeManifest>[1];
  writeManifest(dir, { ...manifest, signer: manifestSigner(signing) });
  signManifest(dir, signing);
}

const EVIDENCE = 'evidence/ssh.algorithms/127.0.0.1_22/lists.json';
const file = (dir: string, rel: string) => path.join(dir, rel);

function flipLastByte(f: string): void {
  const data = fs.readFileSync(f);
  data[data.length - 1] ^= 0x01;
  fs.writeFileSync(f, data);
}

const CLASSES: ChangeClass[] = [
  { name: 'file added', change: (d) => fs.writeFileSync(file(d, 'evidence/extra.txt'), 'x'), names: ['evidence/extra.txt'] },
  { name: 'file removed', change: (d) => fs.rmSync(file(d, 'report.json')), names: ['report.json'] },
  { name: 'one byte edited', change: (d) => flipLastByte(file(d, EVIDENCE)), names: [EVIDENCE] },
  { name: 'file renamed', change: (d) => fs.renameSync(file(d, 'report.json'), file(d, 'report2.json')), names: ['report.json', 'report2.json'] },
  { name: 'file truncated to zero', change: (d) => fs.truncateSync(file(d, 'journal.ndjson'), 0), names: ['journal.ndjson'] },
  {
    name: 'file replaced by a symlink to an identical copy',
    change: (d, k) => {
      const copy = path.join(k.scratch, 'copy-of-report.json');
      fs.copyFileSync(file(d, 'report.json'), copy);
      fs.rmSync(file(d, 'report.json'));
      fs.symlinkSync(copy, file(d, 'report.json'));
    },
    names: ['report.json'],
  },
  {
    name: 'file replaced by a FIFO',
    change: (d) => {
      fs.rmSync(file(d, 'report.json'));
      execFileSync('mkfifo', [file(d, 'report.json')]); // Node has no mkfifo
    },
    names: ['report.json'],
  },
  { name: 'manifest.json edited', change: (d) => flipLastByte(file(d, 'manifest.json')), names: ['manifest.json'] },
  { name: 'manifest.sha256 edited', change: (d) => flipLastByte(file(d, 'manifest.sha256')), names: ['manifest.sha256'] },
  {
    name: 'manifest.json and manifest.sha256 edited together (a file entry changed to match an edit)',
    change: (d) => {
      flipLastByte(file(d, EVIDENCE));
      const manifest = JSON.parse(fs.readFileSync(file(d, 'manifest.json'), 'utf8')) as Parameters<typeof writeManifest>[1];
      writeManifest(d, manifest); // re-hashes every file: only the signature still tells
    },
    names: ['manifest.sig'],
  },
  {
    name: 'manifest.sig edited',
    change: (d) => {
      const sig = JSON.parse(fs.readFileSync(file(d, 'manifest.sig'), 'utf8')) as { signature: string };
      const bytes = Buffer.from(sig.signature, 'base64');
      bytes[10] ^= 0x01;
      fs.writeFileSync(file(d, 'manifest.sig'), JSON.stringify({ ...sig, signature: bytes.toString('base64') }));
    },
    names: ['manifest.sig'],
  },
  {
    name: 'manifest.sig replaced by another key\'s valid signature of this folder',
    change: (d, k) => {
      const copy = path.join(k.scratch, 'resigned');
      fs.cpSync(d, copy, { recursive: true });
      resign(copy, k.other);
      fs.copyFileSync(path.join(copy, 'manifest.sig'), file(d, 'manifest.sig'));
    },
    names: ['manifest.sig'],
  },
  {
    // Nothing in the folder can tell this from the lab's own signing: only the lab's key (--key/--cert) can.
    name: 'folder edited and re-signed with another key (manifest names it)',
    change: (d, k) => {
      flipLastByte(file(d, EVIDENCE));
      resign(d, k.other);
    },
    names: ['manifest.sig'],
    keyOnly: true,
  },
  { name: 'manifest.sig removed', change: (d) => fs.rmSync(file(d, 'manifest.sig')), names: ['manifest.sig'] },
];

describe('verify catches every class of change to a run folder', function () {
  this.timeout(30_000);
  let root: string;
  let lab: LabKeyFiles;
  let other: LabKeyFiles;
  let dir: string;
  let scratch: string;

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-integrity-'));
    // 2048-bit keys keep the test fast; keygen's default is 3072.
    lab = writeLabKey(path.join(root, 'lab'), 'Lab', 2048);
    other = writeLabKey(path.join(root, 'other'), 'Someone else', 2048);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(root, 'run-'));
    scratch = fs.mkdtempSync(path.join(root, 'scratch-'));
    const store = RunStore.create(dir, { overwrite: true });
    store.journal({ type: 'run-start' });
    store.recorder('ssh.algorithms', '127.0.0.1:22').save('lists.json', { kex: ['curve25519-sha256'] });
    store.writeFile('report.json', '{"schemaVersion":1}\n');
    store.close();
    const key = loadSigningKey(lab.privateKey);
    writeManifest(dir, {
      runId: 'r', complete: true, tool: { name: 'iacs-probe', version: '0' }, signer: manifestSigner(key),
      environment: { node: 'v20', platform: 'x', hostname: 'h', operator: 'o', libraries: {}, externalTools: {} },
    });
    signManifest(dir, key);
  });

  it('the untouched signed folder verifies (exit 0), with and without --key', async () => {
    expect((await inProcess(['verify', dir])).code).to.equal(0);
    expect((await inProcess(['verify', dir, '--key', lab.publicKey])).code).to.equal(0);
  });

  let caught = 0;
  for (const c of CLASSES) {
    it(`${c.name}: exit 1, naming ${c.names.join(', ')}`, async () => {
      c.change(dir, { other, scratch });
      for (const args of c.keyOnly ? [['--key', lab.publicKey]] : [[], ['--key', lab.publicKey]]) {
        const started = Date.now();
        const r = await inProcess(['verify', dir, ...args]);
        expect(r.code, `${r.stdout}${r.stderr}`).to.equal(1);
        expect(Date.now() - started, 'verify must not block (a FIFO is never read)').to.be.below(5000);
        for (const name of c.names) expect(r.stdout, r.stdout).to.match(new RegExp(`^ {2}\\S+ +${name.replace(/\./g, '\\.')}: `, 'm'));
        expect(r.stderr).to.not.match(/internal error|\n\s+at /);
      }
      caught++;
    });
  }

  after(() => {
    // The README's figure: classes caught / total (printed so the lead can copy it).
    console.log(`      integrity classes caught by verify: ${caught}/${CLASSES.length}`);
  });
});
