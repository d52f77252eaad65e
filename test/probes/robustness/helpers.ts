import * as net from 'node:net';
import { startEmulator, type Emulator } from '../../../src/emulator';
import type { EssentialFunctionConfig } from '../../../src/sdk';
import { postureWith } from '../../helpers/postures';

/** Fast monitor parameters (the defaults are for devices: 1 s, 500 ms, 5 s); the counter steps every 100 ms. */
export const FAST_MODBUS: EssentialFunctionConfig = {
  periodMs: 100, latencyToleranceMs: 200, lossAfterMs: 700, stopOnLoss: true, recoveryWindowMs: 3000,
  modbus: { register: 0, kind: 'counter', periodMs: 100 },
};

/** A built-in posture's Modbus service alone (hardened: switched on), its counter stepping every 100 ms. */
export async function modbusDevice(name: 'weak' | 'hardened'): Promise<{ emulator: Emulator; port: number }> {
  const base = postureWith(name, ['modbus']);
  const modbus = { ...base.services.modbus!, enabled: true, counter: { table: 'holding-registers', address: 0, periodMs: 100 } };
  const emulator = await startEmulator({ ...base, services: { modbus } }, { ephemeralPorts: true });
  return { emulator, port: emulator.endpoint('modbus').port };
}

/** A deceptive Modbus device that answers every request with the same register and counts the frames it got. */
export async function countingModbusDevice(): Promise<{ port: number; frames(): number; close(): Promise<void> }> {
  let frames = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 12) {
        const frame = buf.subarray(0, 6 + buf.readUInt16BE(4));
        buf = buf.subarray(frame.length);
        frames++;
        const reply = Buffer.from([0, 0, 0, 0, 0, 5, frame[6], 0x03, 2, 0, 7]);
        frame.copy(reply, 0, 0, 2);
        socket.write(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    frames: () => frames,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}
