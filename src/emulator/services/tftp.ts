import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { ServiceModule, ServicePosture } from '../types';

export type TftpPosture = ServicePosture;

/**
 * A TFTP responder (RFC 1350) of the kind devices keep for firmware loading: it answers every read
 * request with ERROR 1 "File not found" and every write request with ERROR 2 "Access violation", from its
 * own port. It serves no files and stores nothing; its presence is what a probe should notice.
 */
export const tftpService: ServiceModule<TftpPosture> = {
  key: 'tftp',
  async start(config, device) {
    const socket = dgram.createSocket(net.isIPv6(device.host) ? 'udp6' : 'udp4');
    const error = (code: number, text: string) => Buffer.concat([Buffer.from([0, 5, 0, code]), Buffer.from(text, 'ascii'), Buffer.from([0])]);
    socket.on('message', (msg, rinfo) => {
      const opcode = msg.length >= 2 ? msg.readUInt16BE(0) : 0;
      if (opcode === 1) socket.send(error(1, 'File not found'), rinfo.port, rinfo.address);
      else if (opcode === 2) socket.send(error(2, 'Access violation'), rinfo.port, rinfo.address);
      else device.log(`tftp: ignored opcode ${opcode}`);
    });
    socket.on('error', (err) => device.log(`tftp: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(device.portFor(config.port), device.host, () => resolve());
    });
    return {
      endpoints: [{ protocol: 'tftp', host: device.host, port: socket.address().port }],
      close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
    };
  },
};
