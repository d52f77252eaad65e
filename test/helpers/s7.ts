import { execFile, fork } from 'node:child_process';
import * as path from 'node:path';
import * as net from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { loadPosture, type Posture } from '../../src/emulator';
import { COTP, ROSCTR, encodeDataTpdu, encodeS7, encodeTpkt, parseCotp, parseS7, parseTpkt, type S7Pdu } from '../../src/protocols/s7';
import { listenTestServer, type TestServer } from '../../fixtures/servers';
import { requirePeer } from './peers';
import { nodeChildArgs } from '../../src/protocols/child-env';

/** A built-in posture with only its S7 service, with overrides for that service. */
export function s7Posture(name: 'weak' | 'hardened', overrides: Record<string, unknown> = {}): Posture {
  const base = loadPosture(name);
  return { ...base, services: { s7: { ...base.services.s7, enabled: true, ...overrides } } };
}

// ------------------------------------------------------------------------------------------- snap7 (not ours)

/** node-snap7 (snap7's C++ S7Server, built by node-gyp at npm ci) is there, or skip / fail under IACS_REQUIRE_PEERS=1. */
export function requireSnap7(ctx: Mocha.Context): string {
  let entry: string | undefined;
  try {
    entry = require.resolve('node-snap7');
  } catch {
    entry = undefined;
  }
  requirePeer(ctx, 'node-snap7', entry ? 'node-snap7' : undefined, 'npm devDependency; its build needs g++, make and python3');
  return entry!;
}

/** What snap7 serves now: DB1 (32 bytes, read and written in place by the server) and its CPU status. */
export interface Snap7State {
  readonly db1: string;
  /** 0x08 RUN, 0x04 STOP. */
  readonly cpuStatus: number;
}

export interface Snap7Peer extends TestServer {
  state(): Promise<Snap7State>;
}

const SNAP7_PEER = path.join(__dirname, '..', '..', 'fixtures', 'snap7-peer.ts');

/** snap7's S7Server on 127.0.0.1 on a free port, DB1 (32 bytes) registered, in a child process of its own
 * (node-snap7 allows one server per process: see fixtures/snap7-peer.cjs). */
export async function startSnap7(): Promise<Snap7Peer> {
  const probe = await listenTestServer(net.createServer());
  await probe.close(); // a free port, released for snap7 (which cannot bind port 0 and report it)
  const [loader, entry] = [nodeChildArgs(SNAP7_PEER).slice(0, -1), SNAP7_PEER];
  const child = fork(entry, [String(probe.port)], { execArgv: loader, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>(what: string): Promise<T> => new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`snap7 peer: no ${what} within 10 s`)), 10_000);
    const onMessage = (m: T & { error?: string }) => (m.error ? fail(new Error(m.error)) : settle(() => resolve(m)));
    const onExit = (code: number | null) => fail(new Error(`snap7 peer exited (${code}) before ${what}`));
    const settle = (f: () => void) => {
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', onExit);
      f();
    };
    const fail = (err: Error) => settle(() => reject(err));
    child.on('message', onMessage).on('exit', onExit);
  });
  try {
    await next('start');
  } catch (err) {
    child.kill();
    throw err;
  }
  return {
    host: '127.0.0.1', port: probe.port,
    state: async () => {
      const answer = next<Snap7State>('state');
      child.send('state');
      return answer;
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ------------------------------------------------------------------------------------------- nmap s7-info

/** nmap s7-info's output fields and the identity keys of s7.identification that hold the same fact. */
export const NMAP_S7_INFO_FIELDS: Readonly<Record<string, string>> = {
  Module: 'module',
  'Basic Hardware': 'basicHardware',
  Version: 'firmware',
  'System Name': 'systemName',
  'Module Type': 'moduleName',
  'Serial Number': 'serial',
  'Plant Identification': 'plantId',
  Copyright: 'copyright',
};

/** Runs `nmap --script +s7-info` against one port (the "+" runs it although the port is not 102) and returns
 * its fields, trimmed. */
export async function nmapS7Info(ctx: Mocha.Context, port: number): Promise<Record<string, string>> {
  const nmap = requirePeer(ctx, 'nmap');
  const xml = await new Promise<string>((resolve, reject) => {
    execFile(nmap, ['-Pn', '-n', '-sT', '-p', String(port), '--script', '+s7-info', '-oX', '-', '127.0.0.1'], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml) as {
    nmaprun: { host: { ports: { port: { script?: { id: string; elem?: { key: string; '#text'?: string } | { key: string; '#text'?: string }[] } } } } };
  };
  const elems = doc.nmaprun.host.ports.port.script?.elem ?? [];
  return Object.fromEntries((Array.isArray(elems) ? elems : [elems]).map((e) => [e.key, String(e['#text'] ?? '').trim()]));
}

/** Our identity expressed in nmap's fields (firmware without its "V"), for the fields nmap reported. */
export function asNmapFields(identity: Record<string, string>, nmapFields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(nmapFields).map((k) => {
    const ours = identity[NMAP_S7_INFO_FIELDS[k]] ?? '';
    return [k, k === 'Version' ? ours.replace(/^V/, '') : ours];
  }));
}

// ------------------------------------------------------------------------------------------- scripted peer

/**
 * An ISO-on-TCP peer a test scripts: it confirms every COTP connection request and answers setup
 * communication; every other S7 PDU goes to `answer`, which returns the reply PDU or null for silence.
 */
export async function scriptedS7Server(answer: (pdu: S7Pdu) => S7Pdu | null): Promise<TestServer> {
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (let f = parseTpkt(buf); f.kind === 'frame'; f = parseTpkt(buf)) {
        buf = buf.subarray(f.bytes);
        const tpdu = parseCotp(f.tpdu);
        if (typeof tpdu === 'string') return void socket.destroy();
        if (tpdu.kind === 'CR') socket.write(encodeTpkt(Buffer.from([6, COTP.CC, 0x00, 0x01, 0x00, 0x01, 0x00])));
        if (tpdu.kind !== 'DT') continue;
        const pdu = parseS7(tpdu.payload);
        if (typeof pdu === 'string') return void socket.destroy();
        const reply = pdu.param[0] === 0xf0 && pdu.rosctr === ROSCTR.job
          ? { rosctr: ROSCTR.ackData, pduRef: pdu.pduRef, param: pdu.param, data: Buffer.alloc(0) }
          : answer(pdu);
        if (reply) socket.write(encodeDataTpdu(encodeS7(reply)));
      }
    });
  });
  return listenTestServer(server);
}
