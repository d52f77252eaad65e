import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { listenTcp, type Listener } from '../net';
import { serverCredentials, type CertificatePosture } from '../pki';
import type { DeviceContext, ServiceEndpoint, ServiceModule, ServicePosture } from '../types';
import { DtlsCookieResponder } from './enip-dtls';
import { EmulatedEnipDevice, type EnipDeviceConfig } from './enip-device';

export interface CipSecurityPosture {
  enabled?: boolean;
  /** TLS (TCP) and DTLS (UDP) port; 0 or absent: OS-chosen (a real device uses 2221). */
  port?: number;
  /** Answer DTLS ClientHellos on UDP (the cookie exchange only; default true). */
  dtls?: boolean;
  minVersion?: tls.SecureVersion;
  ciphers?: string;
  certificate?: CertificatePosture;
  /** Require a client certificate from the device CA (default true). */
  requireClientCertificate?: boolean;
  /** Security profiles reported (bits; default 0x03: EtherNet/IP Integrity and Confidentiality). */
  profiles?: number;
}

export interface EnipPosture extends ServicePosture, EnipDeviceConfig {
  /** ListIdentity and ListServices on UDP at the same port number (default true). */
  udp?: boolean;
  /** CIP Security: EtherNet/IP over TLS and DTLS. Default on; null or `enabled: false` switches it off. */
  cipSecurity?: CipSecurityPosture | null;
}

const IANA_PORTS = { tcp44818: 0x01, udp44818: 0x02, tcp2221: 0x08, udp2221: 0x10 } as const;

/**
 * Emulated EtherNet/IP adapter (CIP Volume 2): encapsulation over TCP and UDP on one port number, and CIP
 * Security on a second one (TLS with client certificates from the device CA, DTLS cookie exchange). Frames
 * are built with src/protocols/enip; nmap's enip-info and tshark check both sides in the tests.
 */
export const enipService: ServiceModule<EnipPosture> = {
  key: 'enip',
  async start(config, device) {
    const security = config.cipSecurity === null || config.cipSecurity?.enabled === false ? undefined : config.cipSecurity ?? {};
    const udp = config.udp !== false;
    const dtls = security !== undefined && security.dtls !== false;
    const portFlags = IANA_PORTS.tcp44818 | (udp ? IANA_PORTS.udp44818 : 0) | (security ? IANA_PORTS.tcp2221 : 0) | (dtls ? IANA_PORTS.udp2221 : 0);
    const enip = new EmulatedEnipDevice(config, device.identity, security ? { ports: portFlags, profiles: security.profiles ?? 0x03 } : null, device.log);
    const opened: { close(): Promise<void> }[] = [];
    const closeAll = async () => {
      enip.close();
      await Promise.allSettled(opened.reverse().map((o) => o.close()));
    };
    try {
      const plain = await listenTcpAndUdp(device, config.port, () => net.createServer((socket) => {
        socket.setTimeout(120_000, () => socket.destroy());
        enip.attach(socket, 'plain');
      }), udp ? (msg, _rinfo, port) => enip.handleDatagram(msg, port) : undefined);
      opened.push(plain);
      enip.reportedPort = plain.port;
      enip.reportedAddress = net.isIPv4(device.host) ? device.host : '0.0.0.0';
      const endpoints: ServiceEndpoint[] = [{ protocol: 'enip', host: device.host, port: plain.port }];
      if (udp) endpoints.push({ protocol: 'enip', host: device.host, port: plain.port, transport: 'udp' });
      if (security) {
        const responder = new DtlsCookieResponder();
        const secure = await listenTcpAndUdp(device, security.port, () => secureServer(device, security, enip), dtls ? (msg, rinfo) => responder.answer(msg, `${rinfo.address}:${rinfo.port}`) : undefined);
        opened.push(secure);
        endpoints.push({ protocol: 'tls', host: device.host, port: secure.port, tls: true });
        if (dtls) endpoints.push({ protocol: 'tls', host: device.host, port: secure.port, transport: 'udp' });
      }
      device.log(`enip: ${endpoints.map((e) => `${e.protocol}/${e.transport ?? 'tcp'}:${e.port}`).join(', ')}; plain port serves ${config.plainCommands ?? 'list-identity'}`);
      return { endpoints, close: closeAll };
    } catch (err) {
      await closeAll();
      throw err;
    }
  },
};

function secureServer(device: DeviceContext, security: CipSecurityPosture, enip: EmulatedEnipDevice): tls.Server {
  const creds = serverCredentials(device, 'enip-tls', { key: 'ec', ...security.certificate });
  const requireCert = security.requireClientCertificate !== false;
  const server = tls.createServer({
    key: creds.keyPem, cert: creds.certPem, ca: [creds.caPem], minVersion: security.minVersion ?? 'TLSv1.2',
    ...(security.ciphers ? { ciphers: security.ciphers } : {}), requestCert: requireCert, rejectUnauthorized: requireCert,
  }, (socket) => {
    socket.setTimeout(120_000, () => socket.destroy());
    enip.attach(socket, 'secure');
  });
  server.on('tlsClientError', () => undefined);
  return server;
}

type DatagramHandler = (msg: Buffer, rinfo: dgram.RemoteInfo, port: number) => Buffer | null;

/**
 * A TCP listener and, when asked, a UDP socket on the same port number, as a device has them. With an
 * OS-chosen port the UDP number may be taken: then both are tried again on another one.
 */
async function listenTcpAndUdp(device: DeviceContext, configured: number | undefined, makeServer: () => net.Server, onDatagram?: DatagramHandler): Promise<Listener> {
  const wanted = device.portFor(configured);
  for (let attempt = 1; ; attempt++) {
    const tcp = await listenTcp(makeServer(), device.host, wanted);
    if (!onDatagram) return tcp;
    try {
      const udp = await bindUdp(device.host, tcp.port, (msg, rinfo) => onDatagram(msg, rinfo, tcp.port));
      return { port: tcp.port, close: async () => { await Promise.all([tcp.close(), udp.close()]); } };
    } catch (err) {
      await tcp.close();
      if (wanted !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
    }
  }
}

async function bindUdp(host: string, port: number, answer: (msg: Buffer, rinfo: dgram.RemoteInfo) => Buffer | null): Promise<{ close(): Promise<void> }> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  socket.on('message', (msg, rinfo) => {
    const reply = answer(msg, rinfo);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve();
    });
  });
  return { close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}
