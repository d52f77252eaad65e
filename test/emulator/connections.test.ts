import { expect } from 'chai';
import * as net from 'node:net';
import { startEmulator, type ConnectionStats, type Emulator } from '../../src/emulator';

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 3000 });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function until(emu: Emulator, what: string, condition: (s: ConnectionStats) => boolean): Promise<ConnectionStats> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const stats = emu.connections();
    if (condition(stats)) return stats;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(stats)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('emulator: connection meter (what the device holds at once)', () => {
  it('counts open connections over every TCP service, keeps the peak, and drops closed ones', async () => {
    const emu = await startEmulator({
      name: 'meter', accounts: [{ username: 'admin', password: 'admin' }],
      services: { telnet: { banner: 'METER' }, modbus: { unitId: 1 } },
    }, { ephemeralPorts: true });
    const sockets: net.Socket[] = [];
    try {
      expect(emu.connections()).to.deep.include({ total: 0, open: 0, peak: 0, peakAt: null });
      for (const protocol of ['telnet', 'telnet', 'telnet', 'modbus']) sockets.push(await connect(emu.endpoint(protocol).port));
      const held = await until(emu, 'four are open', (s) => s.open === 4);
      expect(held).to.deep.include({ total: 4, peak: 4 });
      expect(held.peakAt).to.be.a('string');
      expect(held.services).to.deep.equal({ telnet: { total: 3, peak: 3 }, modbus: { total: 1, peak: 1 } });

      for (const s of sockets.splice(0)) s.destroy();
      await until(emu, 'all are closed', (s) => s.open === 0);
      sockets.push(await connect(emu.endpoint('modbus').port));
      const after = await until(emu, 'the fifth is open', (s) => s.open === 1);
      expect(after).to.deep.include({ total: 5, peak: 4, peakAt: held.peakAt });
    } finally {
      for (const s of sockets) s.destroy();
      await emu.close();
    }
  });
});
