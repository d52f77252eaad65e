import { expect } from 'chai';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';
import { isUnsupported, openLoginChannel, type LoginChannel } from '../../src/protocols/auth';
import { httpEndpoint, httpRequest } from '../../src/protocols/http/request';
import type { ServiceUnderTest } from '../../src/sdk';
import { handleSnapshot } from '../helpers/leaks';

/**
 * The emulator's authentication knobs, as a real client sees them: a later answer for existing users
 * (knownUserDelayMs), distinct failure texts (loginFeedback), per-user session limits (maxSessionsPerUser)
 * and the OPC UA session timeout bound (sessionTimeoutSeconds). Timing is only asserted as a lower bound
 * (a server timer cannot fire early).
 */
describe('emulator: authentication knobs', function () {
  this.timeout(30_000);
  const DELAY = 300;
  let emulator: Emulator | undefined;
  const signal = () => AbortSignal.timeout(10_000);
  const service = (protocol: 'ssh' | 'opcua' | 'https', options: Record<string, unknown> = {}): ServiceUnderTest => ({
    host: '127.0.0.1', port: emulator!.endpoint(protocol).port, protocol, transport: 'tcp', name: protocol, tls: protocol === 'https', options,
  });
  const channel = async (s: ServiceUnderTest): Promise<LoginChannel> => {
    const c = await openLoginChannel(s, { signal: signal(), deadline: Date.now() + 20_000, resolvePath: (f) => f });
    if (isUnsupported(c)) throw new Error(c.unsupported);
    return c;
  };

  before(async () => {
    const weak = loadPosture('weak');
    emulator = await startEmulator({
      name: 'knobs', accounts: [{ username: 'op', password: 'right-password' }], lockout: null,
      services: {
        ssh: { knownUserDelayMs: DELAY },
        opcua: { ...weak.services.opcua, knownUserDelayMs: DELAY, maxSessionsPerUser: 1, sessionTimeoutSeconds: 5 },
        https: { loginFeedback: 'distinct', knownUserDelayMs: DELAY, maxSessionsPerUser: 1 },
      },
    }, { ephemeralPorts: true });
  });
  after(async () => emulator?.close());

  it('knownUserDelayMs: SSH, OPC UA and HTTP answer an existing user at least that much later', async () => {
    for (const s of [service('ssh'), service('opcua'), service('https')]) {
      const c = await channel(s);
      const known = await c.tryLogin('op', 'wrong', signal());
      expect([s.protocol, known.outcome]).to.deep.equal([s.protocol, 'rejected']);
      expect(known.response.durationMs, s.protocol).to.be.at.least(DELAY - 5);
      expect((await c.tryLogin('op', 'right-password', signal())).outcome).to.equal('accepted');
    }
  });

  it('loginFeedback distinct: the failure text names what was wrong', async () => {
    const c = await channel(service('https'));
    expect((await c.tryLogin('nobody', 'x', signal())).response.message).to.contain('Unknown user name.');
    expect((await c.tryLogin('op', 'x', signal())).response.message).to.contain('Wrong password.');
  });

  it('maxSessionsPerUser: a second web session is refused with 429, a second OPC UA session with BadUserAccessDenied', async () => {
    for (const s of [service('https'), service('opcua')]) {
      const c = await channel(s);
      const first = await c.openSession!('op', 'right-password', signal());
      expect(first.opened, s.protocol).to.equal(true);
      try {
        const second = await c.openSession!('op', 'right-password', signal());
        expect(second.opened, s.protocol).to.equal(false);
        expect(second.response.status).to.equal(s.protocol === 'https' ? '429' : 'BadUserAccessDenied');
      } finally {
        if (first.opened) await first.session.close();
      }
      const again = await c.openSession!('op', 'right-password', signal());
      expect(again.opened, `${s.protocol}: after the first session ended`).to.equal(true);
      if (again.opened) await again.session.close();
    }
  });

  it('sessionTimeoutSeconds: OPC UA grants at most that idle time whatever the client asks', async () => {
    const opened = await (await channel(service('opcua'))).openSession!('op', 'right-password', signal());
    expect(opened.opened).to.equal(true);
    if (opened.opened) {
      expect(opened.session.grantedIdleTimeoutMs).to.equal(5000);
      await opened.session.close();
    }
  });

  it('close() during a delayed answer leaves no socket or timer behind', async () => {
    const handles = await handleSnapshot();
    const own = await startEmulator({ name: 'delay', accounts: [{ username: 'op', password: 'p' }], services: { https: { knownUserDelayMs: 5000 } } }, { ephemeralPorts: true });
    const endpoint = httpEndpoint({ ...service('https'), port: own.endpoint('https').port });
    const pending = httpRequest(endpoint, { method: 'POST', path: '/login', body: 'username=op&password=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(3000) });
    pending.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    await own.close();
    await pending.catch(() => undefined);
    await handles.check();
  });
});
