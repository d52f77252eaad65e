import * as crypto from 'node:crypto';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { TargetTimeout } from '../../sdk';
import { IsoConnection, cotpConnect, type CotpConnect, type IsoOptions, type S7Endpoint } from './connection';
import { S7PLUS_PROTOCOL_ID, encodeDataTpdu } from './frames';

/**
 * S7comm-plus (S7-1200 FW ≥ 4.3, S7-1500 FW ≥ 2.9 with "secure PG/HMI communication") as Thomas Wiens'
 * S7CommPlusDriver connects (S7CommPlusConnection.Connect, Net/S7Client.cs; tested there against an S7-1211
 * FW 4.5 and PLCSIM V17/V18): COTP CR with calling TSAP 0x0600 and the called TSAP "SIMATIC-ROOT-HMI", an
 * unencrypted S7comm-plus V1 InitSsl request (function 0x05B3), its response, then TLS 1.3 whose records
 * travel as COTP DT user data. Only these steps are taken: no session is created, nothing is read.
 */

export const S7PLUS_TSAP_HMI = 'SIMATIC-ROOT-HMI';
export const S7PLUS_OPCODE = { request: 0x31, response: 0x32 } as const;
export const S7PLUS_FUNCTION_INIT_SSL = 0x05b3;

/** InitSsl request: header (0x72, version 1, length), opcode, reserved, function, reserved, sequence,
 * session id 0, transport flags 0x30, four zero bytes; trailer 0x72 0x01 0x00 0x00. */
export function initSslRequest(sequence = 1): Buffer {
  const body = Buffer.alloc(18);
  body.writeUInt8(S7PLUS_OPCODE.request, 0);
  body.writeUInt16BE(S7PLUS_FUNCTION_INIT_SSL, 3);
  body.writeUInt16BE(sequence, 7);
  body.writeUInt8(0x30, 13);
  const header = Buffer.from([S7PLUS_PROTOCOL_ID, 0x01, 0, body.length]);
  return Buffer.concat([header, body, Buffer.from([S7PLUS_PROTOCOL_ID, 0x01, 0x00, 0x00])]);
}

/** Variable-length unsigned integer of S7comm-plus: 7 bits a byte with 0x80 as "more", the 9th byte whole. */
export function decodeVlq(buf: Buffer, at: number): { value: bigint; bytes: number } | undefined {
  let value = 0n;
  for (let i = 0; i < 9; i++) {
    if (at + i >= buf.length) return undefined;
    const b = buf[at + i];
    if (i === 8) return { value: (value << 8n) | BigInt(b), bytes: 9 };
    value = (value << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) return { value, bytes: i + 1 };
  }
  return undefined;
}

export type InitSslAnswer =
  | { status: 'response'; protocolVersion: number; sequence: number; returnValue: string; accepted: boolean }
  /** A TSDU that is not an S7comm-plus InitSsl response (an S7comm 0x32 PDU, another function, garbage). */
  | { status: 'not-s7plus'; reason: string }
  | { status: 'no-answer' }
  | { status: 'closed'; reset: boolean };

export function parseInitSslResponse(payload: Buffer): InitSslAnswer {
  if (payload.length < 4 || payload[0] !== S7PLUS_PROTOCOL_ID) {
    return { status: 'not-s7plus', reason: `protocol id 0x${(payload[0] ?? 0).toString(16).padStart(2, '0')} is not S7comm-plus (0x72)` };
  }
  const body = payload.subarray(4, 4 + payload.readUInt16BE(2));
  if (body.length < 10 || body[0] !== S7PLUS_OPCODE.response || body.readUInt16BE(3) !== S7PLUS_FUNCTION_INIT_SSL) {
    return { status: 'not-s7plus', reason: `not an InitSsl response (opcode 0x${(body[0] ?? 0).toString(16)}, function 0x${body.length >= 5 ? body.readUInt16BE(3).toString(16) : '?'})` };
  }
  const rv = decodeVlq(body, 10);
  if (!rv) return { status: 'not-s7plus', reason: 'InitSsl response without a return value' };
  // Bit 62 flags an error extension; a negative return value (bit 63) is an error (S7CommPlusDriver, InitSslResponse.cs).
  return { status: 'response', protocolVersion: payload[1], sequence: body.readUInt16BE(7), returnValue: `0x${rv.value.toString(16)}`, accepted: rv.value === 0n };
}

export interface TlsOverCotp {
  status: 'established' | 'failed';
  protocol?: string;
  cipher?: string;
  certificate?: { subject?: string; issuer?: string; sha256: string };
  reason?: string;
}

export interface S7PlusProbe {
  tsap: string;
  cotp: CotpConnect;
  initSsl?: InitSslAnswer;
  tls?: TlsOverCotp;
}

/** COTP connect to SIMATIC-ROOT-HMI, InitSsl, and (when it is accepted) a TLS handshake over COTP DT. */
export async function probeS7Plus(endpoint: S7Endpoint, options: IsoOptions): Promise<S7PlusProbe> {
  const iso = await IsoConnection.open(endpoint, options);
  try {
    const cotp = await cotpConnect(iso, { srcTsap: 0x0600, dstTsap: S7PLUS_TSAP_HMI });
    const result: S7PlusProbe = { tsap: S7PLUS_TSAP_HMI, cotp };
    if (cotp.status !== 'accepted') return result;
    options.transcript?.note('S7comm-plus InitSsl request (unencrypted, S7comm-plus V1)');
    iso.send(encodeDataTpdu(initSslRequest()));
    const reply = await iso.receiveData();
    if (reply.kind === 'data') result.initSsl = parseInitSslResponse(reply.payload);
    else if (reply.kind === 'no-answer') result.initSsl = { status: 'no-answer' };
    else if (reply.kind === 'closed') result.initSsl = { status: 'closed', reset: reply.reset };
    else result.initSsl = { status: 'not-s7plus', reason: reply.kind === 'invalid' ? reply.reason : `COTP ${reply.tpdu.kind}` };
    if (result.initSsl.status === 'response' && result.initSsl.accepted) result.tls = await tlsHandshake(iso, options);
    return result;
  } finally {
    iso.close();
  }
}

/** Largest user data in one DT TPDU of the 1024-byte TPDU size asked for (3 bytes of DT header). */
const MAX_DT_PAYLOAD = 1021;

/**
 * A Duplex whose writes leave as COTP DT TSDUs and whose reads are the TSDUs the peer sends: the transport
 * S7-1200/1500 use for TLS. The pump ends when the connection closes or `stop()` is called.
 */
export function cotpStream(iso: IsoConnection, waitMs: number): { stream: Duplex; stop(): void } {
  let stopped = false;
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      for (let at = 0; at < chunk.length; at += MAX_DT_PAYLOAD) {
        const end = Math.min(chunk.length, at + MAX_DT_PAYLOAD);
        iso.send(encodeDataTpdu(chunk.subarray(at, end), end === chunk.length));
      }
      done();
    },
  });
  void (async () => {
    while (!stopped) {
      const reply = await iso.receiveData(waitMs).catch(() => ({ kind: 'closed' as const, reset: false }));
      if (stopped) return;
      if (reply.kind === 'data') stream.push(reply.payload);
      else if (reply.kind !== 'no-answer') {
        stream.push(null);
        return;
      }
    }
  })();
  return { stream, stop: () => { stopped = true; } };
}

async function tlsHandshake(iso: IsoConnection, options: IsoOptions): Promise<TlsOverCotp> {
  options.transcript?.note('TLS handshake inside COTP DT (records in hex below)');
  const { stream, stop } = cotpStream(iso, options.waitMs);
  // The certificate is recorded, not verified: the question is whether the channel is encrypted at all.
  const socket = tls.connect({ socket: stream, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
  try {
    return await new Promise<TlsOverCotp>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        options.signal.removeEventListener('abort', onAbort);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new TargetTimeout(`TLS handshake over COTP not complete within ${options.waitMs} ms`));
      }, options.waitMs);
      const onAbort = () => {
        cleanup();
        reject(options.signal.reason);
      };
      options.signal.addEventListener('abort', onAbort, { once: true });
      const finish = (r: TlsOverCotp) => {
        cleanup();
        resolve(r);
      };
      socket.once('secureConnect', () => {
        const cert = socket.getPeerX509Certificate();
        finish({
          status: 'established', protocol: socket.getProtocol() ?? undefined, cipher: socket.getCipher()?.standardName,
          ...(cert ? { certificate: { subject: cert.subject, issuer: cert.issuer, sha256: crypto.createHash('sha256').update(cert.raw).digest('hex') } } : {}),
        });
      });
      socket.once('error', (err) => finish({ status: 'failed', reason: err.message }));
      socket.once('close', () => finish({ status: 'failed', reason: 'the connection closed during the TLS handshake' }));
    });
  } finally {
    stop();
    socket.destroy();
  }
}
