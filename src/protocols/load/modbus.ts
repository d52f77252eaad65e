import * as net from 'node:net';
import { FUNCTION_CODES, encodeFrame, hasReadResponseShape, interpretResponse, parseFrame, readRequestPdu } from '../modbus';
import type { LoadGenerator, RequestOutcome } from './steps';

export interface ModbusFloodOptions {
  readonly host: string;
  readonly port: number;
  readonly unitId: number;
  /** Holding register read by every request (FC3, quantity 1). */
  readonly address: number;
  /** TCP connections the requests are spread over (a few SCADA masters). */
  readonly connections: number;
  /** Requests waiting per connection at most (Modbus/TCP allows several outstanding transactions). */
  readonly window: number;
  readonly requestTimeoutMs: number;
}

interface Waiter {
  resolve(o: RequestOutcome): void;
  timer: NodeJS.Timeout;
}

/** One flood connection: raw MBAP frames, answers matched by transaction id. */
class FloodConnection {
  private socket: net.Socket | undefined;
  private buf = Buffer.alloc(0);
  private nextId = 1;
  readonly waiting = new Map<number, Waiter>();
  private closed = false;

  constructor(private readonly o: ModbusFloodOptions, private readonly fail: (kind: string) => void) {}

  private open(): net.Socket {
    const socket = net.connect({ host: this.o.host, port: this.o.port });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const lost = (kind: string) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.buf = Buffer.alloc(0);
      this.settleAll('error', kind);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => lost(err.code ?? 'socket error'));
    socket.on('close', () => lost('closed by the device'));
    return socket;
  }

  private onData(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const parsed = parseFrame(this.buf);
      if (parsed.kind === 'incomplete') return;
      if (parsed.kind === 'invalid') {
        this.fail('invalid frame');
        this.socket?.destroy();
        return;
      }
      this.buf = this.buf.subarray(parsed.bytes);
      const waiter = this.waiting.get(parsed.frame.transactionId);
      if (!waiter) continue;
      this.waiting.delete(parsed.frame.transactionId);
      clearTimeout(waiter.timer);
      const meaning = interpretResponse(parsed.frame.pdu, FUNCTION_CODES.readHoldingRegisters);
      if (meaning.kind === 'normal' && hasReadResponseShape(parsed.frame.pdu)) waiter.resolve('answered');
      else if (meaning.kind === 'normal') {
        this.fail('malformed read response');
        waiter.resolve('refused');
      }
      else {
        this.fail(meaning.kind === 'exception' ? `exception ${meaning.code.toString(16).padStart(2, '0')}` : 'unexpected function code');
        waiter.resolve('refused');
      }
    }
  }

  private settleAll(outcome: RequestOutcome, kind: string): void {
    for (const [, w] of this.waiting) {
      clearTimeout(w.timer);
      this.fail(kind);
      w.resolve(outcome);
    }
    this.waiting.clear();
  }

  send(): Promise<RequestOutcome> {
    if (this.closed) return Promise.resolve('error');
    this.socket ??= this.open();
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffff) + 1;
    const frame = encodeFrame({ transactionId: id, unitId: this.o.unitId, pdu: readRequestPdu(FUNCTION_CODES.readHoldingRegisters, this.o.address, 1) });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        this.fail('timeout');
        resolve('error');
      }, this.o.requestTimeoutMs);
      this.waiting.set(id, { resolve, timer });
      this.socket!.write(frame);
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = undefined;
    this.settleAll('error', 'stopped');
  }
}

/** Modbus/TCP read requests (FC3) spread round robin over a few connections, several outstanding on each. */
export function modbusReadFlood(options: ModbusFloodOptions): LoadGenerator {
  const kinds: Record<string, number> = {};
  const fail = (kind: string) => { kinds[kind] = (kinds[kind] ?? 0) + 1; };
  const conns = Array.from({ length: options.connections }, () => new FloodConnection(options, fail));
  let next = 0;
  return {
    maxInFlight: options.connections * options.window,
    inFlight: () => conns.reduce((n, c) => n + c.waiting.size, 0),
    send: () => {
      // The least busy of the next connections, so that a stalled one does not hold back the others.
      const c = conns[next];
      next = (next + 1) % conns.length;
      return c.waiting.size < options.window ? c.send() : (conns.find((x) => x.waiting.size < options.window) ?? c).send();
    },
    close: () => { for (const c of conns) c.close(); },
    errorKinds: () => ({ ...kinds }),
  };
}

