import * as net from 'node:net';
import * as tls from 'node:tls';
import { Duplex } from 'node:stream';
import {
  AREAS, COTP, FUNCTION, ROSCTR, S7PLUS_FUNCTION_INIT_SSL, S7PLUS_OPCODE, S7PLUS_PROTOCOL_ID,
  encodeDataTpdu, encodeS7, encodeTpkt, parseCotp, parseS7, parseTpkt, type CotpTpdu, type S7Pdu,
} from '../../protocols/s7';
import { listenTcp } from '../net';
import { serverCredentials } from '../pki';
import { PostureError } from '../errors';
import type { DeviceContext, ServiceModule, ServicePosture } from '../types';

/**
 * Emulated S7 CPU on ISO-on-TCP (RFC 1006): COTP class 0, S7comm setup, SZL reads (0x0011, 0x001C, 0x0232
 * index 4, 0x0424), read/write var, PLC STOP and hot restart, and the S7comm-plus InitSsl + TLS step of
 * S7-1200/1500 secure PG/HMI communication (see src/protocols/s7/plus.ts for the source of that layout).
 * Every knob defaults to the secure choice.
 */
export interface S7Posture extends ServicePosture {
  /** Slots whose classic TSAP (rack 0) is accepted (default [1, 2]); other TSAPs get a COTP DR. */
  slots?: number[];
  /** The CPU's valid protection level (SZL 0x0232 sch_rel): 1 none, 2 write, 3 read/write (default 3). */
  protectionLevel?: 1 | 2 | 3;
  /** Mode selector position reported (bart_sch): RUN (default), RUN-P, STOP, MRES or none. */
  modeSelector?: 'RUN' | 'RUN-P' | 'STOP' | 'MRES' | 'none';
  /** Read/write var served to any peer (true) or refused with 0x8104 as S7-1200/1500 do without PUT/GET (default false). */
  putGet?: boolean;
  /** PLC STOP and hot restart accepted (true) or refused with 0xD241, password needed (default false). */
  cpuControl?: boolean;
  /** Data blocks: number -> size in bytes (default { 1: 32 }); byte i of DB n starts as (n + i) & 0xff. */
  dataBlocks?: Record<string, number>;
  /** S7comm-plus on SIMATIC-ROOT-HMI/-ES: InitSsl then TLS (tls, default), InitSsl refused (legacy), or no such TSAP (off). */
  s7commPlus?: 'tls' | 'legacy' | 'off';
  orderNumber?: string;
  systemName?: string;
  plantId?: string;
  copyright?: string;
}

const MODE_SELECTOR = { none: 0, RUN: 1, 'RUN-P': 2, STOP: 3, MRES: 4 } as const;
const ERR_FUNCTION_NOT_AVAILABLE = 0x8104;
const ERR_NEED_PASSWORD = 0xd241;
const ERR_SZL_NOT_AVAILABLE = 0xd401;
const PLUS_TSAPS = new Set(['SIMATIC-ROOT-HMI', 'SIMATIC-ROOT-ES']);

const fixed = (s: string, n: number) => Buffer.from(s.padEnd(n, ' ').slice(0, n), 'latin1');
const word = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);

/** The CPU's memory and identity, shared by all connections. */
class S7Cpu {
  readonly blocks = new Map<number, Buffer>();
  readonly flags = Buffer.alloc(64);
  mode: 'RUN' | 'STOP' = 'RUN';

  constructor(readonly config: S7Posture, private readonly device: DeviceContext) {
    for (const [n, size] of Object.entries(config.dataBlocks ?? { 1: 32 })) {
      const db = Number(n);
      if (!Number.isInteger(db) || db < 1 || db > 65535 || !Number.isInteger(size) || size < 1 || size > 65535) throw new PostureError(`dataBlocks.${n}: a DB number 1..65535 with a size 1..65535`);
      this.blocks.set(db, Buffer.from(Array.from({ length: size }, (_, i) => (db + i) & 0xff)));
    }
  }

  /** SZL list (header + records) for an id, or undefined when the CPU has none. */
  szl(id: number, index: number): Buffer | undefined {
    const ident = this.device.identity;
    const records = (recordLength: number, list: Buffer[]) => Buffer.concat([word(id), word(index), word(recordLength), word(list.length), ...list]);
    if (id === 0x0011) {
      const order = this.config.orderNumber ?? ident.productCode;
      const [a, b, c] = ident.firmware.split('.').map((x) => Number(x) & 0xff);
      return records(28, [
        Buffer.concat([word(1), fixed(order, 20), word(0), word(1), word(0)]),
        Buffer.concat([word(6), fixed(order, 20), word(0), word(1), word(0)]),
        Buffer.concat([word(7), fixed('', 20), word(0), Buffer.from(['V'.charCodeAt(0), a || 0, b || 0, c || 0])]),
      ]);
    }
    if (id === 0x001c) {
      const text = (i: number, s: string) => Buffer.concat([word(i), Buffer.from(s.padEnd(32, '\0').slice(0, 32), 'latin1')]);
      return records(34, [
        text(1, this.config.systemName ?? ident.model), text(2, `${ident.vendor} ${ident.model}`), text(3, this.config.plantId ?? ''),
        text(4, this.config.copyright ?? ident.vendor), text(5, ident.serial), text(7, ident.model),
      ]);
    }
    if (id === 0x0232 && index === 0x0004) {
      const level = this.config.protectionLevel ?? 3;
      const record = Buffer.alloc(40);
      record.writeUInt16BE(4, 0);
      record.writeUInt16BE(1, 2); // set with the mode selector: none (the selector is not the protection here)
      record.writeUInt16BE(level > 1 ? level : 0, 4); // set in the parameters (0: no password configured)
      record.writeUInt16BE(level, 6); // the valid level
      record.writeUInt16BE(MODE_SELECTOR[this.config.modeSelector ?? 'RUN'], 8);
      return records(40, [record]);
    }
    if (id === 0x0424) {
      const record = Buffer.alloc(20);
      record.writeUInt16BE(0x5144, 0);
      record.writeUInt8(0xff, 2);
      record.writeUInt8(this.mode === 'RUN' ? 0x08 : 0x04, 3);
      return records(20, [record]);
    }
    return undefined;
  }

  /** The bytes of an area item, or the item return code that refuses it. */
  locate(area: number, db: number, offset: number, length: number): Buffer | number {
    const memory = area === AREAS.db ? this.blocks.get(db) : area === AREAS.m ? this.flags : undefined;
    if (!memory) return 0x0a; // object does not exist
    if (offset + length > memory.length) return 0x05; // invalid address
    return memory.subarray(offset, offset + length);
  }
}

/** One client connection: COTP, then classic S7comm or the S7comm-plus TLS step. */
class S7Connection {
  private buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private mode: 'cotp' | 's7' | 'plus' | 'tls' = 'cotp';
  private tlsInput: Duplex | undefined;

  constructor(private readonly socket: net.Socket, private readonly cpu: S7Cpu, private readonly tlsContext: () => tls.SecureContext | undefined) {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const frame = parseTpkt(this.buffer);
      if (frame.kind === 'incomplete') return;
      if (frame.kind === 'invalid') {
        this.socket.destroy(); // not RFC 1006: the stream cannot be resynchronised
        return;
      }
      this.buffer = this.buffer.subarray(frame.bytes);
      const tpdu = parseCotp(frame.tpdu);
      if (typeof tpdu === 'string') {
        this.socket.destroy();
        return;
      }
      this.onTpdu(tpdu);
    }
  }

  private onTpdu(tpdu: CotpTpdu): void {
    if (tpdu.kind === 'CR') return this.onConnectionRequest(tpdu);
    if (tpdu.kind === 'DR') return void this.socket.end();
    if (tpdu.kind !== 'DT' || this.mode === 'cotp') return void this.socket.destroy();
    this.fragments.push(tpdu.payload);
    if (!tpdu.eot) return;
    const tsdu = Buffer.concat(this.fragments);
    this.fragments = [];
    if (this.mode === 's7') this.onS7(tsdu);
    else if (this.mode === 'plus') this.onInitSsl(tsdu);
    else this.tlsInput?.push(tsdu);
  }

  private onConnectionRequest(cr: CotpTpdu): void {
    const called = cr.params.get(0xc2) ?? Buffer.alloc(0);
    const name = called.toString('latin1');
    const classic = called.length === 2 && (called[1] >> 5) === 0 && (this.cpu.config.slots ?? [1, 2]).includes(called[1] & 0x1f);
    const plus = PLUS_TSAPS.has(name) && (this.cpu.config.s7commPlus ?? 'tls') !== 'off';
    if (!classic && !plus) {
      // Disconnect request, reason 3 (address unknown), then hang up as a CPU does for a TSAP it does not serve.
      this.socket.end(encodeTpkt(Buffer.from([6, COTP.DR, (cr.srcRef ?? 0) >> 8, (cr.srcRef ?? 0) & 0xff, 0x00, 0x01, 0x03])));
      return;
    }
    this.mode = classic ? 's7' : 'plus';
    const params = Buffer.concat([...[0xc0, 0xc1, 0xc2].flatMap((code) => {
      const v = code === 0xc0 ? Buffer.from([0x0a]) : cr.params.get(code);
      return v ? [Buffer.from([code, v.length]), v] : [];
    })]);
    const head = Buffer.from([0, COTP.CC, (cr.srcRef ?? 0) >> 8, (cr.srcRef ?? 0) & 0xff, 0x00, 0x01, 0x00]);
    head[0] = head.length - 1 + params.length;
    this.socket.write(encodeTpkt(Buffer.concat([head, params])));
  }

  private reply(pdu: S7Pdu): void {
    this.socket.write(encodeDataTpdu(encodeS7(pdu)));
  }

  private onS7(payload: Buffer): void {
    const pdu = parseS7(payload);
    if (typeof pdu === 'string') return void this.socket.destroy();
    const ack = (param: Buffer, data: Buffer = Buffer.alloc(0), error = 0) => this.reply({ rosctr: ROSCTR.ackData, pduRef: pdu.pduRef, error, param, data });
    if (pdu.rosctr === ROSCTR.userData) return this.onUserData(pdu);
    if (pdu.rosctr !== ROSCTR.job) return;
    const fn = pdu.param[0];
    const config = this.cpu.config;
    if (fn === FUNCTION.setup) {
      const size = Math.min(pdu.param.length >= 8 ? pdu.param.readUInt16BE(6) : 240, 480);
      return ack(Buffer.concat([pdu.param.subarray(0, 6), word(size)]));
    }
    if (fn === FUNCTION.readVar || fn === FUNCTION.writeVar) {
      if (!config.putGet) return ack(Buffer.from([fn, 0]), undefined, ERR_FUNCTION_NOT_AVAILABLE);
      return fn === FUNCTION.readVar ? this.readVar(pdu, ack) : this.writeVar(pdu, ack);
    }
    if (fn === FUNCTION.plcStop || fn === FUNCTION.plcControl) {
      if (!config.cpuControl) return ack(Buffer.from([fn]), undefined, ERR_NEED_PASSWORD);
      this.cpu.mode = fn === FUNCTION.plcStop ? 'STOP' : 'RUN';
      return ack(Buffer.from([fn]));
    }
    ack(Buffer.from([fn]), undefined, ERR_FUNCTION_NOT_AVAILABLE);
  }

  private items(param: Buffer): { area: number; db: number; offset: number; length: number }[] {
    const out = [];
    for (let i = 0, at = 2; i < param[1] && at + 12 <= param.length; i++, at += 12) {
      out.push({ area: param[at + 8], db: param.readUInt16BE(at + 6), offset: ((param[at + 9] << 16) | param.readUInt16BE(at + 10)) >> 3, length: param.readUInt16BE(at + 4) });
    }
    return out;
  }

  private readVar(pdu: S7Pdu, ack: (param: Buffer, data?: Buffer) => void): void {
    const parts: Buffer[] = [];
    const items = this.items(pdu.param);
    items.forEach((item, i) => {
      const found = this.cpu.locate(item.area, item.db, item.offset, item.length);
      if (typeof found === 'number') return void parts.push(Buffer.from([found, 0x00, 0x00, 0x00]));
      parts.push(Buffer.from([0xff, 0x04]), word(found.length * 8), Buffer.from(found));
      if (found.length % 2 === 1 && i < items.length - 1) parts.push(Buffer.alloc(1));
    });
    ack(Buffer.from([FUNCTION.readVar, items.length]), Buffer.concat(parts));
  }

  private writeVar(pdu: S7Pdu, ack: (param: Buffer, data?: Buffer) => void): void {
    const codes: number[] = [];
    let at = 0;
    for (const item of this.items(pdu.param)) {
      const length = Math.ceil(pdu.data.readUInt16BE(at + 2) / 8);
      const value = pdu.data.subarray(at + 4, at + 4 + length);
      at += 4 + length + (length % 2);
      const found = this.cpu.locate(item.area, item.db, item.offset, item.length);
      if (typeof found === 'number') codes.push(found);
      else if (value.length !== found.length) codes.push(0x07);
      else {
        value.copy(found);
        codes.push(0xff);
      }
    }
    ack(Buffer.from([FUNCTION.writeVar, codes.length]), Buffer.from(codes));
  }

  private onUserData(pdu: S7Pdu): void {
    const p = pdu.param;
    // Only the SZL group (request 0x44, subfunction read SZL) is served; a follow-up is never needed.
    if (p.length < 8 || p[5] !== 0x44 || p[6] !== 0x01 || pdu.data.length < 8) return;
    const list = this.cpu.szl(pdu.data.readUInt16BE(4), pdu.data.readUInt16BE(6));
    const param = Buffer.from([0x00, 0x01, 0x12, 0x08, 0x12, 0x84, 0x01, p[7], 0x00, 0x00, 0x00, 0x00]);
    if (!list) {
      param.writeUInt16BE(ERR_SZL_NOT_AVAILABLE, 10);
      return this.reply({ rosctr: ROSCTR.userData, pduRef: pdu.pduRef, param, data: Buffer.from([0x0a, 0x00, 0x00, 0x00]) });
    }
    this.reply({ rosctr: ROSCTR.userData, pduRef: pdu.pduRef, param, data: Buffer.concat([Buffer.from([0xff, 0x09]), word(list.length), list]) });
  }

  /** S7comm-plus InitSsl: answered with return value 0 and followed by TLS, or refused (legacy firmware). */
  private onInitSsl(tsdu: Buffer): void {
    if (tsdu.length < 17 || tsdu[0] !== S7PLUS_PROTOCOL_ID || tsdu[4] !== S7PLUS_OPCODE.request || tsdu.readUInt16BE(7) !== S7PLUS_FUNCTION_INIT_SSL) {
      return void this.socket.destroy();
    }
    const tlsOn = (this.cpu.config.s7commPlus ?? 'tls') === 'tls';
    const body = Buffer.concat([
      Buffer.from([S7PLUS_OPCODE.response, 0, 0]), word(S7PLUS_FUNCTION_INIT_SSL), word(0), tsdu.subarray(11, 13), Buffer.from([0x00]),
      // Return value (VLQ): 0 accepted; legacy: an error value with the sign bit set.
      tlsOn ? Buffer.from([0x00]) : Buffer.from([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
    ]);
    this.socket.write(encodeDataTpdu(Buffer.concat([Buffer.from([S7PLUS_PROTOCOL_ID, 0x01]), word(body.length), body, Buffer.from([S7PLUS_PROTOCOL_ID, 0x01, 0, 0])])));
    if (!tlsOn) return;
    const context = this.tlsContext();
    if (!context) return void this.socket.destroy();
    this.mode = 'tls';
    const socket = this.socket;
    this.tlsInput = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, done) {
        for (let at = 0; at < chunk.length; at += 1021) socket.write(encodeDataTpdu(chunk.subarray(at, Math.min(chunk.length, at + 1021)), at + 1021 >= chunk.length));
        done();
      },
    });
    const secure = new tls.TLSSocket(this.tlsInput, { isServer: true, secureContext: context, minVersion: 'TLSv1.3' } as tls.TLSSocketOptions);
    secure.on('error', () => socket.destroy());
    // No S7comm-plus session is served over TLS: the emulator shows the transport, not the application.
    secure.on('data', () => undefined);
  }
}

export const s7Service: ServiceModule<S7Posture> = {
  key: 's7',
  async start(config, device) {
    const cpu = new S7Cpu(config, device);
    let context: tls.SecureContext | undefined;
    const tlsContext = () => {
      if (context) return context;
      const creds = serverCredentials(device, 's7', { key: 'ec', curve: 'P-256', commonName: `${device.identity.model} S7 ${device.identity.serial}` });
      context = tls.createSecureContext({ cert: creds.certPem, key: creds.keyPem, minVersion: 'TLSv1.3' });
      return context;
    };
    if ((config.s7commPlus ?? 'tls') === 'tls') tlsContext(); // fail at start, not on the first client
    const server = net.createServer((socket) => {
      socket.setTimeout(120_000, () => socket.destroy());
      new S7Connection(socket, cpu, tlsContext);
    });
    const listener = await listenTcp(server, device.host, device.portFor(config.port));
    device.log(`s7: listening on ${device.host}:${listener.port}, protection level ${config.protectionLevel ?? 3}, PUT/GET ${config.putGet ? 'on' : 'off'}, S7comm-plus ${config.s7commPlus ?? 'tls'}`);
    return { endpoints: [{ protocol: 's7', host: device.host, port: listener.port }], close: () => listener.close() };
  },
};
