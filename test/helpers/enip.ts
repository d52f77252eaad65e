import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { listenTestServer, type TestServer } from '../../fixtures/servers';
import type { Posture } from '../../src/emulator';
import { encodeEncap } from '../../src/protocols/enip';
import { postureWith } from './postures';

const run = promisify(execFile);

/** The built-in posture with only its EtherNet/IP service, with overrides for that section. */
export function enipPosture(name: 'weak' | 'hardened', overrides: Record<string, unknown> = {}): Posture {
  const base = postureWith(name, ['enip']);
  return { ...base, services: { enip: { ...base.services.enip, ...overrides } } };
}

export interface Capture {
  /** Stops tshark and returns the pcapng file. */
  stop(): Promise<string>;
}

/**
 * tshark capturing on loopback, filtered to these ports, started before the exchange. tshark announces
 * "Capturing on" a moment before packets really reach it, so this resolves only once a canary datagram
 * (to a port of its own, also in the filter) shows up in tshark's packet list. Needs root (CAP_NET_RAW).
 */
export async function startCapture(tshark: string, ports: readonly number[]): Promise<Capture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-tshark-'));
  const file = path.join(dir, 'capture.pcapng');
  const canary = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => canary.bind(0, '127.0.0.1', () => resolve()));
  const canaryPort = canary.address().port;
  const filter = [...new Set([...ports, canaryPort])].map((p) => `port ${p}`).join(' or ');
  // -P -l: print a line per packet even while writing the file, so the canary can be seen.
  const child: ChildProcess = spawn(tshark, ['-i', 'lo', '-f', filter, '-w', file, '-P', '-l'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  try {
    await new Promise<void>((resolve, reject) => {
      const ping = setInterval(() => canary.send('canary', canaryPort, '127.0.0.1'), 100);
      const timer = setTimeout(() => done(new Error(`tshark saw no packet within 15 s: ${output}`)), 15_000);
      const done = (err?: Error) => {
        clearInterval(ping);
        clearTimeout(timer);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onExit = (code: number | null) => done(new Error(`tshark exited with ${code}: ${output}`));
      child.once('exit', onExit);
      child.stdout!.once('data', () => done());
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    canary.close();
  }
  child.stdout!.resume();
  return {
    stop: async () => {
      // Let the last segments reach the capture before stopping it.
      await new Promise((r) => setTimeout(r, 300));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT');
      await exited;
      return file;
    },
  };
}

export interface DecodedPacket {
  frame: number;
  layers: Record<string, unknown>;
  /** `_ws.malformed` anywhere, and `_ws.expert` markers inside the protocol layers named in decodeCapture(). */
  problems: string[];
}

/**
 * `tshark -r file -T json --no-duplicate-keys` with the given ports decoded as `proto` (e.g. enip, dtls). Expert markers are
 * read from the layers in `layersToCheck` only: TCP's own expert notes (SYN, RST) are no decoding problem.
 */
export async function decodeCapture(
  tshark: string, file: string, decodeAs: readonly { port: number; transport: 'tcp' | 'udp'; proto: string }[], layersToCheck: readonly string[],
): Promise<DecodedPacket[]> {
  // --no-duplicate-keys: tshark repeats a key for every CPF item of a message, and JSON.parse would keep the last only.
  const args = ['-r', file, ...decodeAs.flatMap((d) => ['-d', `${d.transport}.port==${d.port},${d.proto}`]), '-T', 'json', '--no-duplicate-keys'];
  const { stdout } = await run(tshark, args, { maxBuffer: 64 * 1024 * 1024 });
  const packets = JSON.parse(stdout) as { _source: { layers: Record<string, unknown> } }[];
  return packets.map((p, i) => {
    const layers = p._source.layers;
    const problems = [
      ...Object.keys(layers).filter((k) => k === '_ws.malformed').map((k) => `${k}: ${JSON.stringify(layers[k])}`),
      ...layersToCheck.flatMap((name) => markers(layers[name])),
    ];
    return { frame: i + 1, layers, problems };
  });
}

function markers(node: unknown): string[] {
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node as Record<string, unknown>).flatMap(([key, value]) => (key === '_ws.malformed' || key === '_ws.expert'
    ? [`${key}: ${JSON.stringify(value)}`]
    : markers(value)));
}

/** Every value of a field (e.g. "enip.lir.name") anywhere in the decoded packets. */
export function fieldValues(packets: readonly DecodedPacket[], field: string): string[] {
  const out: string[] = [];
  const walk = (node: unknown) => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (key === field) out.push(...(Array.isArray(value) ? value.map(String) : [String(value)]));
      walk(value);
    }
  };
  for (const p of packets) walk(p.layers);
  return out;
}

/**
 * An EtherNet/IP peer whose answers a test scripts: `answer(command, session, data, n)` returns the reply
 * (status, session, data) or null for silence, or 'close' to hang up. One message per TCP segment is assumed.
 */
export async function scriptedEnipServer(
  answer: (request: { command: number; session: number; data: Buffer }, n: number) => { status?: number; session?: number; data?: Buffer } | null | 'close',
): Promise<TestServer> {
  let n = 0;
  return listenTestServer(net.createServer((socket) => {
    socket.on('data', (d: Buffer) => {
      const request = { command: d.readUInt16LE(0), session: d.readUInt32LE(4), data: d.subarray(24) };
      const reply = answer(request, ++n);
      if (reply === 'close') socket.destroy();
      else if (reply) socket.write(encodeEncap({ command: request.command, session: reply.session ?? request.session, status: reply.status ?? 0, context: d.subarray(12, 20), data: reply.data }));
    });
  }));
}
