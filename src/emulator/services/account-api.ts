import type * as http from 'node:http';
import type { AccountStore } from '../accounts';
import type { DeviceContext } from '../types';

/**
 * The `accountApi:` section of the https posture: account management as a REST API with HTTP basic
 * authentication (CR 1.3, 1.7, 2.1; the accounts.* probes). A hardened device enforces its password policy,
 * lets only administrators manage accounts and refuses disabled accounts; a weak one does none of it.
 */
export interface AccountApiPosture {
  /** Collection of accounts (default /api/users): POST creates, /<name>/password (PUT), /<name>/disable (POST), /<name> (DELETE). */
  path?: string;
  /** Who-am-I resource: 200 with the caller's name and role for a valid login, 401 otherwise (default /api/whoami). */
  whoami?: string;
  /** Roles that may create, disable and delete accounts. */
  manage: string[];
  /** The password policy the device enforces; null: any password is taken. */
  passwordPolicy: { minLength: number; minClasses: number; rejectUsername: boolean; rejectDictionary: boolean } | null;
  /** Disabling reaches the login check (true), or only sets a flag the login never reads (false: the weak device). */
  enforceDisable: boolean;
}

/** The device's own password dictionary (the probe has its own list; they are not shared on purpose). */
const DICTIONARY = ['password', 'admin', 'operator', 'welcome', 'maintenance', 'engineering', 'automation', 'controller', 'siemens', 'letmein', 'qwerty'];
const MAX_BODY = 4096;

function policyRefusal(policy: NonNullable<AccountApiPosture['passwordPolicy']>, user: string, password: string): string | undefined {
  if (password.length < policy.minLength) return `shorter than ${policy.minLength} characters`;
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z\d]/].filter((r) => r.test(password)).length;
  if (classes < policy.minClasses) return `fewer than ${policy.minClasses} character classes`;
  const lower = password.toLowerCase();
  if (policy.rejectUsername && lower.includes(user.toLowerCase())) return 'contains the user name';
  if (policy.rejectDictionary && DICTIONARY.some((w) => lower.includes(w))) return 'based on a dictionary word';
  return undefined;
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString('utf8'); if (body.length > MAX_BODY) req.destroy(); });
    req.on('end', () => {
      try {
        const parsed: unknown = JSON.parse(body);
        resolve(parsed && typeof parsed === 'object' ? parsed as Record<string, unknown> : undefined);
      } catch {
        resolve(undefined);
      }
    });
    req.on('error', () => resolve(undefined));
  });
}

export interface AccountApiRoute {
  matches(pathname: string): boolean;
  handle(req: http.IncomingMessage, res: http.ServerResponse, caller: { user: string; role: string } | undefined, realm: string): void;
}

/** The API over the device's account store; every change is a configuration event in the device's security log. */
export function accountApiRoute(config: AccountApiPosture, accounts: AccountStore, device: Pick<DeviceContext, 'audit'>): AccountApiRoute {
  const base = config.path ?? '/api/users';
  const whoami = config.whoami ?? '/api/whoami';
  const flaggedOnly = new Set<string>();
  const json = (res: http.ServerResponse, status: number, value?: object) => {
    res.writeHead(status, value ? { 'content-type': 'application/json' } : {});
    res.end(value ? `${JSON.stringify(value)}\n` : undefined);
  };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, caller: { user: string; role: string } | undefined, realm: string) => {
    const url = new URL(req.url ?? '/', 'http://device');
    const source = req.socket.remoteAddress ?? '';
    if (!caller) {
      res.writeHead(401, { 'www-authenticate': `Basic realm="${realm}", charset="UTF-8"`, 'content-type': 'text/plain' });
      return res.end('Authentication required\n');
    }
    if (req.method === 'GET' && url.pathname === whoami) return json(res, 200, { user: caller.user, role: caller.role });
    const [name, action] = url.pathname.slice(base.length + 1).split('/').map(decodeURIComponent);
    const manager = config.manage.includes(caller.role);
    const changed = (detail: string) => device.audit.event({ category: 'account-changed', service: 'https', user: caller.user, source, detail });
    if (req.method === 'PUT' && name && action === 'password') {
      if (caller.user !== name && !manager) return json(res, 403, { error: 'forbidden' });
      const body = await readJson(req);
      const password = typeof body?.password === 'string' ? body.password : undefined;
      if (password === undefined) return json(res, 400, { error: 'password missing' });
      const refusal = config.passwordPolicy ? policyRefusal(config.passwordPolicy, name, password) : undefined;
      if (refusal) return json(res, 422, { error: `password refused: ${refusal}` });
      if (!accounts.setPassword(name, password)) return json(res, 404, { error: 'no such account' });
      changed(`password of ${name} changed`);
      return json(res, 204);
    }
    if (!manager) {
      device.audit.event({ category: 'access-denied', service: 'https', user: caller.user, source, detail: `${req.method} ${url.pathname}` });
      return json(res, 403, { error: 'forbidden' });
    }
    if (req.method === 'POST' && url.pathname === base) {
      const body = await readJson(req);
      const [user, password, role] = ['name', 'password', 'role'].map((k) => (typeof body?.[k] === 'string' ? body[k] as string : ''));
      if (!/^[a-z][a-z0-9_-]{2,31}$/.test(user) || !password) return json(res, 400, { error: 'name and password required' });
      const refusal = config.passwordPolicy ? policyRefusal(config.passwordPolicy, user, password) : undefined;
      if (refusal) return json(res, 422, { error: `password refused: ${refusal}` });
      if (!accounts.add({ username: user, password, role: role || 'operator' })) return json(res, 409, { error: 'exists' });
      changed(`account ${user} created`);
      return json(res, 201, { name: user, role: role || 'operator' });
    }
    if (req.method === 'POST' && name && action === 'disable') {
      const done = config.enforceDisable ? accounts.disable(name) : accounts.has(name) && Boolean(flaggedOnly.add(name));
      if (!done) return json(res, 404, { error: 'no such account' });
      changed(`account ${name} disabled`);
      return json(res, 204);
    }
    if (req.method === 'DELETE' && name && !action) {
      if (!accounts.remove(name)) return json(res, 404, { error: 'no such account' });
      changed(`account ${name} deleted`);
      return json(res, 204);
    }
    return json(res, 404, { error: 'not found' });
  };
  return {
    matches: (pathname) => pathname === whoami || pathname === base || pathname.startsWith(`${base}/`),
    handle: (req, res, caller, realm) => { void handle(req, res, caller, realm); },
  };
}
