import { expect } from 'chai';
import * as net from 'node:net';
import { closedPort, type TestServer } from '../../fixtures/servers';
import { sendDatagramCase, sendStreamCase, type Classification } from '../../src/protocols/fuzz/transport';
import { sendModbusCase } from '../../src/protocols/modbus';

/*
 * Whether a fuzz case's bytes reached the device: a case that never left (no connection, or no answer to the opening it
 * must follow) tested nothing, and says so (`notSent`) so that the verdict does not count it. The servers here are plain
 * TCP listeners that record what they receive: the question is about the transport, not a protocol.
 */
const PREAMBLE = Buffer.from('OPEN\n');
const CASE = Buffer.from('CASE\n');
const classify = (b: Buffer): Classification => ({ kind: 'reply', detail: b.toString().trim() });

/** Answers PREAMBLE with "READY" after `delayMs` (never with null), and the case with "GOT". */
async function openingServer(delayMs: number | null): Promise<{ port: number; received: () => string; close: () => Promise<void> }> {
  let received = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      received += d.toString();
      if (d.includes(PREAMBLE) && delayMs !== null) setTimeout(() => socket.write('READY\n'), delayMs);
      if (d.includes(CASE)) socket.write('GOT\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('fuzz transport: a case that never reached the device is marked notSent', function () {
  this.timeout(20_000);
  let closed: TestServer;
  before(async () => {
    closed = await closedPort();
  });
  after(async () => closed.close());
  const signal = () => AbortSignal.timeout(10_000);
  const options = (waitMs: number) => ({
    waitMs, signal: signal(), classify, complete: (r: Buffer) => r.includes('GOT'),
    preamble: { bytes: PREAMBLE, answered: (r: Buffer) => r.includes('READY'), what: 'opening' },
  });

  it('a refused TCP connection: connect-failed, not sent', async () => {
    const reaction = await sendStreamCase({ host: '127.0.0.1', port: closed.port }, CASE, options(100));
    expect(reaction).to.include({ kind: 'connect-failed', code: 'ECONNREFUSED', notSent: 'no connection' });
  });

  it('an opening answered after the case\'s reaction wait but within the connection budget: the case is sent', async () => {
    const server = await openingServer(400);
    try {
      const reaction = await sendStreamCase({ host: '127.0.0.1', port: server.port }, CASE, options(100));
      expect(reaction).to.include({ kind: 'reply' }).and.not.have.property('notSent');
      expect(server.received()).to.equal('OPEN\nCASE\n');
    } finally {
      await server.close();
    }
  });

  it('an opening never answered: the case is not sent, and the device never sees it', async () => {
    const server = await openingServer(null);
    try {
      const started = Date.now();
      const reaction = await sendStreamCase({ host: '127.0.0.1', port: server.port }, CASE, options(100));
      expect(reaction).to.include({ notSent: 'no answer to the opening' }).and.have.property('detail').match(/^the case was not sent/);
      expect(Date.now() - started).to.be.at.least(950);
      expect(server.received()).to.equal('OPEN\n');
    } finally {
      await server.close();
    }
  });

  it('Modbus: a refused connection is not sent; a datagram refused by ICMP port-unreachable reached the host and is', async () => {
    const modbus = await sendModbusCase({ host: '127.0.0.1', port: closed.port }, CASE, 100, signal());
    expect(modbus).to.include({ kind: 'connect-failed', notSent: 'no connection' });
    const datagram = await sendDatagramCase({ host: '127.0.0.1', port: closed.port }, CASE, { waitMs: 500, signal: signal(), classify });
    expect(datagram.kind).to.equal('connect-failed');
    expect(datagram).to.not.have.property('notSent');
  });
});
