import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import {
  FUNCTION, IIN, LINK, QUALIFIER, Reassembler, attributeObject, authErrorObject, challengeObject, encodeLinkFrame, encodeResponse,
  header, isPrimary, keyStatusObject, linkFunction, parseLinkFrame, parseObjects, parseRequest, segment, type AppRequestParsed, type ObjectBlock,
} from '../../protocols/dnp3';
import { listenTcp, type Listener } from '../net';
import { serverCredentials, type CertificatePosture } from '../pki';
import { PostureError } from '../errors';
import type { DeviceContext, ServiceEndpoint, ServiceModule, ServicePosture } from '../types';

export interface Dnp3TlsPosture {
  /** DNP3 over TLS port (IEEE 1815-2012 / IEC 62351-3; 19999 on a real device); 0 or absent: OS-chosen. */
  port?: number;
  minVersion?: tls.SecureVersion;
  ciphers?: string;
  certificate?: CertificatePosture;
  /** Mutual authentication as IEC 62351-3 asks: a client certificate from the device CA (default true). */
  requireClientCertificate?: boolean;
}

/**
 * Emulated DNP3 outstation (IEEE 1815-2012) on TCP: link layer with CRCs, transport, application layer with
 * class and device-attribute reads, CROB select/operate/direct operate, cold/warm restart, the IIN restart
 * bit, Secure Authentication v5 (challenges of critical requests, session key status) and DNP3 over TLS.
 * Every knob defaults to the secure choice.
 */
export interface Dnp3Posture extends ServicePosture {
  /** Outstation link address (default 1024). */
  address?: number;
  /** Plain DNP3 on `port` (default true); false leaves only DNP3 over TLS. */
  plain?: boolean;
  /** Secure Authentication v5: critical requests challenged with g120v1, g120v4 answered with g120v5 (default true). */
  sav5?: boolean;
  /** With SAv5: reads of class and point data are critical too (default true); device attributes stay readable. */
  challengeReads?: boolean;
  /** Device attributes (group 0) served (default true). */
  attributes?: boolean;
  binaryInputs?: number;
  binaryOutputs?: number;
  analogInputs?: number;
  /** How long the outstation is silent after a restart it accepted (default 500 ms). */
  restartDelayMs?: number;
  /** DNP3 over TLS on a second port. Default on; null or `enabled: false` switches it off. */
  tls?: (Dnp3TlsPosture & { enabled?: boolean }) | null;
}

const BROADCAST_FROM = 0xfffd;
const SELECT_TIMEOUT_MS = 5000;
const STATUS = { success: 0, noSelect: 2, formatError: 3, notSupported: 4 } as const;
/** Requests SAv5 treats as critical by default (IEEE 1815-2012 table 7-1): writes, controls, restarts, unsolicited. */
const CRITICAL = new Set<number>([
  FUNCTION.write, FUNCTION.select, FUNCTION.operate, FUNCTION.directOperate, FUNCTION.coldRestart, FUNCTION.warmRestart,
  FUNCTION.enableUnsolicited, FUNCTION.disableUnsolicited,
]);

/** The outstation's points and indications, shared by every connection (plain and TLS). */
class Outstation {
  readonly outputs: boolean[];
  readonly inputs: boolean[];
  readonly analogs: number[];
  restartIin = true;
  silentUntil = 0;
  challengeSequence = 0;
  operations = 0;
  restarts = 0;
  readonly connections = new Set<Duplex>();

  constructor(readonly config: Dnp3Posture, readonly device: DeviceContext) {
    const count = (n: number | undefined, d: number, what: string) => {
      const v = n ?? d;
      if (!Number.isInteger(v) || v < 0 || v > 256) throw new PostureError(`${what}: an integer 0..256`);
      return v;
    };
    this.inputs = Array.from({ length: count(config.binaryInputs, 4, 'binaryInputs') }, (_, i) => i % 2 === 0);
    this.outputs = Array.from({ length: count(config.binaryOutputs, 2, 'binaryOutputs') }, () => false);
    this.analogs = Array.from({ length: count(config.analogInputs, 2, 'analogInputs') }, (_, i) => 100 * (i + 1));
  }

  get address(): number {
    return this.config.address ?? 1024;
  }

  get sav5(): boolean {
    return this.config.sav5 !== false;
  }

  iin(extra = 0): number {
    return (this.restartIin ? IIN['device-restart'] : 0) | extra;
  }

  /** Class 0: binary inputs with flags (g1v2), binary output status (g10v2), 32-bit analog inputs with flag (g30v1). */
  staticData(): Buffer {
    const parts: Buffer[] = [];
    const range = (group: number, variation: number, n: number) => header(group, variation, QUALIFIER.startStop8, [0, n - 1]);
    if (this.inputs.length) parts.push(range(1, 2, this.inputs.length), Buffer.from(this.inputs.map((v) => 0x01 | (v ? 0x80 : 0))));
    if (this.outputs.length) parts.push(range(10, 2, this.outputs.length), Buffer.from(this.outputs.map((v) => 0x01 | (v ? 0x80 : 0))));
    if (this.analogs.length) {
      parts.push(range(30, 1, this.analogs.length));
      for (const a of this.analogs) {
        const b = Buffer.alloc(5);
        b[0] = 0x01;
        b.writeInt32LE(a, 1);
        parts.push(b);
      }
    }
    return Buffer.concat(parts);
  }

  attributes(): Buffer {
    const id = this.device.identity;
    const list: [number, string | number][] = [
      [252, id.vendor], [250, id.model], [242, id.firmware], [243, 'rev A'], [248, id.serial], [247, `${id.model} outstation`], [240, 2048], [241, 2048],
    ];
    return Buffer.concat(list.flatMap(([variation, value]) => [header(0, variation, QUALIFIER.startStop8, [0, 0]), attributeObject(value)]));
  }

  /** A restart the outstation accepted: every connection drops and it stays silent for a while. */
  restart(): void {
    this.restarts++;
    this.restartIin = true;
    this.silentUntil = Date.now() + (this.config.restartDelayMs ?? 500);
    setTimeout(() => {
      for (const c of this.connections) c.destroy();
    }, 50).unref();
  }
}

/** One master's connection: link frames in, application fragments answered. */
class OutstationConnection {
  private buffer = Buffer.alloc(0);
  private readonly reassembler = new Reassembler();
  private transportSeq = 0;
  private selected: { seq: number; objects: string; at: number } | undefined;

  constructor(private readonly socket: Duplex, private readonly os: Outstation) {
    os.connections.add(socket);
    socket.on('close', () => os.connections.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    if (Date.now() < this.os.silentUntil) return;
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const parsed = parseLinkFrame(this.buffer);
      if (parsed.kind === 'incomplete') return;
      if (parsed.kind === 'invalid') return void this.socket.destroy(); // a TCP stream that lost framing is not resynchronised
      this.buffer = this.buffer.subarray(parsed.bytes);
      const { frame } = parsed;
      if (!(frame.control & LINK.dir) || !isPrimary(frame.control)) continue;
      if (frame.destination !== this.os.address && frame.destination < BROADCAST_FROM) continue;
      const broadcast = frame.destination >= BROADCAST_FROM;
      const fn = linkFunction(frame.control);
      const link = (control: number) => this.socket.write(encodeLinkFrame({ control, destination: frame.source, source: this.os.address, userData: Buffer.alloc(0) }));
      if (fn === LINK.requestLinkStatus && !broadcast) link(LINK.linkStatus);
      else if ((fn === LINK.resetLinkStates || fn === LINK.testLinkStates) && !broadcast) link(LINK.ack);
      else if (fn === LINK.confirmedUserData || fn === LINK.unconfirmedUserData) {
        if (fn === LINK.confirmedUserData && !broadcast) link(LINK.ack);
        const fragment = this.reassembler.push(frame.userData);
        if (fragment && !broadcast) this.onRequest(fragment, frame.source);
      } else if (!broadcast) link(LINK.notSupported);
    }
  }

  private send(master: number, fragment: Buffer): void {
    for (const s of segment(fragment, this.transportSeq)) {
      this.transportSeq = (this.transportSeq + 1) & 0x3f;
      this.socket.write(encodeLinkFrame({ control: LINK.prm | LINK.unconfirmedUserData, destination: master, source: this.os.address, userData: s }));
    }
  }

  private onRequest(fragment: Buffer, master: number): void {
    const request = parseRequest(fragment);
    if (typeof request === 'string') return;
    const respond = (objects: Buffer = Buffer.alloc(0), iin = 0, fn: number = FUNCTION.response) =>
      this.send(master, encodeResponse({ seq: request.seq, fn, iin: this.os.iin(iin), objects }));
    if (request.fn === FUNCTION.confirm || request.fn === FUNCTION.directOperateNoAck) return;
    if (request.fn === FUNCTION.authRequest) return this.onAuthRequest(request, respond);
    if (this.os.sav5 && this.isCritical(request)) {
      return respond(challengeObject({
        sequence: ++this.os.challengeSequence, user: 1, macAlgorithm: 4, reason: 1, challengeData: randomBytes(16),
      }), 0, FUNCTION.authResponse);
    }
    switch (request.fn) {
      case FUNCTION.read: return this.onRead(request, respond);
      case FUNCTION.write: return this.onWrite(request, respond);
      case FUNCTION.select:
      case FUNCTION.operate:
      case FUNCTION.directOperate: return this.onControl(request, respond);
      case FUNCTION.coldRestart:
      case FUNCTION.warmRestart: {
        const delay = Buffer.alloc(2);
        delay.writeUInt16LE(this.os.config.restartDelayMs ?? 500, 0);
        respond(Buffer.concat([header(52, 2, QUALIFIER.count8, [1]), delay]));
        return this.os.restart();
      }
      case FUNCTION.enableUnsolicited:
      case FUNCTION.disableUnsolicited: return respond();
      default: return respond(undefined, IIN['no-func-code-support']);
    }
  }

  private isCritical(request: AppRequestParsed): boolean {
    if (CRITICAL.has(request.fn)) return true;
    if (request.fn !== FUNCTION.read || this.os.config.challengeReads === false) return false;
    // Reads of class or point data are critical by this device's policy; device attributes are not.
    return parseObjects(request.objects, true).blocks.some((b) => b.group !== 0);
  }

  private onAuthRequest(request: AppRequestParsed, respond: (objects?: Buffer, iin?: number, fn?: number) => void): void {
    if (!this.os.sav5) return respond(undefined, IIN['no-func-code-support']);
    const blocks = parseObjects(request.objects).blocks;
    const keyStatus = blocks.find((b) => b.group === 120 && b.variation === 4 && b.values.length > 0);
    if (keyStatus) {
      return respond(keyStatusObject({
        sequence: 0, user: keyStatus.values[0].readUInt16LE(0), keyWrapAlgorithm: 2, keyStatus: 2, macAlgorithm: 4, challengeData: randomBytes(16), mac: Buffer.alloc(0),
      }), 0, FUNCTION.authResponse);
    }
    if (blocks.some((b) => b.group === 120)) {
      // No session keys were ever set: any reply or key change fails authentication.
      return respond(authErrorObject({ sequence: this.os.challengeSequence, user: 1, association: 0, code: 1, timeMs: Date.now() }), 0, FUNCTION.authResponse);
    }
    respond(undefined, IIN['object-unknown']);
  }

  private onRead(request: AppRequestParsed, respond: (objects?: Buffer, iin?: number) => void): void {
    const parsed = parseObjects(request.objects, true);
    const parts: Buffer[] = [];
    let iin = parsed.stopped ? IIN['parameter-error'] : 0;
    for (const b of parsed.blocks) {
      if (b.group === 60 && b.variation === 1) parts.push(this.os.staticData());
      else if (b.group === 60 && b.variation >= 2 && b.variation <= 4) continue; // no events are kept
      else if (b.group === 0 && b.variation === 254 && this.os.config.attributes !== false) parts.push(this.os.attributes());
      else iin |= IIN['object-unknown'];
    }
    respond(Buffer.concat(parts), iin);
  }

  private onWrite(request: AppRequestParsed, respond: (objects?: Buffer, iin?: number) => void): void {
    const { blocks, stopped } = parseObjects(request.objects);
    const restartBit = (b: ObjectBlock) => b.group === 80 && b.variation === 1 && b.indexes.length === 1 && b.indexes[0] === 7 && b.values[0][0] === 0;
    if (stopped || blocks.length === 0 || !blocks.every(restartBit)) return respond(undefined, IIN['object-unknown']);
    this.os.restartIin = false;
    respond();
  }

  /** Select, operate and direct operate of g12v1; the answer echoes the objects with each one's status. */
  private onControl(request: AppRequestParsed, respond: (objects?: Buffer, iin?: number) => void): void {
    const { blocks, stopped } = parseObjects(request.objects);
    const crob = blocks.length === 1 && blocks[0].group === 12 && blocks[0].variation === 1 && blocks[0].qualifier !== QUALIFIER.all ? blocks[0] : undefined;
    if (stopped || !crob) return respond(undefined, IIN['object-unknown']);
    const key = request.objects.toString('hex');
    let status: number = STATUS.success;
    if (request.fn === FUNCTION.operate) {
      const s = this.selected;
      const matches = s && s.objects === key && s.seq === ((request.seq + 15) & 0x0f) && Date.now() - s.at < SELECT_TIMEOUT_MS;
      if (!matches) status = STATUS.noSelect;
    }
    this.selected = request.fn === FUNCTION.select ? { seq: request.seq, objects: key, at: Date.now() } : undefined;
    const echoed = Buffer.from(request.objects);
    // g12v1 header with an 8- or 16-bit count, then per object an index prefix of the same size and 11 octets.
    const width = crob.qualifier === QUALIFIER.index16count16 ? 2 : crob.qualifier === QUALIFIER.index8count8 ? 1 : 0;
    if (width === 0) return respond(undefined, IIN['parameter-error']);
    let at = 3 + width;
    for (let i = 0; i < crob.values.length; i++, at += width + 11) {
      const index = crob.indexes[i];
      const code = crob.values[i][0];
      let s: number = status;
      if (s === STATUS.success && index >= this.os.outputs.length) s = STATUS.notSupported;
      if (s === STATUS.success && request.fn !== FUNCTION.select) {
        this.os.operations++;
        if ((code & 0x0f) === 0x03) this.os.outputs[index] = true;
        if ((code & 0x0f) === 0x04) this.os.outputs[index] = false;
        if ((code & 0xc0) === 0x40) this.os.outputs[index] = true;
        if ((code & 0xc0) === 0x80) this.os.outputs[index] = false;
      }
      echoed[at + width + 10] = s;
    }
    respond(echoed);
  }
}

export const dnp3Service: ServiceModule<Dnp3Posture> = {
  key: 'dnp3',
  async start(config, device) {
    const outstation = new Outstation(config, device);
    const secure = config.tls === null || config.tls?.enabled === false ? undefined : config.tls ?? {};
    if (config.plain === false && !secure) throw new PostureError('plain: false needs the tls section: the outstation would have no port');
    const listeners: Listener[] = [];
    const endpoints: ServiceEndpoint[] = [];
    const accept = (socket: Duplex) => {
      if (socket instanceof net.Socket) socket.setTimeout(120_000, () => socket.destroy());
      new OutstationConnection(socket, outstation);
    };
    try {
      if (config.plain !== false) {
        const plain = await listenTcp(net.createServer(accept), device.host, device.portFor(config.port), device.connections.counter('dnp3'));
        listeners.push(plain);
        endpoints.push({ protocol: 'dnp3', host: device.host, port: plain.port });
      }
      if (secure) {
        const server = tlsServer(device, secure, accept);
        const listener = await listenTcp(server, device.host, device.portFor(secure.port), device.connections.counter('dnp3-tls'));
        listeners.push(listener);
        endpoints.push({ protocol: 'tls', host: device.host, port: listener.port, tls: true });
      }
    } catch (err) {
      await Promise.allSettled(listeners.map((l) => l.close()));
      throw err;
    }
    device.log(`dnp3: outstation ${outstation.address} on ${endpoints.map((e) => `${e.protocol}:${e.port}`).join(', ')}, SAv5 ${outstation.sav5 ? 'on' : 'off'}`);
    return { endpoints, close: async () => { await Promise.allSettled(listeners.map((l) => l.close())); } };
  },
};

function tlsServer(device: DeviceContext, secure: Dnp3TlsPosture, accept: (socket: Duplex) => void): tls.Server {
  const creds = serverCredentials(device, 'dnp3-tls', { key: 'ec', ...secure.certificate });
  const requireCert = secure.requireClientCertificate !== false;
  const server = tls.createServer({
    key: creds.keyPem, cert: creds.certPem, ca: [creds.caPem], minVersion: secure.minVersion ?? 'TLSv1.2',
    ...(secure.ciphers ? { ciphers: secure.ciphers } : {}), requestCert: requireCert, rejectUnauthorized: requireCert,
  }, (socket) => {
    socket.setTimeout(120_000, () => socket.destroy());
    accept(socket);
  });
  server.on('tlsClientError', () => undefined);
  return server;
}
