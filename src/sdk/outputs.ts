/**
 * CR 3.6 (deterministic output): the process outputs a profile declares under `essentialFunction.outputs`, each
 * with the state the device must put it in when its master stops talking to it (docs/robustness.md, CR 3.6).
 * The profile loader validates the block (schema/profile.schema.json and the checks in src/profile); probes read
 * it from `ctx.essentialFunction` through `declaredOutputs`.
 */

/** How the device knows its master is alive: a register the master writes every period, or any request. */
export type OutputHeartbeat =
  | { readonly register: number; readonly periodMs: number }
  | { readonly anyTraffic: true; readonly periodMs: number };

export interface DeclaredOutput {
  /** Exactly one of coil / holdingRegister: the Modbus address of the output. */
  readonly coil?: number;
  readonly holdingRegister?: number;
  /** The state the device must set when communication fails (a coil: 0 or 1). */
  readonly safeValue: number;
  /** The value the probe writes first, so that a change to the safe value can be seen. */
  readonly activeValue: number;
  /** Written after the test (default: the safe value). */
  readonly restoreValue?: number;
  /** The device's configured watchdog time: by then the output must be in the safe state. */
  readonly timeoutMs: number;
  readonly heartbeat: OutputHeartbeat;
  /** The declared modbus service (default: the host's first) and the unit id (default: the service's). */
  readonly port?: number;
  readonly unitId?: number;
}

/** "coil 8" / "holding register 40". */
export function describeOutput(output: DeclaredOutput): string {
  return output.coil !== undefined ? `coil ${output.coil}` : `holding register ${output.holdingRegister}`;
}

/** The outputs of a profile's essentialFunction block (already validated by the loader); none when absent. */
export function declaredOutputs(essentialFunction: Readonly<Record<string, unknown>>): readonly DeclaredOutput[] {
  const outputs = essentialFunction.outputs;
  return Array.isArray(outputs) ? (outputs as DeclaredOutput[]) : [];
}
