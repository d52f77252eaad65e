import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/accounts/lifecycle';
import type { Emulator } from '../../../src/emulator';
import { CLEANUP_FILE, readPending } from '../../../src/runner/cleanup';
import { ACCOUNT_CREDENTIALS, EMULATOR_ACCOUNT_API, deleteStatus, startInterceptingProxy, startWebDevice } from '../../helpers/accounts';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);
const outcome = (a: { outcomes: { requirement: string }[] }, id: string) => a.outcomes.find((o) => o.requirement === id);
const https = (d: Emulator) => ({ port: d.endpoint('https').port, protocol: 'https' as const });
const policy = { accountManagement: EMULATOR_ACCOUNT_API };

describe('probe accounts.lifecycle (CR 1.3, 2.1)', function () {
  this.timeout(30_000);
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startWebDevice('weak'), startWebDevice('hardened')]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('hardened device: created, logs in, disabled (refused), deleted (refused), operator refused (403) -> pass; no account left', async () => {
    const { attempt, dir } = await runProbe(probe, { service: https(hardened), policy, credentials: ACCOUNT_CREDENTIALS.hardened });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
    expect(outcome(attempt, 'CR 1.3')).to.deep.include({ verdict: 'pass', coverage: 'partial' });
    expect(outcome(attempt, 'CR 2.1')).to.deep.include({ verdict: 'pass', coverage: 'partial' });
    const o = attempt.observations as { loginWhileDisabled: { accepted: boolean }; operatorCreate: { detail: string }; removals: { removed: boolean }[] };
    expect(o.loginWhileDisabled.accepted).to.equal(false);
    expect(o.operatorCreate.detail).to.match(/-> 403/);
    expect(o.removals.map((r) => r.removed)).to.deep.equal([true, true]);
    // Every journaled account resolved; the passwords are nowhere in the run folder.
    expect(readPending(path.join(dir, 'cleanup', CLEANUP_FILE))).to.deep.equal([]);
    const evidence = fs.readFileSync(path.join(dir, attempt.evidence.find((e) => e.endsWith('lifecycle.json'))!), 'utf8');
    expect(evidence).to.not.contain(ACCOUNT_CREDENTIALS.hardened['accounts.admin'].password);
    expect(evidence).to.not.match(/"password"\s*:\s*"[^«]/);
  });

  it('weak device: a disabled account still logs in and the operator creates accounts -> fail (CR 1.3, 2.1); both accounts removed', async () => {
    const { attempt } = await runProbe(probe, { service: https(weak), policy, credentials: ACCOUNT_CREDENTIALS.weak });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.have.members(['accounts.lifecycle.disabled-account-logs-in', 'accounts.lifecycle.operator-creates-account']);
    expect(outcome(attempt, 'CR 1.3')).to.deep.include({ verdict: 'fail' });
    expect(outcome(attempt, 'CR 2.1')).to.deep.include({ verdict: 'fail' });
    const o = attempt.observations as { operatorCreate: { step: string; accepted: boolean }; removals: { account: string; removed: boolean }[] };
    expect(o.removals).to.have.length(2);
    for (const r of o.removals) {
      expect(r.removed).to.equal(true);
      expect(await deleteStatus(weak.endpoint('https').port, ACCOUNT_CREDENTIALS.weak['accounts.admin'], r.account)).to.equal(404);
    }
  });

  it('no operator credential -> CR 1.3 judged, CR 2.1 not determined; no interface declared -> not determined', async () => {
    const { attempt } = await runProbe(probe, { service: https(hardened), policy, credentials: { 'accounts.admin': ACCOUNT_CREDENTIALS.hardened['accounts.admin'] } });
    expect(outcome(attempt, 'CR 1.3')).to.deep.include({ verdict: 'pass' });
    expect(outcome(attempt, 'CR 2.1')).to.equal(undefined);
    expect(attempt.observations.notDetermined).to.match(/CR 2\.1: no operator account/);
    const none = await runProbe(probe, { service: https(hardened), credentials: ACCOUNT_CREDENTIALS.hardened });
    expect(none.attempt.status).to.equal('not_determined');
    expect(none.attempt.outcomes).to.deep.equal([]);
  });

  it('the operator\'s credential as admin: creation refused for both -> nothing determined, never a pass', async () => {
    const operator = ACCOUNT_CREDENTIALS.hardened['accounts.operator'];
    const { attempt } = await runProbe(probe, { service: https(hardened), policy, credentials: { 'accounts.admin': operator, 'accounts.operator': operator } });
    expect(attempt.status).to.equal('not_determined');
    expect(String(attempt.observations.notDetermined)).to.match(/CR 1\.3: the administrator could not create/).and.match(/CR 2\.1: the creation failed for the administrator too/);
  });

  it('Ctrl-C right after the creation: the account is still removed, and its journal entry resolved', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-accounts-state-'));
    const cancel = new AbortController();
    const proxy = await startInterceptingProxy(hardened.endpoint('https').port, (line, status) => {
      if (line === 'POST /api/users' && status === 201) cancel.abort(new Error('Ctrl-C'));
    });
    try {
      const { attempt } = await runProbe(probe, { service: { port: proxy.port, protocol: 'http' }, policy, credentials: ACCOUNT_CREDENTIALS.hardened, stateDir, runSignal: cancel.signal });
      expect(attempt.status).to.equal('error');
      expect(readPending(path.join(stateDir, CLEANUP_FILE))).to.deep.equal([]);
      const created = fs.readFileSync(path.join(stateDir, CLEANUP_FILE), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { op: string; name?: string; how?: string });
      expect(created.map((l) => `${l.op}:${l.how ?? ''}`)).to.deep.equal(['add:', 'resolve:removed']);
      expect(await deleteStatus(hardened.endpoint('https').port, ACCOUNT_CREDENTIALS.hardened['accounts.admin'], created[0].name!)).to.equal(404);
    } finally {
      await proxy.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('SIGKILL after the creation: the next run removes the leftover account first and says so', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-accounts-state-'));
    let child: ReturnType<typeof spawn> | undefined;
    let killed = false;
    const proxy = await startInterceptingProxy(hardened.endpoint('https').port, async (line, status) => {
      if (killed || !child || line !== 'POST /api/users' || status !== 201) return;
      killed = true;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    });
    try {
      // tsx loads the TypeScript as CommonJS: the named exports sit on `default` of the dynamic import.
      const load = (file: string) => `import(${JSON.stringify(path.resolve(file))}).then((m) => m.default ?? m)`;
      const script = `Promise.all([${load('test/helpers/probe-harness.ts')}, ${load('probes/accounts/lifecycle.ts')}]).then(async ([h, p]) => {
        await h.runProbe(p.default ?? p, ${JSON.stringify({ service: { port: proxy.port, protocol: 'http' }, policy, credentials: ACCOUNT_CREDENTIALS.hardened, stateDir })});
        console.log('finished');
      })`;
      child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
      child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
      const code = await new Promise((resolve) => child!.once('exit', (c, s) => resolve(s ?? c)));
      expect(code, output).to.equal('SIGKILL');
      const left = readPending(path.join(stateDir, CLEANUP_FILE));
      expect(left).to.have.length(1);

      const { attempt } = await runProbe(probe, { service: { port: proxy.port, protocol: 'http' }, policy, credentials: ACCOUNT_CREDENTIALS.hardened, stateDir });
      expect(attempt.status).to.equal('pass');
      const replayed = attempt.observations.replayed as { account: string; removed: boolean; leftBy: { runId: string } }[];
      expect(replayed).to.have.length(1);
      expect(replayed[0]).to.deep.include({ account: left[0].name, removed: true });
      expect(replayed[0].leftBy.runId).to.equal(left[0].runId);
      expect(readPending(path.join(stateDir, CLEANUP_FILE))).to.deep.equal([]);
      expect(fs.readFileSync(path.join(stateDir, CLEANUP_FILE), 'utf8')).to.contain('"how":"replayed"');
      expect(await deleteStatus(hardened.endpoint('https').port, ACCOUNT_CREDENTIALS.hardened['accounts.admin'], left[0].name)).to.equal(404);
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await proxy.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  describeMisbehavingPeers(probe, {
    service: (port) => ({ port, protocol: 'http' }), timeoutMs: 3000, policy, credentials: ACCOUNT_CREDENTIALS.hardened,
  });
});
