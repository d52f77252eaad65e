import type { CookieJar } from './cookies';
import { headerValue } from './headers';
import { looksLikeHtml, parseHtml } from './html';
import { baseUrl, httpRequest, type HttpEndpoint, type HttpResponse } from './request';

/** One request and its response, with the absolute URL it went to. */
export interface Exchange extends HttpResponse {
  method: string;
  url: string;
}

export interface NavigateOptions {
  signal: AbortSignal;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** Sends its Cookie header and takes every Set-Cookie (like a browser). */
  jar?: CookieJar;
  headers?: Record<string, string>;
  maxBodyBytes?: number;
}

export function originOf(endpoint: HttpEndpoint): string {
  return new URL(baseUrl(endpoint)).origin;
}

/** The absolute URL of a path (or a relative or absolute reference) on the endpoint. */
export function resolveUrl(endpoint: HttpEndpoint, reference: string, base?: string): URL {
  return new URL(reference, base ?? `${baseUrl(endpoint)}/`);
}

/** Same scheme, host and port as the declared endpoint: the only place requests are sent. */
export function isSameOrigin(endpoint: HttpEndpoint, url: URL): boolean {
  return url.origin === originOf(endpoint);
}

/** One request to a URL of the endpoint's origin (throws when the URL is elsewhere: a caller bug). */
export async function exchange(endpoint: HttpEndpoint, url: URL, options: NavigateOptions & { method?: string; body?: string }): Promise<Exchange> {
  if (!isSameOrigin(endpoint, url)) throw new Error(`${url.href} is not on ${originOf(endpoint)}`);
  const method = options.method ?? 'GET';
  const cookie = options.jar?.header();
  const response = await httpRequest(endpoint, {
    method, path: `${url.pathname}${url.search}`, signal: options.signal, timeoutMs: options.timeoutMs, maxBodyBytes: options.maxBodyBytes,
    ...(options.body !== undefined ? { body: options.body } : {}),
    headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', ...(cookie ? { cookie } : {}), ...options.headers },
  });
  options.jar?.update(response.headers);
  return { ...response, method, url: url.href };
}

export interface Navigation {
  /** Every exchange in order; the last is where navigation stopped. */
  chain: Exchange[];
  final: Exchange;
  /** A redirect (Location or meta refresh) to another origin: recorded, never followed. */
  leftTo?: { from: string; location: string; url?: string; kind: 'location' | 'meta-refresh' };
}

/** Where a response sends the browser next: a 3xx Location, or an HTML meta refresh of at most 10 s. */
export function nextHop(response: Exchange): { location: string; kind: 'location' | 'meta-refresh' } | undefined {
  if (response.status >= 300 && response.status < 400) {
    const location = headerValue(response.headers, 'location');
    return location ? { location, kind: 'location' } : undefined;
  }
  if (response.status === 200 && looksLikeHtml(headerValue(response.headers, 'content-type'), response.body)) {
    const refresh = parseHtml(response.body.toString('utf8')).metaRefresh;
    if (refresh?.url && refresh.delaySeconds <= 10) return { location: refresh.url, kind: 'meta-refresh' };
  }
  return undefined;
}

/**
 * GETs a path and follows redirects (3xx Location and meta refresh) as a browser would, but only within
 * the endpoint's origin and at most `maxHops` times; a redirect elsewhere is recorded in `leftTo`.
 */
export async function navigate(endpoint: HttpEndpoint, path: string, options: NavigateOptions & { maxHops?: number }): Promise<Navigation> {
  const chain: Exchange[] = [];
  let url = resolveUrl(endpoint, path);
  const seen = new Set<string>();
  for (;;) {
    const response = await exchange(endpoint, url, options);
    chain.push(response);
    const hop = nextHop(response);
    if (!hop) return { chain, final: response };
    let next: URL | undefined;
    try {
      next = new URL(hop.location, url);
    } catch {
      return { chain, final: response, leftTo: { from: url.href, location: hop.location, kind: hop.kind } };
    }
    if (!isSameOrigin(endpoint, next)) return { chain, final: response, leftTo: { from: url.href, location: hop.location, url: next.href, kind: hop.kind } };
    if (chain.length > (options.maxHops ?? 5) || seen.has(next.href)) return { chain, final: response };
    seen.add(url.href);
    url = next;
  }
}
