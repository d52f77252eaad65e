/**
 * Shared by the http.* probes: reading a declared web service the way a browser would (same origin only),
 * finding its login page and the paths worth checking, recording exchanges without session secrets, and
 * the grading of findings from profiles/baselines/http.yaml.
 */
import { createHash } from 'node:crypto';
import {
  InvalidInput, ProtocolViolation, TargetTimeout, finding, isAbort, type Finding, type HostUnderTest, type ProbeContext, type ServiceUnderTest, type Severity,
} from '../../sdk';
import { CookieJar } from './cookies';
import { findLoginForm, type LoginForm } from './form-login';
import { authChallenges, headerFields, headerValue } from './headers';
import { looksLikeHtml, parseHtml, type HtmlDocument } from './html';
import { isSameOrigin, navigate, resolveUrl, type Exchange, type Navigation } from './navigate';
import { httpEndpoint, type HttpEndpoint } from './request';

/** Service protocols the web probes run against (`tls: true` on an http service makes it HTTPS). */
export const WEB_PROTOCOLS = ['http', 'https'] as const;

export interface WebInputs {
  /** Per request (the attempt's budget bounds everything anyway). */
  requestTimeoutMs: number;
  /** Paths that must not answer without a session, besides the service option `protectedPaths`. */
  paths: string[];
  /** At most this many paths are requested (declared ones first, then links from the login page). */
  maxPaths: number;
}

export const WEB_INPUT_SCHEMA = {
  requestTimeoutMs: { type: 'integer', minimum: 100, description: 'Bound of one HTTP request' },
  paths: { type: 'array', items: { type: 'string', pattern: '^/' }, description: 'Paths that need a session (default /admin, /config, /setup)' },
  maxPaths: { type: 'integer', minimum: 1, maximum: 100, description: 'Most paths requested per service' },
} as const;

export const WEB_DEFAULTS: WebInputs = { requestTimeoutMs: 5000, paths: ['/admin', '/config', '/setup'], maxPaths: 12 };

/** The metadata every web probe with only the common inputs shares (spread into defineProbe). */
export const WEB_PROBE = {
  protocol: 'http',
  scope: 'service',
  appliesTo: [...WEB_PROTOCOLS],
  inputs: { schema: { type: 'object', additionalProperties: false, properties: WEB_INPUT_SCHEMA }, defaults: WEB_DEFAULTS },
} as const;

/** Options of a declared web service the probes read (profile: `services[].options`). */
export function serviceOptions(service: ServiceUnderTest): { loginPath: string; protectedPaths: string[] } {
  const o = service.options;
  const loginPath = typeof o.loginPath === 'string' && o.loginPath.startsWith('/') ? o.loginPath : '/';
  const protectedPaths = Array.isArray(o.protectedPaths) ? o.protectedPaths.filter((p): p is string => typeof p === 'string' && p.startsWith('/')) : [];
  return { loginPath, protectedPaths };
}

export function endpointOf(service: ServiceUnderTest): HttpEndpoint {
  return httpEndpoint(service);
}

// ---------------------------------------------------------------------------------------------------------
// Evidence

function redactCookieValue(value: string): string {
  return `<${value.length} chars, sha256 ${createHash('sha256').update(value).digest('hex').slice(0, 12)}>`;
}

/** Raw header pairs with cookie values replaced by length + hash (session ids are bearer secrets). */
export function redactedHeaders(rawHeaders: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    let value = rawHeaders[i + 1];
    if (name.toLowerCase() === 'set-cookie') {
      const [pair, ...attrs] = value.split(';');
      const eq = pair.indexOf('=');
      value = [eq > 0 ? `${pair.slice(0, eq)}=${redactCookieValue(pair.slice(eq + 1).trim())}` : pair, ...attrs].join(';');
    }
    out.push([name, value]);
  }
  return out;
}

/** One line per exchange in `<name>.ndjson`: request, status, headers (cookies redacted), body size and hash. */
export function recordExchanges(ctx: ProbeContext<unknown>, name: string, exchanges: readonly Exchange[], note?: string): string {
  let path = '';
  for (const e of exchanges) {
    path = ctx.evidence.append(`${name}.ndjson`, JSON.stringify({
      ...(note ? { note } : {}), method: e.method, url: e.url, status: e.status, reason: e.statusMessage, httpVersion: e.httpVersion,
      headers: redactedHeaders(e.rawHeaders), bodyBytes: e.body.length, bodyTruncated: e.truncated,
      bodySha256: createHash('sha256').update(e.body).digest('hex'), durationMs: e.durationMs,
    }));
  }
  return path;
}

// ---------------------------------------------------------------------------------------------------------
// Pages

export interface Page {
  url: string;
  exchange: Exchange;
  /** Parsed when the response is HTML. */
  doc?: HtmlDocument;
}

export function pageOf(exchange: Exchange): Page {
  const html = looksLikeHtml(headerValue(exchange.headers, 'content-type'), exchange.body);
  return { url: exchange.url, exchange, ...(html ? { doc: parseHtml(exchange.body.toString('utf8')) } : {}) };
}

/** A page a browser shows as a login: a password field, or an HTTP authentication challenge. */
export function isLoginPage(exchange: Exchange): boolean {
  if (exchange.status === 401 && headerFields(exchange.rawHeaders, 'www-authenticate').length > 0) return true;
  return (pageOf(exchange).doc?.passwordFields ?? 0) > 0;
}

export function challengesOf(exchange: Exchange): { scheme: string; realm?: string }[] {
  return exchange.status === 401 ? authChallenges(headerFields(exchange.rawHeaders, 'www-authenticate')) : [];
}

export interface Landing {
  navigation: Navigation;
  /** The page navigation ended on, plus same-origin frames of it (old device UIs put the login in a frame). */
  pages: Page[];
  /** The page holding the login form, when one was found. */
  loginPage?: Page;
  loginForm?: LoginForm;
}

/**
 * Opens the service's login path (default "/") like a browser: follows same-origin redirects and meta
 * refreshes, then looks for a login form on the page and in up to three same-origin frames.
 */
export async function openLanding(ctx: ProbeContext<WebInputs>, jar?: CookieJar): Promise<Landing> {
  const service = ctx.service!;
  const endpoint = endpointOf(service);
  const options = { signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs, ...(jar ? { jar } : {}) };
  const navigation = await navigate(endpoint, serviceOptions(service).loginPath, options);
  const pages = [pageOf(navigation.final)];
  const frames = (pages[0].doc?.frames ?? []).map((f) => resolveUrl(endpoint, f, pages[0].url)).filter((u) => isSameOrigin(endpoint, u)).slice(0, 3);
  for (const frame of frames) pages.push(pageOf((await navigate(endpoint, frame.href, options)).final));
  for (const page of pages) {
    const form = page.doc ? findLoginForm(page.doc, page.url) : undefined;
    if (form) return { navigation, pages, loginPage: page, loginForm: form };
  }
  const loginPage = pages.find((p) => (p.doc?.passwordFields ?? 0) > 0);
  return { navigation, pages, ...(loginPage ? { loginPage } : {}) };
}

/** Links that must never be followed: they may change state even on GET (log out, reboot, reset ...). */
const UNSAFE_LINK = /log_?out|logoff|sign_?out|reboot|restart|reset|shutdown|factory|delete|remove|update|upgrade|firmware|apply|save|commit|format|erase|clear/i;
const STATIC_ASSET = /\.(css|js|mjs|png|jpe?g|gif|svg|ico|woff2?|ttf|eot|map|pdf|zip|bin|img)$/i;

export interface CandidatePath {
  path: string;
  source: 'service-option' | 'input' | 'login-page-link';
}

/**
 * Paths to check without a session: the service's `protectedPaths`, the probe input `paths`, then same-origin
 * links of the landing pages (no static assets, nothing that looks state-changing), at most `maxPaths`.
 */
export function candidatePaths(ctx: ProbeContext<WebInputs>, landing: Landing): CandidatePath[] {
  const service = ctx.service!;
  const endpoint = endpointOf(service);
  const out = new Map<string, CandidatePath>();
  const add = (path: string, source: CandidatePath['source']) => {
    if (!out.has(path)) out.set(path, { path, source });
  };
  for (const p of serviceOptions(service).protectedPaths) add(p, 'service-option');
  for (const p of ctx.inputs.paths) add(p, 'input');
  const landingPaths = new Set(landing.navigation.chain.map((e) => new URL(e.url).pathname));
  for (const page of landing.pages) {
    for (const link of page.doc?.links ?? []) {
      let url: URL;
      try {
        url = resolveUrl(endpoint, link, page.url);
      } catch {
        continue;
      }
      if (!isSameOrigin(endpoint, url) || UNSAFE_LINK.test(url.pathname + url.search) || STATIC_ASSET.test(url.pathname)) continue;
      if (landingPaths.has(url.pathname) && !url.search) continue;
      add(`${url.pathname}${url.search}`, 'login-page-link');
    }
  }
  return [...out.values()].slice(0, ctx.inputs.maxPaths);
}

/** A path's answer, or why there is none (a timeout or reset on one path does not end the probe). */
export type PathVisit = { path: string; navigation: Navigation } | { path: string; error: string };

export async function visitPath(ctx: ProbeContext<WebInputs>, path: string, jar?: CookieJar): Promise<PathVisit> {
  try {
    const navigation = await navigate(endpointOf(ctx.service!), path, { signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs, ...(jar ? { jar } : {}) });
    return { path, navigation };
  } catch (err) {
    // The attempt's own deadline or cancellation ends the probe; one misbehaving path does not.
    if (ctx.signal.aborted || isAbort(err, ctx.signal) || !(err instanceof Error)) throw err;
    return { path, error: err.message };
  }
}

/** Visits every path; when not a single one answered, the service is not usable: the first error is thrown. */
export async function visitAll(ctx: ProbeContext<WebInputs>, paths: readonly CandidatePath[], jar?: CookieJar): Promise<PathVisit[]> {
  const visits: PathVisit[] = [];
  for (const p of paths) {
    // A slow device gets fewer paths checked rather than no result at all: keep a request's worth of budget.
    if (ctx.deadline - Date.now() < ctx.inputs.requestTimeoutMs + 1000) visits.push({ path: p.path, error: 'not requested: the attempt budget ran out' });
    else visits.push(await visitPath(ctx, p.path, jar));
  }
  const failed = visits.filter((v): v is { path: string; error: string } => 'error' in v);
  if (visits.length > 0 && failed.length === visits.length && failed.every((f) => f.error.startsWith('not requested'))) throw new TargetTimeout('the attempt budget ran out before any path was requested');
  if (visits.length > 0 && failed.length === visits.length) throw new ProtocolViolation(`no path answered: ${failed.map((f) => `${f.path}: ${f.error}`).join('; ')}`);
  return visits;
}

// ---------------------------------------------------------------------------------------------------------
// Declared services and redirects

/** Whether `hostname` (from a URL) names the target host: its profile host, name or a resolved address. */
export function namesHost(host: HostUnderTest, hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return [host.host, host.name, ...host.addresses].some((n) => n.toLowerCase() === h);
}

/** The declared HTTPS service a URL points to on the same host, if any. */
export function declaredHttpsService(host: HostUnderTest, url: URL): ServiceUnderTest | undefined {
  if (url.protocol !== 'https:' || !namesHost(host, url.hostname)) return undefined;
  const port = url.port ? Number(url.port) : 443;
  return host.services.find((s) => s.transport === 'tcp' && s.port === port && (WEB_PROTOCOLS as readonly string[]).includes(s.protocol) && httpEndpoint(s).tls);
}

// ---------------------------------------------------------------------------------------------------------
// Baseline

export interface Grading {
  severity: Severity;
  requirements?: string[];
  basis?: string[];
}

export interface HttpBaseline {
  hstsMinMaxAgeSeconds: number;
  sessionIdMinBits: number;
  /** Keyed by the finding's report code, `<probe id>.<name>` (e.g. `http.headers.hsts-missing`). */
  grading: Record<string, Grading>;
}

/** The baseline as one probe reads it: gradings are looked up by that probe's finding names. */
export interface ProbeBaseline extends HttpBaseline {
  readonly probeId: string;
}

/**
 * Reads profiles/baselines/http.yaml at the SL target and checks that it grades every finding name the
 * probe `probeId` raises from it, with requirements the probe declares.
 */
export function loadHttpBaseline(ctx: ProbeContext<unknown>, probeId: string, names: readonly string[], declared: readonly string[]): ProbeBaseline {
  const b: ProbeBaseline = { ...ctx.baseline<HttpBaseline>('http'), probeId };
  for (const name of names) {
    const code = `${probeId}.${name}`;
    const g = b.grading?.[code];
    if (!g) throw new InvalidInput(`the http baseline grades no ${code} (its grading is keyed by finding code, <probe id>.<name>)`);
    for (const r of g.requirements ?? []) {
      if (!declared.includes(r)) throw new InvalidInput(`the http baseline maps ${code} to ${r}, which ${probeId} does not evidence (it can: ${declared.join(', ')})`);
    }
  }
  return b;
}

/** The grading of one of the probe's finding names at this level. */
export function gradingOf(baseline: ProbeBaseline, name: string): Grading {
  const g = baseline.grading[`${baseline.probeId}.${name}`];
  // loadHttpBaseline checked the names the probe listed: a miss here is a name the probe forgot to list.
  if (!g) throw new Error(`${baseline.probeId} grades ${name}, which it did not list when loading the http baseline`);
  return g;
}

/** A finding graded by the baseline (severity and requirements per SL target); it carries the name. */
export function graded(baseline: ProbeBaseline, name: string, message: string, evidence: string[]): Finding {
  const g = gradingOf(baseline, name);
  return finding({ code: name, severity: g.severity, requirements: g.requirements ?? [], message, evidence });
}

/** Requirements graded names fail at this level (for deciding which outcomes the probe evaluated). */
export function gradedRequirements(baseline: ProbeBaseline, names: readonly string[]): string[] {
  return [...new Set(names.flatMap((n) => {
    const g = gradingOf(baseline, n);
    return g.severity === 'info' ? [] : g.requirements ?? [];
  }))];
}
