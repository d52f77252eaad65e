import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator';
import { verifyFolder } from '../../src/evidence/manifest';
import { profileFromObject } from '../../src/profile';
import { modbusAnswersNormally, modbusCheckRequest } from '../../src/protocols/modbus';
import { runAssessment } from '../../src/runner/run';
import { cli } from '../helpers/cli';
import { startDeviceProcess, type DeviceProcess } from '../helpers/device-process';
import { modbusPosture } from '../helpers/modbus';

/** Does the device on `port` answer a normal read now? */
async function answers(port: number): Promise<boolean> {
  return (await modbusAnswersNormally({ host: '127.0.0.1', port }, modbusCheckRequest(1, 0), 500, AbortSignal.timeout(5000))).ok;
}

describe('cli: iacs-probe replay <run-dir> <case-id>', function () {
  this.timeout(180_000);
  let dir: string;
  let device: Emulator | undefined;
  let port: number;
  let caseId: string;
  const runDir = () => path.join(dir, 'run');

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-replay-'));
    device = await startEmulator(modbusPosture('weak'), { ephemeralPorts: true });
    port = device.endpoint('modbus').port;
    const profile = profileFromObject({
      apiVersion: 'iacs-probe/v1', component: { name: 'weak PLC', types: ['embedded'], slTarget: 1 },
      targets: [{ host: '127.0.0.1', services: [{ port, protocol: 'modbus', unitId: 1 }] }],
      essentialFunction: {
        periodMs: 250, latencyToleranceMs: 200, lossAfterMs: 1000, recoveryWindowMs: 2000,
        modbus: { unitId: 1, register: 0, kind: 'counter', periodMs: 1000 },
      },
      allow: ['passive', 'active', 'intrusive', 'destructive'],
    }, 'inline');
    await runAssessment(profile, { out: runDir(), only: ['modbus.fuzz'], allow: ['destructive'], probeInputs: { 'modbus.fuzz': { recoveryMs: 2000 } } });
  });
  after(async () => {
    await device?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the run fails CR 3.5 on the weak emulator with the killing case recorded, watched by the monitor', () => {
    const report = JSON.parse(fs.readFileSync(path.join(runDir(), 'report.json'), 'utf8')) as {
      attempts: { probe: string; status: string; observations: { killingCase?: { id: string; replay: string } }; findings: { code: string; message: string }[] }[];
      requirements: { id: string; verdict: string }[];
      targets: { monitor?: { verdict: string; phases: { label: string }[] } }[];
    };
    const attempt = report.attempts.find((a) => a.probe === 'modbus.fuzz')!;
    expect(attempt.status).to.equal('fail');
    expect(report.requirements.find((r) => r.id === 'CR 3.5')!.verdict).to.equal('fail');
    caseId = attempt.observations.killingCase!.id;
    expect(caseId).to.equal(`modbus-${port}-s62443-0052`);
    // The monitor (lossAfterMs 1 s) reports the loss before the probe's own 2 s recovery check gives up.
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['modbus.fuzz.function-lost']);
    expect(attempt.findings.every((f) => f.message.includes(caseId))).to.equal(true);
    // The run's monitor saw the loss and marked the fuzzing phase.
    const monitor = report.targets[0].monitor!;
    expect(['lost', 'recovered']).to.include(monitor.verdict);
    expect(monitor.phases.map((p) => p.label)).to.include('modbus.fuzz seed 62443');
    expect(verifyFolder(runDir()).ok).to.equal(true);
  });

  it('replays the killing case against a fresh weak emulator: it kills it again (exit 1)', async () => {
    await device?.close();
    // A fresh device on the port of the run (as the bench device would be after a power cycle).
    device = await startEmulator(modbusPosture('weak', { port }));
    expect(await answers(port)).to.equal(true);
    const r = await cli(['replay', runDir(), caseId, '--allow', 'destructive', '--recovery', '1000']);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout).to.contain(`case ${caseId}`).and.contain('fc16-write-registers: pdu.quantity = 0');
    expect(r.stdout).to.contain(`sent to 127.0.0.1:${port}: 00 01 00 00 00 0b 01 10 00 64 00 00 04`);
    expect(r.stdout).to.contain('the case kills the function');
    expect(await answers(port)).to.equal(false);
    // Nothing was written to the run folder.
    expect(verifyFolder(runDir()).ok).to.equal(true);
  });

  it('the same case against a fresh hardened emulator: rejected, the device still answers (exit 0)', async () => {
    await device?.close();
    device = await startEmulator(modbusPosture('hardened', { port }));
    const r = await cli(['replay', runDir(), caseId, '--allow', 'destructive']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('reaction: exception (exception 3 (ILLEGAL DATA VALUE))');
    expect(r.stdout).to.contain('afterwards: the device answers the normal request');
  });

  it('usage errors exit 3 and send nothing: no --allow destructive, an unknown case, a host outside the profile', async () => {
    const noAllow = await cli(['replay', runDir(), caseId]);
    expect(noAllow.code).to.equal(3);
    expect(noAllow.stderr).to.contain('--allow destructive');
    const unknown = await cli(['replay', runDir(), 'modbus-1-s1-9999', '--allow', 'destructive']);
    expect(unknown.code).to.equal(3);
    expect(unknown.stderr).to.contain('no fuzz case modbus-1-s1-9999');
    const outside = await cli(['replay', runDir(), caseId, '--allow', 'destructive', '--host', '127.0.0.2']);
    expect(outside.code).to.equal(3);
    expect(outside.stderr).to.contain("127.0.0.2 is not a host of the run's profile");
    const missing = await cli(['replay', runDir()]);
    expect(missing.code).to.equal(3);
    const help = await cli(['--help']);
    expect(help.stdout).to.match(/replay\s+re-send one fuzz case/);
  });
});

describe('cli: iacs-probe replay of an SNMP (UDP) case, with the community redacted in the run', function () {
  this.timeout(120_000);
  let dir: string;
  let device: DeviceProcess | undefined;
  let port: number;
  let caseId: string;
  const runDir = () => path.join(dir, 'run');
  const env = { IACS_TEST_COMMUNITY: 'public' };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-replay-snmp-'));
    device = await startDeviceProcess('weak', 'snmp');
    port = device.port('snmp');
    process.env.IACS_TEST_COMMUNITY = 'public';
    const profile = profileFromObject({
      apiVersion: 'iacs-probe/v1', component: { name: 'weak agent', types: ['embedded'], slTarget: 1 },
      targets: [{ host: '127.0.0.1', services: [{ port, protocol: 'snmp' }] }],
      credentials: { 'snmp.community': { username: 'community', password: { env: 'IACS_TEST_COMMUNITY' } } },
      allow: ['passive', 'active', 'intrusive', 'destructive'],
    }, 'inline');
    await runAssessment(profile, {
      out: runDir(), only: ['snmp.fuzz'], allow: ['destructive'],
      probeInputs: { 'snmp.fuzz': { ratePerSecond: 200, waitMs: 100, recoveryMs: 500 } },
    });
    await device.close();
  });
  after(async () => {
    await device?.close();
    delete process.env.IACS_TEST_COMMUNITY;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the run fails CR 3.5 with the killing case recorded; the community is not in the evidence', () => {
    const report = JSON.parse(fs.readFileSync(path.join(runDir(), 'report.json'), 'utf8')) as {
      attempts: { probe: string; status: string; observations: { killingCase?: { id: string } } }[];
    };
    const attempt = report.attempts.find((a) => a.probe === 'snmp.fuzz')!;
    expect(attempt.status).to.equal('fail');
    caseId = attempt.observations.killingCase!.id;
    expect(caseId).to.match(new RegExp(`^snmp-${port}-s62443-\\d{4}$`));
    // Neither the text nor the hex of the community (70 75 62 6c 69 63) in any evidence file.
    const evidence = path.join(runDir(), 'evidence');
    const files = (fs.readdirSync(evidence, { recursive: true }) as string[]).map((f) => path.join(evidence, f)).filter((f) => fs.statSync(f).isFile());
    expect(files.some((f) => f.endsWith('fuzz-cases.ndjson'))).to.equal(true);
    for (const f of files) expect(fs.readFileSync(f, 'latin1'), f).to.not.match(/public|70 75 62 6c 69 63/);
  });

  it('replays it over UDP against a fresh weak agent on the same port: it kills it again (exit 1); without the community: exit 3', async () => {
    device = await startDeviceProcess('weak', 'snmp', port);
    const noSecret = await cli(['replay', runDir(), caseId, '--allow', 'destructive']);
    expect(noSecret.code).to.equal(3);
    expect(noSecret.stderr).to.contain('--secret community=ENV_VAR');
    const wrong = await cli(['replay', runDir(), caseId, '--allow', 'destructive', '--secret', 'community=IACS_WRONG'], { IACS_WRONG: 'private' });
    expect(wrong.code).to.equal(3);
    expect(wrong.stderr).to.contain('not the one the run used');
    const r = await cli(['replay', runDir(), caseId, '--allow', 'destructive', '--secret', 'community=IACS_TEST_COMMUNITY', '--recovery', '500'], env);
    expect(r.code, r.stderr + r.stdout).to.equal(1);
    expect(r.stdout).to.contain(`case ${caseId}`).and.contain('the case kills the function');
    expect(await device.exited(), 'only the agent crashed, not the process').to.equal(false);
    expect(verifyFolder(runDir()).ok).to.equal(true);
  });
});
