import type { IncomingHttpHeaders } from 'node:http';

/** A header's value with repeated fields joined by ", " (set-cookie excepted, which callers read as a list). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Every field of that name as received (repeated fields kept apart), from the raw header list. */
export function headerFields(rawHeaders: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === name.toLowerCase()) out.push(rawHeaders[i + 1]);
  return out;
}

/** A Strict-Transport-Security header read per RFC 6797 §6.1 (the first field only, as §8.1 tells a UA). */
export interface HstsHeader {
  raw: string;
  /** Seconds; null when max-age is missing or not a number (then the header is invalid). */
  maxAge: number | null;
  includeSubDomains: boolean;
  preload: boolean;
  /** How many Strict-Transport-Security fields came (a browser uses only the first). */
  fields: number;
  /** Why a user agent would ignore the header (empty when valid). */
  problems: string[];
}

export function parseHsts(fields: readonly string[]): HstsHeader | undefined {
  if (fields.length === 0) return undefined;
  const raw = fields[0];
  const problems: string[] = [];
  const seen = new Set<string>();
  let maxAge: number | null = null;
  for (const part of raw.split(';')) {
    const directive = part.trim();
    if (!directive) continue;
    const eq = directive.indexOf('=');
    const name = (eq < 0 ? directive : directive.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : directive.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    // §6.1: all directives MUST appear only once; a UA ignores a header that repeats one.
    if (seen.has(name)) problems.push(`directive ${name} appears more than once`);
    seen.add(name);
    if (name === 'max-age') {
      if (value !== undefined && /^\d+$/.test(value)) maxAge = Number(value);
      else problems.push(`max-age "${value ?? ''}" is not a number of seconds`);
    }
  }
  if (!seen.has('max-age')) problems.push('the required max-age directive is missing');
  return { raw, maxAge, includeSubDomains: seen.has('includesubdomains'), preload: seen.has('preload'), fields: fields.length, problems };
}

/** Directives of every Content-Security-Policy field (all are enforced), name -> source lists. */
export function cspDirectives(fields: readonly string[]): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const field of fields) {
    for (const part of field.split(/[;,]/)) {
      const [name, ...sources] = part.trim().split(/\s+/);
      if (!name) continue;
      const key = name.toLowerCase();
      out.set(key, [...(out.get(key) ?? []), sources]);
    }
  }
  return out;
}

export interface FrameProtection {
  /** Whether a browser refuses to show the page in another site's frame. */
  protected: boolean;
  /** What protects it (or what was sent that does not). */
  by: 'csp-frame-ancestors' | 'x-frame-options' | null;
  value?: string;
}

/**
 * Clickjacking protection: CSP frame-ancestors without a wildcard, or X-Frame-Options DENY / SAMEORIGIN
 * (RFC 7034; ALLOW-FROM is ignored by current browsers). CSP Level 2 §7.7: frame-ancestors takes precedence.
 */
export function frameProtection(rawHeaders: readonly string[]): FrameProtection {
  const ancestors = cspDirectives(headerFields(rawHeaders, 'content-security-policy')).get('frame-ancestors');
  if (ancestors) {
    const wide = ancestors.some((sources) => sources.some((s) => s === '*' || /^(https?:|\*)$/i.test(s)));
    return { protected: !wide, by: 'csp-frame-ancestors', value: ancestors.map((s) => s.join(' ')).join(' | ') };
  }
  const xfo = headerFields(rawHeaders, 'x-frame-options');
  if (xfo.length > 0) {
    const v = xfo[0].trim().toUpperCase();
    return { protected: v === 'DENY' || v === 'SAMEORIGIN', by: 'x-frame-options', value: xfo[0] };
  }
  return { protected: false, by: null };
}

/** Splits at commas outside quoted strings. */
function splitOutsideQuotes(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (c === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** Authentication schemes of WWW-Authenticate challenges (RFC 9110 §11.6.1), with the realm when given. */
export function authChallenges(fields: readonly string[]): { scheme: string; realm?: string }[] {
  const out: { scheme: string; realm?: string }[] = [];
  const param = (item: string) => {
    const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))$/.exec(item);
    if (m && m[1].toLowerCase() === 'realm' && out.length > 0) out[out.length - 1].realm = m[2] ?? m[3];
  };
  for (const field of fields) {
    for (const item of splitOutsideQuotes(field)) {
      // "Basic realm=..." starts a challenge; "charset=..." continues the previous one.
      const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s+(.*))?$/.exec(item);
      if (m && !/^[^\s=]+\s*=/.test(item)) {
        out.push({ scheme: m[1] });
        if (m[2]) param(m[2].trim());
      } else param(item);
    }
  }
  return out;
}

/** Cache-Control directives, lower-cased (RFC 9111 §5.2). */
export function cacheDirectives(headers: IncomingHttpHeaders): Set<string> {
  const v = headerValue(headers, 'cache-control') ?? '';
  return new Set(v.split(',').map((d) => d.trim().split('=')[0].toLowerCase()).filter(Boolean));
}
