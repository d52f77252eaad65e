import { expect } from 'chai';
import * as net from 'node:net';
import ModbusRTU from 'modbus-serial';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';
import { handleSnapshot } from '../helpers/leaks';
import { modbusPosture } from '../helpers/modbus';

/** A real modbus-serial client, closed after `fn`. */
async function withClient<T>(port: number, unitId: number, fn: (c: ModbusRTU) => Promise<T>): Promise<T> {
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port });
  c.setTimeout(400);
  c.setID(unitId);
  try {
    return await fn(c);
  } finally {
    await new Promise<void>((resolve) => c.destroy(() => resolve()));
  }
}

/** The Modbus exception code modbus-serial reports, 'timeout' for no answer, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<number | 'timeout' | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = err as { modbusCode?: number; errno?: string; message?: string };
    if (typeof e.modbusCode === 'number') return e.modbusCode;
    if (e.errno === 'ETIMEDOUT') return 'timeout';
    throw err;
  }
}

/** Sends raw bytes and returns whatever comes back within `ms` ('' when nothing, 'closed' when hung up). */
async function raw(port: number, bytes: Buffer, ms = 300): Promise<string> {
  const s = net.connect(port, '127.0.0.1');
  let got = Buffer.alloc(0);
  let closed = false;
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => { s.write(bytes); });
      s.on('data', (d) => { got = Buffer.concat([got, d]); });
      s.once('close', () => { closed = true; resolve(); });
      s.once('error', reject);
      setTimeout(resolve, ms);
    });
  } finally {
    s.destroy();
  }
  return got.length > 0 ? got.toString('hex') : closed ? 'closed' : '';
}

describe('emulator: Modbus/TCP service', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    weak = await startEmulator(modbusPosture('weak'), { ephemeralPorts: true });
    hardened = await startEmulator(modbusPosture('hardened'), { ephemeralPorts: true });
  });
  after(async () => {
    await weak?.close();
    await hardened?.close();
  });
  const port = (e: Emulator) => e.endpoint('modbus').port;

  it('serves the table sizes of the posture: beyond them strict answers 02, lax answers zeros', async () => {
    await withClient(port(hardened), 1, async (c) => {
      expect((await c.readHoldingRegisters(120, 8)).data).to.have.length(8);
      expect(await outcome(c.readHoldingRegisters(125, 8))).to.equal(2);
      expect(await outcome(c.readCoils(60, 8))).to.equal(2);
      expect((await c.readDiscreteInputs(0, 4)).data.slice(0, 4)).to.deep.equal([true, false, true, false]);
    });
    await withClient(port(weak), 1, async (c) => {
      expect((await c.readHoldingRegisters(125, 8)).data).to.deep.equal([1125, 1126, 1127, 0, 0, 0, 0, 0]);
      expect((await c.readInputRegisters(1, 2)).data).to.deep.equal([2001, 2002]);
    });
  });

  it('quantity 0: strict answers ILLEGAL DATA VALUE, lax answers an empty read', async () => {
    await withClient(port(hardened), 1, async (c) => expect(await outcome(c.readHoldingRegisters(0, 0))).to.equal(3));
    // modbus-serial itself chokes on the empty answer (it expects 0 registers + header): the raw bytes show it.
    expect(await raw(port(weak), Buffer.from('000100000006010300000000', 'hex'))).to.equal('000100000003010300');
  });

  it('the counter register increments on its period and the timer dies with close()', async () => {
    const handles = await handleSnapshot();
    const emu = await startEmulator(modbusPosture('hardened', { counter: { table: 'input-registers', address: 3, periodMs: 20 } }), { ephemeralPorts: true });
    try {
      await withClient(port(emu), 1, async (c) => {
        const first = (await c.readInputRegisters(3, 1)).data[0];
        let later = first;
        for (let i = 0; i < 100 && later === first; i++) {
          await new Promise((r) => setTimeout(r, 20));
          later = (await c.readInputRegisters(3, 1)).data[0];
        }
        expect(later).to.be.greaterThan(first);
      });
    } finally {
      await emu.close();
    }
    await handles.check();
  });

  it('identification 43/14: hardened reports the device identity, weak answers ILLEGAL FUNCTION', async () => {
    await withClient(port(hardened), 1, async (c) => {
      const basic = await c.readDeviceIdentification(1, 0);
      expect(basic.data).to.deep.equal({ 0: 'Example Automation', 1: 'EPLC1', 2: '1.0.0' });
      const regular = await c.readDeviceIdentification(2, 0);
      expect(regular.data[3]).to.equal('https://www.example.com/eplc-1');
      expect(regular.data[5]).to.equal('EPLC-1');
      expect(regular.data[6]).to.equal('bench line 1');
      expect(regular.conformityLevel).to.equal(0x82);
    });
    await withClient(port(weak), 1, async (c) => expect(await outcome(c.readDeviceIdentification(1, 0))).to.equal(1));
  });

  it('identification splits objects that do not fit one PDU over several answers ("more follows")', async () => {
    const long = 'V'.repeat(200);
    const emu = await startEmulator({ ...modbusPosture('hardened'), identity: { vendor: long } }, { ephemeralPorts: true });
    try {
      await withClient(port(emu), 1, async (c) => {
        const regular = await c.readDeviceIdentification(2, 0);
        expect(regular.data[0]).to.equal(long);
        expect(regular.data[6]).to.equal('bench line 1');
      });
    } finally {
      await emu.close();
    }
  });

  it('unit ids: weak answers any unit id, hardened answers others with exception 0x0B, "drop" stays silent', async () => {
    await withClient(port(weak), 7, async (c) => expect(await outcome(c.readHoldingRegisters(1, 1))).to.equal('ok'));
    await withClient(port(hardened), 7, async (c) => expect(await outcome(c.readHoldingRegisters(1, 1))).to.equal(0x0b));
    await withClient(port(hardened), 1, async (c) => expect(await outcome(c.readHoldingRegisters(1, 1))).to.equal('ok'));
    const emu = await startEmulator(modbusPosture('hardened', { unitId: 5, otherUnitIds: 'drop' }), { ephemeralPorts: true });
    try {
      await withClient(port(emu), 1, async (c) => expect(await outcome(c.readHoldingRegisters(1, 1))).to.equal('timeout'));
      await withClient(port(emu), 5, async (c) => expect(await outcome(c.readHoldingRegisters(1, 1))).to.equal('ok'));
    } finally {
      await emu.close();
    }
  });

  it('write protection: hardened accepts only the test register, weak accepts any register and coil', async () => {
    await withClient(port(hardened), 1, async (c) => {
      expect(await outcome(c.writeRegister(5, 42))).to.equal(2);
      expect(await outcome(c.writeCoil(1, true))).to.equal(2);
      expect(await outcome(c.writeRegisters(9, [1, 2]))).to.equal(2);
      const before = (await c.readHoldingRegisters(10, 1)).data[0];
      await c.writeRegister(10, before + 1);
      expect((await c.readHoldingRegisters(10, 1)).data[0]).to.equal(before + 1);
      await c.writeRegister(10, before);
    });
    await withClient(port(weak), 1, async (c) => {
      await c.writeRegisters(20, [7, 8]);
      expect((await c.readHoldingRegisters(20, 2)).data).to.deep.equal([7, 8]);
      await c.writeCoils(4, [true, true]);
      expect((await c.readCoils(4, 2)).data.slice(0, 2)).to.deep.equal([true, true]);
    });
  });

  it('framing: hardened drops a wrong protocol id and hangs up on an impossible length; weak processes both', async () => {
    const wrongProtocol = Buffer.from('000100010006010300010001', 'hex');
    const oversized = Buffer.concat([Buffer.from('000100000101010300010001', 'hex'), Buffer.alloc(251)]);
    expect(await raw(port(hardened), wrongProtocol)).to.equal('');
    expect(await raw(port(hardened), oversized)).to.equal('closed');
    expect(await raw(port(weak), wrongProtocol)).to.equal('00010001000501030203e9');
    expect(await raw(port(weak), oversized)).to.equal('00010000000501030203e9');
  });

  it('a truncated PDU: strict answers ILLEGAL DATA VALUE, lax reads it zero-padded', async () => {
    const truncated = Buffer.from('00010000000301030a', 'hex');
    expect(await raw(port(hardened), truncated)).to.equal('000100000003018303');
    expect(await raw(port(weak), truncated)).to.equal('000100000003010300');
  });

  it('a switched-off service does not listen, and close() leaves no handle', async () => {
    const handles = await handleSnapshot();
    const off = await startEmulator(modbusPosture('weak', { enabled: false }), { ephemeralPorts: true });
    expect(off.services).to.deep.equal([]);
    await off.close();
    const on = await startEmulator(modbusPosture('weak'), { ephemeralPorts: true });
    await withClient(port(on), 1, async (c) => expect((await c.readHoldingRegisters(1, 1)).data).to.deep.equal([1001]));
    const idle = net.connect(port(on), '127.0.0.1').on('error', () => undefined); // a client that never hangs up
    await new Promise((r) => idle.once('connect', r));
    await on.close();
    await handles.check();
  });

  it('the posture files use the fixed ports of the port table', () => {
    expect(loadPosture('weak').services.modbus?.port).to.equal(15020);
    expect(loadPosture('hardened').services.modbus?.port).to.equal(25020);
  });
});
