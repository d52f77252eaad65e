import { expect } from 'chai';
import { httpWatch, modbusWatch, tcpWatch } from '../../src/protocols/monitor';
import { startLighttpd } from '../helpers/lighttpd';
import { requirePymodbus, startPymodbus } from '../helpers/pymodbus';
import { HARDENED_SSHD, startSshd } from '../helpers/sshd';
import { pause, startMonitor, waitForState } from './helpers';

/** The monitor against servers we did not write: pymodbus, lighttpd, OpenSSH. */
describe('essential-function monitor: independent servers', function () {
  this.timeout(60_000);

  it('pymodbus: its once-a-second counter is maintained, and lost once the server is gone', async function () {
    const python = requirePymodbus(this);
    const server = await startPymodbus(python, 1, { counter: true });
    let closed = false;
    const { monitor, cleanup } = await startMonitor([modbusWatch({ host: server.host, port: server.port }, { register: 0, kind: 'counter', periodMs: 1000 }, 1)], { periodMs: 200, lossAfterMs: 1000 });
    try {
      await pause(3200);
      expect(monitor.state(), server.stderr()).to.equal('maintained');
      const values = new Set(monitor.samples.map((s) => s.value));
      expect(values.size).to.be.at.least(3); // it counted, and every sample saw it
      const maintained = monitor.judgement().overall;
      expect(maintained.verdict, maintained.text).to.equal('maintained');
      await server.close();
      closed = true;
      await waitForState(monitor, 'lost', 5000);
      await monitor.stop();
      expect(monitor.judgement().overall.verdict).to.equal('lost');
    } finally {
      await cleanup();
      if (!closed) await server.close();
    }
  });

  it('lighttpd: an HTTP GET round trip is maintained; a path it does not serve (404) fails an expectStatus of 200', async function () {
    const server = await startLighttpd(this, [{ username: 'operator', password: 'operator-pass' }]);
    const { monitor, cleanup } = await startMonitor([
      httpWatch({ host: '127.0.0.1', port: server.port }, false, { path: '/', expectStatus: [200] }, 'http'),
      httpWatch({ host: '127.0.0.1', port: server.port }, false, { path: '/missing.html', expectStatus: [200] }, 'http-missing'),
    ]);
    try {
      await pause(900);
      await monitor.stop();
      const [home, missing] = monitor.judgement().overall.watches;
      expect(home.verdict, home.text).to.equal('maintained');
      expect(home.samples).to.be.greaterThan(4);
      expect(missing.verdict).to.equal('lost');
      expect(missing.outages[0].errors).to.deep.equal(['HTTP 404 Not Found']);
    } finally {
      await cleanup();
      await server.close();
    }
  });

  it('OpenSSH: a TCP round trip that waits for the identification banner is maintained', async function () {
    const sshd = await startSshd(this, HARDENED_SSHD);
    const { monitor, cleanup } = await startMonitor([tcpWatch({ host: sshd.host, port: sshd.port }, { port: sshd.port, awaitReply: true })], { latencyToleranceMs: 400 });
    try {
      await pause(900);
      await monitor.stop();
      const tcp = monitor.judgement().overall.watches[0];
      expect(tcp.verdict, tcp.text).to.equal('maintained');
      expect(monitor.samples.every((s) => String(s.value).startsWith('SSH-2.0-OpenSSH'))).to.equal(true);
    } finally {
      await cleanup();
      await sshd.close();
    }
  });
});
