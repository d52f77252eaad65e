import { randomBytes } from 'node:crypto';
import type { ServiceUnderTest } from '../../sdk';
import { connectSession, probeClientId, type ConnectAnswer } from '../mqtt';
import { stepTimeout, type ChannelEnvironment, type LoginChannel, type LoginResult, type NoLoginInterface } from './types';

/** CONNACK as a login verdict: 3.1.1 codes 4/5 and 5.0 0x86/0x87 are the broker's authentication verdict. */
function outcomeOf(answer: ConnectAnswer, durationMs: number): LoginResult {
  if (answer.status === 'accepted') {
    answer.session.close();
    return { outcome: 'accepted', response: { status: `CONNACK ${answer.text}`, durationMs } };
  }
  if (answer.status === 'closed') return { outcome: 'refused', response: { status: `connection ${answer.reset ? 'reset' : 'closed'} without CONNACK`, durationMs } };
  return { outcome: answer.refusal === 'authentication' ? 'rejected' : 'refused', response: { status: `CONNACK ${answer.text}`, durationMs } };
}

/**
 * MQTT CONNECT with a user name and password (over TLS when the service is TLS-wrapped), one connection per
 * check, closed with DISCONNECT when accepted. A broker that accepts a random user with a random password
 * checks no credentials at all: then there is no login to test (anonymous access is mqtt.access's business).
 * With the profile's own account known, one login with it tells a port that takes no logins from one that does.
 */
export async function mqttLoginChannel(service: ServiceUnderTest, env: ChannelEnvironment): Promise<LoginChannel | NoLoginInterface> {
  const endpoint = { host: service.host, port: service.port, tls: service.tls };
  const attempt = async (username: string, password: string, signal: AbortSignal): Promise<LoginResult> => {
    const started = Date.now();
    const answer = await connectSession(endpoint, { signal, waitMs: stepTimeout(env), clientId: probeClientId(), credentials: { username, password } });
    return outcomeOf(answer, Date.now() - started);
  };
  const control = await attempt(`iacs-probe-${randomBytes(4).toString('hex')}`, `iacs-probe-wrong-${randomBytes(8).toString('hex')}`, env.signal);
  if (control.outcome === 'accepted') {
    return { unsupported: `the broker accepts a random user name with a random password (${control.response.status}): it checks no credentials` };
  }
  // A listener that refuses the profile's own account takes no logins at all (logins over TLS only, say):
  // every pair would be "rejected" there, which proves nothing about the pairs and spends the lockout budget.
  const known = env.knownAccount ? await attempt(env.knownAccount.username, env.knownAccount.password, env.signal) : undefined;
  if (known?.outcome === 'rejected') {
    return { unsupported: `the port refuses the profile's own account ${env.knownAccount!.username} (${known.response.status}): it takes no logins, so no credential can be judged here` };
  }
  return {
    kind: 'mqtt',
    label: `MQTT CONNECT user name and password${service.tls ? ' over TLS' : ' in cleartext'}`,
    details: {
      host: service.host, port: service.port, tls: service.tls, controlLogin: control.response.status ?? control.outcome,
      ...(known ? { profileAccountLogin: known.response.status ?? known.outcome } : {}),
    },
    tryLogin: attempt,
  };
}
