import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import { promisify } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import type { Posture } from '../../src/emulator';
import { apduOf, parseBvlc, type Apdu } from '../../src/protocols/bacnet';
import type { TestServer } from '../../fixtures/servers';
import { postureWith } from './postures';

const run = promisify(execFile);

/** The built-in posture with only its BACnet service, with overrides for that section. */
export function bacnetPosture(name: 'weak' | 'hardened', overrides: Record<string, unknown> = {}): Posture {
  const base = postureWith(name, ['bacnet']);
  return { ...base, services: { bacnet: { ...base.services.bacnet, ...overrides } } };
}

/**
 * A BACnet/IP peer whose answers a test scripts: `answer` gets each datagram's BVLC function and APDU (when it
 * carries one) and returns the datagram to send back, or null for silence.
 */
export async function scriptedBacnetServer(answer: (request: { fn: number; apdu?: Apdu; bytes: Buffer }, n: number) => Buffer | null): Promise<TestServer> {
  const socket = dgram.createSocket('udp4');
  let n = 0;
  socket.on('message', (msg, rinfo) => {
    const bvlc = parseBvlc(msg);
    if ('error' in bvlc) return;
    const apdu = apduOf(msg);
    const reply = answer({ fn: bvlc.fn, ...('error' in apdu ? {} : { apdu }), bytes: msg }, ++n);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { host: '127.0.0.1', port: socket.address().port, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/** nmap's bacnet-info facts for a UDP port (root: -sU), keyed as nmap prints them ("Vendor ID", "Model Name", ...). */
export async function nmapBacnetInfo(nmap: string, port: number): Promise<Record<string, string>> {
  const { stdout } = await run(nmap, ['-sU', '-Pn', '-n', '-p', String(port), '--script', '+bacnet-info', '-oX', '-', '127.0.0.1'], { timeout: 60_000 });
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false });
  const doc = parser.parse(stdout) as { nmaprun: { host: { ports: { port: { script?: { elem?: { key: string; '#text'?: string }[] } } } } } };
  const elems = doc.nmaprun.host.ports.port.script?.elem ?? [];
  return Object.fromEntries(elems.map((e) => [e.key, String(e['#text'] ?? '')]));
}
