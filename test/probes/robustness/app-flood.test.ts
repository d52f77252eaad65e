import { expect } from 'chai';
import probe from '../../../probes/robustness/app-flood';
import { runProbe } from '../../helpers/probe-harness';
import { requirePymodbus, startPymodbus } from '../../helpers/pymodbus';
import { startLighttpd } from '../../helpers/lighttpd';
import { FAST_MODBUS, countingModbusDevice, modbusDevice } from './helpers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

type Steps = { label: string; targetRate: number; achievedRate: number; answeredRate: number; refused: number; handling: string; monitor: string; stoppedBy?: string }[];
const stepsOf = (o: Record<string, unknown>) => o.steps as Steps;

describe('robustness.app-flood', function () {
  this.timeout(60_000);

  it('weak posture: the Modbus counter stalls under 1000 reads/s, CR 7.1 and RE(1) fail naming the step and rate', async () => {
    const { emulator, port } = await modbusDevice('weak');
    try {
      const run = await runProbe(probe, {
        service: { port, protocol: 'modbus', unitId: 1 }, monitor: FAST_MODBUS, inputs: { rates: [100, 1000], stepSeconds: 2 },
      });
      const { attempt } = run;
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.outcomes.find((o) => o.requirement === 'CR 7.1')?.verdict).to.equal('fail');
      expect(attempt.outcomes.find((o) => o.requirement === 'CR 7.1 RE(1)')?.verdict).to.equal('fail');
      const lost = attempt.findings.find((f) => f.code === 'robustness.app-flood.function-lost-under-load');
      expect(lost?.message).to.match(/At 1000 requests\/s/).and.to.match(/counter frozen|frozen/);
      const steps = stepsOf(attempt.observations);
      expect(steps[0]).to.include({ targetRate: 100, monitor: 'maintained' });
      expect(steps[1].targetRate).to.equal(1000);
      expect(steps[1].stoppedBy).to.equal('function lost');
      expect(steps[1].achievedRate).to.be.greaterThan(500);
      expect(run.monitor?.phases.map((p) => p.label)).to.include('modbus flood 1000/s');
    } finally {
      await emulator.close();
    }
  });

  it('hardened posture: busy exceptions above 200 reads/s per connection, the counter keeps counting: pass', async () => {
    const { emulator, port } = await modbusDevice('hardened');
    try {
      const { attempt } = await runProbe(probe, {
        service: { port, protocol: 'modbus', unitId: 1 }, monitor: FAST_MODBUS, inputs: { rates: [100, 2000], stepSeconds: 2, connections: 4 },
      });
      expect(attempt.status, `${attempt.message} ${JSON.stringify(attempt.findings)}`).to.equal('pass');
      const steps = stepsOf(attempt.observations);
      expect(steps.map((s) => s.monitor)).to.satisfy((v: string[]) => v.every((m) => m === 'maintained' || m === 'degraded'));
      expect(steps[1].handling).to.equal('refused-excess');
      expect(steps[1].answeredRate).to.be.below(steps[1].achievedRate);
      expect(attempt.outcomes.find((o) => o.requirement === 'CR 7.1 RE(1)')).to.include({ verdict: 'pass' });
    } finally {
      await emulator.close();
    }
  });

  it('pymodbus (independent server): a moderate flood keeps its counter: CR 7.1 pass', async function () {
    const python = requirePymodbus(this);
    const server = await startPymodbus(python, 1, { counter: true });
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: server.port, protocol: 'modbus', unitId: 1 }, inputs: { rates: [50, 200], stepSeconds: 2 },
        monitor: { ...FAST_MODBUS, periodMs: 250, lossAfterMs: 3000, latencyToleranceMs: 500, modbus: { register: 0, kind: 'counter', periodMs: 1000 } },
      });
      expect(attempt.status, `${attempt.message} ${server.stderr()}`).to.equal('pass');
      expect(stepsOf(attempt.observations)[1].answeredRate).to.be.greaterThan(150);
    } finally {
      await server.close();
    }
  });

  it('lighttpd (independent server): an HTTP GET flood at stepped rates, rates measured', async function () {
    const web = await startLighttpd(this, []);
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: web.port, protocol: 'http' }, inputs: { rates: [100, 500], stepSeconds: 1.5 },
        monitor: { periodMs: 100, latencyToleranceMs: 300, lossAfterMs: 1000, stopOnLoss: true, recoveryWindowMs: 3000, http: { path: '/' } },
      });
      expect(attempt.status, attempt.message).to.equal('pass');
      const steps = stepsOf(attempt.observations);
      expect(steps.map((s) => s.targetRate)).to.deep.equal([100, 500]);
      expect(steps[1].achievedRate).to.be.within(350, 560);
    } finally {
      await web.close();
    }
  });

  it('clamps rates and the profile to the caps and says so; the measured rate stays under the cap', async () => {
    const device = await countingModbusDevice();
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: device.port, protocol: 'modbus' }, monitor: { ...FAST_MODBUS, modbus: { register: 0, kind: 'value' } },
        robustness: { maxRate: 300, maxStepSeconds: 1, maxConnections: 1_000_000 }, inputs: { rates: [100, 5000], stepSeconds: 30 },
      });
      const clamped = attempt.observations.clamped as string[];
      expect(clamped).to.include('robustness.maxConnections 1000000 lowered to the ceiling 4000');
      expect(clamped).to.include('step rate 5000/s lowered to maxRate 300/s');
      expect(clamped).to.include('step length 30 s lowered to maxStepSeconds 1 s');
      const steps = stepsOf(attempt.observations);
      expect(steps.map((s) => s.targetRate)).to.deep.equal([100, 300]);
      expect(steps[1].achievedRate).to.be.at.most(330);
      // 100 + 300 requests in the two 1 s steps, plus the monitor's reads of the same device (10 a second).
      expect(device.frames()).to.be.below(500);
    } finally {
      await device.close();
    }
  });

  it('without an essentialFunction block sends nothing and determines nothing', async () => {
    const device = await countingModbusDevice();
    try {
      const { attempt } = await runProbe(probe, { service: { port: device.port, protocol: 'modbus' }, inputs: { rates: [100], stepSeconds: 1 } });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(device.frames()).to.equal(0);
    } finally {
      await device.close();
    }
  });

  it('Ctrl-C stops the flood within 1 s (error: cancelled)', async () => {
    const device = await countingModbusDevice();
    const ctrlC = new AbortController();
    try {
      const running = runProbe(probe, {
        service: { port: device.port, protocol: 'modbus' }, monitor: { ...FAST_MODBUS, modbus: { register: 0, kind: 'value' } },
        inputs: { rates: [2000], stepSeconds: 30 }, runSignal: ctrlC.signal,
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(device.frames()).to.be.greaterThan(1000);
      const abortedAt = Date.now();
      ctrlC.abort(new Error('SIGINT'));
      const { attempt } = await running;
      expect(Date.now() - abortedAt).to.be.below(1000);
      expect(attempt).to.include({ status: 'error', reason: 'cancelled' });
      // Frames already on the wire may still be counted by a busy device; after a settling pause no new ones may come.
      await new Promise((r) => setTimeout(r, 500));
      const after = device.frames();
      await new Promise((r) => setTimeout(r, 500));
      expect(device.frames() - after).to.be.below(5); // at most the monitor's last read in flight
    } finally {
      await device.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'modbus', unitId: 1 }), timeoutMs: 1500, monitor: FAST_MODBUS, inputs: { rates: [50], stepSeconds: 0.5 } });
});
