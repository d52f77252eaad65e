import { ProtocolViolation, type Credential, type ServiceUnderTest } from '../../sdk';
import { httpEndpoint, httpRequest } from '../http/request';
import { excerpt, scrub, type AccountInterface, type Actor, type OperationOptions, type Step } from './types';

/** One request template of `policy.accountManagement.http` (placeholders {user}, {password}, {oldPassword}, {role}). */
export interface RequestTemplate {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  /** Default application/json; values are JSON-escaped in JSON bodies and URL-encoded in form bodies and paths. */
  readonly contentType?: string;
  /** Statuses that mean the device did it. */
  readonly success: readonly number[];
  /** Statuses that mean the device refused (a weak password, a forbidden caller, a refused login). */
  readonly refused: readonly number[];
  /** delete: statuses that mean the account does not exist (a replayed cleanup). */
  readonly absent?: readonly number[];
  /** setPassword: who sends it, the user (self, default) or the admin. */
  readonly as?: 'self' | 'admin';
}

export interface HttpAccountManagement {
  readonly port?: number;
  /** The role a test account is created with (default operator). */
  readonly role?: string;
  readonly create: RequestTemplate;
  readonly setPassword: RequestTemplate;
  readonly disable: RequestTemplate;
  readonly delete: RequestTemplate;
  readonly login: RequestTemplate;
}

type Values = Readonly<Record<'user' | 'password' | 'oldPassword' | 'role', string>>;

function fill(template: string, values: Values, encode: (v: string) => string): string {
  return template.replace(/\{(user|password|oldPassword|role)\}/g, (_m, key: keyof Values) => encode(values[key]));
}

const jsonEscape = (v: string) => JSON.stringify(v).slice(1, -1);

/** The request a template makes for these values; the values are ours (generated names and passwords), never device data. */
export function renderRequest(t: RequestTemplate, values: Values): { method: string; path: string; body?: string; contentType: string } {
  const contentType = t.contentType ?? 'application/json';
  const encodeBody = contentType.includes('json') ? jsonEscape : encodeURIComponent;
  return {
    method: t.method.toUpperCase(), path: fill(t.path, values, encodeURIComponent), contentType,
    ...(t.body === undefined ? {} : { body: fill(t.body, values, encodeBody) }),
  };
}

const TIMEOUT_MS = 10_000;

/** The declared web/REST interface: every operation is one request with HTTP basic authentication. */
export function httpAccounts(
  service: ServiceUnderTest, declared: HttpAccountManagement, actors: Partial<Record<Actor, Credential>>, signal: AbortSignal, secrets: Set<string>,
): AccountInterface {
  const endpoint = httpEndpoint(service);
  const role = declared.role ?? 'operator';
  const send = async (name: string, t: RequestTemplate, who: { username: string; password: string }, values: Values, options: OperationOptions = {}): Promise<Step> => {
    const request = renderRequest(t, values);
    secrets.add(who.password);
    const response = await httpRequest(endpoint, {
      method: request.method, path: request.path, body: request.body, signal: options.signal ?? signal, timeoutMs: TIMEOUT_MS, maxBodyBytes: 64 * 1024,
      headers: {
        authorization: `Basic ${Buffer.from(`${who.username}:${who.password}`).toString('base64')}`,
        accept: 'application/json, */*;q=0.5',
        ...(request.body === undefined ? {} : { 'content-type': request.contentType }),
      },
    });
    const body = excerpt(response.body.toString('utf8'));
    const detail = scrub(`${request.method} ${request.path} -> ${response.status}${body ? ` ${body}` : ''}`, secrets);
    if (t.success.includes(response.status)) return { step: name, accepted: true, detail };
    if (t.absent?.includes(response.status)) return { step: name, accepted: false, absent: true, detail };
    if (t.refused.includes(response.status)) return { step: name, accepted: false, detail };
    throw new ProtocolViolation(`${name}: the device answered ${response.status}, neither a success (${t.success.join(', ')}) nor a refusal (${t.refused.join(', ')}) the profile declares: ${detail}`);
  };
  const actor = (a: Actor) => {
    const c = actors[a];
    if (!c) throw new ProtocolViolation(`no credentials.accounts.${a}`);
    return c;
  };
  const values = (user: string, password = '', oldPassword = ''): Values => ({ user, password, oldPassword, role });
  return {
    where: `${service.protocol}:${service.host}:${service.port}`,
    kind: 'http',
    create: (a, user, password) => send(`create as ${a}`, declared.create, actor(a), values(user, password)),
    setPassword: (user, oldPassword, password) => {
      const who = declared.setPassword.as === 'admin' ? actor('admin') : { username: user, password: oldPassword };
      return send('set password', declared.setPassword, who, values(user, password, oldPassword));
    },
    disable: (user) => send('disable', declared.disable, actor('admin'), values(user)),
    remove: (user, options) => send('delete', declared.delete, actor('admin'), values(user), options),
    login: (user, password) => send('login', declared.login, { username: user, password }, values(user, password)),
  };
}
