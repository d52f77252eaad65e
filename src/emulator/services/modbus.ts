import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { DeviceIdentity, ServiceModule, ServicePosture } from '../types';
import { listenTcp } from '../net';
import { PostureError } from '../errors';
import { OutputWatchdog, type ModbusWatchdogPosture } from './modbus-watchdog';
import { stormFaultUnavailable, watchPacketRate, type StormFault } from '../storm';

/**
 * Emulated Modbus/TCP server (Modbus Application Protocol V1.1b3, Messaging on TCP/IP Guide V1.0b).
 *
 * Framing and PDU handling are written here over node:net rather than on modbus-serial's ServerTCP,
 * because ServerTCP (8.0.25) cannot show what the postures must show: it binds `options.port || 502`
 * (port 0 for tests becomes 502), treats unit id 0 as "answer every unit", answers a wrong protocol id
 * as if it were 0, returns ILLEGAL DATA ADDRESS for quantity 0 and has no protocol maximum, no
 * exception 0x0B and no way to drop a request. Clients (probes and tests) use modbus-serial.
 */

export type RegisterTable = 'holding-registers' | 'input-registers';

export interface ModbusPosture extends ServicePosture {
  /** The unit identifier the device owns (default 1). */
  unitId?: number;
  /** Requests to any other unit id: processed as if addressed to this one, answered with exception
   * 0x0B (gateway target failed to respond), or dropped without an answer. Default: answer. */
  otherUnitIds?: 'answer' | 'exception' | 'drop';
  /** Table sizes (defaults 128 / 128 / 64 / 64). */
  holdingRegisters?: number;
  inputRegisters?: number;
  coils?: number;
  discreteInputs?: number;
  /** The essential function: a register that increments every periodMs (default holding 0, 1000 ms);
   * null switches it off. */
  counter?: { table?: RegisterTable; address?: number; periodMs?: number } | null;
  /** Read Device Identification (43/14) from the device identity; off: exception 01 like any unknown function. */
  identification?: boolean | {
    vendorUrl?: string; productName?: string; userApplicationName?: string;
    /** basic: only the basic objects (0x00-0x02); a regular or extended request gets the basic objects (strict, as
     * the spec asks) or exception 03 (lax, as some firmware does). Default regular. */
    conformity?: 'basic' | 'regular';
  };
  /** strict: the exception codes the spec requires; lax: what careless firmware does (see docs/modbus.md). */
  validation?: 'strict' | 'lax';
  /** Which holding registers and coils accept writes (default all); others answer exception 02. */
  writable?: { holdingRegisters?: number[] | 'all'; coils?: number[] | 'all' };
  /** Behaviour under load (docs/robustness.md, Emulator fault mode); absent: serves whatever comes. */
  load?: ModbusLoadPosture;
  /** Fault mode (issue 20, CR 3.5): the stack crashes on one malformed frame, see ModbusCrash. */
  crashOn?: ModbusCrash;
  /** Communication watchdog (issue 20, CR 3.6): outputs to a safe value when the master's heartbeat stops. */
  watchdog?: ModbusWatchdogPosture | null;
  /** Fault mode (issue 20, CR 7.1): the counter stops under a packet storm (src/emulator/storm.ts); only in a network namespace of its own. */
  stormStall?: StormFault;
}

/**
 * A firmware bug on purpose: FC16 (write multiple registers) with quantity 0 makes the stack divide by the
 * quantity and crash. While crashed every Modbus connection is dropped at once and the counter stops; after
 * `restartAfterMs` a watchdog restarts the stack (the counter starts again from 0, as after a reboot), with
 * null it stays down until the emulator is restarted. Strict validation rejects the frame before it gets
 * that far (exception 03), so a hardened posture with the same fault survives.
 */
export interface ModbusCrash {
  frame: 'fc16-zero-quantity';
  restartAfterMs?: number | null;
}

/**
 * stall: careless firmware whose communication task starves the control task: above `maxRequestsPerSecond`
 * (all clients together) or `maxConnections` open connections, the counter stops counting (reads are still
 * answered, with the frozen value) until the load has been below both for `recoverAfterMs`.
 * limit: a device that manages its load: each connection gets `maxRequestsPerSecond`, the excess is answered
 * with exception 06 (server device busy); a connection beyond `maxConnections` is accepted and closed at once.
 * The counter keeps counting.
 */
export interface ModbusLoadPosture {
  reaction: 'stall' | 'limit';
  maxRequestsPerSecond: number;
  maxConnections: number;
  /** stall: how long the counter stays stopped after the overload ends (default 2000 ms). */
  recoverAfterMs?: number;
}

const SERVER_DEVICE_BUSY = 0x06;
/** The request rate is measured over slots of this length (rate = requests in the last 4 slots). */
const RATE_SLOT_MS = 250;

/** Requests per second over the last second, from four 250 ms slots. */
class RateMeter {
  private slots = [0, 0, 0, 0];
  private slotStart = Date.now();
  private index = 0;
  hit(now = Date.now()): number {
    while (now - this.slotStart >= RATE_SLOT_MS) {
      this.slotStart += RATE_SLOT_MS;
      this.index = (this.index + 1) % this.slots.length;
      this.slots[this.index] = 0;
      if (now - this.slotStart > RATE_SLOT_MS * this.slots.length) { this.slots = [0, 0, 0, 0]; this.slotStart = now; }
    }
    this.slots[this.index]++;
    return this.slots.reduce((a, b) => a + b, 0);
  }
}

const EXC = { illegalFunction: 0x01, illegalAddress: 0x02, illegalValue: 0x03, gatewayTarget: 0x0b } as const;
const MAX = { readRegisters: 125, readBits: 2000, writeRegisters: 123, writeCoils: 1968, pdu: 253, mbapLength: 254 } as const;

/** Object ids of 43/14 in stream order; basic is 0x00-0x02, regular adds 0x03-0x06. */
const BASIC_OBJECTS = [0x00, 0x01, 0x02];
const REGULAR_OBJECTS = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06];
/** Regular identification, stream and individual access. */
const CONFORMITY_LEVEL = 0x82;
/** Basic identification, stream and individual access. */
const BASIC_CONFORMITY_LEVEL = 0x81;

function writableSet(list: number[] | 'all' | undefined): (address: number) => boolean {
  if (list === undefined || list === 'all') return () => true;
  const set = new Set(list);
  return (address) => set.has(address);
}

/**
 * The device's data and request handling, independent of the transport so a TLS listener (Modbus/TCP
 * Security) can attach its sockets to the same device.
 */
export class EmulatedModbusDevice {
  readonly holding: Uint16Array;
  readonly input: Uint16Array;
  readonly coils: Uint8Array;
  readonly discrete: Uint8Array;
  private readonly unitId: number;
  private readonly strict: boolean;
  private readonly canWriteRegister: (address: number) => boolean;
  private readonly canWriteCoil: (address: number) => boolean;
  private readonly objects: ReadonlyMap<number, Buffer> | undefined;
  private readonly basicOnly: boolean = false;
  private counterTimer: NodeJS.Timeout | undefined;
  private readonly meter = new RateMeter();
  private openConnections = 0;
  /** stall posture: the counter stays stopped until then (epoch ms). */
  private stalledUntil = 0;
  /** How often the load posture reacted (stalls begun, requests refused busy, connections refused), for tests and logs. */
  readonly loadEvents = { stalls: 0, busy: 0, connectionsRefused: 0 };
  private restartTimer: NodeJS.Timeout | undefined;
  /** Set while the crash fault holds the stack down. */
  private crashed = false;
  private readonly sockets = new Set<Duplex>();
  /** The communication watchdog, when the posture has one (docs/modbus.md). */
  readonly watchdog: OutputWatchdog | undefined;
  private stopStormWatch: (() => void) | undefined;
  /** Why the storm fault is off although the posture asks for it (said at start-up), else undefined. */
  readonly stormFaultOff: string | undefined;

  constructor(private readonly config: ModbusPosture, identity: DeviceIdentity) {
    this.unitId = config.unitId ?? 1;
    this.strict = (config.validation ?? 'strict') === 'strict';
    this.holding = Uint16Array.from({ length: config.holdingRegisters ?? 128 }, (_, i) => 1000 + i);
    this.input = Uint16Array.from({ length: config.inputRegisters ?? 128 }, (_, i) => 2000 + i);
    this.coils = Uint8Array.from({ length: config.coils ?? 64 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    this.discrete = Uint8Array.from({ length: config.discreteInputs ?? 64 }, (_, i) => (i % 2 === 0 ? 1 : 0));
    this.canWriteRegister = writableSet(config.writable?.holdingRegisters);
    this.canWriteCoil = writableSet(config.writable?.coils);
    if (config.identification) {
      const extra = typeof config.identification === 'object' ? config.identification : {};
      if (extra.conformity !== undefined && extra.conformity !== 'basic' && extra.conformity !== 'regular') {
        throw new PostureError(`modbus: identification.conformity ${String(extra.conformity)} is not known (basic, regular)`);
      }
      this.basicOnly = extra.conformity === 'basic';
      const text: Record<number, string> = {
        0x00: identity.vendor,
        0x01: identity.productCode,
        0x02: identity.firmware,
        0x03: extra.vendorUrl ?? 'https://www.example.com/',
        0x04: extra.productName ?? `${identity.vendor} ${identity.model}`,
        0x05: identity.model,
        0x06: extra.userApplicationName ?? 'bench application',
      };
      this.objects = new Map(Object.entries(text).map(([id, value]) => [Number(id), Buffer.from(value, 'latin1').subarray(0, MAX.pdu - 9)]));
    }
    if (config.crashOn && config.crashOn.frame !== 'fc16-zero-quantity') throw new PostureError(`modbus: crashOn.frame ${String(config.crashOn.frame)} is not known (fc16-zero-quantity)`);
    this.watchdog = config.watchdog ? new OutputWatchdog(config.watchdog, { coils: this.coils, holding: this.holding }) : undefined;
    this.stormFaultOff = this.watchStorms();
    this.startCounter();
  }

  /** The storm fault: sample the namespace's packet counters and stall the counter while they race (stall posture rules). */
  private watchStorms(): string | undefined {
    const fault = this.config.stormStall;
    if (!fault) return undefined;
    if (!(fault.maxPacketsPerSecond > 0)) throw new PostureError('modbus: stormStall.maxPacketsPerSecond must be a positive number');
    const why = stormFaultUnavailable();
    if (why) return why;
    this.stopStormWatch = watchPacketRate(fault, () => {
      if (Date.now() >= this.stalledUntil) this.loadEvents.stalls++;
      this.stalledUntil = Date.now() + (fault.recoverAfterMs ?? 3000);
    });
    return undefined;
  }

  private startCounter(): void {
    const counter = this.config.counter === undefined ? {} : this.config.counter;
    if (counter) {
      const table = (counter.table ?? 'holding-registers') === 'holding-registers' ? this.holding : this.input;
      const address = counter.address ?? 0;
      if (address >= table.length) throw new PostureError(`modbus: counter address ${address} is outside the table`);
      table[address] = 0;
      this.counterTimer = setInterval(() => {
        if (this.config.load?.reaction === 'stall') this.noteLoad(0); // idle connections held open count too
        if (Date.now() < this.stalledUntil) return; // the control task is starved (load posture "stall")
        table[address] = (table[address] + 1) & 0xffff;
      }, counter.periodMs ?? 1000);
    }
  }

  /** The crash fault: drop every connection, stop the counter, and restart after restartAfterMs (or never). */
  private crash(): void {
    this.crashed = true;
    if (this.counterTimer) clearInterval(this.counterTimer);
    this.counterTimer = undefined;
    for (const s of this.sockets) s.destroy();
    const after = this.config.crashOn?.restartAfterMs;
    if (after === null || after === undefined) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.crashed = false;
      this.startCounter();
    }, after);
  }

  /** Serves one client connection (plain TCP or TLS). */
  attach(socket: Duplex): void {
    if (this.crashed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('error', () => undefined);
    const load = this.config.load;
    if (load?.reaction === 'limit' && this.openConnections >= load.maxConnections) {
      this.loadEvents.connectionsRefused++;
      socket.destroy(); // accepted and closed at once: a clean refusal, the slot is not held
      return;
    }
    this.openConnections++;
    socket.once('close', () => { this.openConnections--; });
    if (load?.reaction === 'stall') this.noteLoad(0);
    const bucket = load?.reaction === 'limit' ? new TokenBucket(load.maxRequestsPerSecond) : undefined;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 6 && !this.crashed) {
        const transactionId = buf.readUInt16BE(0);
        const protocolId = buf.readUInt16BE(2);
        const length = buf.readUInt16BE(4);
        if (this.strict && (length < 2 || length > MAX.mbapLength)) {
          // A length no Modbus frame can have: the stream cannot be resynchronised, so hang up.
          socket.destroy();
          return;
        }
        if (buf.length < 6 + Math.max(length, 1)) return;
        const unitId = buf[6];
        const pdu = buf.subarray(7, 6 + Math.max(length, 1));
        buf = buf.subarray(6 + Math.max(length, 1));
        if (this.strict && protocolId !== 0) continue; // not Modbus: discard
        if (load?.reaction === 'stall') this.noteLoad(this.meter.hit());
        const busy = bucket !== undefined && !bucket.take();
        if (busy) this.loadEvents.busy++;
        const response = busy ? exception(pdu[0] ?? 0, SERVER_DEVICE_BUSY) : this.handle(unitId, pdu);
        if (!response) continue;
        if (!busy) this.watchdog?.seen(pdu, response);
        const header = Buffer.alloc(7);
        header.writeUInt16BE(transactionId, 0);
        header.writeUInt16BE(protocolId, 2); // lax firmware echoes whatever header it got
        header.writeUInt16BE(response.length + 1, 4);
        header.writeUInt8(unitId, 6);
        socket.write(Buffer.concat([header, response]));
      }
    });
  }

  /** stall posture: an overload (rate or connections) stops the counter until recoverAfterMs after it ends. */
  private noteLoad(rate: number): void {
    const load = this.config.load!;
    if (rate <= load.maxRequestsPerSecond && this.openConnections <= load.maxConnections) return;
    if (Date.now() >= this.stalledUntil) this.loadEvents.stalls++;
    this.stalledUntil = Date.now() + (load.recoverAfterMs ?? 2000);
  }

  close(): void {
    this.watchdog?.close();
    this.stopStormWatch?.();
    if (this.counterTimer) clearInterval(this.counterTimer);
    this.counterTimer = undefined;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  /** One request PDU to one response PDU, or null to drop it. */
  handle(unitId: number, pdu: Buffer): Buffer | null {
    const fc = pdu.length > 0 ? pdu[0] : 0;
    if (unitId !== this.unitId) {
      if (this.config.otherUnitIds === 'drop') return null;
      if (this.config.otherUnitIds === 'exception') return exception(fc, EXC.gatewayTarget);
    }
    switch (fc) {
      case 0x01: return this.readBits(pdu, this.coils);
      case 0x02: return this.readBits(pdu, this.discrete);
      case 0x03: return this.readRegisters(pdu, this.holding);
      case 0x04: return this.readRegisters(pdu, this.input);
      case 0x05: return this.writeCoil(pdu);
      case 0x06: return this.writeRegister(pdu);
      case 0x0f: return this.writeCoils(pdu);
      case 0x10: return this.writeRegisters(pdu);
      case 0x2b: return this.deviceIdentification(pdu);
      default: return exception(fc, EXC.illegalFunction);
    }
  }

  /** Strict: a PDU of the wrong size is ILLEGAL DATA VALUE. Lax: short PDUs are read as if zero-padded
   * (the firmware reads past the end of its receive buffer into zeroed memory). */
  private fields(pdu: Buffer, size: number): Buffer | null {
    if (pdu.length === size) return pdu;
    if (this.strict) return null;
    return pdu.length > size ? pdu : Buffer.concat([pdu, Buffer.alloc(size - pdu.length)]);
  }

  /** Address and quantity of a read request, or the exception strict firmware answers; lax firmware
   * clamps the quantity to what one answer can carry and reads missing addresses as zero. */
  private readRange(request: Buffer, size: number, max: number): { address: number; quantity: number } | Buffer {
    const fc = request[0];
    const pdu = this.fields(request, 5);
    if (!pdu) return exception(fc, EXC.illegalValue);
    const address = pdu.readUInt16BE(1);
    const quantity = pdu.readUInt16BE(3);
    if (this.strict) {
      if (quantity < 1 || quantity > max) return exception(fc, EXC.illegalValue);
      if (address + quantity > size) return exception(fc, EXC.illegalAddress);
    }
    return { address, quantity: Math.min(quantity, max) };
  }

  private readBits(request: Buffer, table: Uint8Array): Buffer {
    const range = this.readRange(request, table.length, MAX.readBits);
    if (Buffer.isBuffer(range)) return range;
    const bytes = Buffer.alloc(Math.ceil(range.quantity / 8));
    for (let i = 0; i < range.quantity; i++) if (table[range.address + i]) bytes[i >> 3] |= 1 << (i & 7);
    return Buffer.concat([Buffer.from([request[0], bytes.length]), bytes]);
  }

  private readRegisters(request: Buffer, table: Uint16Array): Buffer {
    const range = this.readRange(request, table.length, MAX.readRegisters);
    if (Buffer.isBuffer(range)) return range;
    const out = Buffer.alloc(2 + range.quantity * 2);
    out[0] = request[0];
    out[1] = range.quantity * 2;
    for (let i = 0; i < range.quantity; i++) out.writeUInt16BE(table[range.address + i] ?? 0, 2 + i * 2);
    return out;
  }

  private writeCoil(request: Buffer): Buffer {
    const pdu = this.fields(request, 5);
    if (!pdu) return exception(0x05, EXC.illegalValue);
    const address = pdu.readUInt16BE(1);
    const value = pdu.readUInt16BE(3);
    if (this.strict && value !== 0x0000 && value !== 0xff00) return exception(0x05, EXC.illegalValue);
    if (address >= this.coils.length || !this.canWriteCoil(address)) {
      if (this.strict || address < this.coils.length) return exception(0x05, EXC.illegalAddress);
    } else {
      this.coils[address] = value !== 0 ? 1 : 0;
    }
    return Buffer.from(pdu.subarray(0, 5));
  }

  private writeRegister(request: Buffer): Buffer {
    const pdu = this.fields(request, 5);
    if (!pdu) return exception(0x06, EXC.illegalValue);
    const address = pdu.readUInt16BE(1);
    if (address >= this.holding.length || !this.canWriteRegister(address)) {
      if (this.strict || address < this.holding.length) return exception(0x06, EXC.illegalAddress);
    } else {
      this.holding[address] = pdu.readUInt16BE(3);
    }
    return Buffer.from(pdu.subarray(0, 5));
  }

  /**
   * Checks a multiple-write request (FC15/FC16) and returns the addresses to write, or the exception.
   * Strict: quantity limits, byte count and PDU length must agree; every address must exist and be
   * writable. Lax: only write-protected registers that exist are refused; the rest is ignored.
   */
  private multipleWrite(request: Buffer, max: number, bytesFor: (quantity: number) => number, size: number, writable: (a: number) => boolean): number[] | Buffer {
    const fc = request[0];
    const head = this.fields(request.subarray(0, 6), 6);
    if (!head) return exception(fc, EXC.illegalValue);
    const address = head.readUInt16BE(1);
    const quantity = head.readUInt16BE(3);
    const byteCount = head[5];
    if (this.strict && (quantity < 1 || quantity > max || byteCount !== bytesFor(quantity) || request.length !== 6 + byteCount)) {
      return exception(fc, EXC.illegalValue);
    }
    const addresses = Array.from({ length: quantity }, (_, i) => address + i);
    const refused = addresses.some((a) => (a < size ? !writable(a) : this.strict));
    return refused ? exception(fc, EXC.illegalAddress) : addresses;
  }

  private writeCoils(request: Buffer): Buffer {
    const addresses = this.multipleWrite(request, MAX.writeCoils, (q) => Math.ceil(q / 8), this.coils.length, this.canWriteCoil);
    if (Buffer.isBuffer(addresses)) return addresses;
    addresses.forEach((a, i) => {
      if (a < this.coils.length) this.coils[a] = ((request[6 + (i >> 3)] ?? 0) >> (i & 7)) & 1;
    });
    return Buffer.from(request.subarray(0, 5));
  }

  private writeRegisters(request: Buffer): Buffer | null {
    if (this.config.crashOn && !this.strict && request.length >= 5 && request.readUInt16BE(3) === 0) {
      this.crash();
      return null;
    }
    const addresses = this.multipleWrite(request, MAX.writeRegisters, (q) => q * 2, this.holding.length, this.canWriteRegister);
    if (Buffer.isBuffer(addresses)) return addresses;
    addresses.forEach((a, i) => {
      if (a < this.holding.length && 7 + i * 2 < request.length) this.holding[a] = request.readUInt16BE(6 + i * 2);
    });
    return Buffer.from(request.subarray(0, 5));
  }

  /** 43/14 Read Device Identification: stream access (codes 1-3, split over several answers when the
   * objects do not fit one PDU) and individual access (code 4). */
  private deviceIdentification(request: Buffer): Buffer {
    if (!this.objects || request[1] !== 0x0e) return exception(0x2b, EXC.illegalFunction);
    const pdu = this.fields(request, 4);
    if (!pdu) return exception(0x2b, EXC.illegalValue);
    let code = pdu[2];
    const objectId = pdu[3];
    if (code < 1 || code > 4) {
      if (this.strict) return exception(0x2b, EXC.illegalValue);
      code = 1;
    }
    if (this.basicOnly && code === 4 && !BASIC_OBJECTS.includes(objectId)) return exception(0x2b, EXC.illegalAddress);
    if (this.basicOnly && (code === 2 || code === 3)) {
      // The spec: a request above the device's conformity level is answered at that level; careless firmware refuses it.
      if (!this.strict) return exception(0x2b, EXC.illegalValue);
      code = 1;
    }
    const header = (more: boolean, next: number, count: number) => Buffer.from([0x2b, 0x0e, code, this.basicOnly ? BASIC_CONFORMITY_LEVEL : CONFORMITY_LEVEL, more ? 0xff : 0x00, next, count]);
    const object = (id: number) => {
      const value = this.objects?.get(id) ?? Buffer.alloc(0);
      return Buffer.concat([Buffer.from([id, value.length]), value]);
    };
    if (code === 4) {
      if (!this.objects.has(objectId)) return exception(0x2b, EXC.illegalAddress);
      return Buffer.concat([header(false, 0, 1), object(objectId)]);
    }
    const ids = code === 1 ? BASIC_OBJECTS : REGULAR_OBJECTS;
    // An object id the category does not have restarts the stream at the first object (spec 6.21).
    let index = Math.max(0, ids.indexOf(objectId));
    const parts: Buffer[] = [];
    let size = 7;
    while (index < ids.length && size + object(ids[index]).length <= MAX.pdu) {
      const part = object(ids[index]);
      parts.push(part);
      size += part.length;
      index++;
    }
    const more = index < ids.length;
    return Buffer.concat([header(more, more ? ids[index] : 0, parts.length), ...parts]);
  }
}

/** `perSecond` requests a second with a burst of a tenth of that (at least 1). */
class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private readonly burst: number;
  constructor(private readonly perSecond: number) {
    this.burst = Math.max(1, Math.round(perSecond / 10));
    this.tokens = this.burst;
  }
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function exception(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}

export const modbusService: ServiceModule<ModbusPosture> = {
  key: 'modbus',
  async start(config, device) {
    const modbus = new EmulatedModbusDevice(config, device.identity);
    const server = net.createServer((socket) => {
      socket.setTimeout(120_000, () => socket.destroy()); // real devices drop idle clients too
      modbus.attach(socket);
    });
    try {
      const listener = await listenTcp(server, device.host, device.portFor(config.port), device.connections.counter('modbus'));
      device.log(`modbus: listening on ${device.host}:${listener.port}, unit ${config.unitId ?? 1}, ${config.validation ?? 'strict'} validation`);
      return {
        endpoints: [{ protocol: 'modbus', host: device.host, port: listener.port }],
        ...(modbus.stormFaultOff ? { notices: [`modbus: the storm fault (stormStall) is off: ${modbus.stormFaultOff}`] } : {}),
        close: async () => {
          modbus.close();
          await listener.close();
        },
      };
    } catch (err) {
      modbus.close();
      throw err;
    }
  },
};
