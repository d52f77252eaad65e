import * as net from 'node:net';
import type * as Ssh2 from 'ssh2';
import { lazyModule } from '../lazy';

const ssh2 = lazyModule<typeof Ssh2>('ssh2');
import { ProtocolViolation, type ServiceUnderTest } from '../../sdk';
import { exchangeHello, mapSsh2Error, passwordAuthHandler, passwordLogin, stepBudgets } from '../ssh';
import type { Ssh2Error } from '../ssh/client';
import { stepTimeout, type ChannelEnvironment, type HeldSession, type LoginChannel, type LoginResponse, type SessionOpening } from './types';

function methodsStatus(methods: readonly string[]): string {
  return `methods ${methods.join(',')}`;
}

/**
 * Logs in with a password (keyboard-interactive when password is not offered) and keeps the connection:
 * the held session is the authenticated SSH connection, alive until the server or `close()` ends it.
 * Never tries "none" first, so a server accepting "none" cannot make a wrong password look accepted.
 */
async function openSshSession(service: ServiceUnderTest, username: string, password: string, timeoutMs: number, signal: AbortSignal): Promise<SessionOpening> {
  signal.throwIfAborted();
  const socket = net.connect({ host: service.host, port: service.port, noDelay: true });
  socket.on('error', () => undefined); // reported through ssh2's 'error' event
  const client = new ssh2.Client();
  let closedAt: number | undefined;
  const destroy = () => {
    client.end();
    socket.destroy();
  };
  // One abort listener per opening, removed once the connection is ended: an attempt opens many sessions on
  // one signal, and a listener left behind per login is a leak (and Node's MaxListenersExceededWarning).
  let rejectOpening: ((reason: unknown) => void) | undefined;
  const onAbort = () => {
    destroy();
    rejectOpening?.(signal.reason);
  };
  const release = () => {
    signal.removeEventListener('abort', onAbort);
    destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  let opening: SessionOpening;
  try {
    opening = await new Promise<SessionOpening>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
      };
      rejectOpening = (reason) => settle(() => reject(reason));
      client.on('error', (err: Ssh2Error) => settle(() => reject(mapSsh2Error(err, timeoutMs))));
      client.on('close', () => {
        closedAt = Date.now();
        settle(() => reject(new ProtocolViolation('the server closed the SSH connection during authentication')));
      });
      const { handler, state } = passwordAuthHandler(username, password, (r) => settle(() => resolve({ opened: false, response: { status: methodsStatus(r.methods), durationMs: r.authMs ?? 0 } })));
      client.on('ready', () => settle(() => {
        const response: LoginResponse = { durationMs: Date.now() - (state.sentAt ?? Date.now()) };
        const session: HeldSession = {
          isAlive: () => Promise.resolve(closedAt === undefined),
          closedAt: () => closedAt,
          close: async () => release(),
        };
        resolve({ opened: true, session, response });
      }));
      client.connect({
        host: service.host, port: service.port, sock: socket, username, readyTimeout: timeoutMs,
        hostVerifier: () => true, // host keys are the algorithms probe's business
        authHandler: handler as never, // ssh2's NextAuthHandler type does not accept the objects it takes at run time
      });
    });
  } catch (err) {
    release();
    throw err;
  } finally {
    rejectOpening = undefined;
  }
  if (!opening.opened) release();
  return opening;
}

/**
 * SSH password authentication (RFC 4252 §8; keyboard-interactive where password is not offered). The raw
 * identification exchange first fails fast on a peer that is no SSH-2 server.
 */
export async function sshLoginChannel(service: ServiceUnderTest, env: ChannelEnvironment): Promise<LoginChannel> {
  const hello = await exchangeHello({ host: service.host, port: service.port, signal: env.signal, preBannerGraceMs: stepBudgets(env.deadline, 8_000).preBannerGraceMs });
  if (hello.ssh1Only) throw new ProtocolViolation(`the server speaks SSH-1 only (${hello.identification.raw}); no SSH-2 login to test`);
  return {
    kind: 'ssh',
    label: 'SSH password authentication',
    details: { host: service.host, port: service.port, identification: hello.identification.raw },
    async tryLogin(username, password, signal) {
      const result = await passwordLogin(username, password, { host: service.host, port: service.port, signal, timeoutMs: stepTimeout(env) });
      const response: LoginResponse = { durationMs: result.authMs ?? 0, ...(result.outcome === 'accepted' ? {} : { status: methodsStatus(result.methods) }) };
      if (result.outcome === 'no-password-method') return { outcome: 'unsupported', response };
      return { outcome: result.outcome, response };
    },
    openSession: (username, password, signal) => openSshSession(service, username, password, stepTimeout(env), signal),
  };
}
