import { expect } from 'chai';
import * as net from 'node:net';
import { startEmulator } from '../../src/emulator';
import {
  BAD_DECODING_ERROR, BAD_TCP_MESSAGE_TOO_LARGE, BAD_TCP_MESSAGE_TYPE_INVALID, ClientChunkReader, errorMessage, startStrictFront,
} from '../../src/emulator/services/opcua-front';
import { systematicCases } from '../../src/protocols/fuzz';
import { discoverEndpoints } from '../../src/protocols/opcua';
import { helloMessage, opcuaFuzzTarget, opcuaTemplates } from '../../src/protocols/opcua/fuzz';
import { modbusPosture, withPlainModbus } from '../helpers/modbus';
import { opcuaPosture, startOpcua, type StartedOpcua } from '../helpers/opcua';
import { requirePeer } from '../helpers/peers';
import { tsharkFields } from '../helpers/fuzz';

/** The two inputs that throw inside node-opcua 2.182.2's server (docs/robustness.md, OPC UA fuzz finding). */
const TRAILING_GARBAGE = 'extended by 16 bytes of 0xff (length field unchanged)';
const OPAQUE_TYPE_ID = 'opn.type-id.encoding = 5 ';

interface Exchange { messages: string[]; error?: { status: number; reason: string }; closedByServer: boolean }

/** Sends `first`, then (once the Acknowledge is in) `then`; collects the server's messages until it closes (or 3 s). */
function exchange(port: number, first: Buffer, then?: Buffer): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    let sentSecond = !then;
    const timer = setTimeout(() => finish(false), 3000);
    const finish = (closedByServer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const messages: string[] = [];
      let error: Exchange['error'];
      for (let pos = 0; received.length - pos >= 8 && received.length - pos >= received.readUInt32LE(pos + 4);) {
        const size = received.readUInt32LE(pos + 4);
        const type = received.subarray(pos, pos + 3).toString('latin1');
        messages.push(type);
        if (type === 'ERR') error = { status: received.readUInt32LE(pos + 8), reason: received.subarray(pos + 16, pos + size).toString('utf8') };
        pos += size;
      }
      resolve({ messages, error, closedByServer });
    };
    socket.on('connect', () => socket.write(first));
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (!sentSecond && received.subarray(0, 3).toString('latin1') === 'ACK') {
        sentSecond = true;
        socket.write(then!);
      }
    });
    socket.on('end', () => finish(true));
    socket.on('error', reject);
  });
}

const caseNamed = (template: number, url: string, mutation: string) => {
  const found = systematicCases(opcuaTemplates(url)[template]).find((c) => c.mutation.startsWith(mutation));
  if (!found) throw new Error(`no case ${mutation}`);
  return found.bytes;
};

describe('emulator OPC UA strict framing (hardened posture, opcua.strictFraming)', function () {
  this.timeout(60_000);
  let device: StartedOpcua | undefined;
  let url = '';
  before(async function () {
    this.timeout(60_000);
    device = await startOpcua('hardened');
    url = `opc.tcp://127.0.0.1:${device.port}`;
  });
  after(async () => device?.emulator.close());

  const stillAnswers = async () => {
    const check = await opcuaFuzzTarget({ host: '127.0.0.1', port: device!.port }, {}).answersNormally(5000, new AbortController().signal);
    expect(check, 'GetEndpoints afterwards').to.include({ ok: true });
    // The endpoints advertise the front's port, not node-opcua's own behind it.
    expect(check.detail).to.match(/answered \(\d+ endpoints\)/);
  };

  it('advertises its own port in every endpoint URL (node-opcua listens behind the front)', async () => {
    const endpoints = await discoverEndpoints({ host: '127.0.0.1', port: device!.port }, { signal: new AbortController().signal, timeoutMs: 5000 });
    expect(endpoints.length).to.be.greaterThan(0);
    for (const e of endpoints) expect(new URL(e.endpointUrl.replace(/^opc\.tcp/, 'http')).port).to.equal(String(device!.port));
  });

  it('a valid Hello followed by 16 bytes of 0xff: ACK, then ERR Bad_TcpMessageTypeInvalid and a close; GetEndpoints still works', async () => {
    const r = await exchange(device!.port, caseNamed(0, url, TRAILING_GARBAGE));
    expect(r.messages).to.deep.equal(['ACK', 'ERR']);
    expect(r.error?.status).to.equal(BAD_TCP_MESSAGE_TYPE_INVALID);
    expect(r.closedByServer).to.equal(true);
    await stillAnswers();
  });

  it('a chunk that announces 4294967295 bytes: ERR Bad_TcpMessageTooLarge and a close', async () => {
    const huge = Buffer.from('MSGF\xff\xff\xff\xff', 'latin1');
    const r = await exchange(device!.port, helloMessage(url), huge);
    expect(r.messages).to.deep.equal(['ACK', 'ERR']);
    expect(r.error?.status).to.equal(BAD_TCP_MESSAGE_TOO_LARGE);
    expect(r.closedByServer).to.equal(true);
    await stillAnswers();
  });

  it('an OpenSecureChannel whose request type id is an opaque NodeId: ERR Bad_DecodingError and a close; GetEndpoints still works', async () => {
    const r = await exchange(device!.port, helloMessage(url), caseNamed(1, url, OPAQUE_TYPE_ID));
    expect(r.messages).to.deep.equal(['ACK', 'ERR']);
    expect(r.error).to.deep.include({ status: BAD_DECODING_ERROR });
    expect(r.error?.reason).to.match(/type id is not i=446/);
    expect(r.closedByServer).to.equal(true);
    await stillAnswers();
  });

  it('a valid OpenSecureChannel (policy None, the four-byte type id 446) passes to node-opcua, which answers it', async () => {
    const r = await exchange(device!.port, helloMessage(url), opcuaTemplates(url)[1].bytes);
    // The hardened device offers no None endpoint, but the channel itself is node-opcua's to open (or refuse).
    expect(r.messages[0]).to.equal('ACK');
    expect(r.messages.slice(1)).to.satisfy((m: string[]) => m.length === 1 && ['OPN', 'ERR'].includes(m[0]));
    if (r.error) expect(r.error.status).to.not.be.oneOf([BAD_DECODING_ERROR, BAD_TCP_MESSAGE_TYPE_INVALID, BAD_TCP_MESSAGE_TOO_LARGE]);
  });

  it('a message before the Hello is refused (Bad_TcpMessageTypeInvalid)', async () => {
    const r = await exchange(device!.port, opcuaTemplates(url)[1].bytes);
    expect(r.messages).to.deep.equal(['ERR']);
    expect(r.error?.status).to.equal(BAD_TCP_MESSAGE_TYPE_INVALID);
  });

  it('chunks arriving a byte at a time are forwarded whole, once each', () => {
    const reader = new ClientChunkReader();
    const hello = helloMessage(url);
    const open = opcuaTemplates(url)[1].bytes;
    const both = Buffer.concat([hello, open]);
    const forwarded: Buffer[] = [];
    for (let i = 0; i < both.length; i++) {
      const { chunks, violation } = reader.push(both.subarray(i, i + 1));
      expect(violation).to.equal(undefined);
      forwarded.push(...chunks);
    }
    expect(forwarded.map((c) => c.toString('hex'))).to.deep.equal([hello.toString('hex'), open.toString('hex')]);
  });

  it('tells the server behind it the client\'s address (the lockout source and audit records use it)', async () => {
    const seen: string[] = [];
    // Known before the first byte is forwarded (node-opcua asks at login, many messages later).
    const behind = net.createServer((s) => s.once('data', () => {
      seen.push(`${s.remoteAddress} -> ${front.sourceOf(s.remotePort!)}`);
      s.destroy();
    }));
    await new Promise<void>((r) => behind.listen(0, '127.0.0.1', r));
    const front = await startStrictFront({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: (behind.address() as net.AddressInfo).port }, () => undefined);
    try {
      const client = net.connect({ host: '127.0.0.1', port: front.port, localAddress: '127.0.0.2' }, () => client.write(helloMessage(url)));
      await new Promise((r) => client.once('close', r));
      expect(seen).to.deep.equal(['127.0.0.1 -> 127.0.0.2']);
    } finally {
      await front.close();
      await new Promise((r) => behind.close(r));
    }
  });

  it('tshark reads the ERR message as one with the status code we meant', function () {
    requirePeer(this, 'tshark');
    requirePeer(this, 'text2pcap');
    const err = errorMessage({ status: BAD_TCP_MESSAGE_TOO_LARGE, reason: 'MSG chunk of 4294967295 bytes exceeds 65535' });
    const [row] = tsharkFields([err], '-T', 4840, ['opcua.transport.type', 'opcua.transport.size', 'opcua.transport.error', 'opcua.transport.reason']);
    expect(row).to.deep.equal(['ERR', String(err.length), '0x80800000', 'MSG chunk of 4294967295 bytes exceeds 65535']);
  });
});

describe('emulator OPC UA: a crash of node-opcua ends that service only', function () {
  this.timeout(60_000);

  it('an in-process emulator without strict framing loses its OPC UA service to the crash, and this process and its other services keep running', async () => {
    // Hardened without the front: node-opcua itself meets the input that throws outside any handler.
    const posture = opcuaPosture('hardened', { strictFraming: false });
    posture.services = { ...posture.services, modbus: modbusPosture('hardened').services.modbus };
    const emulator = await startEmulator(posture, { ephemeralPorts: true });
    try {
      const port = emulator.endpoint('opcua').port;
      const target = opcuaFuzzTarget({ host: '127.0.0.1', port }, {});
      const signal = new AbortController().signal;
      expect((await target.answersNormally(5000, signal)).ok).to.equal(true);
      await exchange(port, caseNamed(0, `opc.tcp://127.0.0.1:${port}`, TRAILING_GARBAGE));
      // Had the server run in this process, mocha would have failed this test with the uncaught exception. The
      // helper process takes a moment to die (longer on a busy machine): until then its port may still accept.
      let after = await target.answersNormally(2000, signal);
      for (const until = Date.now() + 10_000; after.kind !== 'connect-failed' && Date.now() < until;) {
        await new Promise((r) => setTimeout(r, 250));
        after = await target.answersNormally(2000, signal);
      }
      expect(after).to.include({ ok: false, kind: 'connect-failed' });
      const registers = await withPlainModbus(emulator.endpoint('modbus').port, 1, async (c) => (await c.readHoldingRegisters(0, 1)).data);
      expect(registers).to.have.length(1);
    } finally {
      await emulator.close();
    }
  });
});
