import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { InputRejected } from '../../sdk';

/**
 * A lab service (syslog collector, NTP server) cannot start as the profile asks: a wildcard or malformed
 * address, a port in use. Raised before any device is contacted; the command exits 3.
 */
export class LabSetupError extends InputRejected {}

/** Lab services listen on one given address only, never on every interface. */
export function assertLabAddress(address: string): void {
  const family = net.isIP(address);
  if (family === 0) throw new LabSetupError(`lab address ${JSON.stringify(address)} is not an IP address (a lab service binds one address, not a name)`);
  const unspecified = family === 4 ? address === '0.0.0.0' : /^[0:]+$/.test(address);
  if (unspecified) throw new LabSetupError(`lab address ${address} would listen on every interface; give the lab interface's own address`);
}

function bindError(what: string, address: string, port: number, err: unknown): LabSetupError {
  const code = (err as { code?: string }).code;
  const why = code === 'EADDRINUSE' ? 'the port is in use'
    : code === 'EADDRNOTAVAIL' ? 'the address is not on this machine'
      : code === 'EACCES' ? 'binding it needs privileges' : (err as Error).message;
  return new LabSetupError(`${what} cannot listen on ${net.isIPv6(address) ? `[${address}]` : address}:${port}: ${why}`, undefined, { cause: err });
}

/** Listens a TCP (or TLS) server on address:port; a clear LabSetupError when it cannot. */
export function listenTcp(server: net.Server, what: string, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(bindError(what, address, port, err));
    server.once('error', onError);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Binds a UDP socket on address:port; a clear LabSetupError when it cannot. */
export function bindUdp(what: string, address: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: net.isIPv6(address) ? 'udp6' : 'udp4', reuseAddr: false });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(bindError(what, address, port, err));
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
