import * as net from 'node:net';
import type { ServiceModule, ServicePosture } from '../types';
import { listenTcp } from '../net';

export interface TelnetPosture extends ServicePosture {
  /** Text sent on connect before the login prompt. */
  banner?: string;
}

const IAC = 0xff;

/** Drops telnet option negotiation (IAC sequences) so line parsing sees only text. */
function stripTelnetCommands(data: Buffer): string {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    if (data[i] === IAC) {
      const cmd = data[i + 1];
      i += cmd !== undefined && cmd >= 251 && cmd <= 254 ? 2 : 1; // WILL/WONT/DO/DONT carry an option byte
      continue;
    }
    out.push(data[i]);
  }
  return Buffer.from(out).toString('latin1');
}

/**
 * A telnet-style cleartext management console (what careless devices still ship): a banner, a login
 * prompt checked against the device accounts (with the device lockout), and a tiny shell.
 */
export const telnetService: ServiceModule<TelnetPosture> = {
  key: 'telnet',
  async start(config, device) {
    const banner = config.banner ?? `${device.identity.vendor} ${device.identity.model} firmware ${device.identity.firmware}`;
    const server = net.createServer((socket) => {
      let state: 'user' | 'password' | 'shell' = 'user';
      let username = '';
      let buffered = '';
      const source = socket.remoteAddress ?? '';
      socket.setTimeout(120_000, () => socket.destroy());
      socket.write(`${banner}\r\n\r\nlogin: `);
      socket.on('data', (chunk) => {
        buffered += stripTelnetCommands(chunk);
        let nl: number;
        while ((nl = buffered.search(/\r?\n|\r\0/)) !== -1) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1).replace(/^[\n\0]/, '');
          if (state === 'user') {
            username = line;
            state = 'password';
            socket.write('Password: ');
          } else if (state === 'password') {
            const result = device.accounts.login(username, line, source, 'telnet');
            if (result === 'ok') {
              state = 'shell';
              device.audit.event({ category: 'session-opened', service: 'telnet', user: username, source });
              socket.once('close', () => device.audit.event({ category: 'session-closed', service: 'telnet', user: username, source }));
              socket.write(`\r\nWelcome ${username}\r\n> `);
            } else {
              state = 'user';
              socket.write('\r\nLogin incorrect\r\n\r\nlogin: ');
            }
          } else if (line === 'exit' || line === 'logout') {
            socket.end('bye\r\n');
          } else if (line === 'show version') {
            socket.write(`${device.identity.model} ${device.identity.firmware}\r\n> `);
          } else {
            socket.write(line ? `unknown command: ${line}\r\n> ` : '> ');
          }
        }
      });
      socket.on('error', () => undefined);
    });
    const listener = await listenTcp(server, device.host, device.portFor(config.port), device.connections.counter('telnet'));
    return { endpoints: [{ protocol: 'telnet', host: device.host, port: listener.port }], close: listener.close };
  },
};
