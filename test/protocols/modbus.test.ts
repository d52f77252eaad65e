import { expect } from 'chai';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';
import {
  EssentialFunctionMonitor, ModbusClientSession, RawModbusConnection, encodeFrame, expectOk, readDeviceIdentification,
  readRequestPdu, summarise, withModbusClient, withRawModbus, type MonitorSample,
} from '../../src/protocols/modbus';
import { ProtocolViolation, TargetTimeout } from '../../src/sdk';
import { classifyError } from '../../src/runner/attempt';
import { bannerServer, closedPort, garbageServer, resetServer, stallServer, type TestServer } from '../../fixtures/servers';
import { handleSnapshot } from '../helpers/leaks';
import { scriptedModbusServer } from '../helpers/modbus';

const never = new AbortController().signal;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('protocols/modbus: adapters', () => {
  let emu: Emulator;
  before(async () => {
    const posture = loadPosture('hardened');
    emu = await startEmulator({ ...posture, services: { modbus: { ...posture.services.modbus, enabled: true, counter: { periodMs: 25 } } } }, { ephemeralPorts: true });
  });
  after(async () => emu?.close());
  const endpoint = () => emu.endpoint('modbus');

  it('modbus-serial session: reads every table, maps exceptions and silence to replies', async () => {
    await withModbusClient(endpoint(), { signal: never, unitId: 1, requestTimeoutMs: 300 }, async (s) => {
      expect(await s.read('holding-registers', 1, 2)).to.deep.equal({ status: 'ok', value: [1001, 1002] });
      expect(await s.read('input-registers', 0, 1)).to.deep.equal({ status: 'ok', value: [2000] });
      expect(await s.read('coils', 0, 4)).to.deep.equal({ status: 'ok', value: [1, 0, 0, 1] });
      expect(await s.read('discrete-inputs', 0, 3)).to.deep.equal({ status: 'ok', value: [1, 0, 1] });
      expect(await s.read('holding-registers', 500, 1)).to.deep.equal({ status: 'exception', code: 2, name: 'ILLEGAL DATA ADDRESS' });
      expect(await s.writeRegister(3, 1)).to.include({ status: 'exception', code: 2 });
      s.setUnitId(9);
      expect(await s.read('holding-registers', 1, 1)).to.include({ status: 'exception', code: 0x0b });
    });
  });

  it('expectOk turns silence into TargetTimeout and exceptions into ProtocolViolation', () => {
    expect(() => expectOk({ status: 'no-answer' }, 'x')).to.throw(TargetTimeout);
    expect(() => expectOk({ status: 'exception', code: 2, name: 'ILLEGAL DATA ADDRESS' }, 'x')).to.throw(ProtocolViolation, /exception 2/);
    expect(expectOk({ status: 'ok', value: 5 }, 'x')).to.equal(5);
  });

  it('raw client: sends malformed frames verbatim and reports answer, silence and hang-up', async () => {
    await withRawModbus(endpoint(), { signal: never }, async (conn) => {
      const t = conn.nextTransactionId();
      const reply = await conn.exchange(encodeFrame({ transactionId: t, unitId: 1, pdu: readRequestPdu(3, 0, 0) }), 500);
      expect(reply.kind).to.equal('frame');
      if (reply.kind === 'frame') expect(reply.frame.pdu.toString('hex')).to.equal('8303');
      const silent = await conn.exchange(encodeFrame({ transactionId: 2, unitId: 1, pdu: readRequestPdu(3, 0, 1), protocolId: 7 }), 150);
      expect(silent.kind).to.equal('no-answer');
      const closed = await conn.exchange(encodeFrame({ transactionId: 3, unitId: 1, pdu: Buffer.alloc(300) }), 1000);
      expect(closed.kind).to.equal('closed');
    });
  });

  it('Read Device Identification over the raw client, basic and regular', async () => {
    await withRawModbus(endpoint(), { signal: never }, async (conn) => {
      const basic = await readDeviceIdentification(conn, 1, 'basic', 500);
      expect(basic.status).to.equal('ok');
      if (basic.status === 'ok') expect(basic.objects.map((o) => [o.name, o.text])).to.deep.equal([['vendorName', 'Example Automation'], ['productCode', 'EPLC1'], ['majorMinorRevision', '1.0.0']]);
      const regular = await readDeviceIdentification(conn, 1, 'regular', 500);
      if (regular.status !== 'ok') throw new Error(`regular: ${regular.status}`);
      expect(regular.objects.map((o) => o.name)).to.include.members(['vendorUrl', 'productName', 'modelName', 'userApplicationName']);
    });
  });

  it('43/14 "more follows" then an exception: an answer, not the crash modbus-serial 8.0.25 has', async () => {
    const server = await scriptedModbusServer((_pdu, n) => (n === 1
      ? Buffer.from([0x2b, 0x0e, 0x01, 0x01, 0xff, 0x01, 0x01, 0x00, 0x04, ...Buffer.from('ACME')])
      : Buffer.from([0xab, 0x02])));
    try {
      const reply = await withRawModbus(server, { signal: never }, (conn) => readDeviceIdentification(conn, 1, 'basic', 500));
      expect(reply).to.deep.equal({ status: 'exception', code: 2, name: 'ILLEGAL DATA ADDRESS' });
      const looping = await scriptedModbusServer(() => Buffer.from([0x2b, 0x0e, 0x01, 0x01, 0xff, 0x00, 0x00]));
      try {
        const r = await withRawModbus(looping, { signal: never }, (conn) => readDeviceIdentification(conn, 1, 'basic', 500));
        expect(r.status).to.equal('invalid');
      } finally {
        await looping.close();
      }
    } finally {
      await server.close();
    }
  });

  describe('misbehaving peers end as typed errors within the timeout', () => {
    // The runner's classification is what counts: the reset may come before or after the connect completes.
    const peers: [string, () => Promise<TestServer>, (err: unknown) => void][] = [
      ['closed port', closedPort, (e) => expect(classifyError(e).reason).to.equal('unreachable')],
      ['stall', stallServer, (e) => expect(e).to.be.instanceOf(TargetTimeout)],
      ['reset', resetServer, (e) => expect(classifyError(e).reason).to.equal('protocol')],
      ['text banner', () => bannerServer(), (e) => expect(e).to.be.instanceOf(ProtocolViolation).with.property('message').match(/does not speak Modbus/)],
      ['garbage', () => garbageServer(), (e) => expect(e).to.be.instanceOf(ProtocolViolation)],
    ];
    for (const [name, make, check] of peers) {
      it(`modbus-serial session: ${name}`, async () => {
        const handles = await handleSnapshot();
        const peer = await make();
        try {
          check(await rejection(withModbusClient(peer, { signal: never, unitId: 1, requestTimeoutMs: 300, connectTimeoutMs: 300 },
            async (s) => expectOk(await s.read('holding-registers', 0, 1), 'read'))));
        } finally {
          await peer.close();
        }
        await handles.check(50);
      });
    }

    it('raw client: stall is silence, reset is a reset, garbage and banners are not Modbus', async () => {
      const stall = await stallServer();
      const reset = await resetServer();
      const banner = await bannerServer();
      const garbage = await garbageServer();
      try {
        const ask = (peer: TestServer) => withRawModbus(peer, { signal: never }, (c) => c.exchange(encodeFrame({ transactionId: 1, unitId: 1, pdu: readRequestPdu(3, 0, 1) }), 200));
        expect((await ask(stall)).kind).to.equal('no-answer');
        // A reset before the connect completes is Node's ECONNRESET; after it, a 'closed' reply.
        const r = await ask(reset).catch((e: unknown) => classifyError(e).reason);
        expect(r === 'protocol' || (typeof r === 'object' && r.kind === 'closed' && r.reset)).to.equal(true, JSON.stringify(r));
        expect((await ask(banner)).kind).to.equal('invalid');
        expect((await ask(garbage)).kind).to.equal('invalid');
      } finally {
        await Promise.all([stall.close(), reset.close(), banner.close(), garbage.close()]);
      }
    });

    it('an abort closes a session waiting on a stalled device at once', async () => {
      const stall = await stallServer();
      const controller = new AbortController();
      try {
        const session = await ModbusClientSession.open(stall, { signal: controller.signal, unitId: 1, requestTimeoutMs: 60_000 });
        const pending = session.read('holding-registers', 0, 1);
        controller.abort(new Error('deadline'));
        expect(await rejection(pending)).to.have.property('message', 'deadline');
        await session.close();
        const abortRaw = new AbortController();
        const conn = await RawModbusConnection.open(stall, { signal: abortRaw.signal });
        const waiting = conn.receive(60_000);
        abortRaw.abort(new Error('stop'));
        expect(await rejection(waiting)).to.have.property('message', 'stop');
        conn.close();
      } finally {
        await stall.close();
      }
    });
  });

  describe('EssentialFunctionMonitor', () => {
    it('polls a counter, sees it count, and answers check() between polls', async () => {
      const handles = await handleSnapshot();
      const monitor = new EssentialFunctionMonitor(endpoint(), { unitId: 1, table: 'holding-registers', address: 0, kind: 'counter', periodMs: 25 }, { signal: never, intervalMs: 30 });
      const first = await monitor.start();
      expect(first.ok).to.equal(true);
      for (let i = 0; i < 100 && monitor.report().counterIncrements === 0; i++) await new Promise((r) => setTimeout(r, 30));
      expect((await monitor.check()).ok).to.equal(true);
      const report = await monitor.stop();
      expect(report.failed).to.equal(0);
      expect(report.counterIncrements).to.be.greaterThan(0);
      expect(report.degraded).to.equal(false);
      await handles.check(50);
    });

    it('start() throws the typed error when the first read fails', async () => {
      const monitor = new EssentialFunctionMonitor(endpoint(), { unitId: 1, table: 'holding-registers', address: 999, kind: 'value' }, { signal: never });
      expect(await rejection(monitor.start())).to.be.instanceOf(ProtocolViolation);
      await monitor.stop();
      const stall = await stallServer();
      try {
        const m2 = new EssentialFunctionMonitor(stall, { unitId: 1, table: 'coils', address: 0, kind: 'value' }, { signal: never, requestTimeoutMs: 100 });
        expect(await rejection(m2.start())).to.be.instanceOf(TargetTimeout);
        await m2.stop();
      } finally {
        await stall.close();
      }
    });

    it('reports failures, outages, slow answers and a stalled counter as degradation', () => {
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      const s = (ms: number, ok: boolean, value?: number, latencyMs = 5): MonitorSample => ({ at: new Date(t0 + ms).toISOString(), ok, value, latencyMs, ...(ok ? {} : { error: 'no-answer' }) });
      const fn = { unitId: 1, table: 'holding-registers' as const, address: 0, kind: 'counter' as const, periodMs: 100 };
      const healthy = summarise(fn, [s(0, true, 65535), s(100, true, 0), s(200, true, 2)], 300, 1000);
      expect(healthy).to.include({ degraded: false, counterIncrements: 3, valueChanges: 2 });
      const outage = summarise(fn, [s(0, true, 1), s(100, false), s(200, false), s(300, true, 4)], 400, 1000);
      expect(outage).to.include({ degraded: true, failed: 2, longestOutageMs: 200 });
      const stalled = summarise(fn, [s(0, true, 7), s(200, true, 7), s(400, true, 7)], 400, 1000);
      expect(stalled.reasons.join()).to.match(/did not advance/);
      const slow = summarise({ ...fn, kind: 'value' }, [s(0, true, 1, 50), s(100, true, 1, 5000)], 400, 1000);
      expect(slow.reasons.join()).to.match(/longer than 1000 ms/);
    });
  });
});
