import type * as net from 'node:net';
import type ModbusRTU from 'modbus-serial';
import { ProtocolViolation, TargetTimeout, type Transcript } from '../../sdk';
import { connectTcp, type ModbusEndpoint } from './connect';
import { exceptionName, parseFrame } from './frames';

export const MODBUS_TABLES = ['holding-registers', 'input-registers', 'coils', 'discrete-inputs'] as const;
export type ModbusTable = (typeof MODBUS_TABLES)[number];

/** The outcome of one request. Exceptions, silence and a closed connection are answers a probe judges. */
export type ModbusReply<T> =
  | { status: 'ok'; value: T }
  | { status: 'exception'; code: number; name: string }
  | { status: 'no-answer' }
  | { status: 'closed'; reset: boolean };

export interface ModbusClientOptions {
  signal: AbortSignal;
  unitId: number;
  /** How long to wait for each response (default 2000 ms). */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Every byte sent and received is appended here in hex. */
  transcript?: Transcript;
}

/** modbus-serial's error objects carry these (TransactionTimedOutError, exception responses). */
interface ModbusSerialError {
  message?: string;
  modbusCode?: number;
  errno?: string;
}

/**
 * A modbus-serial TCP client over a socket this adapter owns: it connects with a deadline, watches the
 * bytes for anything that is not Modbus/TCP (a banner, garbage) and fails at once instead of waiting for
 * a length that will never arrive, destroys the socket on abort, and records a hex transcript.
 */
export class ModbusClientSession {
  private broken: { error?: unknown; reset: boolean; closed: boolean } = { reset: false, closed: false };
  private readonly wakeBroken = new Set<() => void>();
  private received = Buffer.alloc(0);
  private closing = false;
  private readonly onAbort = () => this.markBroken({ error: this.signal.reason });

  private constructor(
    private readonly client: ModbusRTU,
    private readonly socket: net.Socket,
    private readonly signal: AbortSignal,
    private readonly transcript?: Transcript,
  ) {
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open(endpoint: ModbusEndpoint, options: ModbusClientOptions): Promise<ModbusClientSession> {
    const socket = await connectTcp(endpoint, options.signal, options.connectTimeoutMs ?? 3000);
    // modbus-serial exports its client class as the module itself; loaded on first use (see ../lazy.ts).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Client = require('modbus-serial') as typeof ModbusRTU;
    const client = new Client();
    const session = new ModbusClientSession(client, socket, options.signal, options.transcript);
    // Our listeners go first, so a banner or garbage is seen before modbus-serial parses it.
    session.tap();
    try {
      await client.connectTCP(endpoint.host, { port: endpoint.port, socket });
    } catch (err) {
      await session.close();
      // modbus-serial says only "socket is not opened" when the peer already hung up or sent a banner.
      if (session.broken.error !== undefined) throw session.broken.error;
      if (session.broken.closed) throw new ProtocolViolation(`the device ${session.broken.reset ? 'reset' : 'closed'} the connection right after it was opened`, { cause: err });
      throw err;
    }
    client.on('error', () => undefined); // port errors also reach us through the socket
    client.setTimeout(options.requestTimeoutMs ?? 2000);
    client.setID(options.unitId);
    options.transcript?.note(`connected to ${endpoint.host}:${endpoint.port} (modbus-serial), unit ${options.unitId}`);
    return session;
  }

  get unitId(): number {
    return this.client.getID();
  }

  setUnitId(unitId: number): void {
    this.client.setID(unitId);
  }

  /** True once the connection closed, broke or was aborted; every further request answers `closed`. */
  get isBroken(): boolean {
    return this.broken.closed || this.broken.error !== undefined;
  }

  /** Reads `quantity` values from a table; coils and discrete inputs come back as 0/1. */
  read(table: ModbusTable, address: number, quantity: number): Promise<ModbusReply<number[]>> {
    const note = `read ${table} ${address}+${quantity} unit ${this.unitId}`;
    switch (table) {
      case 'holding-registers':
        return this.call(note, async () => (await this.client.readHoldingRegisters(address, quantity)).data);
      case 'input-registers':
        return this.call(note, async () => (await this.client.readInputRegisters(address, quantity)).data);
      case 'coils':
        return this.call(note, async () => bits((await this.client.readCoils(address, quantity)).data, quantity));
      case 'discrete-inputs':
        return this.call(note, async () => bits((await this.client.readDiscreteInputs(address, quantity)).data, quantity));
    }
  }

  writeRegister(address: number, value: number): Promise<ModbusReply<void>> {
    return this.call(`write holding-register ${address} = ${value} (FC6)`, async () => { await this.client.writeRegister(address, value); });
  }

  writeRegisters(address: number, values: number[]): Promise<ModbusReply<void>> {
    return this.call(`write holding-registers ${address}+${values.length} (FC16)`, async () => { await this.client.writeRegisters(address, values); });
  }

  writeCoil(address: number, state: boolean): Promise<ModbusReply<void>> {
    return this.call(`write coil ${address} = ${state ? 1 : 0} (FC5)`, async () => { await this.client.writeCoil(address, state); });
  }

  writeCoils(address: number, states: boolean[]): Promise<ModbusReply<void>> {
    return this.call(`write coils ${address}+${states.length} (FC15)`, async () => { await this.client.writeCoils(address, states); });
  }

  /** Cancels modbus-serial's pending timers and destroys the socket. Safe to call twice. */
  async close(): Promise<void> {
    this.signal.removeEventListener('abort', this.onAbort);
    this.closing = true;
    await new Promise<void>((resolve) => this.client.destroy(() => resolve()));
    this.socket.destroy();
  }

  private async call<T>(note: string, op: () => Promise<T>): Promise<ModbusReply<T>> {
    if (this.signal.aborted) throw this.signal.reason;
    if (this.isBroken) return this.brokenReply();
    this.transcript?.note(note);
    let stop: (() => void) | undefined;
    const brokenWhileWaiting = new Promise<'broken'>((resolve) => {
      stop = () => resolve('broken');
      this.wakeBroken.add(stop);
    });
    try {
      const value = await Promise.race([op(), brokenWhileWaiting]);
      if (value === 'broken') return this.brokenReply();
      return { status: 'ok', value: value as T };
    } catch (err) {
      if (this.isBroken) return this.brokenReply();
      const e = (err ?? {}) as ModbusSerialError;
      if (typeof e.modbusCode === 'number') {
        this.transcript?.note(`exception ${e.modbusCode} (${exceptionName(e.modbusCode)})`);
        return { status: 'exception', code: e.modbusCode, name: exceptionName(e.modbusCode) };
      }
      if (e.errno === 'ETIMEDOUT') {
        this.transcript?.note('no answer within the request timeout');
        return { status: 'no-answer' };
      }
      throw new ProtocolViolation(`invalid Modbus/TCP response to "${note}": ${e.message ?? String(err)}`, { cause: err });
    } finally {
      if (stop) this.wakeBroken.delete(stop);
    }
  }

  private brokenReply(): ModbusReply<never> {
    if (this.broken.error !== undefined) throw this.broken.error;
    return { status: 'closed', reset: this.broken.reset };
  }

  private markBroken(change: { error?: unknown; reset?: boolean; closed?: boolean }): void {
    if (change.error !== undefined && this.broken.error === undefined) this.broken.error = change.error;
    if (change.reset) this.broken.reset = true;
    if (change.closed) this.broken.closed = true;
    for (const wake of this.wakeBroken) wake();
    if (change.error !== undefined) this.socket.destroy();
  }

  private tap(): void {
    const socket = this.socket;
    socket.write = new Proxy(socket.write, {
      apply: (target, thisArg, args: Parameters<net.Socket['write']>) => {
        if (args[0] instanceof Uint8Array) this.transcript?.sent(args[0]);
        return Reflect.apply(target, thisArg, args) as boolean;
      },
    });
    socket.on('data', (chunk: Buffer) => {
      this.transcript?.received(chunk);
      this.received = Buffer.concat([this.received, chunk]);
      for (;;) {
        const parsed = parseFrame(this.received);
        if (parsed.kind === 'frame') this.received = this.received.subarray(parsed.bytes);
        if (parsed.kind === 'invalid') {
          this.transcript?.note(`not a Modbus/TCP frame: ${parsed.reason}`);
          this.markBroken({ error: new ProtocolViolation(`the service does not speak Modbus/TCP: ${parsed.reason}`) });
        }
        if (parsed.kind !== 'frame') return;
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') this.markBroken({ reset: true });
    });
    socket.on('close', () => {
      if (!this.closing) this.transcript?.note(`connection ${this.broken.reset ? 'reset' : 'closed'} by the peer`);
      this.markBroken({ closed: true });
    });
  }
}

function bits(data: boolean[], quantity: number): number[] {
  return data.slice(0, quantity).map((b) => (b ? 1 : 0));
}

/** Opens a session, runs `fn`, and always closes it. */
export async function withModbusClient<T>(endpoint: ModbusEndpoint, options: ModbusClientOptions, fn: (session: ModbusClientSession) => Promise<T>): Promise<T> {
  const session = await ModbusClientSession.open(endpoint, options);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

/** The value of a successful reply; otherwise a typed error saying what the device did instead. */
export function expectOk<T>(reply: ModbusReply<T>, what: string): T {
  switch (reply.status) {
    case 'ok':
      return reply.value;
    case 'no-answer':
      throw new TargetTimeout(`${what}: no answer`);
    case 'closed':
      throw new ProtocolViolation(`${what}: the device ${reply.reset ? 'reset' : 'closed'} the connection`);
    case 'exception':
      throw new ProtocolViolation(`${what}: exception ${reply.code} (${reply.name})`);
  }
}
