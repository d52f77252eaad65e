import * as net from 'node:net';
import ModbusRTU from 'modbus-serial';
import { loadPosture, type Posture } from '../../src/emulator';
import type { TestServer } from '../../fixtures/servers';

export interface MapSizes {
  holdingRegisters: number;
  inputRegisters: number;
  coils: number;
  discreteInputs: number;
}

/** Runs `fn` with a plain modbus-serial client on 127.0.0.1:`port` (not the probes' adapter), and closes it. */
export async function withPlainModbus<T>(port: number, unitId: number, fn: (c: ModbusRTU) => Promise<T>): Promise<T> {
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port });
  c.setTimeout(2000);
  c.setID(unitId);
  try {
    return await fn(c);
  } finally {
    await new Promise<void>((resolve) => c.destroy(() => resolve()));
  }
}

/** Every value of every table, read with a plain modbus-serial client (to compare before and after a probe). */
export function readWholeMap(port: number, unitId: number, sizes: MapSizes): Promise<Record<keyof MapSizes, number[]>> {
  return withPlainModbus(port, unitId, (c) => readTables(c, sizes));
}

async function readTables(c: ModbusRTU, sizes: MapSizes): Promise<Record<keyof MapSizes, number[]>> {
  const chunks = async (size: number, step: number, read: (a: number, n: number) => Promise<number[]>) => {
    const out: number[] = [];
    for (let a = 0; a < size; a += step) out.push(...await read(a, Math.min(step, size - a)));
    return out;
  };
  const bits = (d: boolean[], n: number) => d.slice(0, n).map(Number);
  return {
    holdingRegisters: await chunks(sizes.holdingRegisters, 125, async (a, n) => (await c.readHoldingRegisters(a, n)).data),
    inputRegisters: await chunks(sizes.inputRegisters, 125, async (a, n) => (await c.readInputRegisters(a, n)).data),
    coils: await chunks(sizes.coils, 2000, async (a, n) => bits((await c.readCoils(a, n)).data, n)),
    discreteInputs: await chunks(sizes.discreteInputs, 2000, async (a, n) => bits((await c.readDiscreteInputs(a, n)).data, n)),
  };
}

/** A built-in posture with only its Modbus service, with overrides for that service (e.g. a slow counter). */
export function modbusPosture(name: 'weak' | 'hardened', overrides: Record<string, unknown> = {}): Posture {
  const base = loadPosture(name);
  return { ...base, services: { modbus: { ...base.services.modbus, enabled: true, ...overrides } } };
}

/**
 * A Modbus/TCP peer whose answers a test scripts: `answer(requestPdu, n)` returns the response PDU
 * (sent with the request's MBAP header) or null for silence. One request per TCP segment is assumed.
 */
export async function scriptedModbusServer(answer: (pdu: Buffer, n: number) => Buffer | null): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  let n = 0;
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.on('data', (d) => {
      const pdu = answer(d.subarray(7), ++n);
      if (pdu) s.write(Buffer.concat([d.subarray(0, 4), Buffer.from([0, pdu.length + 1, d[6]]), pdu]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: '127.0.0.1', port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
