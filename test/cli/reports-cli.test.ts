import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { parse as parseJunit, type TestSuites } from 'junit2json';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAttestations } from '../../src/assess/attestations';
import { loadCatalog, rowsRequiredAt } from '../../src/catalog';
import { verifyFolder } from '../../src/evidence/manifest';
import { loadTrustedKey, signatureChecker } from '../../src/evidence/signing';
import { listFiles } from '../../src/evidence/store';
import type { Report } from '../../src/report/model';
import { loadProbes } from '../../src/runner/registry';
import { loadProfile } from '../../src/profile';
import { packagePath } from '../../src/paths';
import { shippedDefaultPasswords } from '../../src/protocols/auth/lists';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main';
import { cli, type CliResult } from '../helpers/cli';
import { expectValidReport } from '../helpers/report-schema';

const FORMATS = ['report.json', 'report.html', 'junit.xml', 'trf.csv', 'trf.xlsx'];

/** The CLI in this process (no tsx start-up): for the quick commands; runs and demos go through bin/. */
async function inProcess(args: string[]): Promise<CliResult> {
  const text = { out: '', err: '' };
  const sink = (key: 'out' | 'err') => new Writable({ write(chunk, _enc, done) { text[key] += String(chunk); done(); } });
  const code = await main(args, { out: sink('out'), err: sink('err') });
  return { code, signal: null, stdout: text.out, stderr: text.err };
}

describe('command line: reports, attestations, signing, diff', function () {
  this.timeout(120_000);
  let dir: string;
  let weak: string;
  let hardened: string;
  let signedRun: CliResult;
  let weakRun: CliResult;
  /** The requirement the test attests. */
  let attested: string;
  let key: { privateKey: string; certificate: string; publicKey: string };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-reports-cli-'));
    weak = path.join(dir, 'weak');
    hardened = path.join(dir, 'hardened');
    // The weak demo is the slow one (nmap fingerprints its undeclared port): it runs while the lab key
    // and the attestation file are made and the hardened demo is signed and attested.
    const weakDemo = cli(['demo', '--posture', 'weak', '--out', weak], {}, undefined, { watchProcesses: true });
    const keys = path.join(dir, 'keys');
    const made = await cli(['keygen', '--out', keys, '--name', 'Prüflabor Süd', '--bits', '2048']);
    expect(made.code, made.stderr).to.equal(0);
    key = { privateKey: path.join(keys, 'lab-key.pem'), certificate: path.join(keys, 'lab-cert.pem'), publicKey: path.join(keys, 'lab-public.pem') };
    const template = path.join(dir, 'attest.yaml');
    const t = await cli(['attest-template', '--type', 'embedded', '--sl', '2', '--out', template]);
    expect(t.code, t.stderr).to.equal(0);
    // The engineer fills in the first entry (a row no probe evidences); the rest stay empty.
    const text = fs.readFileSync(template, 'utf8');
    attested = /^- id: (.+)$/m.exec(text)![1];
    fs.writeFileSync(template, text.replace(
      / {2}verdict:.*\n {2}reviewer:\n {2}date:\n {2}evidence:\n/,
      '  verdict: pass\n  reviewer: A. Prüfer\n  date: 2025-03-13\n  evidence: user manual v2.1 §4.3\n',
    ));
    signedRun = await cli(['demo', '--posture', 'hardened', '--out', hardened, '--attest', template, '--sign', key.privateKey], {}, undefined, { watchProcesses: true });
    expect(signedRun.code, signedRun.stderr).to.equal(0);
    weakRun = await weakDemo;
    expect(weakRun.code, weakRun.stderr).to.equal(0);
  });

  it('no Node or library warning reaches the console; only the Basic128Rsa15 helpers of the weak demo run with --security-revert', () => {
    for (const run of [weakRun, signedRun]) {
      expect(run.stderr).to.not.match(/Warning|\(node:\d+\)|SECURITY WARNING|DeprecationWarning/);
      expect(run.stdout).to.not.match(/Warning|SECURITY WARNING/);
    }
    expect(signedRun.revertProcesses, 'hardened demo').to.deep.equal([]);
    const helpers = weakRun.revertProcesses ?? [];
    expect(helpers.every((c) => /opcua\/legacy-process|services\/opcua-process/.test(c)), helpers.join('\n')).to.equal(true);
    // The emulated device's Basic128Rsa15 server and the harness's Basic128Rsa15 channel check.
    expect(helpers.some((c) => c.includes('services/opcua-process')), 'emulator helper').to.equal(true);
    expect(helpers.some((c) => c.includes('opcua/legacy-process')), 'harness helper').to.equal(true);
    const report = JSON.parse(fs.readFileSync(path.join(weak, 'report.json'), 'utf8')) as Report;
    const certificateCheck = report.attempts.find((a) => a.probe === 'opcua.client-certificate')!;
    expect(certificateCheck.observations.legacyCrypto).to.include({ available: true, where: 'helper-process' });
    expect((certificateCheck.observations.tests as { endpoint: string }[]).map((t) => t.endpoint)).to.include('SignAndEncrypt/Basic128Rsa15');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('no profile secret that is nobody\'s ordinary text is in any file; the weak findings name the account and the list entry', () => {
    for (const [posture, folder] of [['weak', weak], ['hardened', hardened]] as const) {
      const profile = loadProfile(packagePath('profiles', 'examples', `${posture}.yaml`));
      const credentials = [...profile.credentials.values()];
      const ordinary = new Set([...credentials.map((c) => c.username), ...shippedDefaultPasswords()]);
      const secrets = credentials.map((c) => c.password).filter((p) => !ordinary.has(p));
      if (posture === 'hardened') expect(secrets, 'the hardened profile has distinctive passwords').to.not.be.empty;
      for (const rel of listFiles(folder)) {
        const bytes = fs.readFileSync(path.join(folder, rel));
        for (const secret of secrets) {
          expect(bytes.includes(Buffer.from(secret)), `${posture}: ${rel} holds a profile secret`).to.equal(false);
          expect(bytes.includes(Buffer.from(Buffer.from(secret).toString('base64'))), `${posture}: ${rel} holds a profile secret (base64)`).to.equal(false);
        }
      }
    }
    const report = JSON.parse(fs.readFileSync(path.join(weak, 'report.json'), 'utf8')) as Report;
    const messages = report.attempts.flatMap((a) => a.findings.map((f) => f.message));
    const named = messages.filter((m) => m.includes('admin logs in with the well-known password of generic/admin-admin'));
    for (const via of ['SSH password', 'OPC UA UserName', 'HTTP login form']) expect(named.some((m) => m.startsWith(via)), via).to.equal(true);
    expect(messages.join('\n')).to.not.contain('[redacted]');
  });

  it('the demo folder holds every report format, the attestation file and the signature; the summary names report.html', async () => {
    const files = listFiles(hardened);
    expect(files).to.include.members([...FORMATS, 'journal.ndjson', 'manifest.json', 'manifest.sha256', 'manifest.sig', 'attestations.yaml']);
    expect(signedRun.stdout).to.contain(`Report: ${path.relative(process.cwd(), hardened)}/report.html`);
    expect(signedRun.stdout).to.match(/Signed: manifest\.sig \(certificate and key sha256 [0-9a-f]{64}\)/);
    expect(signedRun.stderr).to.match(/attest\.yaml: \d+ entries left empty \(not attested\)/);
    const report = JSON.parse(fs.readFileSync(path.join(hardened, 'report.json'), 'utf8')) as Report;
    expectValidReport(report);
    expect(report.requirements.find((r) => r.id === attested)).to.deep.include({ verdict: 'pass', source: 'manual' });
    const manifest = JSON.parse(fs.readFileSync(path.join(hardened, 'manifest.json'), 'utf8')) as { files: { path: string }[] };
    expect(manifest.files.map((f) => f.path)).to.include.members([...FORMATS, 'attestations.yaml']);
    // The formats agree with report.json.
    expect(fs.readFileSync(path.join(hardened, 'report.html'), 'utf8')).to.contain('Attested by A. Prüfer on 2025-03-13');
    const junit = await parseJunit(fs.readFileSync(path.join(hardened, 'junit.xml'), 'utf8')) as TestSuites;
    expect(junit.testsuite!.at(-1)!.name).to.equal('requirements');
    expect(junit.testsuite!.at(-1)!.testcase ?? []).to.have.length(report.requirements.filter((r) => r.verdict === 'fail').length);
    const csv = fs.readFileSync(path.join(hardened, 'trf.csv'), 'utf8');
    expect(csv.startsWith('\uFEFFClause,')).to.equal(true);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(fs.readFileSync(path.join(hardened, 'trf.xlsx')) as unknown as ArrayBuffer);
    expect(wb.getWorksheet('Requirements')!.rowCount).to.equal(report.requirements.length + 1);
  });

  it('verify passes with the lab certificate, and fails naming the file after any file is edited', async () => {
    const ok = await cli(['verify', hardened, '--cert', key.certificate]);
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/Signature: valid RSASSA-PKCS1-v1_5-SHA256 signature by lab-cert\.pem \(CN=Prüflabor Süd\)/);
    const check = signatureChecker(loadTrustedKey(key.publicKey));
    for (const rel of listFiles(hardened)) {
      const file = path.join(hardened, rel);
      const original = fs.readFileSync(file);
      // Flip one byte in the middle; an empty file (an empty banner, say) gets one byte added instead.
      const edited = original.length === 0 ? Buffer.from('x') : Buffer.from(original);
      if (original.length > 0) edited[Math.floor(edited.length / 2)] ^= 0x20;
      fs.writeFileSync(file, edited);
      const r = verifyFolder(hardened, check);
      expect(r.ok, rel).to.equal(false);
      // An edited manifest.sha256 that is still well-formed cannot say which of the two changed: either is named.
      const named = rel === 'manifest.sha256' ? ['manifest.json', 'manifest.sha256'] : [rel];
      expect(r.problems.map((p) => p.path).some((p) => named.includes(p)), `${rel}: ${JSON.stringify(r.problems)}`).to.equal(true);
      fs.writeFileSync(file, original);
    }
    fs.appendFileSync(path.join(hardened, 'trf.csv'), 'x');
    const bad = await cli(['verify', hardened, '--key', key.publicKey]);
    expect(bad.code).to.equal(1);
    expect(bad.stdout).to.match(/modified +trf\.csv/);
  });

  it('verify --key on an unsigned folder fails; a bad key file is a usage error', async () => {
    const r = await inProcess(['verify', weak, '--key', key.publicKey]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.contain('the folder is not signed');
    expect((await inProcess(['verify', weak, '--key', path.join(weak, 'report.json')])).code).to.equal(3);
  });

  it('diff: weak after hardened is worse (exit 1), hardened after weak is not (exit 0); --json parses', async () => {
    const worse = await cli(['diff', hardened, weak]);
    expect(worse.code, worse.stderr).to.equal(1);
    expect(worse.stdout).to.match(/CR 4\.1 +not determined -> fail +WORSE/);
    expect(worse.stdout).to.match(/\+ \[high\] ports\.tcp\.cleartext-service @ 127\.0\.0\.1/);
    expect(worse.stdout).to.match(/\+ open\[port=\d+\]/);
    expect(worse.stdout).to.match(/^WORSE: \d+ regression/m);
    const better = await inProcess(['diff', '--baseline', weak, hardened, '--json']);
    expect(better.code, better.stderr).to.equal(0);
    const d = JSON.parse(better.stdout) as { regressions: string[]; findingsGone: { code: string }[]; requirements: { id: string; worse: boolean }[] };
    expect(d.regressions).to.deep.equal([]);
    expect(d.findingsGone.map((f) => f.code)).to.include('ports.tcp.cleartext-service');
    expect((await inProcess(['diff', weak])).code).to.equal(3);
    expect((await inProcess(['diff', weak, path.join(dir, 'nothing-here')])).code).to.equal(3);
  });

  it('attest-template --from a run lists its not-determined rows and carries the attestations over', async () => {
    const r = await inProcess(['attest-template', '--from', hardened]);
    expect(r.code, r.stderr).to.equal(0);
    const report = JSON.parse(fs.readFileSync(path.join(hardened, 'report.json'), 'utf8')) as Report;
    const parsed = parseAttestations(Buffer.from(r.stdout), 'template', loadCatalog(), ['embedded']);
    expect(parsed.attestations).to.deep.equal([{ id: attested, verdict: 'pass', reviewer: 'A. Prüfer', date: '2025-03-13', evidence: 'user manual v2.1 §4.3' }]);
    expect(parsed.untouched).to.have.members(report.requirements.filter((x) => x.verdict === 'not_determined' && x.requiredAtTarget).map((x) => x.id));
    expect(r.stdout).to.match(/- id: CR 7\.1\n {2}# .*\n {2}# not determined in run /);
  });

  it('attest-template --profile lists the rows no probe evidences, required at the profile\'s SL target', async () => {
    const r = await inProcess(['attest-template', '--profile', 'profiles/examples/hardened.yaml']);
    expect(r.code, r.stderr).to.equal(0);
    const ids = [...r.stdout.matchAll(/^- id: (.+)$/gm)].map((m) => m[1]);
    const evidenced = new Set(loadProbes().flatMap((p) => p.requirements));
    expect(ids).to.deep.equal(rowsRequiredAt(loadCatalog(), ['embedded'], 2).map((row) => row.id).filter((id) => !evidenced.has(id)));
    expect(ids).to.include('EDR 3.14 RE(1)'); // secure boot: a physical test
    expect(ids).not.to.include('CR 4.1'); // ports.tcp evidences it
    expect(ids).not.to.include('CR 1.1 RE(2)'); // required from SL 3 only
    expect(r.stdout).to.match(/^# Manual attestations for Emulated PLC \(hardened posture\) \(embedded\), SL target FR1 2/);
    expect((await inProcess(['attest-template', '--profile', 'profiles/examples/hardened.yaml', '--type', 'embedded'])).code).to.equal(3);
    expect((await inProcess(['attest-template'])).code).to.equal(3);
  });

  it('a bad attestation file or signing key stops demo before anything is written (exit 3)', async () => {
    const bad = path.join(dir, 'bad-attest.yaml');
    fs.writeFileSync(bad, '- { id: CR 1.1, verdict: passed, reviewer: R, date: 2025-01-01, evidence: doc }\n');
    const out = path.join(dir, 'never');
    const r = await cli(['demo', '--posture', 'hardened', '--out', out, '--attest', bad]);
    expect(r.code).to.equal(3);
    expect(r.stderr).to.contain(`${bad}:1:17: [0].verdict: CR 1.1: verdict must be pass, fail or not_applicable (got "passed")`);
    const k = await inProcess(['demo', '--posture', 'hardened', '--out', out, '--sign', key.publicKey]);
    expect(k.code).to.equal(3);
    expect(k.stderr).to.contain('holds no private key');
    expect(fs.existsSync(out)).to.equal(false);
    expect((await inProcess(['keygen', '--out', path.dirname(key.privateKey)])).code).to.equal(3);
  });
});
