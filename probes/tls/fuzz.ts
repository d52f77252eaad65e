import { defineFuzzProbe, type FuzzInputs } from '../../src/protocols/fuzz/probe';
import { TLS_CAPABLE_PROTOCOLS, isTlsService, tlsEndpoint } from '../../src/protocols/tls';
import { tlsFuzzTarget } from '../../src/protocols/tls/fuzz';

export default defineFuzzProbe<FuzzInputs>({
  id: 'tls.fuzz',
  protocol: 'tls',
  label: 'TLS ClientHello',
  normalRequest: 'full TLS handshake',
  title: 'TLS ClientHello fuzzing (record, handshake, suites, extensions) with essential-function checks',
  description:
    'Mutates a valid TLS 1.2 and a valid TLS 1.3 ClientHello field by field (RFC 5246, RFC 8446): record type, version and '
    + 'length; handshake type and 24-bit length; client version, random, session id length; cipher suite list length and '
    + 'first suite; compression; the extensions length and the SNI, supported_versions, key_share and signature_algorithms '
    + 'extension lengths, inner list lengths and first values, at the boundaries of each field and of the RFC limits; '
    + 'hellos are truncated, cut with a consistent record length, extended, and randomly mutated. The seed fixes the '
    + 'cases. Each case goes on its own connection at a capped rate and the server\'s first record (ServerHello, alert) or '
    + 'its close is recorded; after each one a full TLS handshake must complete, and the run\'s essential-function '
    + 'monitor must not report a loss (CR 3.5). Every case is recorded (fuzz-cases.ndjson) and can be re-sent with '
    + '`iacs-probe replay`.',
  appliesTo: TLS_CAPABLE_PROTOCOLS,
  when: isTlsService,
  target: (_ctx, service) => {
    const { serverName } = tlsEndpoint(service);
    return tlsFuzzTarget(service, serverName ? { serverName } : {});
  },
});
