import { expect } from 'chai';
import * as net from 'node:net';
import { startEmulator } from '../../src/emulator';
import { handleSnapshot } from '../helpers/leaks';

/** Sends commands one reply at a time and returns every reply line. */
async function session(port: number, commands: string[]): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const pending = [...commands];
      socket.on('data', (d) => {
        text += d.toString('latin1');
        // A reply is complete when its last line is "ddd text".
        if (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(text)) return;
        const next = pending.shift();
        if (next === undefined) return resolve(text.trim().split('\r\n'));
        socket.write(`${next}\r\n`);
      });
      socket.on('error', reject);
      timer = setTimeout(() => reject(new Error(`incomplete: ${JSON.stringify(text)}`)), 3000);
    });
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

describe('emulator: FTP control channel', () => {
  it('greets, checks USER/PASS against the device accounts, offers no AUTH TLS, and closes cleanly', async () => {
    const handles = await handleSnapshot();
    const emu = await startEmulator({
      name: 'f', accounts: [{ username: 'admin', password: 'admin' }], services: { ftp: { banner: 'TEST FTP' } },
    }, { ephemeralPorts: true });
    const { port } = emu.endpoint('ftp');
    const lines = await session(port, ['FEAT', 'AUTH TLS', 'USER admin', 'PASS nope', 'USER admin', 'PASS admin', 'PWD']);
    expect(lines[0]).to.equal('220 TEST FTP');
    expect(lines).to.include('211 End').and.not.include(' AUTH TLS');
    expect(lines).to.include.members(['502 AUTH not implemented', '530 Login incorrect', '230 User admin logged in', '257 "/" is the current directory']);
    await emu.close();
    await handles.check();
  });

  it('weak posture serves FTP, hardened does not', async () => {
    const weak = await startEmulator('weak', { ephemeralPorts: true });
    const hardened = await startEmulator('hardened', { ephemeralPorts: true });
    try {
      expect(weak.services.map((s) => s.protocol)).to.include('ftp');
      expect(hardened.services.map((s) => s.protocol)).to.not.include('ftp');
    } finally {
      await Promise.all([weak.close(), hardened.close()]);
    }
  });
});
