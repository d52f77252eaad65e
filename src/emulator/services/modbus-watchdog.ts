import { PostureError } from '../errors';

/**
 * A Modbus communication watchdog (issue 20, CR 3.6 deterministic output), as fieldbus couplers have one: the
 * master writes a heartbeat register (or, in WAGO's "alternative watchdog" mode, sends any request); when none
 * comes for `timeoutMs`, the outputs go to `safeValue`. The first heartbeat arms it, as on WAGO 750 couplers, so a
 * device nobody talks to keeps its outputs. Writes work again afterwards, and the next heartbeat re-arms it.
 */
export interface ModbusWatchdogPosture {
  /** safe: the outputs go to safeValue after timeoutMs without a heartbeat; hold: no watchdog, they keep their last value. */
  reaction: 'safe' | 'hold';
  timeoutMs: number;
  /** The holding register the master writes (FC6 or FC16) to show it is alive; absent: any answered request counts. */
  heartbeatRegister?: number;
  /** The process outputs the watchdog sets. */
  outputs: { coils?: number[]; holdingRegisters?: number[] };
  /** Default 0 (for a coil: off). */
  safeValue?: number;
}

export class OutputWatchdog {
  private timer: NodeJS.Timeout | undefined;
  /** How often the watchdog set the outputs to the safe value (for tests and logs). */
  trips = 0;

  constructor(private readonly config: ModbusWatchdogPosture, private readonly tables: { coils: Uint8Array; holding: Uint16Array }) {
    if (!(config.timeoutMs > 0)) throw new PostureError('modbus: watchdog.timeoutMs must be above 0');
    const outside = [
      ...(config.outputs.coils ?? []).filter((a) => a >= tables.coils.length).map((a) => `coil ${a}`),
      ...(config.outputs.holdingRegisters ?? []).filter((a) => a >= tables.holding.length).map((a) => `holding register ${a}`),
    ];
    if (outside.length > 0) throw new PostureError(`modbus: watchdog output ${outside.join(', ')} is outside the table`);
  }

  /** One request the device answered (`response`: its PDU); a heartbeat restarts the timer. */
  seen(request: Buffer, response: Buffer): void {
    if (this.config.reaction !== 'safe' || (response[0] & 0x80) !== 0 || !this.isHeartbeat(request)) return;
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(() => this.trip(), this.config.timeoutMs).unref();
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private isHeartbeat(request: Buffer): boolean {
    const register = this.config.heartbeatRegister;
    if (register === undefined) return true;
    if (request.length < 5) return false;
    const address = request.readUInt16BE(1);
    if (request[0] === 0x06) return address === register;
    if (request[0] === 0x10) return register >= address && register < address + request.readUInt16BE(3);
    return false;
  }

  private trip(): void {
    this.timer = undefined;
    this.trips++;
    const safe = this.config.safeValue ?? 0;
    for (const a of this.config.outputs.coils ?? []) this.tables.coils[a] = safe !== 0 ? 1 : 0;
    for (const a of this.config.outputs.holdingRegisters ?? []) this.tables.holding[a] = safe & 0xffff;
  }
}
