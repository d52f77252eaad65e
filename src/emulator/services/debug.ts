import * as net from 'node:net';
import { listenTcp } from '../net';
import type { ServiceModule, ServicePosture } from '../types';

export interface DebugPosture extends ServicePosture {
  banner?: string;
}

/**
 * An undocumented vendor debug agent left listening (the kind of service a communication matrix does not
 * declare): greets with a banner, answers whatever it is sent with "ERR" and hangs up. It exists so that CR 7.7 (least
 * functionality) has something to find on the weak device.
 */
export const debugService: ServiceModule<DebugPosture> = {
  key: 'debug',
  async start(config, device) {
    const banner = config.banner ?? `${device.identity.model} debug agent 0.3 ready`;
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.setTimeout(60_000, () => socket.destroy());
      socket.write(`${banner}\r\n`);
      socket.on('data', () => socket.end('ERR\r\n'));
    });
    const listener = await listenTcp(server, device.host, device.portFor(config.port), device.connections.counter('debug'));
    return { endpoints: [{ protocol: 'tcp', host: device.host, port: listener.port }], close: listener.close };
  },
};
