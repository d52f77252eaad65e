/** IPv4 arithmetic moved to src/sdk/ipv4 (the profile's zones use it too); the labnet's pool stays here. */
export * from '../sdk/ipv4';

/**
 * The default pool: 198.18.0.0/15, reserved by RFC 2544 / RFC 6890 for benchmarking network
 * interconnect devices. It is never routed on the Internet and rarely used on real plant networks,
 * so a labnet subnet carved from it is unlikely to collide with anything the machine already reaches.
 */
export const LABNET_POOL = '198.18.0.0/15';
