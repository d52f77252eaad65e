import { expect } from 'chai';
import * as net from 'node:net';
import { PostureError, startEmulator } from '../../src/emulator';
import { handleSnapshot } from '../helpers/leaks';

describe('emulator: start failures name the posture section', () => {
  it('a fixed port already in use is a PostureError naming the service, the port and the way out, with nothing left open', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const { port } = taken.address() as net.AddressInfo;
    const handles = await handleSnapshot();
    try {
      let error: unknown;
      await startEmulator({ name: 't', services: { debug: { port: 0 }, telnet: { port } } }).catch((e: unknown) => { error = e; });
      expect(error).to.be.instanceOf(PostureError);
      expect((error as Error).message).to.equal(`services.telnet: cannot listen on 127.0.0.1:${port}: the port is in use (another emulator or service?); stop it, or run with --ephemeral`);
    } finally {
      await new Promise((r) => taken.close(r));
    }
    await handles.check();
  });

  it('a service section the emulator cannot run is a PostureError prefixed with its section', async () => {
    let error: unknown;
    await startEmulator({ name: 't', services: { ssh: { algorithms: { cipher: ['rot13'] } } } }, { ephemeralPorts: true }).catch((e: unknown) => { error = e; });
    expect(error).to.be.instanceOf(PostureError);
    expect((error as Error).message).to.match(/^services\.ssh\b.*rot13 not implemented by ssh2/);
  });
});
