import { InvalidInput, MissingInput, type ServiceUnderTest } from '../../sdk';
import { baseUrl, cookieHeader, cookiesOf, httpEndpoint, httpRequest, type HttpEndpoint, type HttpResponse } from '../http/request';
import { findLoginForm, findLogoutLink, hasPasswordField, samePath, visibleText } from './html';
import {
  stepTimeout, type ChannelEnvironment, type HeldSession, type LoginChannel, type LoginResponse, type LoginResult,
  type NoLoginInterface, type SessionOpening,
} from './types';

/** Service options `auth` of an http/https service (all optional; detected from the page when absent). */
export interface HttpAuthOptions {
  mode?: 'basic' | 'form';
  /** Basic: the protected page; form: the page holding the login form (default "/"). */
  path?: string;
  usernameField?: string;
  passwordField?: string;
  /** Where the form posts to (default: the form's action). */
  loginPath?: string;
  /** A page only a logged-in user gets (default: where a successful login redirects to). */
  successPath?: string;
  /** Ends a web session (default: a logout link on the success page). */
  logoutPath?: string;
}

export function httpAuthOptions(service: ServiceUnderTest): HttpAuthOptions {
  const raw = service.options.auth;
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== 'object') throw new InvalidInput(`${service.name}: options.auth must be a mapping (mode, path, usernameField, passwordField, loginPath, successPath, logoutPath)`);
  const o = raw as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (!['mode', 'path', 'usernameField', 'passwordField', 'loginPath', 'successPath', 'logoutPath'].includes(k)) throw new InvalidInput(`${service.name}: options.auth.${k} is not known`);
    if (typeof v !== 'string') throw new InvalidInput(`${service.name}: options.auth.${k} must be a string`);
  }
  if (o.mode !== undefined && o.mode !== 'basic' && o.mode !== 'form') throw new InvalidInput(`${service.name}: options.auth.mode must be basic or form`);
  return o as HttpAuthOptions;
}

interface FormConfig {
  pagePath: string;
  loginPath: string;
  method: string;
  usernameField: string;
  passwordField: string;
  successPath?: string;
  logoutPath?: string;
}

type Cookies = Record<string, string>;

const MAX_TEXT = 300;

function statusOf(res: HttpResponse): string {
  const location = res.headers.location;
  return location ? `${res.status} -> ${location}` : String(res.status);
}

function responseOf(res: HttpResponse, durationMs: number, password?: string): LoginResponse {
  const body = res.body.toString('utf8');
  return {
    status: statusOf(res),
    message: visibleText(body, MAX_TEXT),
    bodyLength: res.body.length,
    durationMs,
    ...(password !== undefined && password.length >= 4 ? { echoesPassword: body.includes(password) } : {}),
  };
}

/** Texts a device shows when it refuses a login because of a lock rather than the password. */
const LOCK_TEXT = /lock|too many|blocked|disabled|suspend|try again later|temporar/i;

/** An answer that is no authentication verdict at all: a server error or a rate limit. */
function isServerRefusal(status: number): boolean {
  return status >= 500 || status === 429;
}

/**
 * HTTP basic and form logins on the declared service. Redirects are followed by hand, only within the
 * service. A form login counts as accepted when it leads to a page without a password field that
 * answers 2xx (the success page, or the page the login redirects to).
 */
export async function httpLoginChannel(service: ServiceUnderTest, env: ChannelEnvironment): Promise<LoginChannel | NoLoginInterface> {
  const endpoint = httpEndpoint(service);
  const origin = baseUrl(endpoint);
  const options = httpAuthOptions(service);
  const request = (path: string, signal: AbortSignal, extra: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
    httpRequest(endpoint, { path, signal, timeoutMs: stepTimeout(env), maxBodyBytes: 64 * 1024, ...extra });
  const path = options.path ?? '/';

  if (options.mode === 'basic') return basicChannel(endpoint, path, request);
  // Detection: what the page (after same-service redirects) asks for.
  let page = await request(path, env.signal);
  let pagePath = path;
  for (let hops = 0; hops < 3 && page.status >= 300 && page.status < 400 && page.headers.location; hops++) {
    const next = samePath(page.headers.location, pagePath, origin);
    if (!next) break;
    pagePath = next;
    page = await request(pagePath, env.signal);
  }
  const challenge = String(page.headers['www-authenticate'] ?? '');
  if (options.mode !== 'form' && page.status === 401 && /^\s*basic\b/i.test(challenge)) return basicChannel(endpoint, pagePath, request, challenge);
  const html = page.body.toString('utf8');
  const form = findLoginForm(html);
  if (!form && !(options.mode === 'form' && options.loginPath && options.usernameField && options.passwordField)) {
    const seen = page.status === 401 ? `401 with "${challenge || 'no WWW-Authenticate'}"` : `${page.status}, ${hasPasswordField(html) ? 'a password field outside a form' : 'no login form'}`;
    return { unsupported: `${path} shows no login this harness can use (${seen}); declare service options auth { mode, path, loginPath, usernameField, passwordField }` };
  }
  const loginPath = options.loginPath ?? samePath(form?.action || pagePath, pagePath, origin);
  if (!loginPath) throw new InvalidInput(`${service.name}: the login form posts to ${form?.action}, outside the declared service`);
  const usernameField = options.usernameField ?? form?.usernameField;
  if (!usernameField) throw new MissingInput(`${service.name}: the login form has no text field for the user name; declare options.auth.usernameField`);
  const config: FormConfig = {
    pagePath, loginPath, method: form?.method === 'get' ? 'get' : 'post', usernameField,
    passwordField: options.passwordField ?? form!.passwordField, successPath: options.successPath, logoutPath: options.logoutPath,
  };
  return formChannel(endpoint, config, request);
}

type Request = (path: string, signal: AbortSignal, extra?: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<HttpResponse>;

function basicChannel(endpoint: HttpEndpoint, path: string, request: Request, challenge?: string): LoginChannel {
  return {
    kind: 'http-basic',
    label: `HTTP basic authentication on ${path}`,
    details: { mode: 'basic', path, ...(challenge ? { challenge } : {}), tls: endpoint.tls },
    async tryLogin(username, password, signal): Promise<LoginResult> {
      const authorization = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
      const started = Date.now();
      const res = await request(path, signal, { headers: { authorization } });
      const response = responseOf(res, Date.now() - started, password);
      // 401/403 is the server's own word that the credential was refused; anything else (a server error, a
      // rate limit, a redirect) says nothing about the credential.
      const outcome = res.status >= 200 && res.status < 300 ? 'accepted' : res.status === 401 || res.status === 403 ? 'rejected' : 'refused';
      return { outcome, response };
    },
  };
}

function formChannel(endpoint: HttpEndpoint, config: FormConfig, request: Request): LoginChannel {
  const origin = baseUrl(endpoint);
  /** Status shape ("200", "303 -> 200") of the first failed login: how this form says "wrong password". */
  let failureShape: string | undefined;
  /** One form login: fresh page (cookies, hidden fields), submit, then the page it leads to. */
  const login = async (username: string, password: string, signal: AbortSignal) => {
    const page = await request(config.pagePath, signal);
    const cookies: Cookies = cookiesOf(page);
    const form = findLoginForm(page.body.toString('utf8'));
    const fields = new URLSearchParams({ ...(form?.hidden ?? {}), [config.usernameField]: username, [config.passwordField]: password });
    const started = Date.now();
    const submit = config.method === 'get'
      ? await request(`${config.loginPath}${config.loginPath.includes('?') ? '&' : '?'}${fields}`, signal, { headers: { cookie: cookieHeader(cookies) } })
      : await request(config.loginPath, signal, {
        method: 'POST', body: fields.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(Object.keys(cookies).length ? { cookie: cookieHeader(cookies) } : {}) },
      });
    const response = responseOf(submit, Date.now() - started, password);
    Object.assign(cookies, cookiesOf(submit));
    const redirect = submit.status >= 300 && submit.status < 400 && submit.headers.location ? samePath(submit.headers.location, config.loginPath, origin) : undefined;
    const landing = config.successPath ?? redirect;
    let successPage: HttpResponse | undefined;
    if (landing) successPage = await request(landing, signal, { headers: { cookie: cookieHeader(cookies) } });
    const final = successPage ?? submit;
    const finalBody = final.body.toString('utf8');
    const accepted = final.status >= 200 && final.status < 300 && !hasPasswordField(finalBody);
    const shape = `${submit.status}${successPage ? ` -> ${successPage.status}` : ''}`;
    let outcome: 'accepted' | 'rejected' | 'refused';
    if (accepted) outcome = 'accepted';
    else if (isServerRefusal(submit.status) || isServerRefusal(final.status)) outcome = 'refused';
    // A failed login: the answer the first wrong password got (learned then), the login form again, or a lock text.
    else if (failureShape === undefined || shape === failureShape || hasPasswordField(finalBody) || LOCK_TEXT.test(visibleText(finalBody, 2000))) {
      failureShape ??= shape;
      outcome = 'rejected';
    } else outcome = 'refused';
    return { accepted, outcome, response, cookies, landing, successPage };
  };
  /** The logout of a login: options.auth.logoutPath or a logout link on the page the login led to. */
  const logoutOf = (r: Awaited<ReturnType<typeof login>>) => {
    const link = config.logoutPath ?? (r.successPage ? findLogoutLink(r.successPage.body.toString('utf8')) : undefined);
    const path = link ? samePath(link, r.landing ?? config.loginPath, origin) : undefined;
    return {
      path,
      end: async () => {
        if (path) await request(path, AbortSignal.timeout(2000), { headers: { cookie: cookieHeader(r.cookies) } }).catch(() => undefined);
      },
    };
  };
  return {
    kind: 'http-form',
    label: `HTTP login form ${config.method.toUpperCase()} ${config.loginPath}`,
    details: { mode: 'form', ...config, tls: endpoint.tls },
    async tryLogin(username, password, signal): Promise<LoginResult> {
      const r = await login(username, password, signal);
      // Log out again: a check must not use up one of the user's session slots.
      if (r.accepted) await logoutOf(r).end();
      return { outcome: r.outcome, response: r.response };
    },
    async openSession(username, password, signal): Promise<SessionOpening> {
      const r = await login(username, password, signal);
      if (!r.accepted || !r.landing) {
        if (r.accepted) await logoutOf(r).end();
        return { opened: false, response: { ...r.response, ...(r.accepted ? { status: `${r.response.status} (no page to check the session on: declare options.auth.successPath)` } : {}) } };
      }
      const landing = r.landing;
      const logout = logoutOf(r);
      const session: HeldSession = {
        closedAt: () => undefined,
        async isAlive(s) {
          const res = await request(landing, s, { headers: { cookie: cookieHeader(r.cookies) } });
          return res.status >= 200 && res.status < 300 && !hasPasswordField(res.body.toString('utf8'));
        },
        close: () => logout.end(),
      };
      return { opened: true, session, response: r.response };
    },
  };
}
