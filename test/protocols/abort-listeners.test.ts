import { expect } from 'chai';
import { getEventListeners } from 'node:events';
import { startEmulator, type Emulator } from '../../src/emulator';
import { isUnsupported, openLoginChannel, type LoginChannel } from '../../src/protocols/auth';
import type { ServiceProtocol, ServiceUnderTest } from '../../src/sdk';

// A probe makes many requests on one attempt signal (feedback timing samples, default-credential lists,
// session limits). Every adapter must take its abort listener off the signal when a request ends: one left
// per request is a leak on long runs, and Node's MaxListenersExceededWarning at the user after ten.

/** Listeners on the signal once pending closes have run (node:http removes its own on the socket's 'close'). */
async function listenersOn(signal: AbortSignal): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return getEventListeners(signal, 'abort').length;
}

function service(protocol: ServiceProtocol, port: number): ServiceUnderTest {
  return {
    host: '127.0.0.1', port, protocol, transport: 'tcp', name: `${protocol}/${port}`, tls: protocol === 'https', options: {},
  };
}

describe('abort listeners: a long sequence of requests on one signal leaves none behind', function () {
  this.timeout(180_000);
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator('weak', { ephemeralPorts: true });
  });
  after(async () => {
    await emulator?.close();
  });

  for (const protocol of ['ssh', 'opcua', 'http', 'https'] as const) {
    it(`${protocol}: 15 failed logins and 3 held sessions, listener count back to where it was after each`, async () => {
      const controller = new AbortController();
      const { signal } = controller;
      const deadline = Date.now() + 150_000;
      const channel = await openLoginChannel(service(protocol, emulator.endpoint(protocol).port), { signal, deadline, resolvePath: (f) => f });
      expect(isUnsupported(channel), JSON.stringify(channel)).to.equal(false);
      const login = channel as LoginChannel;
      const baseline = await listenersOn(signal);
      const counts: number[] = [];
      for (let i = 0; i < 15; i++) {
        const result = await login.tryLogin('admin', `wrong-${i}`, signal);
        expect(result.outcome, `login ${i}`).to.equal('rejected');
        counts.push(await listenersOn(signal));
      }
      if (login.openSession) {
        for (let i = 0; i < 3; i++) {
          const opening = await login.openSession('admin', 'admin', signal);
          expect(opening.opened, `session ${i}`).to.equal(true);
          if (opening.opened) await opening.session.close();
          counts.push(await listenersOn(signal));
        }
      }
      expect(baseline).to.equal(0);
      expect(counts.every((c) => c === baseline), `listeners after each request: ${counts.join(' ')} (baseline ${baseline})`).to.equal(true);
      controller.abort();
    });
  }
});
