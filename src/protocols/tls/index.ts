/** TLS adapters for the probes: raw hello scanning, full handshakes, X.509, the TLS policy. */
import * as net from 'node:net';
import { SERVICE_PROTOCOLS, UDP_PROTOCOLS, type ServiceProtocol, type ServiceUnderTest } from '../../sdk';
import type { TlsEndpoint } from './hello';

export * from './suites';
export * from './hello';
export * from './scan';
export * from './handshake';
export * from './policy';
export * from './modbus';
export {
  certificateMatches, generateKey, issueCertificate, issuerNameDer, parseCertificate, readCertificates, readIssuer,
  toPem, utf8Extension, utf8StringDer, verifyChain, type CertificateInfo, type IssuedCertificate, type KeyPair,
} from '../x509';
export { NAMED_GROUPS, namedGroup, namedGroupByName, groupName, type NamedGroup } from './wire';

/** The TLS endpoint of a declared service: SNI from `serverName` in the profile, else the host if it is a name. */
export function tlsEndpoint(service: ServiceUnderTest): TlsEndpoint {
  const configured = service.options.serverName;
  const serverName = typeof configured === 'string' ? configured : net.isIP(service.host) ? undefined : service.host;
  return { host: service.host, port: service.port, ...(serverName ? { serverName } : {}) };
}

/** Every TCP service protocol; TLS probes narrow it with `isTlsService` (https, modbus-tls, `tls: true`). */
export const TLS_CAPABLE_PROTOCOLS: readonly ServiceProtocol[] = SERVICE_PROTOCOLS.filter((p) => !UDP_PROTOCOLS.has(p));

export function isTlsService(service: ServiceUnderTest): boolean {
  return service.tls && service.transport === 'tcp';
}
