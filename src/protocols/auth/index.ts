import type { ServiceUnderTest } from '../../sdk';
import { httpLoginChannel } from './http';
import { mqttLoginChannel } from './mqtt';
import { opcuaLoginChannel } from './opcua';
import { sshLoginChannel } from './ssh';
import type { ChannelEnvironment, LoginChannel, NoLoginInterface } from './types';

export * from './types';
export * from './ledger';
export * from './lists';
export { httpAuthOptions, type HttpAuthOptions } from './http';

/** The interface families that log users in, as probe protocols. */
export type AuthProtocol = 'ssh' | 'opcua' | 'http' | 'mqtt';

/** The interface family of a declared service (http and https are both "http"). */
export function authProtocolOf(service: ServiceUnderTest): AuthProtocol | undefined {
  if (service.protocol === 'ssh') return 'ssh';
  if (service.protocol === 'opcua') return 'opcua';
  if (service.protocol === 'http' || service.protocol === 'https') return 'http';
  if (service.protocol === 'mqtt') return 'mqtt';
  return undefined;
}

/**
 * The login interface of a declared service: SSH password authentication; OPC UA UserName tokens on a
 * secure endpoint; for http/https, options.auth or what the page asks for (401 + WWW-Authenticate: Basic
 * -> basic; a form with a password field -> form); MQTT CONNECT with a user name and password. A service without a usable login says why.
 */
export async function openLoginChannel(service: ServiceUnderTest, env: ChannelEnvironment): Promise<LoginChannel | NoLoginInterface> {
  switch (authProtocolOf(service)) {
    case 'ssh': return sshLoginChannel(service, env);
    case 'opcua': return opcuaLoginChannel(service, env);
    case 'http': return httpLoginChannel(service, env);
    case 'mqtt': return mqttLoginChannel(service, env);
    default: return { unsupported: `${service.protocol} services have no login interface this harness speaks` };
  }
}

export function isUnsupported(c: LoginChannel | NoLoginInterface): c is NoLoginInterface {
  return 'unsupported' in c;
}
