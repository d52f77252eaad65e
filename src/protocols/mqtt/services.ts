import type { ServiceUnderTest } from '../../sdk';

/** The IANA port of MQTT over TLS. */
export const MQTT_TLS_PORT = 8883;

/**
 * The declared MQTT-over-TLS services of a host: `protocol: mqtt` with `tls: true`, or a `tls` service
 * marked `options.mqtt: true` or on 8883. Only declared services are contacted: the scope is the profile's
 * communication matrix.
 */
export function declaredTlsServices(services: readonly ServiceUnderTest[]): ServiceUnderTest[] {
  return services.filter((s) => s.transport === 'tcp' && s.tls && (s.protocol === 'mqtt' || (s.protocol === 'tls' && (s.options.mqtt === true || s.port === MQTT_TLS_PORT))));
}
