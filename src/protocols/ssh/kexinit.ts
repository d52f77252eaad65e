import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { ProtocolViolation } from '../../sdk';
import { WireReader, nameList, packet, sshString, uint32 } from './wire';

/**
 * The unauthenticated start of an SSH connection, spoken directly over a socket: the identification
 * exchange (RFC 4253 §4.2) and the server's SSH_MSG_KEXINIT (§7.1), whose name-lists are the server's
 * algorithms in its order of preference. No library is involved, so every name the server sends is
 * seen, including ones no client library implements.
 */

export const MSG = { DISCONNECT: 1, IGNORE: 2, UNIMPLEMENTED: 3, DEBUG: 4, KEXINIT: 20 } as const;

/** Our identification: software version without spaces or '-' as RFC 4253 §4.2 requires. */
export const CLIENT_SOFTWARE = 'iacs_probe';

export interface Identification {
  /** The whole identification line without CR LF, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3". */
  raw: string;
  /** "2.0", "1.99" (SSH-1 and SSH-2) or "1.5" etc. (SSH-1 only). */
  protocol: string;
  software: string;
  comments?: string;
}

export interface KexInit {
  cookie: string;
  kex: string[];
  hostKey: string[];
  ciphersC2S: string[];
  ciphersS2C: string[];
  macsC2S: string[];
  macsS2C: string[];
  compressionC2S: string[];
  compressionS2C: string[];
  languagesC2S: string[];
  languagesS2C: string[];
  firstKexPacketFollows: boolean;
}

export interface ServerHello {
  identification: Identification;
  /** Text lines the server sent before its identification (RFC 4253 §4.2 allows them). */
  preBanner: string[];
  /** True when the server speaks SSH-1 only ("SSH-1.5-"): there is no KEXINIT to read. */
  ssh1Only: boolean;
  kexinit?: KexInit;
  /** The KEXINIT payload exactly as received (message number 20 first), for evidence. */
  kexinitPayload?: Buffer;
}

export interface HelloOptions {
  host: string;
  port: number;
  signal: AbortSignal;
  /** Software version we announce (default iacs_probe). */
  clientSoftware?: string;
  /** How long to wait for the identification once the peer has sent text that is not one (default 3 s). */
  preBannerGraceMs?: number;
}

const IDENT_RE = /^SSH-(\d+\.\d+)-([^ ]+)(?: (.*))?$/;
const MAX_LINE = 8192;
const MAX_PRE_BANNER_LINES = 32;
const MAX_PACKET = 256 * 1024;

export function parseIdentification(line: string): Identification | undefined {
  const m = IDENT_RE.exec(line);
  if (!m) return undefined;
  return { raw: line, protocol: m[1], software: m[2], ...(m[3] !== undefined ? { comments: m[3] } : {}) };
}

/** True for SSH-1 (with or without SSH-2 compatibility, "1.99"). */
export function speaksSsh1(protocol: string): boolean {
  return protocol.startsWith('1.');
}

export function parseKexInit(payload: Buffer): KexInit {
  const r = new WireReader(payload);
  if (r.byte() !== MSG.KEXINIT) throw new ProtocolViolation('not an SSH_MSG_KEXINIT');
  const cookie = r.bytes(16).toString('hex');
  const lists = Array.from({ length: 10 }, () => r.nameList());
  const firstKexPacketFollows = r.bool();
  r.uint32(); // reserved
  const [kex, hostKey, ciphersC2S, ciphersS2C, macsC2S, macsS2C, compressionC2S, compressionS2C, languagesC2S, languagesS2C] = lists;
  return {
    cookie, kex, hostKey, ciphersC2S, ciphersS2C, macsC2S, macsS2C, compressionC2S, compressionS2C,
    languagesC2S, languagesS2C, firstKexPacketFollows,
  };
}

export type KexInitLists = Omit<KexInit, 'cookie' | 'firstKexPacketFollows'>;

/** Encodes an SSH_MSG_KEXINIT payload (used for our own KEXINIT and by test peers). */
export function encodeKexInit(lists: KexInitLists, cookie: Buffer = randomBytes(16)): Buffer {
  return Buffer.concat([
    Buffer.from([MSG.KEXINIT]), cookie,
    ...[lists.kex, lists.hostKey, lists.ciphersC2S, lists.ciphersS2C, lists.macsC2S, lists.macsS2C,
      lists.compressionC2S, lists.compressionS2C, lists.languagesC2S, lists.languagesS2C].map(nameList),
    Buffer.from([0]), uint32(0),
  ]);
}

/** What we offer: broad, so a server that waits for the client's KEXINIT still answers (also the fuzzer's KEXINIT template). */
export const CLIENT_OFFER: KexInitLists = {
  kex: ['curve25519-sha256', 'ecdh-sha2-nistp256', 'diffie-hellman-group-exchange-sha256', 'diffie-hellman-group14-sha256',
    'diffie-hellman-group16-sha512', 'diffie-hellman-group14-sha1', 'diffie-hellman-group1-sha1', 'ext-info-c'],
  hostKey: ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-dss'],
  ciphersC2S: ['aes128-ctr', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-cbc', '3des-cbc'],
  ciphersS2C: ['aes128-ctr', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-cbc', '3des-cbc'],
  macsC2S: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha1'],
  macsS2C: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha1'],
  compressionC2S: ['none'], compressionS2C: ['none'], languagesC2S: [], languagesS2C: [],
};

function disconnectPacket(): Buffer {
  // SSH_MSG_DISCONNECT, reason 11 (BY_APPLICATION), description, language tag
  return packet(Buffer.concat([Buffer.from([MSG.DISCONNECT]), uint32(11), sshString('probe finished'), sshString('')]));
}

/** Printable text allowed in lines before the identification (tab, CR and printable ASCII/UTF-8). */
function isText(line: Buffer): boolean {
  return line.every((b) => b === 0x09 || b === 0x0d || b >= 0x20 && b !== 0x7f);
}

function quote(data: Buffer, max = 80): string {
  return JSON.stringify(data.subarray(0, max).toString('latin1'));
}

/**
 * Connects, exchanges identifications and reads the server's KEXINIT, then disconnects politely.
 * Rejects with ProtocolViolation when the peer is not an SSH server, with the Node socket error when
 * the connection fails, and with the signal's reason when it aborts. The socket is always destroyed.
 */
export async function exchangeHello(opts: HelloOptions): Promise<ServerHello> {
  opts.signal.throwIfAborted();
  const socket = net.connect({ host: opts.host, port: opts.port });
  let onAbort: (() => void) | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<ServerHello>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      let identification: Identification | undefined;
      const preBanner: string[] = [];
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const done = (hello: ServerHello) => {
        if (settled) return;
        settled = true;
        if (!socket.destroyed) socket.end(disconnectPacket());
        resolve(hello);
      };
      onAbort = () => fail(opts.signal.reason);
      opts.signal.addEventListener('abort', onAbort, { once: true });

      socket.on('connect', () => {
        socket.write(`SSH-2.0-${opts.clientSoftware ?? CLIENT_SOFTWARE}\r\n`);
      });
      socket.on('error', fail);
      socket.on('close', () => {
        const where = identification ? 'before its KEXINIT' : 'before sending an SSH identification';
        const sent = preBanner.length ? ` (it sent ${JSON.stringify(preBanner.join(' | ').slice(0, 120))})` : '';
        fail(new ProtocolViolation(`the server closed the connection ${where}${sent}`));
      });
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        try {
          while (!settled && !identification) {
            const nl = buf.indexOf(0x0a);
            const line = nl === -1 ? buf : buf.subarray(0, nl);
            if (!isText(line)) throw new ProtocolViolation(`not an SSH server: it sent binary data ${quote(line)}`);
            if (nl === -1) {
              if (buf.length > MAX_LINE) throw new ProtocolViolation(`not an SSH server: a ${buf.length}-byte line without end`);
              return;
            }
            buf = buf.subarray(nl + 1);
            const text = line.toString('utf8').replace(/\r$/, '');
            if (text.startsWith('SSH-')) {
              identification = parseIdentification(text);
              if (!identification) throw new ProtocolViolation(`malformed SSH identification ${JSON.stringify(text.slice(0, 120))}`);
              clearTimeout(graceTimer);
              if (speaksSsh1(identification.protocol) && identification.protocol !== '1.99') {
                return done({ identification, preBanner, ssh1Only: true });
              }
              socket.write(packet(encodeKexInit(CLIENT_OFFER)));
            } else {
              preBanner.push(text);
              if (preBanner.length > MAX_PRE_BANNER_LINES) {
                throw new ProtocolViolation(`not an SSH server: ${preBanner.length} lines without an identification`);
              }
              // Real SSH servers rarely send text first; a service that greets with text and then waits
              // (SMTP, FTP) is told apart from a slow SSH server by this grace period.
              graceTimer ??= setTimeout(() => {
                fail(new ProtocolViolation(`not an SSH server: it sent ${JSON.stringify(preBanner.join(' | ').slice(0, 120))} and no SSH identification`));
              }, opts.preBannerGraceMs ?? 3000);
            }
          }
          while (!settled && identification && buf.length >= 4) {
            const length = buf.readUInt32BE(0);
            if (length < 5 || length > MAX_PACKET) {
              throw new ProtocolViolation(`invalid SSH packet length ${length} after the identification (data ${quote(buf, 32)})`);
            }
            if (buf.length < 4 + length) return;
            const padding = buf[4];
            if (padding < 4 || padding >= length) throw new ProtocolViolation(`invalid SSH padding length ${padding} in a ${length}-byte packet`);
            const payload = Buffer.from(buf.subarray(5, 4 + length - padding));
            buf = buf.subarray(4 + length);
            const type = payload[0];
            if (type === MSG.IGNORE || type === MSG.DEBUG) continue;
            if (type === MSG.DISCONNECT) {
              const r = new WireReader(payload, 1);
              const reason = r.uint32();
              throw new ProtocolViolation(`the server disconnected (reason ${reason}): ${r.string().toString('utf8').slice(0, 200)}`);
            }
            if (type !== MSG.KEXINIT) throw new ProtocolViolation(`expected SSH_MSG_KEXINIT, got message ${type}`);
            let kexinit: KexInit;
            try {
              kexinit = parseKexInit(payload);
            } catch (err) {
              throw new ProtocolViolation(`malformed SSH_MSG_KEXINIT: ${(err as Error).message}`);
            }
            return done({ identification, preBanner, ssh1Only: false, kexinit, kexinitPayload: payload });
          }
        } catch (err) {
          fail(err);
        }
      });
    });
  } finally {
    clearTimeout(graceTimer);
    if (onAbort) opts.signal.removeEventListener('abort', onAbort);
    // end() above flushed the DISCONNECT; destroy after a tick so it is written, and always destroy.
    await new Promise<void>((r) => setImmediate(r));
    socket.destroy();
  }
}
