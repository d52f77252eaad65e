/**
 * The boundary tester's hands inside one endpoint namespace (`ip netns exec <ns> node agent-entry`): it
 * listens, connects and sends datagrams there on the tester's behalf, one JSON command per stdin line, one
 * JSON answer per stdout line ({id, ...}). It stops when its stdin closes (the tester ended, even by a crash).
 * It sends only what a command names and binds only the addresses a command gives.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { createInterface } from 'node:readline';

export type AgentCommand =
  | { op: 'listen'; protocol: 'tcp' | 'udp'; address: string; ports: number[] }
  | { op: 'received' }
  | { op: 'connect'; host: string; port: number; localAddress: string; timeoutMs: number }
  | { op: 'udp'; host: string; ports: number[]; localAddress: string; payload: string };

/** Per "tcp/<port>" or "udp/<port>": how many connections or datagrams came, and from which addresses. */
export type Received = Record<string, { count: number; from: string[] }>;

const received: Received = {};
const closers: (() => void)[] = [];

function note(key: string, from: string | undefined): void {
  const entry = (received[key] ??= { count: 0, from: [] });
  entry.count++;
  if (from && !entry.from.includes(from)) entry.from.push(from);
}

function listenOne(protocol: 'tcp' | 'udp', address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const key = `${protocol}/${port}`;
    if (protocol === 'tcp') {
      const server = net.createServer((socket) => {
        note(key, socket.remoteAddress?.replace(/^::ffff:/, ''));
        socket.on('error', () => undefined);
        socket.end();
      });
      server.once('error', (err) => resolve(`${key}: ${err.message}`));
      server.listen({ host: address, port }, () => resolve(undefined));
      closers.push(() => server.close());
    } else {
      const socket = dgram.createSocket('udp4');
      socket.on('message', (_m, rinfo) => note(key, rinfo.address));
      socket.once('error', (err) => resolve(`${key}: ${err.message}`));
      socket.bind({ address, port }, () => resolve(undefined));
      closers.push(() => socket.close());
    }
  });
}

function connect(c: Extract<AgentCommand, { op: 'connect' }>): Promise<{ connected: boolean; error?: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: c.host, port: c.port, localAddress: c.localAddress, timeout: c.timeoutMs });
    const done = (connected: boolean, error?: string) => {
      socket.destroy();
      resolve({ connected, ...(error ? { error } : {}), ms: Date.now() - started });
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false, 'timeout'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
  });
}

async function sendUdp(c: Extract<AgentCommand, { op: 'udp' }>): Promise<{ sent: number }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind({ address: c.localAddress, port: 0 }, resolve));
  let sent = 0;
  for (const port of c.ports) {
    await new Promise<void>((resolve) => socket.send(Buffer.from(c.payload), port, c.host, (err) => {
      if (!err) sent++;
      resolve();
    }));
  }
  socket.close();
  return { sent };
}

async function handle(command: AgentCommand): Promise<object> {
  switch (command.op) {
    case 'listen': {
      const errors = (await Promise.all(command.ports.map((p) => listenOne(command.protocol, command.address, p)))).filter(Boolean);
      return { errors };
    }
    case 'received':
      return { received };
    case 'connect':
      return connect(command);
    case 'udp':
      return sendUdp(command);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const { id, ...command } = JSON.parse(line) as AgentCommand & { id: number };
  handle(command as AgentCommand).then(
    (answer) => process.stdout.write(`${JSON.stringify({ id, ...answer })}\n`),
    (err: Error) => process.stdout.write(`${JSON.stringify({ id, error: err.message })}\n`),
  );
});
lines.on('close', () => {
  for (const close of closers) close();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
