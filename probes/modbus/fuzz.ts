import { defineFuzzProbe, type FuzzInputs } from '../../src/protocols/fuzz';
import { modbusFuzzTarget } from '../../src/protocols/modbus';

export type { CaseRecord } from '../../src/protocols/fuzz';
export { CASES_FILE } from '../../src/protocols/fuzz';

export interface ModbusFuzzInputs extends FuzzInputs {
  /** The holding register the normal read and the read templates use (default: essentialFunction.modbus.register, else 0). */
  readAddress?: number;
  /** The holding register the FC06/FC16 templates write: a scratch register of the device. */
  writeAddress: number;
}

export default defineFuzzProbe<ModbusFuzzInputs>({
  id: 'modbus.fuzz',
  protocol: 'modbus',
  label: 'Modbus',
  normalRequest: 'normal read',
  title: 'Modbus/TCP fuzzing of MBAP and PDU fields with essential-function checks',
  description:
    'Mutates valid Modbus/TCP requests (FC03, FC01, FC06, FC16, FC43/14) field by field: MBAP protocol id, length and unit '
    + 'id, function code, address, quantity and byte count get the boundary values of their field and of the spec\'s '
    + 'limits; frames are truncated at each field and cut or extended with a consistent or stale length; random '
    + 'mutations fill the budget. The seed fixes the cases. Each case goes on its own connection, at a capped rate; after '
    + 'each one a normal read must be answered, and the run\'s essential-function monitor must not report a loss (CR 3.5). '
    + 'Every case is recorded (fuzz-cases.ndjson) and can be re-sent with `iacs-probe replay`. Writes a scratch register.',
  appliesTo: ['modbus'],
  extraInputs: {
    properties: {
      readAddress: { type: 'integer', minimum: 0, maximum: 65535 },
      writeAddress: { type: 'integer', minimum: 0, maximum: 65535 },
    },
    defaults: { writeAddress: 100 },
  },
  target: (ctx, service) => modbusFuzzTarget(service, {
    unitId: service.unitId ?? 1,
    readAddress: ctx.inputs.readAddress ?? profileRegister(ctx.essentialFunction.modbus) ?? 0,
    writeAddress: ctx.inputs.writeAddress,
  }),
});

function profileRegister(block: unknown): number | undefined {
  if (block === null || typeof block !== 'object') return undefined;
  const b = block as { register?: unknown; table?: unknown };
  return typeof b.register === 'number' && b.table !== 'input' ? b.register : undefined;
}
