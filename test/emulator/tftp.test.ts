import { expect } from 'chai';
import * as dgram from 'node:dgram';
import { startEmulator } from '../../src/emulator';
import { tftpReadRequest } from '../../src/protocols/cleartext';
import { handleSnapshot } from '../helpers/leaks';

describe('emulator: TFTP responder', () => {
  it('answers RRQ with File not found and WRQ with Access violation, and closes its socket', async () => {
    const handles = await handleSnapshot();
    const emu = await startEmulator({ name: 't', services: { tftp: {} } }, { ephemeralPorts: true });
    const { port } = emu.endpoint('tftp');
    const answer = await tftpReadRequest('127.0.0.1', port, 'config.bin', { timeoutMs: 500, retries: 0, signal: new AbortController().signal });
    expect(answer).to.include({ kind: 'error', code: 1, message: 'File not found' });
    const client = dgram.createSocket('udp4');
    const reply = await new Promise<Buffer>((resolve) => {
      client.once('message', (m) => resolve(m));
      client.send(Buffer.from('\x00\x02firmware.bin\x00octet\x00', 'latin1'), port, '127.0.0.1');
    });
    client.close();
    expect(reply.readUInt16BE(0)).to.equal(5);
    expect(reply.readUInt16BE(2)).to.equal(2);
    await emu.close();
    await handles.check();
  });
});
