import * as dns from 'node:dns/promises';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { ProtocolViolation, TargetTimeout } from '../sdk';

/**
 * Read-only looks at cleartext management services: what a telnet or FTP server says before anyone
 * logs in. Nothing here ever sends a user name or a password.
 */

export interface ReadOptions {
  /** Connect within this time. */
  connectTimeoutMs: number;
  /** Stop reading after this much silence (the server has said what it says before login). */
  quietMs: number;
  /** Hard limit on bytes read. */
  maxBytes?: number;
  signal: AbortSignal;
}

const IAC = 0xff;
const WILL = 251;
const WONT = 252;
const DO = 253;
const DONT = 254;
const SB = 250;
const SE = 240;
const OPTION_NAMES: Record<number, string> = {
  0: 'binary', 1: 'echo', 3: 'suppress-go-ahead', 5: 'status', 24: 'terminal-type', 31: 'window-size',
  32: 'terminal-speed', 33: 'remote-flow-control', 34: 'linemode', 35: 'x-display', 36: 'environ', 39: 'new-environ',
};

export interface TelnetGreeting {
  /** Text the server sent, telnet commands removed. */
  text: string;
  /** How the bytes were decoded: UTF-8 when they are valid UTF-8, else Latin-1 (older consoles). */
  encoding: 'utf-8' | 'latin1';
  /** Options the server asked about ("DO terminal-type", "WILL echo", ...), in order. */
  negotiation: string[];
  bytes: number;
}

export interface TelnetReadOptions extends ReadOptions {
  /**
   * Says whether the text so far ends in something the caller recognises (a prompt). Until it does, the
   * longer `promptWaitMs` silence is tolerated: slow devices print a banner, pause, then the prompt.
   */
  endsInPrompt?: (text: string) => boolean;
  /** Silence tolerated while `endsInPrompt` is false (also before the first byte). Default: quietMs. */
  promptWaitMs?: number;
}

/** Telnet text as a terminal would decode it: UTF-8 if the bytes are valid UTF-8, Latin-1 otherwise. */
export function decodeTelnetText(bytes: Uint8Array): { text: string; encoding: 'utf-8' | 'latin1' } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: Buffer.from(bytes).toString('latin1'), encoding: 'latin1' };
  }
}

/** A TCP connection that resolves when opened and cleans up in `close()`, honouring the signal. */
function open(host: string, port: number, options: ReadOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) return reject(options.signal.reason);
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => fail(new TargetTimeout(`${host}:${port} did not accept within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    const onAbort = () => fail(options.signal.reason);
    const fail = (err: unknown) => {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/**
 * Collects what arrives until `onData` says enough, the peer is quiet for `quietFor()` (default quietMs),
 * it closes, or maxBytes is reached. Rejects on abort and on socket errors.
 */
function collect(socket: net.Socket, options: ReadOptions & { quietFor?: () => number }, onData: (chunk: Buffer) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let quiet: NodeJS.Timeout | undefined;
    let size = 0;
    const finish = (err?: unknown) => {
      clearTimeout(quiet);
      options.signal.removeEventListener('abort', onAbort);
      socket.off('data', data);
      socket.off('end', ended);
      socket.off('close', ended);
      socket.off('error', finish);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(options.signal.reason);
    const ended = () => finish();
    const arm = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(), options.quietFor?.() ?? options.quietMs);
    };
    const data = (chunk: Buffer) => {
      size += chunk.length;
      let enough: boolean;
      try {
        enough = onData(chunk);
      } catch (err) {
        return finish(err);
      }
      if (enough || size >= (options.maxBytes ?? 8192)) finish();
      else arm();
    };
    if (options.signal.aborted) return finish(options.signal.reason);
    options.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', data);
    socket.once('end', ended);
    socket.once('close', ended);
    socket.once('error', finish);
    arm();
  });
}

/**
 * A telnet byte stream split into text and option requests (RFC 854/855), across chunk boundaries. Every
 * option the server proposes is refused (DO -> WONT, WILL -> DONT), so that it moves on to its banner
 * and login prompt.
 */
export class TelnetStream {
  /** Text bytes, telnet commands removed (IAC IAC kept as one 0xff). */
  readonly text: number[] = [];
  /** Options the server asked about ("DO terminal-type", "WILL echo", ...), in order. */
  readonly negotiation: string[] = [];
  private pending = Buffer.alloc(0);

  /** Consumes a chunk; returns the refusals to send back. */
  push(chunk: Uint8Array): Buffer[] {
    const replies: Buffer[] = [];
    const data = Buffer.concat([this.pending, chunk]);
    this.pending = Buffer.alloc(0);
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== IAC) {
        this.text.push(data[i]);
        continue;
      }
      const cmd = data[i + 1];
      if (cmd === undefined) { this.pending = data.subarray(i); break; }
      if (cmd >= WILL && cmd <= DONT) {
        const opt = data[i + 2];
        if (opt === undefined) { this.pending = data.subarray(i); break; }
        this.negotiation.push(`${['WILL', 'WONT', 'DO', 'DONT'][cmd - WILL]} ${OPTION_NAMES[opt] ?? opt}`);
        if (cmd === DO) replies.push(Buffer.from([IAC, WONT, opt]));
        else if (cmd === WILL) replies.push(Buffer.from([IAC, DONT, opt]));
        i += 2;
      } else if (cmd === SB) {
        const end = data.indexOf(Buffer.from([IAC, SE]), i + 2);
        if (end === -1) { this.pending = data.subarray(i); break; }
        i = end + 1;
      } else if (cmd === IAC) {
        this.text.push(IAC);
        i += 1;
      } else i += 1;
    }
    return replies;
  }

  decoded(): { text: string; encoding: 'utf-8' | 'latin1' } {
    return decodeTelnetText(Uint8Array.from(this.text));
  }
}

/**
 * Telnet: refuses every option the server proposes and records what it said until it goes quiet:
 * quietMs after text the caller recognises as a prompt, promptWaitMs while it does not (TelnetReadOptions).
 */
export async function readTelnetGreeting(host: string, port: number, options: TelnetReadOptions): Promise<TelnetGreeting> {
  const socket = await open(host, port, options);
  const stream = new TelnetStream();
  let bytes = 0;
  let recognised = false;
  const quietFor = () => (options.endsInPrompt && !recognised ? options.promptWaitMs ?? options.quietMs : options.quietMs);
  try {
    await collect(socket, { ...options, quietFor }, (chunk) => {
      bytes += chunk.length;
      for (const reply of stream.push(chunk)) socket.write(reply);
      if (options.endsInPrompt) recognised = options.endsInPrompt(stream.decoded().text);
      return false;
    });
  } finally {
    socket.destroy();
  }
  return { ...stream.decoded(), negotiation: [...stream.negotiation], bytes };
}

export interface FtpReply {
  code: number;
  lines: string[];
}

export interface FtpGreeting {
  greeting: FtpReply;
  /** The FEAT reply (RFC 2389), if the greeting invited commands. */
  feat?: FtpReply;
  /** Features listed in a 211 FEAT reply, upper-cased ("AUTH TLS", "UTF8", ...). */
  features: string[];
}

/** Splits RFC 959 replies out of `text`; returns the complete replies and the unparsed rest. */
export function parseFtpReplies(text: string): { replies: FtpReply[]; rest: string } {
  const replies: FtpReply[] = [];
  const lines = text.split('\r\n');
  let rest = lines.pop() ?? '';
  let current: { code: number; lines: string[] } | undefined;
  let consumed = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!current) {
      const m = /^(\d{3})([ -])/.exec(line);
      if (!m) throw new ProtocolViolation(`not an FTP reply: ${JSON.stringify(line.slice(0, 60))}`);
      current = { code: Number(m[1]), lines: [line] };
      if (m[2] === ' ') {
        replies.push(current);
        current = undefined;
        consumed = i + 1;
      }
    } else {
      current.lines.push(line);
      if (line.startsWith(`${current.code} `)) {
        replies.push(current);
        current = undefined;
        consumed = i + 1;
      }
    }
  }
  if (current) rest = [...lines.slice(consumed), rest].join('\r\n');
  return { replies, rest };
}

/**
 * FTP: reads the greeting and, when it is 220, sends FEAT (RFC 2389) to learn whether AUTH TLS
 * (RFC 4217) is offered, then QUIT. Sends no USER or PASS.
 */
export async function readFtpGreeting(host: string, port: number, options: ReadOptions): Promise<FtpGreeting> {
  const socket = await open(host, port, options);
  let buffered = '';
  const next = async (): Promise<FtpReply> => {
    let reply: FtpReply | undefined;
    const take = () => {
      const parsed = parseFtpReplies(buffered);
      if (parsed.replies.length > 0) {
        reply = parsed.replies[0];
        // Keep what follows the first reply for the next call.
        const used = reply.lines.join('\r\n').length + 2;
        buffered = buffered.slice(used);
      }
      return reply !== undefined;
    };
    if (!take()) {
      await collect(socket, options, (chunk) => {
        buffered += chunk.toString('latin1');
        return take();
      });
    }
    if (!reply) {
      if (buffered.length === 0) throw new TargetTimeout(`${host}:${port} sent no FTP reply within ${options.quietMs} ms`);
      throw new ProtocolViolation(`${host}:${port} sent an incomplete FTP reply: ${JSON.stringify(buffered.slice(0, 80))}`);
    }
    return reply;
  };
  try {
    const greeting = await next();
    if (greeting.code !== 220) return { greeting, features: [] };
    socket.write('FEAT\r\n');
    const feat = await next();
    const features = feat.code === 211 ? feat.lines.slice(1, -1).map((l) => l.trim().toUpperCase()).filter(Boolean) : [];
    socket.write('QUIT\r\n');
    return { greeting, feat, features };
  } finally {
    socket.destroy();
  }
}

export type TftpAnswer =
  | { kind: 'error'; code: number; message: string; from: number }
  | { kind: 'data'; block: number; bytes: number; from: number };

/**
 * TFTP (RFC 1350): one read request (RRQ, octet mode) for `filename`, re-sent `retries` times on
 * silence. An ERROR packet is the expected answer; if DATA comes back (the file exists) the transfer is
 * cancelled at once with an ERROR packet. Never writes. Silence throws TargetTimeout; anything that is
 * not a TFTP packet throws ProtocolViolation.
 */
export async function tftpReadRequest(name: string, port: number, filename: string, options: { timeoutMs: number; retries: number; signal: AbortSignal }): Promise<TftpAnswer> {
  // Answers are matched by source address, so a host name is resolved first (the answer comes from an IP).
  const host = net.isIP(name) ? name : (await dns.lookup(name)).address;
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) return reject(options.signal.reason);
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(filename, 'ascii'), Buffer.from([0]), Buffer.from('octet', 'ascii'), Buffer.from([0])]);
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (err: unknown, answer?: TftpAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const onAbort = () => finish(options.signal.reason);
    const send = () => {
      tries += 1;
      socket.send(rrq, port, host, (err) => {
        if (err) return finish(err);
        if (done) return;
        timer = setTimeout(() => (tries <= options.retries ? send() : finish(new TargetTimeout(
          `${host}:${port}/udp: no TFTP answer (${tries} tries of ${options.timeoutMs} ms)`))), options.timeoutMs);
      });
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err) => finish(err));
    socket.on('message', (msg, rinfo) => {
      if (done) return;
      if (rinfo.address !== host) return;
      const opcode = msg.length >= 4 ? msg.readUInt16BE(0) : -1;
      if (opcode === 5) {
        const text = msg.subarray(4, msg.indexOf(0, 4) === -1 ? msg.length : msg.indexOf(0, 4)).toString('latin1');
        return finish(undefined, { kind: 'error', code: msg.readUInt16BE(2), message: text, from: rinfo.port });
      }
      if (opcode === 3) {
        // Cancel the transfer we did not want (RFC 1350 ERROR code 0).
        socket.send(Buffer.concat([Buffer.from([0, 5, 0, 0]), Buffer.from('transfer cancelled', 'ascii'), Buffer.from([0])]), rinfo.port, rinfo.address, () => {
          finish(undefined, { kind: 'data', block: msg.readUInt16BE(2), bytes: msg.length - 4, from: rinfo.port });
        });
        return;
      }
      finish(new ProtocolViolation(`${host}:${port}/udp answered a datagram that is not TFTP (${msg.subarray(0, 16).toString('hex')})`));
    });
    send();
  });
}
