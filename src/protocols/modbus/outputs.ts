import type { DeclaredOutput } from '../../sdk';
import type { ModbusClientSession, ModbusReply } from './client';

/**
 * One declared process output (profile essentialFunction.outputs, CR 3.6) as Modbus requests: a coil is read
 * with FC1 and written with FC5, a holding register with FC3 and FC6.
 */
export async function readOutput(session: ModbusClientSession, output: DeclaredOutput): Promise<ModbusReply<number>> {
  const reply = output.coil !== undefined
    ? await session.read('coils', output.coil, 1)
    : await session.read('holding-registers', output.holdingRegister!, 1);
  return reply.status === 'ok' ? { status: 'ok', value: reply.value[0] } : reply;
}

export function writeOutput(session: ModbusClientSession, output: DeclaredOutput, value: number): Promise<ModbusReply<void>> {
  return output.coil !== undefined ? session.writeCoil(output.coil, value !== 0) : session.writeRegister(output.holdingRegister!, value);
}

/** A reply in one phrase for evidence and reasons: "1", "exception 4 (SERVER DEVICE FAILURE)", "no answer". */
export function describeReply(reply: ModbusReply<unknown>): string {
  switch (reply.status) {
    case 'ok': return String(reply.value);
    case 'exception': return `exception ${reply.code} (${reply.name})`;
    case 'no-answer': return 'no answer';
    case 'closed': return `connection ${reply.reset ? 'reset' : 'closed'} by the device`;
  }
}
