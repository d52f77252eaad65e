import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Emulator } from '../../src/emulator';
import { profileFromObject } from '../../src/profile';
import { CLEANUP_FILE, defaultStateDir } from '../../src/runner/cleanup';
import { runAssessment } from '../../src/runner/run';
import { ACCOUNT_CREDENTIALS, EMULATOR_ACCOUNT_API, startWebDevice } from '../helpers/accounts';

/** The runner gives every attempt the profile's cleanup journal: in the state folder next to the profile, or --state. */
describe('runner: the cleanup journal lives in the profile\'s state folder', function () {
  this.timeout(30_000);
  let device: Emulator;
  let dir: string;
  const saved = { ...process.env };
  before(async () => {
    device = await startWebDevice('hardened');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-cleanup-state-'));
    process.env.IACS_TEST_ADMIN = ACCOUNT_CREDENTIALS.hardened['accounts.admin'].password;
  });
  after(async () => {
    await device?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    process.env = saved;
  });

  const profile = () => profileFromObject({
    apiVersion: 'iacs-probe/v1',
    component: { name: 'web device', types: ['embedded'], slTarget: 2 },
    targets: [{ host: '127.0.0.1', services: [{ port: device.endpoint('https').port, protocol: 'https' }] }],
    credentials: { 'accounts.admin': { username: ACCOUNT_CREDENTIALS.hardened['accounts.admin'].username, password: { env: 'IACS_TEST_ADMIN' } } },
    policy: { accountManagement: EMULATOR_ACCOUNT_API },
    allow: ['passive', 'active', 'intrusive'],
  }, path.join(dir, 'bench.yaml'), dir);

  const journalOf = (stateDir: string) => fs.readFileSync(path.join(stateDir, CLEANUP_FILE), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { op: string; runId: string; how?: string });

  it('default: .iacs-state/<profile name>/ next to the profile, with the run id; --state DIR overrides it', async () => {
    const { report } = await runAssessment(profile(), { out: path.join(dir, 'run-a'), only: ['accounts.lifecycle'] });
    expect(report.attempts.map((a) => `${a.probe}:${a.status}`)).to.deep.equal(['accounts.lifecycle:pass']);
    const lines = journalOf(defaultStateDir(path.join(dir, 'bench.yaml')));
    // The lifecycle deletes the account itself: the cleanup then finds it absent.
    expect(lines.map((l) => `${l.op}:${l.how ?? ''}`)).to.deep.equal(['add:', 'resolve:absent']);
    expect(lines[0].runId).to.equal(report.run.id);

    const elsewhere = path.join(dir, 'state-elsewhere');
    await runAssessment(profile(), { out: path.join(dir, 'run-b'), only: ['accounts.lifecycle'], stateDir: elsewhere });
    expect(journalOf(elsewhere).map((l) => l.op)).to.deep.equal(['add', 'resolve']);
  });
});
