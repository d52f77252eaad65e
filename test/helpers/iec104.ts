import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import type { Emulator, Posture } from '../../src/emulator';
import { encodeI, encodeU, parseApdu, parseAsdu, type Asdu } from '../../src/protocols/iec104';
import { packagePath } from '../../src/paths';
import { listenTestServer, type TestServer } from '../../fixtures/servers';
import { requirePeer } from './peers';
import { postureWith } from './postures';

/** The built-in posture with only its IEC 104 service, with overrides for that section. */
export function iec104Posture(name: 'weak' | 'hardened', overrides: Record<string, unknown> = {}): Posture {
  const base = postureWith(name, ['iec104']);
  return { ...base, services: { iec104: { ...base.services.iec104, ...overrides } } };
}

/** The commissioned bench client the hardened posture trusts (profiles/pki). */
export const BENCH_CLIENT = {
  clientCertificate: packagePath('profiles', 'pki', 'bench-opcua-client.pem'),
  clientPrivateKey: packagePath('profiles', 'pki', 'bench-opcua-client.key'),
};

/** The declared services of an emulated outstation as a profile names them: the plain port, and the IEC 62351-3 one
 * (with the bench client certificate unless `withCertificate` is false). */
export function iec104Services(emu: Emulator, withCertificate = true) {
  const plain = { port: emu.endpoint('iec104').port, protocol: 'iec104' as const };
  const secure = emu.services.find((s) => s.protocol === 'tls');
  return {
    service: plain,
    services: secure ? [plain, { port: secure.port, protocol: 'tls' as const, tls: true, options: { iec62351: true, ...(withCertificate ? BENCH_CLIENT : {}) } }] : [plain],
  };
}

/** nmap iec-identify against one port ("+": run although the port is not 2404): its fields, or {} when it reported none. */
export async function nmapIecIdentify(ctx: Mocha.Context, port: number): Promise<Record<string, string>> {
  const nmap = requirePeer(ctx, 'nmap');
  const xml = await new Promise<string>((resolve, reject) => {
    execFile(nmap, ['-Pn', '-n', '-sT', '-p', String(port), '--script', '+iec-identify', '-oX', '-', '127.0.0.1'], { timeout: 60_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml) as {
    nmaprun: { host: { ports: { port: { script?: { id: string; output?: string; elem?: { key: string; '#text'?: string | number } | { key: string; '#text'?: string | number }[] } } } } };
  };
  const elems = doc.nmaprun.host.ports.port.script?.elem ?? [];
  return Object.fromEntries((Array.isArray(elems) ? elems : [elems]).map((e) => [e.key, String(e['#text'] ?? '').trim()]));
}

/** What a scripted outstation does with one received APDU: frames to send back (whole APDUs), 'close', or nothing. */
export type ScriptedAnswer = Buffer[] | 'close' | null;

/**
 * An IEC 104 peer a test scripts: `onU` sees each U-format function received (testfrAct, startdtAct, ...) and
 * `onAsdu` each I-frame's ASDU; U functions `onU` leaves undefined are confirmed (TESTFR, STARTDT, STOPDT), ASDUs ignored.
 */
export async function scriptedIec104Server(script: { onU?: (fn: string) => ScriptedAnswer | undefined; onAsdu?: (asdu: Asdu, reply: (asdu: Buffer) => Buffer) => ScriptedAnswer }): Promise<TestServer> {
  const confirm: Record<string, Parameters<typeof encodeU>[0]> = { testfrAct: 'testfrCon', startdtAct: 'startdtCon', stopdtAct: 'stopdtCon' };
  return listenTestServer(net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    let sendSeq = 0;
    let recvSeq = 0;
    const reply = (asdu: Buffer) => encodeI(sendSeq++, recvSeq, asdu);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (let p = parseApdu(buf); p.kind === 'apdu'; p = parseApdu(buf)) {
        buf = buf.subarray(p.bytes);
        let answer: ScriptedAnswer = null;
        if (p.apdu.format === 'U') {
          const fn = p.apdu.fn;
          const scripted = script.onU?.(fn);
          answer = scripted !== undefined ? scripted : confirm[fn] ? [encodeU(confirm[fn])] : null;
        } else if (p.apdu.format === 'I') {
          recvSeq = p.apdu.sendSeq + 1;
          const asdu = parseAsdu(p.apdu.asdu);
          answer = typeof asdu !== 'string' && script.onAsdu ? script.onAsdu(asdu, reply) : null;
        }
        if (answer === 'close') return void socket.end();
        for (const frame of answer ?? []) socket.write(frame);
      }
    });
  }));
}
