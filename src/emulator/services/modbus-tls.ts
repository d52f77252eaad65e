import * as net from 'node:net';
import * as tls from 'node:tls';
import { MODBUS_ROLE_OID } from '../../protocols/tls/modbus';
import { utf8Extension } from '../../protocols/x509';
import { listenTcp } from '../net';
import { serverCredentials, type CertificatePosture } from '../pki';
import type { ServiceModule, ServicePosture } from '../types';

export interface ModbusTlsPosture extends ServicePosture {
  minVersion?: tls.SecureVersion;
  ciphers?: string;
  certificate?: CertificatePosture;
  /** Ask for and require a client certificate from the device CA (default true; false: a misconfigured endpoint). */
  requireClientCertificate?: boolean;
  /** Refuse client certificates without the Modbus role extension (default true). */
  requireRole?: boolean;
  /** false: the port serves Modbus/TCP in cleartext (security switched off on a device). Default true. */
  tls?: boolean;
  /** Roles that may read (default Operator, Engineer). */
  roles?: string[];
  unitId?: number;
}

const ILLEGAL_FUNCTION = 1;

/**
 * Modbus/TCP Security endpoint (port 802 on a real device): TLS with mandatory client certificates from
 * the device CA, the role taken from the certificate's 1.3.6.1.4.1.50316.802.1 extension, and a minimal
 * Modbus responder inside TLS (function 3/4 reads return the register address as value; anything else is
 * ILLEGAL FUNCTION). Connections whose certificate carries no role, or a role not allowed, are closed.
 */
export const modbusTlsService: ServiceModule<ModbusTlsPosture> = {
  key: 'modbus-tls',
  async start(config, device) {
    const creds = serverCredentials(device, 'modbus-tls', { key: 'ec', ...config.certificate });
    const roles = new Set(config.roles ?? ['Operator', 'Engineer']);
    const requireRole = config.requireRole !== false;
    const unitId = config.unitId ?? 1;
    const requireCert = config.requireClientCertificate !== false;
    const serve = (socket: net.Socket) => {
      let pending = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 8 && pending.length >= 6 + pending.readUInt16BE(4)) {
          const frame = pending.subarray(0, 6 + pending.readUInt16BE(4));
          pending = pending.subarray(frame.length);
          socket.write(respond(frame, unitId));
        }
        if (pending.length > 260) socket.destroy();
      });
      socket.on('error', () => undefined);
      socket.setTimeout(120_000, () => socket.destroy());
    };
    const server = config.tls === false ? net.createServer(serve) : tls.createServer({
      key: creds.keyPem, cert: creds.certPem, ca: [creds.caPem],
      minVersion: config.minVersion ?? 'TLSv1.2', ...(config.ciphers ? { ciphers: config.ciphers } : {}),
      requestCert: requireCert, rejectUnauthorized: requireCert,
    }, (socket) => {
      const peer = socket.getPeerCertificate();
      const role = peer?.raw ? utf8Extension(peer.raw, MODBUS_ROLE_OID) : undefined;
      if (requireCert && requireRole && (!role || !roles.has(role))) {
        device.log(`modbus-tls: refused a client certificate with role ${role ?? '(none)'}`);
        socket.destroy();
        return;
      }
      serve(socket);
    });
    server.on('tlsClientError', () => undefined);
    const listener = await listenTcp(server, device.host, device.portFor(config.port), device.connections.counter('modbus-tls'));
    return { endpoints: [{ protocol: 'modbus-tls', host: device.host, port: listener.port, tls: config.tls !== false }], close: listener.close };
  },
};

function respond(frame: Buffer, unitId: number): Buffer {
  const header = (pduLength: number) => {
    const h = Buffer.from(frame.subarray(0, 7));
    h.writeUInt16BE(pduLength + 1, 4);
    return h;
  };
  const fn = frame[7];
  if ((fn === 3 || fn === 4) && frame[6] === unitId && frame.length >= 12) {
    const start = frame.readUInt16BE(8);
    const count = Math.min(frame.readUInt16BE(10), 125);
    const data = Buffer.alloc(2 * count);
    for (let i = 0; i < count; i++) data.writeUInt16BE((start + i) & 0xffff, 2 * i);
    return Buffer.concat([header(2 + data.length), Buffer.from([fn, data.length]), data]);
  }
  return Buffer.concat([header(2), Buffer.from([(fn | 0x80) & 0xff, ILLEGAL_FUNCTION])]);
}
