import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closedPort, type TestServer } from '../../fixtures/servers';
import { loadCredentialList } from '../../src/protocols/auth/lists';
import { makeLabPki } from '../../src/protocols/lab';
import { identityFromFiles } from '../../src/protocols/opcua/identity';
import { readCertificates } from '../../src/protocols/x509/certificate';
import { readIssuer } from '../../src/protocols/x509/issue';
import { loadProbes } from '../../src/runner/registry';
import { InvalidInput } from '../../src/sdk';
import { INPUT_LIMITS, resolveNamedFile } from '../../src/sdk/input-file';
import { cli } from '../helpers/cli';
import { runProbe } from '../helpers/probe-harness';

/*
 * Files that probe inputs, service options and the lab block name (an OPC UA client certificate and key, a CA
 * the device trusts, trust anchors, a default-credential list, the lab collector's certificate) are read with the
 * same bounded reader as the profile: a FIFO, /dev/zero, a file over the size limit, a folder or a missing file
 * ends as an `input` error naming the file instead of hanging the run or filling its memory (issue #23's hostile
 * inputs, carried to the files a profile names indirectly).
 */

type Hostile = { name: string; make: (file: string) => void; says: RegExp };

const HOSTILE: Hostile[] = [
  { name: 'a FIFO', make: (f) => execFileSync('mkfifo', [f]), says: /FIFO/ },
  { name: '/dev/zero', make: (f) => fs.symlinkSync('/dev/zero', f), says: /device/ },
  { name: 'a file over the size limit', make: (f) => fs.writeFileSync(f, Buffer.alloc(INPUT_LIMITS.maxBytes + 10, 'a')), says: /larger than the limit/ },
  { name: 'a folder', make: (f) => fs.mkdirSync(f), says: /folder/ },
  { name: 'a missing file', make: () => undefined, says: /not found|no such file/ },
];

function expectInvalidInput(read: () => unknown, says: RegExp, what: RegExp): void {
  let thrown: unknown;
  try {
    read();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'no error').to.be.instanceOf(InvalidInput);
  expect((thrown as Error).message).to.match(says).and.to.match(what);
}

describe('files named by probe inputs, service options and the lab block: bounded, an input error when hostile', function () {
  this.timeout(60_000);
  let dir: string;
  let pki: ReturnType<typeof makeLabPki>;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-named-files-'));
    pki = makeLabPki(path.join(dir, 'pki'), { address: '127.0.0.1' });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  const hostileFile = (h: Hostile): string => {
    const file = path.join(dir, `hostile-${n++}.pem`);
    h.make(file);
    return file;
  };

  for (const h of HOSTILE) {
    it(`${h.name}: every reader ends at once with an input error that names the file's purpose`, () => {
      expectInvalidInput(() => identityFromFiles(hostileFile(h), pki.files.collectorKey), h.says, /OPC UA client certificate/);
      expectInvalidInput(() => identityFromFiles(pki.files.collectorCert, hostileFile(h)), h.says, /OPC UA client private key/);
      expectInvalidInput(() => readIssuer(hostileFile(h), pki.files.collectorKey), h.says, /CA certificate/);
      expectInvalidInput(() => readIssuer(pki.files.caFile, hostileFile(h)), h.says, /CA private key/);
      expectInvalidInput(() => readCertificates(hostileFile(h)), h.says, /trust anchors/);
      expectInvalidInput(() => loadCredentialList(hostileFile(h)), h.says, /default-credential list/);
    });
  }

  it('a readable file that is not what its purpose needs (no certificate, no usable key): an input error, not a bug', () => {
    const text = path.join(dir, 'notes.pem');
    fs.writeFileSync(text, 'not a certificate\n');
    expectInvalidInput(() => readCertificates(text), /holds no PEM certificate/, /trust anchors/);
    expectInvalidInput(() => readIssuer(text, pki.files.collectorKey), /no certificate/, /CA .*notes\.pem/);
    expectInvalidInput(() => readIssuer(pki.files.caFile, text), /./, /CA .* with key .*notes\.pem/);
  });

  it('a default-credential list that is an alias bomb is refused by the YAML limits, not expanded', () => {
    const file = path.join(dir, 'bomb.yaml');
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    expectInvalidInput(() => loadCredentialList(file), /alias/i, /default-credential list/);
  });

  it('a name whose symlink leads out of the folder it points into is refused; one that stays inside resolves', () => {
    const inside = path.join(dir, 'bench');
    fs.mkdirSync(inside);
    fs.writeFileSync(path.join(inside, 'ca.pem'), 'x');
    fs.symlinkSync(pki.files.caFile, path.join(inside, 'escape.pem'));
    fs.symlinkSync(path.join(inside, 'ca.pem'), path.join(inside, 'alias.pem'));
    expectInvalidInput(() => resolveNamedFile(inside, 'escape.pem'), /symlink .* outside/, /escape\.pem/);
    expect(resolveNamedFile(inside, 'alias.pem')).to.equal(path.join(inside, 'alias.pem'));
    expect(resolveNamedFile(inside, 'sub/none.pem')).to.equal(path.join(inside, 'sub', 'none.pem'));
  });

  describe('in a run', () => {
    let closed: TestServer;
    before(async () => {
      closed = await closedPort();
    });
    after(() => closed.close());

    it('ssh.default-credentials with a FIFO for its list: an input error before anything is sent', async () => {
      const probe = loadProbes().find((p) => p.id === 'ssh.default-credentials')!;
      const fifo = hostileFile(HOSTILE[0]);
      const { attempt } = await runProbe(probe, { service: { port: closed.port, protocol: 'ssh' }, inputs: { lists: [fifo] } as never, timeoutMs: 20_000 });
      expect([attempt.status, attempt.reason]).to.deep.equal(['error', 'input']);
      expect(attempt.message).to.match(/FIFO/);
    });

    it('lab.tls naming a FIFO: the profile is refused (exit 3, located at lab.tls.key), nothing written', async () => {
      const bench = path.join(dir, 'lab-bench');
      fs.mkdirSync(bench);
      fs.copyFileSync(pki.files.caFile, path.join(bench, 'ca.crt'));
      fs.copyFileSync(pki.files.collectorCert, path.join(bench, 'collector.crt'));
      execFileSync('mkfifo', [path.join(bench, 'collector.key')]);
      const profile = path.join(bench, 'profile.yaml');
      fs.writeFileSync(profile, [
        'apiVersion: iacs-probe/v1',
        'component: { name: lab bench, types: [embedded], slTarget: 1 }',
        'targets:',
        `  - { host: 127.0.0.1, services: [{ port: ${closed.port}, protocol: tcp }] }`,
        'lab:',
        '  address: 127.0.0.1',
        '  syslog: { tls: 16514 }',
        '  tls: { ca: ca.crt, cert: collector.crt, key: collector.key }',
        '',
      ].join('\n'));
      const out = path.join(bench, 'out');
      const r = await cli(['run', profile, '--out', out, '--no-pdf']);
      expect(r.code, r.stderr).to.equal(3);
      expect(r.stderr).to.match(/profile\.yaml:\d+:\d+: lab\.tls\.key: .*FIFO/);
      expect(r.stderr).not.to.match(/\n\s+at /); // no stack trace
      expect(fs.existsSync(out)).to.equal(false);
    });

    it('plan and run read a profile-relative list from the profile\'s folder, whatever the working folder', async () => {
      const bench = path.join(dir, 'list-bench');
      fs.mkdirSync(bench);
      fs.writeFileSync(path.join(bench, 'lists.yaml'), [
        'id: bench-list',
        'title: Bench defaults',
        'entries:',
        '  - { id: maint, username: plc-maint, password: maint123, protocols: [ssh], uncited: "the vendor\'s bench note" }',
        '',
      ].join('\n'));
      const profile = path.join(bench, 'profile.yaml');
      fs.writeFileSync(profile, [
        'apiVersion: iacs-probe/v1',
        'component: { name: list bench, types: [embedded], slTarget: 1 }',
        'targets:',
        `  - { host: 127.0.0.1, services: [{ port: ${closed.port}, protocol: ssh }] }`,
        'probes:',
        '  ssh.default-credentials: { lists: [lists.yaml] }',
        '',
      ].join('\n'));
      // Run from another folder: the list's accounts are what the attempt locks and what plan counts.
      const r = await cli(['plan', profile, '--only', 'ssh.default-credentials', '--json'], {}, os.tmpdir());
      expect(r.code, r.stderr).to.equal(0);
      const plan = JSON.parse(r.stdout) as { logins: { account: string }[] };
      expect(plan.logins.map((l) => l.account)).to.deep.equal(['plc-maint']);
    });
  });
});
