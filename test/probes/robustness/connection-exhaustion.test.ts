import { expect } from 'chai';
import { spawn } from 'node:child_process';
import probe from '../../../probes/robustness/connection-exhaustion';
import { runProbe } from '../../helpers/probe-harness';
import { debianPython, requirePeer } from '../../helpers/peers';
import { FAST_MODBUS, modbusDevice } from './helpers';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const fast = { connectRate: 200, connectTimeoutMs: 1000, holdSeconds: 1, recoverySeconds: 3 };

/** A listener that never accepts (backlog 1): once its queue is full, the kernel drops further SYNs unanswered. */
async function neverAccepting(python: string): Promise<{ port: number; close(): void }> {
  const child = spawn(python, ['-c', 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(1)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
  });
  return { port, close: () => child.kill() };
}

describe('robustness.connection-exhaustion', function () {
  this.timeout(60_000);

  it('weak posture: beyond 16 connections the counter stalls: fail, the function was lost', async () => {
    const { emulator, port } = await modbusDevice('weak');
    try {
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'modbus', unitId: 1 }, monitor: FAST_MODBUS, inputs: { ...fast, maxConnections: 100 } });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.include('robustness.connection-exhaustion.function-lost-while-exhausted');
      expect(attempt.findings.find((f) => f.code.endsWith('function-lost-while-exhausted'))?.message).to.match(/frozen/);
      expect(attempt.observations.stoppedByLoss).to.equal(true);
      expect(attempt.observations.recovery).to.include({ ok: true });
    } finally {
      await emulator.close();
    }
  });

  it('hardened posture: the 33rd connection is accepted and closed, the counter keeps counting, recovery: pass', async () => {
    const { emulator, port } = await modbusDevice('hardened');
    try {
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'modbus', unitId: 1 }, monitor: FAST_MODBUS, inputs: { ...fast, maxConnections: 100 } });
      expect(attempt.status, `${attempt.message} ${JSON.stringify(attempt.findings)}`).to.equal('pass');
      const o = attempt.observations as { held: number; closedByDevice: number; timeout: number; limitReached: boolean; firstRefusal: { fate: string } };
      expect(o.held).to.equal(31); // 32 slots, one of them the monitor's
      expect(o.closedByDevice).to.be.at.least(5);
      expect(o.timeout).to.equal(0);
      expect(o.firstRefusal.fate).to.equal('closed-by-device');
      expect(attempt.outcomes[0]).to.include({ requirement: 'CR 7.2', verdict: 'pass' });
    } finally {
      await emulator.close();
    }
  });

  it('a listener whose queue fills and drops SYNs: no clean refusal (fail)', async function () {
    const python = requirePeer(this, 'python3', debianPython());
    const device = await neverAccepting(python);
    try {
      const { attempt } = await runProbe(probe, { service: { port: device.port, protocol: 'tcp' }, inputs: { ...fast, connectTimeoutMs: 500, stopAfterFailures: 3, recoverySeconds: 0.5, maxConnections: 20 } });
      expect(attempt.status).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.include('robustness.connection-exhaustion.no-clean-refusal');
      expect((attempt.observations as { timeout: number }).timeout).to.be.at.least(3);
    } finally {
      device.close();
    }
  });

  it('without a monitor a clean device is not determined (no evidence of the function)', async () => {
    const { emulator, port } = await modbusDevice('hardened');
    try {
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'modbus', unitId: 1 }, inputs: { ...fast, maxConnections: 10 } });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.observations.held).to.equal(10);
    } finally {
      await emulator.close();
    }
  });

  it('Ctrl-C while holding releases every connection within 1 s (error: cancelled)', async () => {
    const { emulator, port } = await modbusDevice('hardened');
    const ctrlC = new AbortController();
    try {
      const running = runProbe(probe, { service: { port, protocol: 'modbus', unitId: 1 }, inputs: { ...fast, maxConnections: 20, holdSeconds: 30 }, runSignal: ctrlC.signal });
      await new Promise((r) => setTimeout(r, 1000));
      expect(emulator.connections().open).to.equal(20);
      const abortedAt = Date.now();
      ctrlC.abort(new Error('SIGINT'));
      const { attempt } = await running;
      expect(attempt).to.include({ status: 'error', reason: 'cancelled' });
      while (emulator.connections().open > 0 && Date.now() - abortedAt < 1000) await new Promise((r) => setTimeout(r, 20));
      expect(emulator.connections().open).to.equal(0);
      expect(Date.now() - abortedAt).to.be.below(1000);
    } finally {
      await emulator.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'modbus', unitId: 1 }), timeoutMs: 1500, inputs: { ...fast, connectTimeoutMs: 300, maxConnections: 5, recoverySeconds: 0.5 } });
});
