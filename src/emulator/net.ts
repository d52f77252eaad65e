import type * as net from 'node:net';

export interface Listener {
  port: number;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

/**
 * Listens on host:port and tracks connections so close() leaves no socket behind (a `server.close()`
 * alone waits for clients to hang up). Works for net, tls, http and https servers. `onConnection` sees
 * every accepted TCP socket (the device's connection meter).
 */
export async function listenTcp(server: net.Server, host: string, port: number, onConnection?: (socket: net.Socket) => void): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  if (onConnection) server.on('connection', onConnection);
  server.on('secureConnection', track);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return {
    port: address.port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
