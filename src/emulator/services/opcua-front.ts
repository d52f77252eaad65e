import * as net from 'node:net';

/**
 * The hardened device's strict UA TCP framing (posture `opcua.strictFraming`): a TCP front on the posture's
 * port that checks every chunk a client sends (OPC 10000-6 §7.1.2) before node-opcua sees it, forwards only
 * whole valid chunks, and answers a violation with an ERR message and a close (§7.1.5). Only headers are
 * read, plus the plain asymmetric header and request type id of an OpenSecureChannel with SecurityPolicy
 * None: signed or encrypted chunks stay opaque, so secure channels pass unchanged.
 */

/** Status codes of the ERR messages (Part 6 §7.1.5, Part 4 §7.38). */
export const BAD_TCP_MESSAGE_TYPE_INVALID = 0x807e0000;
export const BAD_TCP_MESSAGE_TOO_LARGE = 0x80800000;
export const BAD_DECODING_ERROR = 0x80070000;

export interface FramingViolation { status: number; reason: string }

const HEADER_SIZE = 8;
/** Hello: header, five UInt32, the EndpointUrl (at most 4096 bytes, §7.1.2.3). */
const HELLO_MIN_SIZE = HEADER_SIZE + 20 + 4;
const MAX_ENDPOINT_URL = 4096;
/** The chunk limit until the server's Acknowledge names its ReceiveBufferSize. */
const DEFAULT_MAX_CHUNK = 65_535;
const POLICY_NONE = 'http://opcfoundation.org/UA/SecurityPolicy#None';
/** OpenSecureChannelRequest_Encoding_DefaultBinary. */
const OPN_REQUEST_TYPE_ID = 446;

const CHUNK_TYPES: Record<string, string> = { HEL: 'F', CLO: 'F', OPN: 'FCA', MSG: 'FCA' };

/** How long the server may take to answer what was forwarded before a refusal. */
const REFUSAL_GRACE_MS = 1000;

const violation = (status: number, reason: string): FramingViolation => ({ status, reason });

/** Bounds-checked reads of a chunk body; a read past the end throws (a decoding error). */
class Reader {
  constructor(private readonly buf: Buffer, public pos: number) {}
  private need(n: number): number {
    if (this.pos + n > this.buf.length) throw new Error(`field at byte ${this.pos} runs past the chunk end (${this.buf.length})`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8 = () => this.buf.readUInt8(this.need(1));
  u16 = () => this.buf.readUInt16LE(this.need(2));
  u32 = () => this.buf.readUInt32LE(this.need(4));
  skip = (n: number) => void this.need(n);
  /** A String or ByteString: Int32 length (-1 null) and the bytes. */
  bytes(): Buffer | null {
    const length = this.buf.readInt32LE(this.need(4));
    if (length < -1) throw new Error(`negative length ${length} at byte ${this.pos - 4}`);
    return length === -1 ? null : this.buf.subarray(this.need(length), this.pos);
  }
}

/** The OpenSecureChannel's asymmetric header and, when it is plain (policy None), its request type id. */
function checkOpenSecureChannel(chunk: Buffer): FramingViolation | undefined {
  const r = new Reader(chunk, HEADER_SIZE);
  try {
    r.skip(4); // SecureChannelId
    const policy = r.bytes()?.toString('utf8');
    r.bytes(); // SenderCertificate
    r.bytes(); // ReceiverCertificateThumbprint
    if (policy !== POLICY_NONE) return undefined; // the rest is encrypted
    r.skip(8); // SequenceNumber, RequestId
    const encoding = r.u8();
    const [namespace, id] = encoding === 0x01 ? [r.u8(), r.u16()] : encoding === 0x02 ? [r.u16(), r.u32()] : [-1, -1];
    if (namespace !== 0 || id !== OPN_REQUEST_TYPE_ID) {
      return violation(BAD_DECODING_ERROR, `OpenSecureChannel request type id is not i=${OPN_REQUEST_TYPE_ID} (NodeId encoding 0x${encoding.toString(16).padStart(2, '0')})`);
    }
    return undefined;
  } catch (err) {
    return violation(BAD_DECODING_ERROR, `OpenSecureChannel: ${(err as Error).message}`);
  }
}

function checkHello(chunk: Buffer): FramingViolation | undefined {
  const length = chunk.readInt32LE(HELLO_MIN_SIZE - 4);
  if (length > MAX_ENDPOINT_URL || length < -1 || HELLO_MIN_SIZE + Math.max(length, 0) > chunk.length) {
    return violation(BAD_DECODING_ERROR, `Hello EndpointUrl length ${length} does not fit the message (${chunk.length} bytes, at most ${MAX_ENDPOINT_URL})`);
  }
  return undefined;
}

/**
 * The client side of one connection: takes the bytes as they arrive, hands back the whole chunks that pass,
 * or the first violation (after which the connection is to be closed).
 */
export class ClientChunkReader {
  private pending: Buffer = Buffer.alloc(0);
  private helloSeen = false;
  private openInProgress = false;
  private maxChunk = DEFAULT_MAX_CHUNK;

  /** The server's Acknowledge (its first message) names the largest chunk it accepts. */
  serverAcknowledged(receiveBufferSize: number): void {
    if (receiveBufferSize >= 8192) this.maxChunk = receiveBufferSize;
  }

  push(data: Buffer): { chunks: Buffer[]; violation?: FramingViolation } {
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    const chunks: Buffer[] = [];
    while (this.pending.length >= 4) {
      const problem = this.checkHeader();
      if (problem) return { chunks, violation: problem };
      if (this.pending.length < HEADER_SIZE) break;
      const size = this.pending.readUInt32LE(4);
      if (this.pending.length < size) break;
      const chunk = this.pending.subarray(0, size);
      const bad = this.checkChunk(chunk);
      if (bad) return { chunks, violation: bad };
      chunks.push(chunk);
      this.pending = this.pending.subarray(size);
    }
    return { chunks };
  }

  /** Message type for the state, chunk type for the message type, size within bounds. */
  private checkHeader(): FramingViolation | undefined {
    const type = this.pending.subarray(0, 3).toString('latin1');
    const allowed = this.helloSeen ? ['OPN', 'MSG', 'CLO'] : ['HEL'];
    if (!allowed.includes(type)) {
      return violation(BAD_TCP_MESSAGE_TYPE_INVALID, `message type ${JSON.stringify(type)} where ${allowed.join('/')} is expected`);
    }
    const chunkType = String.fromCharCode(this.pending[3]);
    if (!CHUNK_TYPES[type].includes(chunkType)) {
      return violation(BAD_TCP_MESSAGE_TYPE_INVALID, `chunk type ${JSON.stringify(chunkType)} is not valid for ${type}`);
    }
    if (this.pending.length < HEADER_SIZE) return undefined;
    const size = this.pending.readUInt32LE(4);
    const [min, max] = type === 'HEL' ? [HELLO_MIN_SIZE, HELLO_MIN_SIZE + MAX_ENDPOINT_URL] : [HEADER_SIZE + 4, this.maxChunk];
    if (size > max) return violation(BAD_TCP_MESSAGE_TOO_LARGE, `${type} chunk of ${size} bytes exceeds ${max}`);
    if (size < min) return violation(BAD_DECODING_ERROR, `${type} chunk of ${size} bytes is shorter than its minimum ${min}`);
    return undefined;
  }

  private checkChunk(chunk: Buffer): FramingViolation | undefined {
    const type = chunk.subarray(0, 3).toString('latin1');
    if (type === 'HEL') {
      this.helloSeen = true;
      return checkHello(chunk);
    }
    if (type !== 'OPN') return undefined;
    // The type id is in the first chunk of a message only.
    const first = !this.openInProgress;
    this.openInProgress = chunk[3] === 0x43; // 'C': more chunks follow
    return first ? checkOpenSecureChannel(chunk) : undefined;
  }
}

/** An ERR message: Error (StatusCode), Reason (String). */
export function errorMessage({ status, reason }: FramingViolation): Buffer {
  const text = Buffer.from(reason, 'utf8');
  const body = Buffer.alloc(8);
  body.writeUInt32LE(status >>> 0, 0);
  body.writeInt32LE(text.length, 4);
  const header = Buffer.from('ERRF\0\0\0\0', 'latin1');
  header.writeUInt32LE(HEADER_SIZE + body.length + text.length, 4);
  return Buffer.concat([header, body, text]);
}

export interface StrictFront {
  readonly port: number;
  /** The client address behind the front's connection from this local port (what node-opcua sees as remote). */
  sourceOf(upstreamLocalPort: number): string | undefined;
  close(): Promise<void>;
}

/**
 * Listens on `listen` and relays each connection to `upstream` (node-opcua), client chunks through a
 * ClientChunkReader. `log` receives each refusal.
 */
export function startStrictFront(listen: { host: string; port: number }, upstream: { host: string; port: number }, log: (m: string) => void): Promise<StrictFront> {
  const sources = new Map<number, string>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    const up = net.connect(upstream);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    relay(client, up, sources, log);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as net.AddressInfo).port,
        sourceOf: (port) => sources.get(port),
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

function relay(client: net.Socket, up: net.Socket, sources: Map<number, string>, log: (m: string) => void): void {
  const reader = new ClientChunkReader();
  let acknowledged = false;
  let refusal: FramingViolation | undefined;
  let localPort: number | undefined;
  up.once('connect', () => {
    localPort = up.localPort;
    if (localPort !== undefined) sources.set(localPort, client.remoteAddress ?? '');
    client.resume();
  });
  client.on('data', (data: Buffer) => {
    const { chunks, violation: bad } = reader.push(data);
    for (const chunk of chunks) up.write(chunk);
    if (!bad) return;
    log(`opcua: refused a frame from ${client.remoteAddress ?? '?'}: ${bad.reason}`);
    refusal = bad;
    client.removeAllListeners('data');
    client.pause();
    // The server's answers to the chunks already forwarded (an Acknowledge) go out before the ERR.
    up.end();
    setTimeout(() => up.destroy(), REFUSAL_GRACE_MS).unref();
  });
  up.on('data', (data: Buffer) => {
    // The Acknowledge is the server's first message: 'ACKF', size, ProtocolVersion, ReceiveBufferSize, ...
    if (!acknowledged && data.length >= 16 && data.subarray(0, 3).toString('latin1') === 'ACK') reader.serverAcknowledged(data.readUInt32LE(12));
    acknowledged = true;
    if (!client.destroyed) client.write(data);
  });
  client.on('end', () => up.end());
  up.on('end', () => { if (!refusal) client.end(); });
  client.on('error', () => up.destroy());
  up.on('error', () => client.destroy());
  client.on('close', () => up.destroy());
  up.on('close', () => {
    if (localPort !== undefined) sources.delete(localPort);
    if (client.destroyed) return;
    const done = () => client.destroy();
    if (refusal) client.end(errorMessage(refusal), done);
    else client.end(done);
  });
}
