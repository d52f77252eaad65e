import * as net from 'node:net';
import { listenTcp } from '../net';
import type { ServiceModule, ServicePosture } from '../types';

export interface FtpPosture extends ServicePosture {
  /** Text of the 220 greeting. */
  banner?: string;
}

/**
 * A cleartext FTP control channel (RFC 959) of the kind devices ship for firmware and log transfer:
 * a 220 greeting, USER/PASS checked against the device accounts (530 on failure), FEAT without
 * AUTH TLS (RFC 4217 is not offered), SYST, HELP, NOOP, QUIT. No data connections.
 */
export const ftpService: ServiceModule<FtpPosture> = {
  key: 'ftp',
  async start(config, device) {
    const banner = config.banner ?? `${device.identity.model} FTP server (firmware ${device.identity.firmware}) ready`;
    const server = net.createServer((socket) => {
      let user: string | undefined;
      let loggedIn = false;
      let buffered = '';
      const source = socket.remoteAddress ?? '';
      const reply = (text: string) => socket.write(`${text}\r\n`);
      socket.setTimeout(60_000, () => socket.destroy());
      socket.on('error', () => undefined);
      reply(`220 ${banner}`);
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('latin1');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) !== -1) {
          const line = buffered.slice(0, nl).replace(/\r$/, '');
          buffered = buffered.slice(nl + 1);
          const [verb = '', ...rest] = line.split(' ');
          const arg = rest.join(' ');
          switch (verb.toUpperCase()) {
            case 'USER':
              user = arg;
              loggedIn = false;
              reply(`331 Password required for ${arg}`);
              break;
            case 'PASS':
              if (user === undefined) reply('503 Login with USER first');
              else if (device.accounts.login(user, arg, source, 'ftp') === 'ok') {
                loggedIn = true;
                reply(`230 User ${user} logged in`);
              } else reply('530 Login incorrect');
              break;
            case 'FEAT':
              socket.write('211-Features:\r\n SIZE\r\n MDTM\r\n211 End\r\n');
              break;
            case 'AUTH':
              reply('502 AUTH not implemented');
              break;
            case 'SYST':
              reply('215 UNIX Type: L8');
              break;
            case 'HELP':
              socket.write('214-The following commands are recognized:\r\n USER PASS FEAT SYST HELP NOOP PWD QUIT\r\n214 Help OK\r\n');
              break;
            case 'NOOP':
              reply('200 NOOP ok');
              break;
            case 'PWD':
              reply(loggedIn ? '257 "/" is the current directory' : '530 Please login with USER and PASS');
              break;
            case 'QUIT':
              socket.end('221 Goodbye\r\n');
              return;
            default:
              reply(loggedIn ? `502 ${verb} not implemented` : '530 Please login with USER and PASS');
          }
        }
      });
    });
    const listener = await listenTcp(server, device.host, device.portFor(config.port), device.connections.counter('ftp'));
    return { endpoints: [{ protocol: 'ftp', host: device.host, port: listener.port }], close: listener.close };
  },
};
