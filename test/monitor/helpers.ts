import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostMonitor } from '../../src/runner/monitor';
import type { Watch } from '../../src/protocols/monitor';
import type { EssentialFunctionConfig, MonitorState } from '../../src/sdk';

/** Fast monitor parameters for tests (the defaults are for devices: 1 s, 500 ms, 5 s). */
export const FAST: EssentialFunctionConfig = { periodMs: 100, latencyToleranceMs: 200, lossAfterMs: 700, stopOnLoss: true, recoveryWindowMs: 3000 };

/** A host monitor journaling into a fresh folder; `cleanup` stops it and removes the folder. */
export async function startMonitor(watches: Watch[], config: Partial<EssentialFunctionConfig> = {}): Promise<{ monitor: HostMonitor; dir: string; cleanup(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-monitor-test-'));
  const monitor = new HostMonitor('127.0.0.1', { ...FAST, ...config }, watches, { runDir: dir, redact: (t) => t });
  await monitor.start();
  return {
    monitor, dir,
    cleanup: async () => {
      await monitor.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the monitor's state is `state` (or fails after `ms`). */
export async function waitForState(monitor: HostMonitor, state: MonitorState, ms: number): Promise<number> {
  const started = Date.now();
  while (monitor.state() !== state) {
    if (Date.now() - started > ms) throw new Error(`state stayed ${monitor.state()} for ${ms} ms (wanted ${state}); last samples: ${JSON.stringify(monitor.samples.slice(-3))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - started;
}

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A deceptive Modbus/TCP device on 127.0.0.1: answers every Read Holding Registers (FC3) with `value()`
 * after `delayMs`, whatever else happens, and counts the frames it got. Enough of the protocol for a monitor
 * read, nothing more.
 */
export async function fakeModbusDevice(value: () => number, delayMs = 0): Promise<{ port: number; frames(): number; close(): Promise<void> }> {
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
        const reply = Buffer.alloc(11);
        frame.copy(reply, 0, 0, 4); // transaction and protocol id
        reply.writeUInt16BE(5, 4);
        reply[6] = frame[6];
        reply[7] = 0x03;
        reply[8] = 2;
        reply.writeUInt16BE(value() & 0xffff, 9);
        setTimeout(() => { if (!socket.destroyed) socket.write(reply); }, delayMs);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    frames: () => frames,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
