import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmulator, type Emulator } from '../../src/emulator';
import { HARDENED_OPERATOR, HARDENED_READER, WEAK_ADMIN, WEAK_OPERATOR, webOnly } from './audit-log';

/** The emulated web UI's account API (src/emulator/services/account-api.ts) as a profile declares it. */
export const EMULATOR_ACCOUNT_API = {
  http: {
    role: 'operator',
    create: { method: 'POST', path: '/api/users', body: '{"name":"{user}","password":"{password}","role":"{role}"}', success: [201], refused: [401, 403, 422] },
    setPassword: { method: 'PUT', path: '/api/users/{user}/password', body: '{"password":"{password}"}', success: [204], refused: [422] },
    disable: { method: 'POST', path: '/api/users/{user}/disable', success: [204], refused: [403] },
    delete: { method: 'DELETE', path: '/api/users/{user}', success: [204], refused: [403], absent: [404] },
    login: { method: 'GET', path: '/api/whoami', success: [200], refused: [401] },
  },
};

/** What the vendor of the hardened posture documents (and the weak device claims too). */
export const DOCUMENTED_PASSWORDS = { minLength: 12, minClasses: 3, rejectUsername: true, rejectDictionary: true };

export const ACCOUNT_CREDENTIALS = {
  weak: { 'accounts.admin': WEAK_ADMIN, 'accounts.operator': WEAK_OPERATOR },
  hardened: { 'accounts.admin': HARDENED_READER, 'accounts.operator': HARDENED_OPERATOR },
};

/** The web UI alone of a built-in posture, on an ephemeral port. */
export function startWebDevice(posture: 'weak' | 'hardened'): Promise<Emulator> {
  return startEmulator(webOnly(posture), { ephemeralPorts: true });
}

/** Asks the device (as its admin) to delete `user`: the status tells whether it still existed (204) or not (404). */
export async function deleteStatus(port: number, admin: { username: string; password: string }, user: string): Promise<number> {
  const { default: https } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, method: 'DELETE', path: `/api/users/${user}`, rejectUnauthorized: false, timeout: 5000,
      headers: { authorization: `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}` },
    }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A plain-HTTP proxy in front of the device's HTTPS port that calls `onResponse` with each request line and status
 * before it forwards the response: a test kills the prober there, after the device acted and before the prober saw it.
 */
export async function startInterceptingProxy(target: number, onResponse: (line: string, status: number) => Promise<void> | void): Promise<{ port: number; close(): Promise<void> }> {
  const { default: https } = await import('node:https');
  const server = http.createServer((req, res) => {
    const upstream = https.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers, rejectUnauthorized: false, timeout: 5000 }, (up) => {
      Promise.resolve(onResponse(`${req.method} ${req.url}`, up.statusCode ?? 0)).then(() => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      }, () => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
