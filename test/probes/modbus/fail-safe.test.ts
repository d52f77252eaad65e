import { expect } from 'chai';
import * as net from 'node:net';
import probe from '../../../probes/modbus/fail-safe';
import { startEmulator, type Emulator } from '../../../src/emulator';
import type { DeclaredOutput } from '../../../src/sdk';
import { modbusPosture, withPlainModbus } from '../../helpers/modbus';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { requirePymodbus, startPymodbus } from '../../helpers/pymodbus';
import { FAST_MODBUS } from '../robustness/helpers';

/** Short times for tests (a real watchdog is ~1 s): the probe holds 450 ms with heartbeat, then waits 450 ms silent. */
const COIL: DeclaredOutput = { coil: 8, safeValue: 0, activeValue: 1, timeoutMs: 300, heartbeat: { register: 20, periodMs: 100 } };
const FAST = { marginMs: 150, requestTimeoutMs: 500 };
const modbus = (port: number) => ({ port, protocol: 'modbus' as const, unitId: 1 });
const declare = (...outputs: DeclaredOutput[]) => ({ outputs });

type OutputObservation = { outcome: string; detail: string; reads: { step: string; value?: number; msAfterCut?: number }[]; restore?: { ok: boolean; value: number } };
const outputsOf = (o: Record<string, unknown>) => o.outputs as OutputObservation[];

/** One value read with a plain modbus-serial client (not the probe's code). */
const readPlain = (port: number, what: { coil?: number; holdingRegister?: number }) => withPlainModbus(port, 1, async (c) => (
  what.coil !== undefined ? Number((await c.readCoils(what.coil, 1)).data[0]) : (await c.readHoldingRegisters(what.holdingRegister!, 1)).data[0]));

/**
 * A deceptive Modbus device without a watchdog: its coils really keep what a master writes, but `trick` decides
 * what a read reports. fresh-reads-safe: a connection that has written nothing reads every coil as 0, so whoever
 * connects after the cut sees "safe" while the output stays on. drops-by-itself: a coil reads 0 from 200 ms after
 * it was set, heartbeat or not (a pulse output, or the device's program overriding the master).
 */
async function deceptiveDevice(trick: 'fresh-reads-safe' | 'drops-by-itself') {
  const coils = new Uint8Array(64);
  const setAt = new Map<number, number>();
  let frames = 0;
  const sockets = new Set<net.Socket>();
  const answer = (pdu: Buffer, wrote: boolean): Buffer => {
    const address = pdu.readUInt16BE(1);
    if (pdu[0] === 0x01) {
      const shown = trick === 'fresh-reads-safe' ? (wrote ? coils[address] : 0) : Date.now() - (setAt.get(address) ?? 0) > 200 ? 0 : coils[address];
      return Buffer.from([0x01, 1, shown]);
    }
    if (pdu[0] === 0x05) {
      coils[address] = pdu.readUInt16BE(3) === 0xff00 ? 1 : 0;
      setAt.set(address, Date.now());
    }
    return pdu[0] === 0x05 || pdu[0] === 0x06 ? Buffer.from(pdu.subarray(0, 5)) : Buffer.from([pdu[0] | 0x80, 1]);
  };
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let wrote = false;
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 6 && buf.length >= 6 + buf.readUInt16BE(4)) {
        const frame = buf.subarray(0, 6 + buf.readUInt16BE(4));
        buf = buf.subarray(frame.length);
        frames++;
        const pdu = frame.subarray(7);
        wrote ||= pdu[0] === 0x05 || pdu[0] === 0x06;
        const reply = answer(pdu, wrote);
        s.write(Buffer.concat([frame.subarray(0, 4), Buffer.from([0, reply.length + 1, frame[6]]), reply]));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port, coil: (a: number) => coils[a], frames: () => frames,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

describe('modbus.fail-safe', function () {
  this.timeout(30_000);
  let weak: Emulator;
  let hardened: Emulator;
  /** The hardened watchdog in "any request" mode (WAGO's alternative watchdog). */
  let anyTraffic: Emulator;
  before(async () => {
    const quiet = { counter: { periodMs: 100 } };
    const hardenedWatchdog = modbusPosture('hardened').services.modbus!.watchdog as Record<string, unknown>;
    [weak, hardened, anyTraffic] = await Promise.all([
      startEmulator(modbusPosture('weak', { ...quiet, watchdog: { ...(modbusPosture('weak').services.modbus!.watchdog as object), timeoutMs: 300 } }), { ephemeralPorts: true }),
      startEmulator(modbusPosture('hardened', { ...quiet, watchdog: { ...hardenedWatchdog, timeoutMs: 300 } }), { ephemeralPorts: true }),
      startEmulator(modbusPosture('hardened', { ...quiet, watchdog: { ...hardenedWatchdog, timeoutMs: 300, heartbeatRegister: undefined } }), { ephemeralPorts: true }),
    ]);
  });
  after(async () => Promise.all([weak?.close(), hardened?.close(), anyTraffic?.close()]));
  const port = (e: Emulator) => e.endpoint('modbus').port;

  it('weak posture (no watchdog): coil 8 holds 1 after the master went silent: CR 3.6 fails citing the reads; restored to 0', async () => {
    const { attempt, read } = await runProbe(probe, { service: modbus(port(weak)), essentialFunction: declare(COIL), inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.outcomes).to.deep.include({ requirement: 'CR 3.6', verdict: 'fail', coverage: 'partial', reason: attempt.findings[0].message });
    const held = attempt.findings.find((f) => f.code === 'modbus.fail-safe.output-held');
    expect(held?.message).to.match(/coil 8 still read 1 \(the active value the master set\) \d+ ms after the master's last heartbeat \(watchdog time 300 ms \+ margin 150 ms\)/)
      .and.to.match(/fresh-connection-control \S+Z \(fresh connection\): 1/).and.to.match(/after-cut \S+Z \(fresh connection, \d+ ms after the cut\): 1/);
    const [output] = outputsOf(attempt.observations);
    expect(output.reads.filter((r) => r.step === 'heartbeat').length).to.be.at.least(4);
    expect(output.reads.find((r) => r.step === 'after-cut')?.msAfterCut).to.be.at.least(450);
    expect(output.restore).to.include({ ok: true, value: 0 });
    expect(await readPlain(port(weak), { coil: 8 })).to.equal(0);
    expect(JSON.parse(read(attempt.evidence.find((e) => e.endsWith('fail-safe.json'))!)).outputs[0].outcome).to.equal('held');
    expect(read(attempt.evidence.find((e) => e.endsWith('fail-safe.txt'))!)).to.match(/> .* 05 00 08 ff 00/); // FC5 coil 8 on
  });

  it('hardened posture (watchdog): coil 8 and holding register 40 go to 0 after 300 ms without heartbeat: pass; restore value written', async () => {
    const register: DeclaredOutput = { holdingRegister: 40, safeValue: 0, activeValue: 1234, restoreValue: 7, timeoutMs: 300, heartbeat: { register: 20, periodMs: 100 } };
    const { attempt } = await runProbe(probe, { service: modbus(port(hardened)), essentialFunction: declare(COIL, register), inputs: FAST });
    expect(attempt.status, `${attempt.message} ${JSON.stringify(attempt.findings)}`).to.equal('pass');
    expect(attempt.outcomes[0]).to.include({ requirement: 'CR 3.6', verdict: 'pass', coverage: 'partial' });
    expect(attempt.outcomes[0].reason).to.match(/coil 8 read 0 \(the safe value\) \d+ ms after/).and.to.match(/holding register 40 read 0 \(the safe value\)/);
    const [coil, reg] = outputsOf(attempt.observations);
    expect(coil.reads.find((r) => r.step === 'fresh-connection-control')?.value).to.equal(1);
    expect(reg.reads.find((r) => r.step === 'fresh-connection-control')?.value).to.equal(1234);
    expect(reg.restore).to.include({ ok: true, value: 7 });
    expect(await readPlain(port(hardened), { holdingRegister: 40 })).to.equal(7);
  });

  it('heartbeat "any traffic": passes alone; with the monitor reading the same device over Modbus, a held output is not determined', async () => {
    const output: DeclaredOutput = { ...COIL, heartbeat: { anyTraffic: true, periodMs: 100 } };
    const alone = await runProbe(probe, { service: modbus(port(anyTraffic)), essentialFunction: declare(output), inputs: FAST });
    expect(alone.attempt.status, alone.attempt.message).to.equal('pass');
    const monitor = { ...FAST_MODBUS, modbus: { register: 0, kind: 'value' as const } };
    const fed = await runProbe(probe, { service: modbus(port(anyTraffic)), essentialFunction: { modbus: monitor.modbus, ...declare(output) }, monitor, inputs: FAST });
    expect(fed.attempt.status, fed.attempt.message).to.equal('not_determined');
    expect(fed.attempt.message).to.match(/monitor read this device over Modbus/);
    expect(fed.monitor?.phases.map((p) => p.label)).to.include('modbus.fail-safe: master cut (coil 8)');
  });

  it('pymodbus (independent server, no watchdog): the coil holds 1 after the cut: fail', async function () {
    const python = requirePymodbus(this);
    const server = await startPymodbus(python);
    try {
      const { attempt } = await runProbe(probe, { service: modbus(server.port), essentialFunction: declare(COIL), inputs: FAST });
      expect(attempt.status, `${attempt.message} ${server.stderr()}`).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['modbus.fail-safe.output-held']);
      expect(await readPlain(server.port, { coil: 8 })).to.equal(0);
    } finally {
      await server.close();
    }
  });

  it('a device that shows the safe value to every new connection while the output stays on is not believed: not determined', async () => {
    const device = await deceptiveDevice('fresh-reads-safe');
    try {
      const { attempt } = await runProbe(probe, { service: modbus(device.port), essentialFunction: declare(COIL), inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.message).to.match(/a fresh connection read coil 8 as 0 while the master held it at 1/);
      expect(outputsOf(attempt.observations)[0].outcome).to.equal('fresh-read-differs');
      expect(device.coil(8)).to.equal(0); // restored
    } finally {
      await device.close();
    }
  });

  it('an output that drops to "safe" by itself while the heartbeat runs proves nothing: not determined', async () => {
    const device = await deceptiveDevice('drops-by-itself');
    try {
      const { attempt } = await runProbe(probe, { service: modbus(device.port), essentialFunction: declare(COIL), inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(outputsOf(attempt.observations)[0].outcome).to.equal('not-controlled');
    } finally {
      await device.close();
    }
  });

  it('without a declared output sends nothing and determines nothing', async () => {
    const device = await deceptiveDevice('fresh-reads-safe');
    try {
      const { attempt } = await runProbe(probe, { service: modbus(device.port), essentialFunction: { modbus: { register: 0 } }, inputs: FAST });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.message).to.match(/names no output/);
      expect(device.frames()).to.equal(0);
    } finally {
      await device.close();
    }
  });

  it('a budget shorter than the test needs is an input error before anything is written', async () => {
    const device = await deceptiveDevice('fresh-reads-safe');
    try {
      const { attempt } = await runProbe(probe, { service: modbus(device.port), essentialFunction: declare({ ...COIL, timeoutMs: 5000 }), inputs: FAST, timeoutMs: 3000 });
      expect(attempt).to.include({ status: 'error', reason: 'input' });
      expect(attempt.message).to.match(/raise probes\.modbus\.fail-safe\.timeoutMs/);
      expect(device.frames()).to.equal(0);
    } finally {
      await device.close();
    }
  });

  it('Ctrl-C while the output is active ends within 1 s and still switches it back to the safe value', async () => {
    const ctrlC = new AbortController();
    const running = runProbe(probe, { service: modbus(port(weak)), essentialFunction: declare({ ...COIL, timeoutMs: 5000 }), inputs: FAST, runSignal: ctrlC.signal });
    await new Promise((r) => setTimeout(r, 600));
    expect(await readPlain(port(weak), { coil: 8 })).to.equal(1);
    const abortedAt = Date.now();
    ctrlC.abort(new Error('SIGINT'));
    const { attempt } = await running;
    expect(Date.now() - abortedAt).to.be.below(1000);
    expect(attempt).to.include({ status: 'error', reason: 'cancelled' });
    expect(await readPlain(port(weak), { coil: 8 })).to.equal(0);
  });

  describeMisbehavingPeers(probe, { service: modbus, essentialFunction: declare(COIL), inputs: FAST, timeoutMs: 5000, stallTimeoutMs: 3500 }); // the probe needs ~3 s for one output
});
