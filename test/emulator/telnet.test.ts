import { expect } from 'chai';
import * as net from 'node:net';
import { startEmulator } from '../../src/emulator';
import { handleSnapshot } from '../helpers/leaks';

/** Sends lines to the console and collects what it printed until `until` matches. */
async function converse(port: number, lines: string[], until: RegExp): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      let sent = 0;
      socket.on('data', (d) => {
        text += d.toString('latin1');
        if (until.test(text)) return resolve(text);
        if (/(login|Password): $/.test(text) && sent < lines.length) socket.write(`${lines[sent++]}\r\n`);
      });
      socket.on('error', reject);
      timer = setTimeout(() => reject(new Error(`no match; got ${JSON.stringify(text)}`)), 3000);
    });
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

describe('emulator: telnet-style console', () => {
  it('shows the banner, accepts the device account and refuses a wrong password', async () => {
    const handles = await handleSnapshot();
    const emu = await startEmulator({
      name: 't', accounts: [{ username: 'admin', password: 'admin' }],
      services: { telnet: { banner: 'TEST CONSOLE' } },
    });
    const { port } = emu.endpoint('telnet');
    expect(await converse(port, ['admin', 'admin'], /Welcome admin/)).to.match(/^TEST CONSOLE/);
    expect(await converse(port, ['admin', 'nope'], /Login incorrect/)).to.contain('Login incorrect');
    await emu.close();
    await handles.check();
  });

  it('lockout threshold 3 refuses the 4th login even with the right password', async () => {
    const emu = await startEmulator({
      name: 't', accounts: [{ username: 'admin', password: 'admin' }], lockout: { threshold: 3, durationSeconds: 60 },
      services: { telnet: {} },
    });
    try {
      const { port } = emu.endpoint('telnet');
      for (let i = 0; i < 3; i++) await converse(port, ['admin', 'bad'], /Login incorrect/);
      expect(await converse(port, ['admin', 'admin'], /Login incorrect|Welcome/)).to.contain('Login incorrect');
    } finally {
      await emu.close();
    }
  });

  it('a switched-off service does not listen', async () => {
    const emu = await startEmulator({ name: 't', services: { telnet: { enabled: false } } });
    expect(emu.services).to.deep.equal([]);
    await emu.close();
  });
});
