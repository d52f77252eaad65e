import * as net from 'node:net';
import { encodeKexInit, parseKexInit, type KexInitLists } from '../../src/protocols/ssh';
import { packet } from '../../src/protocols/ssh/wire';

/**
 * Hand-made SSH peers for what no library server can be made to offer: SSH-1 identifications, the
 * "none" cipher and MAC, RC4, DISCONNECT before KEXINIT. They speak the real wire format (RFC 4253
 * identification and binary packets), written here byte by byte.
 */

export interface Peer {
  port: number;
  close(): Promise<void>;
}

async function serve(handler: (socket: net.Socket) => void): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    handler(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

export const LEGACY_LISTS: KexInitLists = {
  kex: ['diffie-hellman-group1-sha1', 'diffie-hellman-group-exchange-sha1'],
  hostKey: ['ssh-dss', 'ssh-rsa'],
  ciphersC2S: ['arcfour', 'blowfish-cbc', 'none'], ciphersS2C: ['arcfour', 'blowfish-cbc', 'none'],
  macsC2S: ['hmac-md5', 'none'], macsS2C: ['hmac-md5', 'none'],
  compressionC2S: ['none', 'zlib'], compressionS2C: ['none', 'zlib'], languagesC2S: [], languagesS2C: [],
};

/**
 * Sends `lines` (each followed by CR LF) and then `packets` (payloads, wrapped as unencrypted binary
 * packets), then closes after `closeAfterMs` (or keeps the connection open when undefined).
 */
export function scriptedPeer(lines: string[], packets: Buffer[] = [], closeAfterMs?: number): Promise<Peer> {
  return serve((s) => {
    s.write(lines.map((l) => `${l}\r\n`).join(''));
    for (const p of packets) s.write(packet(p));
    if (closeAfterMs !== undefined) setTimeout(() => s.end(), closeAfterMs).unref();
  });
}

/**
 * A TCP relay to a real SSH server that, for connections whose client identifies as `clientPrefix`,
 * rewrites the server's KEXINIT with `edit`. Only a client that disconnects after reading the KEXINIT
 * (our raw exchange) can use such a connection; every other client passes through untouched.
 */
export function kexinitRewritingRelay(upstreamPort: number, clientPrefix: string, edit: (lists: KexInitLists) => KexInitLists): Promise<Peer> {
  return serve((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    let fromClient = Buffer.alloc(0);
    let fromServer = Buffer.alloc(0);
    let rewrite: boolean | undefined; // undecided until the client's identification line arrived
    let done = false;
    const pump = () => {
      if (rewrite === undefined || done) return;
      if (!rewrite) {
        done = true;
        client.write(fromServer);
        return;
      }
      const nl = fromServer.indexOf(0x0a);
      if (nl === -1 || fromServer.length < nl + 5) return;
      const length = fromServer.readUInt32BE(nl + 1);
      if (fromServer.length < nl + 5 + length) return;
      const padding = fromServer[nl + 5];
      const { cookie: _c, firstKexPacketFollows: _f, ...lists } = parseKexInit(fromServer.subarray(nl + 6, nl + 5 + length - padding));
      done = true;
      client.write(Buffer.concat([fromServer.subarray(0, nl + 1), packet(encodeKexInit(edit(lists))), fromServer.subarray(nl + 5 + length)]));
    };
    client.on('data', (d: Buffer) => {
      if (rewrite === undefined) {
        fromClient = Buffer.concat([fromClient, d]);
        if (fromClient.includes(0x0a)) rewrite = fromClient.toString('latin1').startsWith(clientPrefix);
      }
      upstream.write(d);
      pump();
    });
    upstream.on('data', (d: Buffer) => {
      if (done) return client.write(d);
      fromServer = Buffer.concat([fromServer, d]);
      pump();
    });
  });
}
