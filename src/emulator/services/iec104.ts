import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import {
  BROADCAST_CA, COT, QOI_STATION, TYPE_IDS, decodeCp56, encodeAsdu, encodeCp56, encodeI, encodeS, encodeU, parseApdu, parseAsdu,
  type Asdu, type InformationObject,
} from '../../protocols/iec104';
import { packagePath } from '../../paths';
import { listenTcp, type Listener } from '../net';
import { serverCredentials, type CertificatePosture } from '../pki';
import { PostureError } from '../errors';
import type { DeviceContext, ServiceEndpoint, ServiceModule, ServicePosture } from '../types';

/** IEC 62351-3: IEC 104 over TLS with client certificates. */
export interface Iec62351Posture {
  enabled?: boolean;
  /** 0 or absent: OS-chosen (a real device uses 19998). */
  port?: number;
  minVersion?: tls.SecureVersion;
  ciphers?: string;
  certificate?: CertificatePosture;
  /** Client certificates trusted besides those the device CA issued (PEM files; relative: the package). */
  trustedClientCertificates?: string[];
}

/**
 * Emulated IEC 60870-5-104 outstation (controlled station). Every knob defaults to the secure choice.
 */
export interface Iec104Posture extends ServicePosture {
  /** Common address (ASDU address) of the station (default 1). */
  commonAddress?: number;
  /**
   * Client addresses served on the plain port: "any", or a list (default []: nobody). Others get TESTFR
   * answered and the connection closed on STARTDT act, as an outstation with an address allow list does.
   */
  allowedClients?: 'any' | string[];
  /** Single commands and clock synchronisation executed (true), or confirmed negatively (default false). */
  control?: boolean;
  /** Single-command IOA -> the single-point IOA it switches (default { 2000: 100 }). */
  commands?: Record<string, number>;
  /** IEC 62351-3 TLS port. Default on; null or `enabled: false` switches it off. */
  tls?: Iec62351Posture | null;
}

/** Monitored points the general interrogation reports: 4 single points (a sequence), 2 floats, 1 scaled value. */
const SINGLE_POINTS = [100, 101, 102, 103];
const FLOATS: readonly [number, number][] = [[200, 230.5], [201, 49.98]];
const SCALED: readonly [number, number][] = [[300, 1234]];

const float = (v: number) => {
  const b = Buffer.alloc(5);
  b.writeFloatLE(v, 0);
  return b;
};
const scaled = (v: number) => {
  const b = Buffer.alloc(3);
  b.writeInt16LE(v, 0);
  return b;
};

/** The station's process image and clock, shared by every connection. */
class Station {
  readonly singles = new Map<number, boolean>(SINGLE_POINTS.map((ioa, i) => [ioa, i % 2 === 1]));
  clockOffsetMs = 0;
  readonly commands: Map<number, number>;

  constructor(readonly config: Iec104Posture) {
    this.commands = new Map(Object.entries(config.commands ?? { 2000: 100 }).map(([c, s]) => [Number(c), s]));
    for (const [command, status] of this.commands) {
      if (!this.singles.has(status)) throw new PostureError(`commands.${command}: ${status} is not one of the single points ${SINGLE_POINTS.join(', ')}`);
    }
  }

  get commonAddress(): number {
    return this.config.commonAddress ?? 1;
  }

  /** The ASDUs that answer a station interrogation, between its confirmation and termination. */
  interrogationResponses(): Buffer[] {
    const ca = this.commonAddress;
    const cause = COT.interrogatedByStation;
    return [
      encodeAsdu({ typeId: TYPE_IDS.M_SP_NA_1, sequence: true, cause, commonAddress: ca, objects: SINGLE_POINTS.map((ioa) => ({ ioa, element: Buffer.from([this.singles.get(ioa) ? 1 : 0]) })) }),
      encodeAsdu({ typeId: TYPE_IDS.M_ME_NC_1, cause, commonAddress: ca, objects: FLOATS.map(([ioa, v]) => ({ ioa, element: float(v) })) }),
      encodeAsdu({ typeId: TYPE_IDS.M_ME_NB_1, cause, commonAddress: ca, objects: SCALED.map(([ioa, v]) => ({ ioa, element: scaled(v) })) }),
    ];
  }
}

const normalise = (address: string | undefined) => (address ?? '').replace(/^::ffff:/, '');

/** One connection: the U-format state machine (stopped / started) and the ASDUs of a started link. */
class Iec104Connection {
  private buffer = Buffer.alloc(0);
  private started = false;
  private sendSeq = 0;
  private recvSeq = 0;

  constructor(private readonly socket: net.Socket, private readonly station: Station, private readonly allowed: boolean) {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const parsed = parseApdu(this.buffer);
      if (parsed.kind === 'incomplete') return;
      if (parsed.kind === 'invalid') return void this.socket.destroy(); // the stream cannot be resynchronised
      this.buffer = this.buffer.subarray(parsed.bytes);
      const { apdu } = parsed;
      if (apdu.format === 'U') this.onU(apdu.fn);
      else if (apdu.format === 'I') {
        // I-frames before STARTDT break the procedure (104, 5.3): the connection is closed.
        if (!this.started) return void this.socket.destroy();
        this.recvSeq = (apdu.sendSeq + 1) & 0x7fff;
        this.onAsdu(apdu.asdu);
      }
      if (this.socket.destroyed) return;
    }
  }

  private onU(fn: string): void {
    if (fn === 'testfrAct') return void this.socket.write(encodeU('testfrCon'));
    if (fn === 'startdtAct') {
      if (!this.allowed) return void this.socket.end(); // an unknown client: no data transfer, hang up
      this.started = true;
      return void this.socket.write(encodeU('startdtCon'));
    }
    if (fn === 'stopdtAct') {
      // Everything received is acknowledged before the confirmation (104, 5.3).
      this.socket.write(encodeS(this.recvSeq));
      this.started = false;
      return void this.socket.write(encodeU('stopdtCon'));
    }
  }

  private send(asdu: Buffer): void {
    this.socket.write(encodeI(this.sendSeq, this.recvSeq, asdu));
    this.sendSeq = (this.sendSeq + 1) & 0x7fff;
  }

  /** The received ASDU sent back with another cause (confirmation, termination, or a negative answer). */
  private mirror(a: Asdu, cause: number, negative = false, objects: InformationObject[] = a.objects): void {
    this.send(encodeAsdu({ ...a, cause, negative, commonAddress: this.station.commonAddress, objects }));
  }

  private onAsdu(bytes: Buffer): void {
    const a = parseAsdu(bytes);
    if (typeof a === 'string') return void this.socket.destroy();
    const station = this.station;
    if (a.commonAddress !== station.commonAddress && a.commonAddress !== BROADCAST_CA) return this.mirror(a, COT.unknownCommonAddress, true);
    if (a.typeId === TYPE_IDS.C_IC_NA_1) {
      if (a.cause !== COT.activation) return this.mirror(a, COT.unknownCause, true);
      if (a.objects[0]?.element[0] !== QOI_STATION) return this.mirror(a, COT.activationCon, true);
      this.mirror(a, COT.activationCon);
      for (const response of station.interrogationResponses()) this.send(response);
      return this.mirror(a, COT.activationTerm);
    }
    if (a.typeId === TYPE_IDS.C_SC_NA_1) return this.onSingleCommand(a);
    if (a.typeId === TYPE_IDS.C_CS_NA_1) return this.onClockSync(a);
    this.mirror(a, COT.unknownType, true);
  }

  private onSingleCommand(a: Asdu): void {
    const object = a.objects[0];
    const status = object ? this.station.commands.get(object.ioa) : undefined;
    if (a.cause !== COT.activation) return this.mirror(a, COT.unknownCause, true);
    if (status === undefined) return this.mirror(a, COT.unknownIoa, true);
    if (!this.station.config.control) return this.mirror(a, COT.activationCon, true);
    this.mirror(a, COT.activationCon);
    if ((object.element[0] & 0x80) !== 0) return; // select only: confirmed, nothing executed
    const on = (object.element[0] & 0x01) === 1;
    this.station.singles.set(status, on);
    // Return information caused by a remote command, then the termination (101, 7.4.2).
    this.send(encodeAsdu({ typeId: TYPE_IDS.M_SP_NA_1, cause: COT.returnRemote, commonAddress: this.station.commonAddress, objects: [{ ioa: status, element: Buffer.from([on ? 1 : 0]) }] }));
    this.mirror(a, COT.activationTerm);
  }

  private onClockSync(a: Asdu): void {
    const object = a.objects[0];
    if (a.cause !== COT.activation) return this.mirror(a, COT.unknownCause, true);
    if (!object || object.ioa !== 0) return this.mirror(a, COT.unknownIoa, true);
    const time = decodeCp56(object.element);
    if (!this.station.config.control || !time) return this.mirror(a, COT.activationCon, true);
    this.station.clockOffsetMs = time.getTime() - Date.now();
    this.mirror(a, COT.activationCon, false, [{ ioa: 0, element: encodeCp56(new Date(Date.now() + this.station.clockOffsetMs)) }]);
  }
}

/** Reads a PEM certificate; a relative path missing from the working directory is taken from the package. */
function readPem(file: string): string {
  const resolved = path.isAbsolute(file) || fs.existsSync(file) ? file : packagePath(file);
  return fs.readFileSync(resolved, 'utf8');
}

function secureServer(device: DeviceContext, config: Iec62351Posture, station: Station): tls.Server {
  const creds = serverCredentials(device, 'iec104-tls', { key: 'ec', ...config.certificate });
  const server = tls.createServer({
    key: creds.keyPem, cert: creds.certPem, ca: [creds.caPem, ...(config.trustedClientCertificates ?? []).map(readPem)],
    minVersion: config.minVersion ?? 'TLSv1.2', ...(config.ciphers ? { ciphers: config.ciphers } : {}), requestCert: true, rejectUnauthorized: true,
  }, (socket) => {
    socket.setTimeout(120_000, () => socket.destroy());
    new Iec104Connection(socket, station, true); // authenticated by its certificate
  });
  server.on('tlsClientError', () => undefined);
  return server;
}

export const iec104Service: ServiceModule<Iec104Posture> = {
  key: 'iec104',
  async start(config, device) {
    const station = new Station(config);
    const allowedClients = config.allowedClients ?? [];
    const isAllowed = (socket: net.Socket) => allowedClients === 'any' || allowedClients.includes(normalise(socket.remoteAddress));
    const secure = config.tls === null || config.tls?.enabled === false ? undefined : config.tls ?? {};
    const opened: Listener[] = [];
    try {
      opened.push(await listenTcp(net.createServer((socket) => {
        socket.setTimeout(120_000, () => socket.destroy());
        new Iec104Connection(socket, station, isAllowed(socket));
      }), device.host, device.portFor(config.port), device.connections.counter('iec104')));
      const endpoints: ServiceEndpoint[] = [{ protocol: 'iec104', host: device.host, port: opened[0].port }];
      if (secure) {
        opened.push(await listenTcp(secureServer(device, secure, station), device.host, device.portFor(secure.port), device.connections.counter('iec104-tls')));
        endpoints.push({ protocol: 'tls', host: device.host, port: opened[1].port, tls: true });
      }
      device.log(`iec104: ${endpoints.map((e) => `${e.protocol}:${e.port}`).join(', ')}; CA ${station.commonAddress}, plain port serves ${allowedClients === 'any' ? 'any client' : `[${allowedClients.join(', ')}]`}, control ${config.control ? 'on' : 'off'}`);
      return { endpoints, close: async () => { await Promise.allSettled(opened.map((l) => l.close())); } };
    } catch (err) {
      await Promise.allSettled(opened.map((l) => l.close()));
      throw err;
    }
  },
};
