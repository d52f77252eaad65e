import type * as NodeOpcua from 'node-opcua';
import type { OPCUAClient } from 'node-opcua';
import type { ServiceUnderTest } from '../../sdk';
import { harnessClientOptions, type ChannelSecurity, type DiscoveredEndpoint, type EndpointSummary, type OpcuaTarget, type UserTokenPolicySummary } from './client';
import { harnessIdentity, identityFromFiles, type ClientIdentity } from './identity';
import { policyTestable } from './names';

/** Helpers the OPC UA probes share: reading endpoint lists and choosing where to connect. */

export function targetOf(service: ServiceUnderTest): OpcuaTarget {
  return { host: service.host, port: service.port };
}

/** An endpoint without its certificate bytes: what goes into observations. */
export function summaryOf(e: DiscoveredEndpoint): EndpointSummary {
  const { serverCertificate: _cert, ...rest } = e;
  return rest;
}

/**
 * The client certificate to present on secure channels: the one the profile names for this service
 * (`clientCertificate` / `clientPrivateKey` PEM files; `resolve` maps them to the profile's folder),
 * else the harness's generated per-process certificate.
 */
export function clientIdentityFor(service: ServiceUnderTest, resolve: (file: string) => string): ClientIdentity {
  const cert = service.options.clientCertificate;
  const key = service.options.clientPrivateKey;
  if (typeof cert === 'string' && typeof key === 'string') return identityFromFiles(resolve(cert), resolve(key));
  return harnessIdentity();
}

/**
 * The security policy a password of this token policy is encrypted with: the token's own policy, or
 * the endpoint's when the token names none (Part 4 §7.41).
 */
export function tokenPolicyOf(endpoint: EndpointSummary, token: UserTokenPolicySummary): string {
  return token.securityPolicy ?? endpoint.securityPolicy;
}

/** True when a UserName token of this policy crosses the network readable: no token encryption, no message encryption. */
export function passwordInClear(endpoint: EndpointSummary, token: UserTokenPolicySummary): boolean {
  return token.tokenType === 'UserName' && tokenPolicyOf(endpoint, token) === 'None' && endpoint.securityMode !== 'SignAndEncrypt';
}

const MODE_RANK: Record<string, number> = { SignAndEncrypt: 2, Sign: 1 };

/** Strength order for choosing an endpoint: current policies before deprecated ones. */
function policyRank(policy: string): number {
  const order = ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss', 'Basic256', 'Basic128Rsa15'];
  const i = order.indexOf(policy);
  return i < 0 ? order.length : i;
}

/** Sign / SignAndEncrypt endpoints with a certificate, strongest first (SignAndEncrypt, then current policies). */
export function secureEndpoints(endpoints: readonly DiscoveredEndpoint[]): DiscoveredEndpoint[] {
  return endpoints
    .filter((e) => (e.securityMode === 'Sign' || e.securityMode === 'SignAndEncrypt') && e.serverCertificate !== null)
    .sort((a, b) => (MODE_RANK[b.securityMode] - MODE_RANK[a.securityMode]) || (policyRank(a.securityPolicy) - policyRank(b.securityPolicy)));
}

/** The channel settings to open a secure channel on `endpoint` with `identity`. */
export function channelFor(endpoint: DiscoveredEndpoint, identity: ClientIdentity): ChannelSecurity {
  if (endpoint.securityMode !== 'Sign' && endpoint.securityMode !== 'SignAndEncrypt') throw new Error(`${endpoint.securityMode} is not a secure mode`);
  if (!endpoint.serverCertificate) throw new Error(`${endpoint.endpointUrl} carries no server certificate`);
  return { mode: endpoint.securityMode, policy: endpoint.securityPolicy, serverCertificate: endpoint.serverCertificate, identity };
}

/** Splits secure endpoints into those this process can open and those it cannot (with the reason). */
export function usableSecureEndpoints(endpoints: readonly DiscoveredEndpoint[]): {
  usable: DiscoveredEndpoint[];
  untestable: { endpoint: DiscoveredEndpoint; reason: string }[];
} {
  const usable: DiscoveredEndpoint[] = [];
  const untestable: { endpoint: DiscoveredEndpoint; reason: string }[] = [];
  for (const e of secureEndpoints(endpoints)) {
    const t = policyTestable(e.securityPolicy);
    if (t.testable) usable.push(e);
    else untestable.push({ endpoint: e, reason: t.reason ?? 'not testable' });
  }
  return { usable, untestable };
}


/** A client (not yet connected) for `endpoint`: a secure channel with `identity` unless the endpoint is None. */
export function clientForEndpoint(lib: typeof NodeOpcua, endpoint: DiscoveredEndpoint, identity: ClientIdentity, timeoutMs: number, requestedSessionTimeoutMs: number): OPCUAClient {
  const security = endpoint.securityMode !== 'None' ? channelFor(endpoint, identity) : undefined;
  return lib.OPCUAClient.create(harnessClientOptions(lib, { identity, ...(security ? { security } : {}), timeoutMs, requestedSessionTimeoutMs }));
}
