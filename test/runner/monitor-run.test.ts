import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';
import { verifyFolder } from '../../src/evidence/manifest';
import { profileFromObject } from '../../src/profile';
import { runAssessment } from '../../src/runner/run';
import { defineProbe, type ProbeDefinition } from '../../src/sdk';
import { greetingProbe, intrusiveProbe } from '../../fixtures/probes';
import { bannerServer, type TestServer } from '../../fixtures/servers';
import { expectValidReport } from '../helpers/report-schema';
import { modbusPosture } from '../helpers/modbus';
import * as net from 'node:net';
import { encodeFrame } from '../../src/protocols/modbus';

/** An intrusive test probe that uses ctx.monitor as a load probe would: marks a phase and reads the state. */
const loadLikeProbe = defineProbe({
  id: 'fixture.load', protocol: 'fixture', title: 'load-like', description: 'test probe',
  requirements: ['CR 7.1'], safety: 'intrusive', scope: 'service', appliesTo: ['tcp'], timeoutMs: 5000, findings: {},
  async run(ctx) {
    if (!ctx.monitor) return { observations: { monitored: false }, findings: [], outcomes: [] };
    const phase = ctx.monitor.phase('step 100/s');
    await ctx.wait(500, 'load step');
    phase.end();
    return { observations: { monitored: true, state: ctx.monitor.state(), watches: ctx.monitor.watches, aborted: ctx.monitor.signal.aborted }, findings: [], outcomes: [] };
  },
});

/** FC16 with quantity 0: the frame the weak Modbus stack crashes on (it restarts after crashOn.restartAfterMs). */
const CRASH_FRAME = encodeFrame({ transactionId: 1, unitId: 1, pdu: Buffer.from([0x10, 0x00, 0x64, 0x00, 0x00, 0x00]) });

/** Destructive fixtures: one crashes the stack and returns at once; the other notes when it ran and what it found. */
const crasher = defineProbe({
  id: 'fixture.crash', protocol: 'fixture', title: 'crash', description: 'test probe', requirements: ['CR 3.5'],
  safety: 'destructive', scope: 'service', appliesTo: ['modbus'], timeoutMs: 5000, findings: {},
  async run(ctx) {
    await new Promise<void>((resolve) => {
      const socket = net.connect(ctx.service!.port, ctx.service!.host, () => socket.end(CRASH_FRAME));
      socket.on('close', () => resolve()).on('error', () => resolve());
    });
    return { observations: { at: Date.now() }, findings: [], outcomes: [] };
  },
});
const follower = defineProbe({
  id: 'fixture.after', protocol: 'fixture', title: 'after', description: 'test probe', requirements: ['CR 7.1'],
  safety: 'destructive', scope: 'service', appliesTo: ['modbus'], timeoutMs: 5000, findings: {},
  async run(ctx) {
    const stateAtStart = ctx.monitor?.state() ?? 'no monitor';
    await ctx.wait(300, 'look at the function');
    return { observations: { stateAtStart }, findings: [], outcomes: [] };
  },
});

describe('runner: the essential-function monitor around intrusive attempts', function () {
  this.timeout(60_000);
  let dir: string;
  let emulator: Emulator;
  let tcp: TestServer;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-monitor-run-'));
    const hardened = loadPosture('hardened');
    emulator = await startEmulator({ ...hardened, name: 'ef', services: { modbus: { ...hardened.services.modbus, enabled: true, counter: { address: 0, periodMs: 100 } } } }, { ephemeralPorts: true });
    tcp = await bannerServer('hello\r\n');
  });
  after(async () => {
    await emulator.close();
    await tcp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts the host monitor before the first intrusive attempt, journals the series, reports and charts it', async () => {
    const modbus = emulator.endpoint('modbus').port;
    const profile = profileFromObject({
      apiVersion: 'iacs-probe/v1', component: { name: 'PLC', types: ['embedded'], slTarget: 1 },
      targets: [{ host: '127.0.0.1', services: [{ port: modbus, protocol: 'modbus', unitId: 1 }, { port: tcp.port, protocol: 'tcp' }] }],
      essentialFunction: {
        periodMs: 100, latencyToleranceMs: 300, lossAfterMs: 1000, recoveryWindowMs: 3000,
        modbus: { unitId: 1, register: 0, kind: 'counter', periodMs: 100 },
      },
      allow: ['passive', 'active', 'intrusive'],
    }, 'inline');
    const out = path.join(dir, 'run');
    const { report } = await runAssessment(profile, { out, probes: [greetingProbe, intrusiveProbe, loadLikeProbe] as ProbeDefinition<unknown>[] });
    const load = report.attempts.find((a) => a.probe === 'fixture.load')!;
    expect(load.observations).to.deep.equal({ monitored: true, state: 'maintained', watches: ['modbus'], aborted: false });
    const monitor = report.targets[0].monitor!;
    expect(monitor.verdict, monitor.text).to.equal('maintained');
    expect(monitor.files).to.deep.equal(['monitor/127.0.0.1.ndjson', 'monitor/127.0.0.1.csv']);
    // One phase per intrusive attempt, plus the one the probe marked; the passive attempt is not a phase.
    expect(monitor.phases.map((p) => p.label).sort()).to.deep.equal(['fixture.intrusive', 'fixture.load', 'step 100/s']);
    // Maintained on a quiet machine; with npm test's six groups saturating both cores a phase may read degraded (the
    // 100 ms counter is served by this same process), never lost. fixture.intrusive lasts about 1 ms: its window (one
    // sample period past its end) may then hold no sample at all, which is not determined, honestly.
    const verdicts = Object.fromEntries(monitor.phases.map((p) => [p.label, p.verdict]));
    expect(Object.values(verdicts).filter((v) => v === 'lost'), JSON.stringify(monitor.phases)).to.deep.equal([]);
    expect(verdicts['fixture.load'], JSON.stringify(monitor.phases)).to.be.oneOf(['maintained', 'degraded']);
    expect(verdicts['step 100/s'], JSON.stringify(monitor.phases)).to.be.oneOf(['maintained', 'degraded']);
    expect(verdicts['fixture.intrusive'], JSON.stringify(monitor.phases)).to.be.oneOf(['maintained', 'degraded', 'not_determined']);
    // The monitor ran before the first intrusive attempt began and after the last ended.
    const intrusive = report.attempts.filter((a) => a.safety === 'intrusive');
    const firstStart = Math.min(...intrusive.map((a) => Date.parse(a.startedAt)));
    const lastEnd = Math.max(...intrusive.map((a) => Date.parse(a.startedAt) + a.durationMs));
    expect(monitor.series[0].t).to.be.at.most(firstStart);
    expect(monitor.series.at(-1)!.t).to.be.at.least(lastEnd);
    for (const f of monitor.files) expect(fs.statSync(path.join(out, f)).size).to.be.greaterThan(0);
    const csv = fs.readFileSync(path.join(out, 'monitor/127.0.0.1.csv'), 'utf8').trim().split('\n');
    expect(csv).to.have.length(monitor.series.length + 1);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).to.include('<svg class="chart monitor-chart"');
    expect(html).to.include('Essential function of 127.0.0.1');
    expect(html).to.include('step 100/s');
    expect(html).not.to.match(/<script/i);
    const journal = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(journal.map((j) => j.type)).to.include.members(['monitor-start', 'monitor-stop']);
    expectValidReport(report);
    expectValidReport(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')));
    expect(verifyFolder(out).ok).to.equal(true);
  });

  it('runs no monitor when only passive and active probes run', async () => {
    const profile = profileFromObject({
      apiVersion: 'iacs-probe/v1', component: { name: 'PLC', types: ['embedded'], slTarget: 1 },
      targets: [{ host: '127.0.0.1', services: [{ port: emulator.endpoint('modbus').port, protocol: 'modbus' }, { port: tcp.port, protocol: 'tcp' }] }],
      essentialFunction: { modbus: { register: 0 } },
    }, 'inline');
    const out = path.join(dir, 'passive');
    const { report } = await runAssessment(profile, { out, probes: [greetingProbe, intrusiveProbe] as ProbeDefinition<unknown>[] });
    expect(report.targets[0].monitor).to.equal(undefined);
    expect(fs.existsSync(path.join(out, 'monitor'))).to.equal(false);
  });
  it('destructive attempts on a host run one at a time, and the next waits until the function the previous broke has settled', async () => {
    const device = await startEmulator(modbusPosture('weak', { crashOn: { frame: 'fc16-zero-quantity', restartAfterMs: 1500 }, counter: { periodMs: 50 } }), { ephemeralPorts: true });
    try {
      const profile = profileFromObject({
        apiVersion: 'iacs-probe/v1', component: { name: 'PLC', types: ['embedded'], slTarget: 1 },
        targets: [{ host: '127.0.0.1', services: [{ port: device.endpoint('modbus').port, protocol: 'modbus', unitId: 1 }] }],
        essentialFunction: { periodMs: 100, latencyToleranceMs: 300, lossAfterMs: 600, recoveryWindowMs: 5000, modbus: { unitId: 1, register: 0, kind: 'counter' } },
        allow: ['passive', 'active', 'intrusive', 'destructive'],
      }, 'inline');
      const out = path.join(dir, 'run-crash');
      const { report } = await runAssessment(profile, { out, allow: ['destructive'], probes: [crasher, follower] as ProbeDefinition<unknown>[] });
      const crash = report.attempts.find((a) => a.probe === 'fixture.crash')!;
      const after = report.attempts.find((a) => a.probe === 'fixture.after')!;
      expect(crash.status, JSON.stringify(crash)).to.not.equal('skipped');
      // One at a time (the host's destructive lock), and the follower met a working device.
      expect(Date.parse(after.startedAt)).to.be.at.least(Date.parse(crash.startedAt) + crash.durationMs);
      expect(after.observations.stateAtStart).to.equal('maintained');
      const journal = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; recovered?: boolean; waitedMs?: number });
      const waited = journal.find((j) => j.type === 'monitor-wait-end');
      expect(waited, 'the runner waited for the function before fixture.after').to.not.equal(undefined);
      expect(waited!.recovered).to.equal(true);
      expect(waited!.waitedMs).to.be.greaterThan(500);
    } finally {
      await device.close();
    }
  });
});
