import type { IncomingHttpHeaders } from 'node:http';

/** One Set-Cookie header as RFC 6265 §5.2 reads it (attribute names case-insensitive, last one wins). */
export interface SetCookie {
  name: string;
  value: string;
  secure: boolean;
  httpOnly: boolean;
  /** The SameSite attribute as sent (Strict, Lax, None, or another value a browser ignores); absent: not sent. */
  sameSite?: string;
  path?: string;
  domain?: string;
  maxAge?: number;
  expires?: string;
}

/** Parses one Set-Cookie header value; undefined when it has no name=value pair. */
export function parseSetCookie(line: string): SetCookie | undefined {
  const [pair, ...attributes] = line.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const cookie: SetCookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), secure: false, httpOnly: false };
  for (const attribute of attributes) {
    const i = attribute.indexOf('=');
    const key = (i < 0 ? attribute : attribute.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? '' : attribute.slice(i + 1).trim();
    if (key === 'secure') cookie.secure = true;
    else if (key === 'httponly') cookie.httpOnly = true;
    else if (key === 'samesite') cookie.sameSite = value;
    else if (key === 'path') cookie.path = value;
    else if (key === 'domain') cookie.domain = value;
    else if (key === 'expires') cookie.expires = value;
    else if (key === 'max-age' && /^-?\d+$/.test(value)) cookie.maxAge = Number(value);
  }
  return cookie;
}

export function setCookiesOf(headers: IncomingHttpHeaders): SetCookie[] {
  return (headers['set-cookie'] ?? []).flatMap((line) => parseSetCookie(line) ?? []);
}

/** True when the cookie deletes itself (Max-Age <= 0 or an Expires date in the past). */
export function isDeletion(cookie: SetCookie, now = Date.now()): boolean {
  if (cookie.maxAge !== undefined) return cookie.maxAge <= 0;
  if (cookie.expires !== undefined) {
    const t = Date.parse(cookie.expires);
    return Number.isFinite(t) && t < now;
  }
  return false;
}

/**
 * The cookies of one origin, as a browser would keep them between requests (name -> value; paths and
 * expiry beyond deletion are not modelled: the probes talk to one device origin).
 */
export class CookieJar {
  private readonly values = new Map<string, string>();

  /** Takes the Set-Cookie headers of a response; returns the cookies it set (deletions excluded). */
  update(headers: IncomingHttpHeaders): SetCookie[] {
    const set: SetCookie[] = [];
    for (const cookie of setCookiesOf(headers)) {
      if (isDeletion(cookie)) this.values.delete(cookie.name);
      else {
        this.values.set(cookie.name, cookie.value);
        set.push(cookie);
      }
    }
    return set;
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  names(): string[] {
    return [...this.values.keys()];
  }

  /** The Cookie request header, or undefined when the jar is empty. */
  header(): string | undefined {
    return this.values.size === 0 ? undefined : [...this.values].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}
