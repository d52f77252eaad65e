import * as net from 'node:net';
import * as tls from 'node:tls';
import { listenTcp, type Listener } from '../net';
import { needsSecurityLevel0, serverCredentials, type CertificatePosture } from '../pki';
import type { ServiceEndpoint, ServiceModule, ServicePosture } from '../types';
import { EmulatedBroker, type BrokerConfig } from './mqtt-broker';

export interface MqttTlsPosture {
  enabled?: boolean;
  /** MQTT over TLS port; 0 or absent: OS-chosen (8883 on a real broker). */
  port?: number;
  minVersion?: tls.SecureVersion;
  ciphers?: string;
  certificate?: CertificatePosture;
}

export interface MqttPosture extends ServicePosture, BrokerConfig {
  /** The plain listener accepts logins with a user name and password (in cleartext; default false). */
  plaintextLogins?: boolean;
  /** MQTT over TLS, where user logins are accepted. Default on; null or `enabled: false` switches it off. */
  tls?: MqttTlsPosture | null;
}

/**
 * Emulated MQTT broker of an IIoT gateway (docs/mqtt.md): a plain listener and, unless switched off, an
 * MQTT-over-TLS one, both served by one broker (shared sessions, retained messages, ACLs). Frames come from
 * src/protocols/mqtt; mosquitto_sub/mosquitto_pub and tshark check both sides in the tests.
 */
export const mqttService: ServiceModule<MqttPosture> = {
  key: 'mqtt',
  async start(config, device) {
    const secure = config.tls === null || config.tls?.enabled === false ? undefined : config.tls ?? {};
    const broker = new EmulatedBroker(config, device.accounts, device.identity, device.log);
    const opened: Listener[] = [];
    const closeAll = async () => {
      broker.close();
      await Promise.allSettled(opened.reverse().map((l) => l.close()));
    };
    try {
      const plainRules = { name: 'plain' as const, userLogins: config.plaintextLogins === true };
      const plain = await listenTcp(net.createServer((socket) => broker.attach(socket, plainRules)), device.host, device.portFor(config.port), device.connections.counter('mqtt'));
      opened.push(plain);
      const endpoints: ServiceEndpoint[] = [{ protocol: 'mqtt', host: device.host, port: plain.port }];
      if (secure) {
        const creds = serverCredentials(device, 'mqtt-tls', { key: 'ec', ...secure.certificate });
        const server = tls.createServer({
          key: creds.keyPem, cert: creds.certPem, minVersion: secure.minVersion ?? 'TLSv1.2',
          ...(secure.ciphers || needsSecurityLevel0(secure.minVersion, secure.certificate) ? { ciphers: `${secure.ciphers ?? 'DEFAULT'}${needsSecurityLevel0(secure.minVersion, secure.certificate) ? ':@SECLEVEL=0' : ''}` } : {}),
        }, (socket) => broker.attach(socket, { name: 'tls', userLogins: true }));
        server.on('tlsClientError', () => undefined);
        const listener = await listenTcp(server, device.host, device.portFor(secure.port), device.connections.counter('mqtt'));
        opened.push(listener);
        endpoints.push({ protocol: 'mqtt', host: device.host, port: listener.port, tls: true });
      }
      device.log(`mqtt: ${endpoints.map((e) => `${e.tls ? 'tls' : 'plain'}:${e.port}`).join(', ')}; anonymous ${config.anonymous ? 'allowed' : 'refused'}`);
      return { endpoints, close: closeAll };
    } catch (err) {
      await closeAll();
      throw err;
    }
  },
};
