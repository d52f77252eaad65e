import type { ServiceUnderTest } from '../../sdk';
import {
  channelFor, clientIdentityFor, describeCertificate, discoverEndpoints, endpointPath, isOpcuaStatusError,
  targetOf, untrustedClientCertificate, usableSecureEndpoints, withOpcuaClient, type OpcuaClientOptions, type OpcuaSession,
} from '../opcua';
import {
  stepTimeout, type ChannelEnvironment, type HeldSession, type LoginChannel, type LoginResult, type NoLoginInterface, type SessionOpening,
} from './types';

const CHANNEL_KEEPALIVE_MS = 3000;

/** How an OPC UA server refuses a user identity (Part 4 §5.6.3 ActivateSession); any other Bad status at
 * the session stage (BadTooManySessions, BadServerHalted, ...) is no verdict on the credential. */
const IDENTITY_REFUSED = /^Bad(UserAccessDenied|IdentityTokenRejected|IdentityTokenInvalid)$/;

/** A session the server no longer knows (closed, timed out) answers a request with one of these. */
const SESSION_GONE = /^Bad(SessionIdInvalid|SessionClosed|SessionNotActivated)$/;

/**
 * OPC UA UserName tokens on the strongest Sign/SignAndEncrypt endpoint that offers them, with the client
 * certificate the profile names (or the harness's own): each check is CreateSession + ActivateSession on
 * a fresh secure channel. Passwords are only sent encrypted; an endpoint offering UserName only on an
 * unsecured channel is not used.
 */
export async function opcuaLoginChannel(service: ServiceUnderTest, env: ChannelEnvironment): Promise<LoginChannel | NoLoginInterface> {
  const target = targetOf(service);
  const endpoints = await discoverEndpoints(target, { signal: env.signal, deadline: env.deadline, timeoutMs: stepTimeout(env) });
  const offering = endpoints.filter((e) => e.userTokens.includes('UserName'));
  const { usable, untestable } = usableSecureEndpoints(offering);
  if (usable.length === 0) {
    return {
      unsupported: offering.length === 0
        ? 'no endpoint offers the UserName token'
        : untestable.length > 0
          ? `the UserName token is offered only on endpoints this process cannot open: ${untestable.map((u) => u.reason).join('; ')}`
          : 'the UserName token is offered only on unsecured endpoints; the harness does not send passwords there',
    };
  }
  const endpoint = usable[0];
  const identity = clientIdentityFor(service, env.resolvePath);
  const label = `OPC UA UserName token on ${endpoint.securityMode}/${endpoint.securityPolicy}`;
  const options = (signal: AbortSignal, extra: Partial<OpcuaClientOptions> = {}): OpcuaClientOptions => ({
    signal, deadline: env.deadline, timeoutMs: stepTimeout(env), path: endpointPath(endpoint.endpointUrl), security: channelFor(endpoint, identity), ...extra,
  });
  const channelRefused = (err: unknown): never => {
    throw untrustedClientCertificate(err, `${endpoint.securityMode}/${endpoint.securityPolicy}`, identity.source) ?? err;
  };

  return {
    kind: 'opcua',
    label,
    details: {
      endpoint: `${endpoint.securityMode}/${endpoint.securityPolicy}`,
      clientCertificate: { source: identity.source, sha1: describeCertificate(identity.certificate).sha1 },
    },
    async tryLogin(username, password, signal): Promise<LoginResult> {
      let started = 0;
      try {
        return await withOpcuaClient(target, options(signal), async (c) => {
          started = Date.now();
          return c.withSession({ type: 'username', username, password }, async () => ({ outcome: 'accepted' as const, response: { durationMs: Date.now() - started } }));
        });
      } catch (err) {
        if (isOpcuaStatusError(err, 'session')) {
          return { outcome: IDENTITY_REFUSED.test(err.status) ? 'rejected' : 'refused', response: { status: err.status, durationMs: Date.now() - started } };
        }
        return channelRefused(err);
      }
    },
    async openSession(username, password, signal): Promise<SessionOpening> {
      // The session lives inside withOpcuaClient's callback until close() releases it.
      let release!: () => void;
      const released = new Promise<void>((r) => { release = r; });
      let started = 0;
      let running: Promise<unknown> | undefined;
      const opened = new Promise<{ session: OpcuaSession; durationMs: number }>((resolve, reject) => {
        running = withOpcuaClient(target, options(signal, { requestedSessionTimeoutMs: 3_600_000 }), async (c) => {
          started = Date.now();
          await c.withSession({ type: 'username', username, password }, async (s) => {
            resolve({ session: s, durationMs: Date.now() - started });
            // Servers close a silent TCP connection long before an idle session times out. GetEndpoints
            // carries no session token, so it keeps the channel up without being activity of the session.
            const keepalive = setInterval(() => void c.getEndpoints().catch(() => undefined), CHANNEL_KEEPALIVE_MS);
            try {
              await released;
            } finally {
              clearInterval(keepalive);
            }
          });
        }).catch((err: unknown) => reject(err));
      });
      try {
        const { session: s, durationMs } = await opened;
        let ended = false;
        const session: HeldSession = {
          grantedIdleTimeoutMs: s.revisedSessionTimeoutMs,
          closedAt: () => undefined,
          async isAlive() {
            if (ended) return false;
            const id = s.sessionId();
            try {
              const [state] = await s.read(['i=2259']); // Server_ServerStatus_State
              // node-opcua answers a dropped session by making a new one and reading there.
              if (s.sessionId() !== id) return false;
              return !SESSION_GONE.test(state.status);
            } catch (err) {
              if (isOpcuaStatusError(err) && SESSION_GONE.test(err.status)) return false;
              throw err;
            }
          },
          async close() {
            ended = true;
            release();
            await running?.catch(() => undefined);
          },
        };
        return { opened: true, session, response: { durationMs } };
      } catch (err) {
        release();
        if (isOpcuaStatusError(err, 'session')) return { opened: false, response: { status: err.status, durationMs: Date.now() - started } };
        return channelRefused(err);
      }
    },
  };
}
