/**
 * The few Modbus/TCP bytes the Modbus/TCP Security checks need (MODBUS/TCP Security Protocol
 * Specification, modbus.org, 2018): a read request to send inside TLS, the check that an answer is a
 * Modbus response, and the role extension of client certificates. Not a Modbus stack.
 */
import * as net from 'node:net';
import { TargetTimeout } from '../../sdk';

/** X.509v3 extension carrying the client's role (a UTF8String), Modbus/TCP Security §6. */
export const MODBUS_ROLE_OID = '1.3.6.1.4.1.50316.802.1';

/** Port IANA assigned to Modbus/TCP Security ("mbap-s"). */
export const MODBUS_SECURITY_PORT = 802;

/** Read Holding Registers (function 3), one register at address 0: harmless on any device. */
export function readHoldingRequest(unitId: number, transactionId = 0x1d2c): Buffer {
  return Buffer.from([transactionId >> 8, transactionId & 0xff, 0, 0, 0, 6, unitId & 0xff, 3, 0, 0, 0, 1]);
}

/** An MBAP frame answering our request: same transaction, protocol 0, function 3 or its exception 0x83. */
export function isModbusResponse(data: Buffer, transactionId = 0x1d2c): boolean {
  return data.length >= 9 && data.readUInt16BE(0) === transactionId && data.readUInt16BE(2) === 0
    && data.readUInt16BE(4) === data.length - 6 && (data[7] === 3 || data[7] === 0x83);
}

/**
 * Sends the read request in cleartext and reports whether a Modbus response came back: used only on a
 * port declared as Modbus/TCP Security that did not answer TLS, to say what it speaks instead.
 */
export async function speaksPlainModbus(host: string, port: number, unitId: number, signal: AbortSignal, timeoutMs: number): Promise<boolean> {
  signal.throwIfAborted();
  const socket = new net.Socket();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<boolean>((resolve, reject) => {
      let got = Buffer.alloc(0);
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => reject(new TargetTimeout(`no Modbus answer from ${host}:${port} within ${timeoutMs} ms`)), Math.max(1, timeoutMs));
      socket.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length < 6) return;
        // A protocol id other than 0 or an impossible length: text or garbage, not Modbus/TCP.
        const length = got.readUInt16BE(4);
        if (got.readUInt16BE(2) !== 0 || length < 2 || length > 254) return resolve(false);
        if (got.length >= 6 + length) resolve(isModbusResponse(got));
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(false));
      socket.connect({ host, port }, () => socket.write(readHoldingRequest(unitId)));
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    socket.destroy();
  }
}
