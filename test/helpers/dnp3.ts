import * as net from 'node:net';
import { listenTestServer, type TestServer } from '../../fixtures/servers';
import type { Posture } from '../../src/emulator';
import {
  LINK, Reassembler, encodeLinkFrame, encodeResponse, linkFunction, parseLinkFrame, parseRequest, segment, type AppRequestParsed,
} from '../../src/protocols/dnp3';
import { postureWith } from './postures';

/** The built-in posture with only its DNP3 service, with overrides for that section. */
export function dnp3Posture(name: 'weak' | 'hardened', overrides: Record<string, unknown> = {}): Posture {
  const base = postureWith(name, ['dnp3']);
  return { ...base, services: { dnp3: { ...base.services.dnp3, ...overrides } } };
}

export interface ScriptedAnswer {
  fn?: number;
  iin?: number;
  objects?: Buffer;
}

/**
 * A DNP3 outstation (address 1024) a test scripts: it answers link status requests, and every application
 * request goes to `answer`, which returns the response (function, IIN, objects), null for silence, or raw
 * octets to send as they are.
 */
export async function scriptedDnp3Server(answer: (request: AppRequestParsed, n: number) => ScriptedAnswer | Buffer | null): Promise<TestServer> {
  let n = 0;
  return listenTestServer(net.createServer((socket) => {
    let buffer = Buffer.alloc(0);
    const reassembler = new Reassembler();
    let tseq = 0;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let p = parseLinkFrame(buffer); p.kind === 'frame'; p = parseLinkFrame(buffer)) {
        buffer = buffer.subarray(p.bytes);
        const { frame } = p;
        const reply = (control: number, userData: Buffer = Buffer.alloc(0)) => socket.write(encodeLinkFrame({ control, destination: frame.source, source: 1024, userData }));
        if (linkFunction(frame.control) === LINK.requestLinkStatus) reply(LINK.linkStatus);
        if (linkFunction(frame.control) !== LINK.unconfirmedUserData) continue;
        const fragment = reassembler.push(frame.userData);
        const request = fragment && parseRequest(fragment);
        if (!request || typeof request === 'string') continue;
        const a = answer(request, ++n);
        if (a === null) continue;
        if (Buffer.isBuffer(a)) {
          socket.write(a);
          continue;
        }
        for (const s of segment(encodeResponse({ seq: request.seq, fn: a.fn, iin: a.iin ?? 0, objects: a.objects }), tseq++)) reply(LINK.prm | LINK.unconfirmedUserData, s);
      }
    });
  }));
}
