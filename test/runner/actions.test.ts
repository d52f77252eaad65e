import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import lockoutProbe from '../../probes/ssh/lockout';
import sessionsProbe from '../../probes/ssh/sessions';
import { ACTIONS_FILE, RunActionLog, localAddressToward } from '../../src/runner/actions';
import { ENGINEER, OPERATOR, POLICY, useAuthDevices } from '../helpers/auth-devices';
import { runProbe } from '../helpers/probe-harness';

/**
 * The run-wide action log (actions.ndjson): the login layer records every credential check, session and
 * expected lockout of the probes that log in, with our source address as the device sees it.
 */
describe('run action log', function () {
  this.timeout(60_000);
  const devices = useAuthDevices('ssh');
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-actions-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('knows our source address toward a host without sending anything', async () => {
    expect(await localAddressToward('127.0.0.1')).to.equal('127.0.0.1');
  });

  it('records the failed logins, the expected lockout and the successful logins of ssh.lockout, in order, in the folder', async () => {
    const actions = RunActionLog.inFolder(dir);
    await actions.learnSources([{ host: '127.0.0.1', addresses: ['127.0.0.1'] }]);
    const port = devices.hardened().endpoint('ssh').port;
    const { attempt } = await runProbe(lockoutProbe, {
      service: { port, protocol: 'ssh' }, credentials: { ssh: OPERATOR, 'lockout.ssh.second': ENGINEER }, policy: POLICY, actions,
    });
    expect(attempt.status).to.equal('pass');
    const list = actions.list();
    const kinds = list.map((a) => a.kind);
    expect(kinds[0]).to.equal('login-succeeded');
    expect(kinds.filter((k) => k === 'login-failed').length).to.be.greaterThanOrEqual(3);
    expect(kinds).to.include('lockout-expected');
    const lockout = list.find((a) => a.kind === 'lockout-expected')!;
    expect(lockout).to.deep.include({ probe: 'ssh.lockout', host: '127.0.0.1', port, interface: 'ssh', source: '127.0.0.1', account: OPERATOR.username });
    const failed = list.find((a) => a.kind === 'login-failed')!;
    expect(failed.account).to.equal(OPERATOR.username);
    expect(list.map((a) => a.seq)).to.deep.equal(list.map((_, i) => i + 1));
    // The file holds the same records, and never a password.
    const text = fs.readFileSync(path.join(dir, ACTIONS_FILE), 'utf8');
    expect(text.trim().split('\n').map((l) => JSON.parse(l) as unknown)).to.deep.equal(list);
    expect(text).to.not.include(OPERATOR.password);
  });

  it('records sessions opened and closed by ssh.sessions', async () => {
    const actions = new RunActionLog();
    const { attempt } = await runProbe(sessionsProbe, {
      service: { port: devices.hardened().endpoint('ssh').port, protocol: 'ssh' }, credentials: { ssh: OPERATOR }, policy: POLICY, actions,
    });
    expect(attempt.status, attempt.message).to.not.equal('error');
    const kinds = actions.list().map((a) => a.kind);
    expect(kinds).to.include('session-opened');
    expect(kinds.filter((k) => k === 'session-closed').length).to.equal(kinds.filter((k) => k === 'session-opened').length);
  });
});
