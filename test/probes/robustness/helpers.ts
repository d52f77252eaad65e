import { fakeModbusDevice } from '../../monitor/helpers';
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
export function countingModbusDevice(): Promise<{ port: number; frames(): number; close(): Promise<void> }> {
  return fakeModbusDevice(() => 7);
}
