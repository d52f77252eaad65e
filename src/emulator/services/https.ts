import * as http from 'node:http';
import * as https from 'node:https';
import type * as tls from 'node:tls';
import type { AccountStore, LockoutConfig } from '../accounts';
import { listenTcp, type Listener } from '../net';
import { needsSecurityLevel0, serverCredentials, type CertificatePosture } from '../pki';
import type { DeviceContext, ServiceEndpoint, ServiceModule, ServicePosture } from '../types';
import { accountApiRoute, type AccountApiPosture, type AccountApiRoute } from './account-api';
import { auditLogRoute, type AuditLogPosture, type AuditLogRoute, type Caller } from './audit-log';
import {
  applyPostureHeaders, notFoundBody, onClientError, redirectToHttps, sessionCookieFlags, sessionIdGenerator, type WebPosture,
} from './web-posture';

export interface HttpsPosture extends ServicePosture {
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** OpenSSL cipher string (TLS 1.3 suite names may be included); @SECLEVEL=0 is added when the posture needs it. */
  ciphers?: string;
  /** ECDHE groups, e.g. "X25519:P-256" (OpenSSL's default when absent). */
  groups?: string;
  certificate?: CertificatePosture;
  /** Ask for a client certificate: off (default), optional or required; verify against the device CA (default true). */
  clientCertificate?: { mode?: 'off' | 'optional' | 'required'; verify?: boolean };
  /** Plain-HTTP port serving the same login page in cleartext; absent or null: off. */
  httpPort?: number | null;
  /** Service-specific lockout (default: the device's). */
  lockout?: LockoutConfig | null;
  /** Idle lifetime of a web session (default 600 s). */
  sessionSeconds?: number;
  realm?: string;
  /** Headers, cookie flags, session ids, error pages, open pages, plain-HTTP behaviour (web-posture.ts). */
  web?: WebPosture;
  /** What a failed form login says: uniform (default) "wrong user name or password", or distinct texts
   * for an unknown user, a wrong password and a locked account (CR 1.10 user enumeration). */
  loginFeedback?: 'uniform' | 'distinct';
  /** Answer logins of existing accounts this much later (CWE-208 timing leak). 0/absent: uniform. */
  knownUserDelayMs?: number;
  /** Live web sessions per user; a form login beyond it is refused (429). Absent: unlimited. */
  maxSessionsPerUser?: number;
  /** The security log as a web resource (audit-log.ts); absent: not served. */
  auditLog?: AuditLogPosture;
  /** Account management as a REST API (account-api.ts); absent: not served. */
  accountApi?: AccountApiPosture;
}

interface Session {
  user: string;
  expires: number;
}

const MAX_BODY = 4096;

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>\n`;
}

const NAV = '<p><a href="/admin">Administration</a> <a href="/config">Configuration</a></p>';

const LOGIN_FORM = '<form method="post" action="/login"><label>User <input name="username" autocomplete="username"></label> '
  + '<label>Password <input name="password" type="password" autocomplete="current-password"></label> <button>Log in</button></form>';

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function basicCredentials(req: http.IncomingMessage): { username: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

interface WebAuthOptions {
  secure: boolean;
  sessionMs: number;
  realm: string;
  feedback: 'uniform' | 'distinct';
  knownUserDelayMs: number;
  maxSessionsPerUser?: number;
  /** Pending delayed answers, cleared on close. */
  timers: Set<NodeJS.Timeout>;
  web: WebPosture;
  auditLog?: AuditLogRoute;
  accountApi?: AccountApiRoute;
}

const FAILURE_TEXT: Record<'unknown' | 'denied' | 'locked', string> = {
  unknown: 'Unknown user name.',
  denied: 'Wrong password.',
  locked: 'Account locked after too many failed logins. Try again later.',
};

/**
 * The web UI of the emulated device: a login form (POST /login sets a session cookie) and a page behind
 * HTTP basic auth (/admin, which also accepts the session), both checked against the device accounts with
 * the lockout. Failed and locked logins look the same to the client (CR 1.10) unless `loginFeedback` is
 * distinct; `knownUserDelayMs` and `maxSessionsPerUser` are the other authentication knobs.
 */
function webApp(accounts: AccountStore, device: Pick<DeviceContext, 'identity' | 'audit'>, options: WebAuthOptions) {
  const { identity } = device;
  const sessions = new Map<string, Session>();
  const newSessionId = sessionIdGenerator(options.web);
  const later = (username: string, fn: () => void) => {
    if (!options.knownUserDelayMs || !accounts.has(username)) return fn();
    const t = setTimeout(() => {
      options.timers.delete(t);
      fn();
    }, options.knownUserDelayMs);
    options.timers.add(t);
  };
  const liveSessions = (user: string) => [...sessions.values()].filter((s) => s.user === user && s.expires >= Date.now()).length;
  const sessionUser = (req: http.IncomingMessage): string | undefined => {
    const id = cookie(req, 'session');
    const s = id ? sessions.get(id) : undefined;
    if (!s || !id) return undefined;
    if (s.expires < Date.now()) {
      sessions.delete(id);
      return undefined;
    }
    s.expires = Date.now() + options.sessionMs;
    return s.user;
  };
  const send = (res: http.ServerResponse, status: number, html: string, headers: http.OutgoingHttpHeaders = {}) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(html);
  };
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const source = req.socket.remoteAddress ?? '';
    // A request target WHATWG URL refuses (e.g. `http://[::1`, found by http.fuzz) is a bad request, not a crash.
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://device');
    } catch {
      return send(res, 400, page('Bad request', '<p>The request target is not a valid URL.</p>'));
    }
    applyPostureHeaders(res, options.web, identity);
    if (req.method === 'GET' && url.pathname === '/') {
      const known = cookie(req, 'session');
      if (options.web.preLoginSession && !(known && sessions.has(known))) {
        const id = newSessionId();
        sessions.set(id, { user: '', expires: Date.now() + options.sessionMs });
        res.setHeader('set-cookie', `session=${id}; ${sessionCookieFlags(options.web, options.secure)}`);
      }
      return send(res, 200, page(`${identity.vendor} ${identity.model}`, LOGIN_FORM + NAV));
    }
    if (req.method === 'POST' && url.pathname === '/login') {
      let body = '';
      let tooLong = false;
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_BODY) {
          tooLong = true;
          req.destroy();
        }
      });
      req.on('end', () => {
        if (tooLong) return undefined;
        const form = new URLSearchParams(body);
        const username = form.get('username') ?? '';
        const result = accounts.login(username, form.get('password') ?? '', source, 'https');
        return later(username, () => {
          if (result !== 'ok') {
            const text = options.feedback === 'distinct' ? FAILURE_TEXT[result === 'locked' ? 'locked' : accounts.has(username) ? 'denied' : 'unknown'] : 'Wrong user name or password.';
            return send(res, 401, page('Login failed', `<p>${text}</p>${LOGIN_FORM}`));
          }
          if (options.maxSessionsPerUser !== undefined && liveSessions(username) >= options.maxSessionsPerUser) {
            device.audit.event({ category: 'session-limit-hit', service: 'https', user: username, source, detail: `${options.maxSessionsPerUser} per user` });
            return send(res, 429, page('Login refused', '<p>The maximum number of sessions for this user is reached.</p>'));
          }
          const brought = cookie(req, 'session');
          const keep = options.web.keepSessionOnLogin && brought !== undefined && sessions.has(brought);
          if (brought && !keep) sessions.delete(brought);
          const id = keep && brought ? brought : newSessionId();
          sessions.set(id, { user: username, expires: Date.now() + options.sessionMs });
          if (!keep) device.audit.event({ category: 'session-opened', service: 'https', user: username, source });
          res.writeHead(303, { location: '/admin', 'set-cookie': `session=${id}; ${sessionCookieFlags(options.web, options.secure)}` });
          return res.end();
        });
      });
      return undefined;
    }
    if (req.method === 'GET' && url.pathname === '/admin') {
      const admin = (user: string | undefined) => {
        if (!user) {
          return send(res, 401, page('Authentication required', '<p>Log in first.</p>'), { 'www-authenticate': `Basic realm="${options.realm}", charset="UTF-8"` });
        }
        return send(res, 200, page('Device administration', `<p>Logged in as ${user.replace(/[^\w.-]/g, '')}. Firmware ${identity.firmware}.</p><a href="/logout">Log out</a>`));
      };
      const user = sessionUser(req);
      const basic = user ? undefined : basicCredentials(req);
      if (!basic) return admin(user);
      const ok = accounts.login(basic.username, basic.password, source, 'https') === 'ok';
      return later(basic.username, () => admin(ok ? basic.username : undefined));
    }
    if (req.method === 'GET' && url.pathname === '/config') {
      if (!(options.web.openPaths ?? []).includes('/config') && !sessionUser(req)) {
        res.writeHead(303, { location: '/' });
        return res.end();
      }
      return send(res, 200, page('Device configuration', `<pre>ip=192.168.0.10/24\ngateway=192.168.0.1\nmodbus=enabled\nfirmware=${identity.firmware}</pre>`));
    }
    if (req.method === 'GET' && url.pathname === '/logout') {
      const id = cookie(req, 'session');
      const ended = id ? sessions.get(id) : undefined;
      if (id) sessions.delete(id);
      if (ended?.user) device.audit.event({ category: 'session-closed', service: 'https', user: ended.user, source });
      res.writeHead(303, { location: '/', 'set-cookie': 'session=; Max-Age=0; Path=/' });
      return res.end();
    }
    if (options.auditLog && url.pathname === options.auditLog.path) {
      // The session or HTTP basic authentication, as on /admin; no credentials at all is the `anonymous` role.
      const user = sessionUser(req);
      const basic = user ? undefined : basicCredentials(req);
      let caller: Caller = { role: 'anonymous' };
      if (user) caller = { user, role: accounts.role(user) ?? '' };
      else if (basic) caller = accounts.login(basic.username, basic.password, source, 'https') === 'ok' ? { user: basic.username, role: accounts.role(basic.username) ?? '' } : undefined;
      options.auditLog.handle(req, res, caller, options.realm);
      return undefined;
    }
    if (options.accountApi?.matches(url.pathname)) {
      // HTTP basic authentication (or the session) against the device accounts, with the lockout.
      const user = sessionUser(req);
      const basic = user ? undefined : basicCredentials(req);
      const ok = basic && accounts.login(basic.username, basic.password, source, 'https') === 'ok';
      const name = user ?? (ok ? basic.username : undefined);
      options.accountApi.handle(req, res, name === undefined ? undefined : { user: name, role: accounts.role(name) ?? '' }, options.realm);
      return undefined;
    }
    const notFound = notFoundBody(options.web, identity, url.pathname);
    return send(res, 404, page(notFound.title, notFound.html));
  };
}

/** Every answer states the device clock in its Date header (RFC 9110 §6.6.1), not the host's. */
function withDeviceDate(device: Pick<DeviceContext, 'audit'>, handler: http.RequestListener): http.RequestListener {
  return (req, res) => {
    res.sendDate = false;
    res.setHeader('date', new Date(device.audit.now()).toUTCString());
    return handler(req, res);
  };
}

/**
 * HTTPS web UI with configurable TLS (versions, ciphers, groups, certificate, client-certificate request)
 * and an optional cleartext HTTP port that serves the same login page.
 */
export const httpsService: ServiceModule<HttpsPosture> = {
  key: 'https',
  async start(config, device) {
    const creds = serverCredentials(device, 'https', config.certificate);
    const accounts = device.accountsFor(config.lockout);
    const realm = config.realm ?? `${device.identity.model} administration`;
    const web = config.web ?? {};
    const timers = new Set<NodeJS.Timeout>();
    const auth = {
      sessionMs: (config.sessionSeconds ?? 600) * 1000, realm, feedback: config.loginFeedback ?? 'uniform',
      knownUserDelayMs: config.knownUserDelayMs ?? 0, maxSessionsPerUser: config.maxSessionsPerUser, timers, web,
      ...(config.auditLog ? { auditLog: auditLogRoute(config.auditLog, device) } : {}),
      ...(config.accountApi ? { accountApi: accountApiRoute(config.accountApi, accounts, device) } : {}),
    } as const;
    const mode = config.clientCertificate?.mode ?? 'off';
    const verify = config.clientCertificate?.verify !== false;
    let ciphers = config.ciphers;
    if (needsSecurityLevel0(config.minVersion, config.certificate)) ciphers = `${ciphers ?? 'DEFAULT'}:@SECLEVEL=0`;
    const server = https.createServer({
      key: creds.keyPem, cert: creds.certPem,
      minVersion: config.minVersion ?? 'TLSv1.2', maxVersion: config.maxVersion ?? 'TLSv1.3',
      ...(ciphers ? { ciphers } : {}),
      ...(config.groups ? { ecdhCurve: config.groups } : {}),
      dhparam: 'auto',
      honorCipherOrder: true,
      requestCert: mode !== 'off',
      rejectUnauthorized: mode === 'required' && verify,
      ...(mode !== 'off' ? { ca: [creds.caPem] } : {}),
    }, withDeviceDate(device, webApp(accounts, device, { ...auth, secure: true })));
    server.on('clientError', onClientError(web, device.identity));
    if (mode === 'required' && !verify) {
      // Requires a certificate but checks nothing about it (what a careless device does).
      server.on('secureConnection', (socket: tls.TLSSocket) => {
        if (!socket.getPeerCertificate()?.raw) socket.destroy();
      });
    }
    if (mode === 'optional' && verify) {
      // A certificate is optional, but one that is presented must verify.
      server.on('secureConnection', (socket: tls.TLSSocket) => {
        if (socket.getPeerCertificate()?.raw && !socket.authorized) socket.destroy();
      });
    }
    server.on('tlsClientError', () => undefined);
    const listeners: Listener[] = [];
    const endpoints: ServiceEndpoint[] = [];
    try {
      const secure = await listenTcp(server, device.host, device.portFor(config.port), device.connections.counter('https'));
      listeners.push(secure);
      endpoints.push({ protocol: 'https', host: device.host, port: secure.port, tls: true });
      if (config.httpPort !== undefined && config.httpPort !== null) {
        const plainServer = http.createServer(withDeviceDate(device, web.plainHttp === 'redirect'
          ? redirectToHttps(() => secure.port, web, device.identity)
          : webApp(accounts, device, { ...auth, secure: false })));
        plainServer.on('clientError', onClientError(web, device.identity));
        const plain = await listenTcp(plainServer, device.host, device.portFor(config.httpPort), device.connections.counter('https-plain'));
        listeners.push(plain);
        endpoints.push({ protocol: 'http', host: device.host, port: plain.port });
      }
    } catch (err) {
      await Promise.allSettled(listeners.map((l) => l.close()));
      throw err;
    }
    device.log(`https on ${endpoints.map((e) => `${e.protocol}:${e.port}`).join(', ')}`);
    return {
      endpoints,
      close: async () => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        await Promise.allSettled(listeners.map((l) => l.close()));
      },
    };
  },
};
