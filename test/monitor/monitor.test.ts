import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadPosture, startEmulator, type Emulator, type Posture } from '../../src/emulator';
import { httpWatch, modbusWatch, opcuaWatch, tlsWatch } from '../../src/protocols/monitor';
import { harnessIdentity } from '../../src/protocols/opcua';
import { EssentialFunctionLost } from '../../src/sdk';
import { FAST, fakeModbusDevice, pause, startMonitor, waitForState } from './helpers';

const hardened = loadPosture('hardened');
/** The emulated device with only the named services of a built-in posture, on fixed or OS-chosen ports. */
function device(services: Posture['services']): Posture {
  return { ...hardened, name: 'ef-monitor', services };
}

describe('essential-function monitor: the emulator, disturbed', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('Modbus counter: maintained, lost when the service stops (the loss signal aborts), recovered when it restarts', async () => {
    const posture = device({ modbus: { ...hardened.services.modbus, enabled: true, port: 0, counter: { address: 0, periodMs: 100 } } });
    let emulator: Emulator | undefined = await startEmulator(posture, { ephemeralPorts: true });
    cleanups.push(async () => { await emulator?.close(); });
    const port = emulator.endpoint('modbus').port;
    const { monitor, dir, cleanup } = await startMonitor([modbusWatch({ host: '127.0.0.1', port }, { register: 0, kind: 'counter', periodMs: 100 }, 1)]);
    cleanups.push(cleanup);
    const attempt = monitor.forAttempt('fixture.flood@127.0.0.1:502');
    await pause(600);
    expect(monitor.state()).to.equal('maintained');
    const phase = attempt.handle.phase('service stopped');
    await emulator.close();
    emulator = undefined;
    await waitForState(monitor, 'lost', 5000);
    expect(attempt.handle.signal.aborted).to.equal(true);
    expect(attempt.handle.signal.reason).to.be.instanceOf(EssentialFunctionLost);
    emulator = await startEmulator(device({ modbus: { ...posture.services.modbus, port } }));
    await waitForState(monitor, 'maintained', 5000);
    phase.end();
    attempt.release();
    await pause(400);
    await monitor.stop();
    const j = monitor.judgement();
    expect(j.overall.verdict).to.equal('recovered');
    const modbus = j.overall.watches[0];
    expect(modbus.recoveredAfterS).to.be.greaterThan(0.6);
    expect(modbus.outages.filter((o) => o.loss)).to.have.length(1);
    expect(j.phases[0]).to.include({ label: 'service stopped', attempt: 'fixture.flood@127.0.0.1:502', verdict: 'recovered' });
    // The evidence: every sample journaled (NDJSON) and tabulated (CSV), phases and the judgement with them.
    const lines = fs.readFileSync(path.join(dir, 'monitor/127.0.0.1.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines[0].type).to.equal('start');
    expect(lines.filter((l) => l.type === 'sample')).to.have.length(monitor.samples.length);
    expect(lines.map((l) => l.type)).to.include.members(['phase-start', 'phase-end', 'state', 'stop']);
    const csv = fs.readFileSync(path.join(dir, 'monitor/127.0.0.1.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).to.equal('time,watch,ok,latency_ms,value,error');
    expect(csv).to.have.length(monitor.samples.length + 1);
    expect(csv.some((l) => /,modbus,false,/.test(l))).to.equal(true);
  });

  it('HTTPS round trip (hardened web UI): maintained, then lost while the device is down', async () => {
    const emulator = await startEmulator(device({ https: hardened.services.https }), { ephemeralPorts: true });
    let closed = false;
    cleanups.push(async () => { if (!closed) await emulator.close(); });
    const port = emulator.endpoint('https').port;
    const { monitor, cleanup } = await startMonitor([httpWatch({ host: '127.0.0.1', port }, true, { path: '/' }), tlsWatch({ host: '127.0.0.1', port })], { latencyToleranceMs: 400 });
    cleanups.push(cleanup);
    await pause(700);
    expect(monitor.state()).to.equal('maintained');
    const https = monitor.samples.filter((s) => s.watch === 'https');
    expect(https.length).to.be.greaterThan(3);
    expect(https.every((s) => s.ok && typeof s.value === 'number' && s.value < 500)).to.equal(true);
    expect(monitor.samples.filter((s) => s.watch === 'tls').every((s) => s.ok && /^TLSv1\.[23]$/.test(String(s.value)))).to.equal(true);
    await emulator.close();
    closed = true;
    await waitForState(monitor, 'lost', 5000);
    await pause(FAST.lossAfterMs + 300); // the state is the worst watch's: give the other its loss window too
    await monitor.stop();
    expect(monitor.judgement().overall.verdict).to.equal('lost');
    expect(monitor.judgement().overall.watches.every((w) => w.verdict === 'lost')).to.equal(true);
  });

  it('OPC UA subscription to the Counter: maintained while it publishes, lost when the server stops, recovered on a new session after it restarts', async () => {
    const opcua = { securityPolicies: ['None'], securityModes: ['None'], allowAnonymous: true, counterPeriodMs: 100, auditing: false };
    let emulator: Emulator | undefined = await startEmulator(device({ opcua: { ...opcua, port: 0 } }), { ephemeralPorts: true });
    cleanups.push(async () => { await emulator?.close(); });
    const port = emulator.endpoint('opcua').port;
    const watch = opcuaWatch({
      target: { host: '127.0.0.1', port }, config: { nodeId: 'ns=1;s=Counter', kind: 'counter', publishingIntervalMs: 100 },
      identity: harnessIdentity(), latencyToleranceMs: FAST.latencyToleranceMs,
    });
    // 3 s: the first sample opens a session on the helper process the OPC UA server runs in, slow on a loaded machine.
    const { monitor, cleanup } = await startMonitor([watch], { lossAfterMs: 3000 });
    cleanups.push(cleanup);
    expect(monitor.samples[0], JSON.stringify(monitor.samples[0])).to.include({ ok: true });
    await pause(1500);
    expect(monitor.state()).to.equal('maintained');
    const values = monitor.samples.map((s) => Number(s.value));
    expect(values.at(-1)).to.be.greaterThan(values[0]); // the counter advanced through the subscription
    await emulator.close();
    emulator = undefined;
    await waitForState(monitor, 'lost', 12_000);
    emulator = await startEmulator(device({ opcua: { ...opcua, port } }));
    await waitForState(monitor, 'maintained', 20_000);
    await pause(500);
    await monitor.stop();
    const j = monitor.judgement();
    expect(j.overall.verdict, j.overall.text).to.equal('recovered');
    const loss = j.overall.watches[0].outages.find((o) => o.loss)!;
    expect(loss.errors.join(' ')).to.match(/closed|lost|publication|terminated|ECONNREFUSED|answer/);
    expect(loss.recoveredAt).to.be.a('number');
  });
});

describe('essential-function monitor: deceptive devices', function () {
  this.timeout(30_000);

  it('a counter that freezes while every read is answered is lost, not maintained', async () => {
    let reads = 0;
    const fake = await fakeModbusDevice(() => (reads++ < 8 ? reads : 8));
    const { monitor, cleanup } = await startMonitor([modbusWatch({ host: '127.0.0.1', port: fake.port }, { register: 0, kind: 'counter', stallAfterMs: 400 }, 1)]);
    try {
      await waitForState(monitor, 'lost', 5000);
      await monitor.stop();
      const w = monitor.judgement().overall.watches[0];
      expect(w.failed).to.equal(0); // every read answered ...
      expect(w.frozen).to.be.greaterThan(0); // ... with the same value
      expect(w.verdict).to.equal('lost');
      expect(w.text).to.match(/counter frozen at 8/);
    } finally {
      await cleanup();
      await fake.close();
    }
  });

  it('a device that answers slower than the tolerance is degraded, not maintained and not lost', async () => {
    let n = 0;
    const fake = await fakeModbusDevice(() => ++n, 300);
    const { monitor, cleanup } = await startMonitor([modbusWatch({ host: '127.0.0.1', port: fake.port }, { register: 0, kind: 'counter' }, 1)]);
    try {
      await pause(1500);
      expect(monitor.state()).to.equal('degraded');
      await monitor.stop();
      const w = monitor.judgement().overall.watches[0];
      expect(w.verdict).to.equal('degraded');
      expect(w.slow).to.equal(w.samples);
      expect(w.latencyMs!.min).to.be.at.least(290);
      expect(w.text).to.match(/degraded within tolerance: \d+ slower than 200 ms/);
    } finally {
      await cleanup();
      await fake.close();
    }
  });
});
