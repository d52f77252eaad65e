import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { loadPosture, type Posture } from '../../src/emulator';
import { COTP, ROSCTR, encodeDataTpdu, encodeS7, encodeTpkt, parseCotp, parseS7, parseTpkt, type S7Pdu } from '../../src/protocols/s7';
import { listenTestServer, type TestServer } from '../../fixtures/servers';
import { requirePeer } from './peers';

/** A built-in posture with only its S7 service, with overrides for that service. */
export function s7Posture(name: 'weak' | 'hardened', overrides: Record<string, unknown> = {}): Posture {
  const base = loadPosture(name);
  return { ...base, services: { s7: { ...base.services.s7, enabled: true, ...overrides } } };
}

// ------------------------------------------------------------------------------------------- snap7 (not ours)

interface Snap7Server {
  SetParam(param: number, value: number): boolean;
  RegisterArea(area: number, index: number, buffer: Buffer): boolean;
  StartTo(host: string): boolean;
  Stop(): boolean;
  GetCpuStatus(): number;
  LastError(): number;
  readonly LocalPort: number;
  readonly srvAreaDB: number;
  readonly srvAreaMK: number;
}
type Snap7Module = { S7Server: new () => Snap7Server };

/** node-snap7 (snap7's C++ S7Server, built by node-gyp at npm ci), or skip / fail under IACS_REQUIRE_PEERS=1. */
export function requireSnap7(ctx: Mocha.Context): Snap7Module {
  let mod: Snap7Module | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('node-snap7') as Snap7Module;
  } catch {
    mod = undefined;
  }
  requirePeer(ctx, 'node-snap7', mod ? 'node-snap7' : undefined, 'npm devDependency; its build needs g++, make and python3');
  return mod!;
}

export interface Snap7Peer extends TestServer {
  readonly server: Snap7Server;
  /** The DB1 buffer snap7 serves (the server reads and writes it in place). */
  readonly db1: Buffer;
  /** snap7's CPU status: 0x08 RUN, 0x04 STOP. */
  cpuStatus(): number;
}

/** snap7's S7Server on 127.0.0.1 on a free port, DB1 (32 bytes) registered. */
export async function startSnap7(snap7: Snap7Module): Promise<Snap7Peer> {
  const probe = await listenTestServer(net.createServer());
  await probe.close(); // a free port, released for snap7 (which cannot bind port 0 and report it)
  const server = new snap7.S7Server();
  const db1 = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7) & 0xff));
  server.SetParam(server.LocalPort, probe.port);
  server.RegisterArea(server.srvAreaDB, 1, db1);
  if (!server.StartTo('127.0.0.1')) throw new Error(`snap7 S7Server did not start on ${probe.port} (error 0x${server.LastError().toString(16)})`);
  return {
    host: '127.0.0.1', port: probe.port, server, db1,
    cpuStatus: () => server.GetCpuStatus(),
    close: async () => { server.Stop(); },
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
