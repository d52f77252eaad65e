/**
 * Just enough HTML reading for login forms: find the form that has a password field, its action, method
 * and fields. Regular expressions over the markup, not a DOM: login pages of embedded web servers are
 * small and simple, and anything fancier is configured in the profile (service options `auth`).
 */

export interface LoginForm {
  /** The form's action as written (empty: the page itself). */
  action: string;
  method: string;
  usernameField?: string;
  passwordField: string;
  /** Hidden inputs with their values (CSRF tokens and the like), sent back as they came. */
  hidden: Record<string, string>;
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|apos);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'" })[e] ?? _m);
}

/** True when the page asks for a password (an input of type password). */
export function hasPasswordField(html: string): boolean {
  return /<input\b[^>]*\btype\s*=\s*["']?password\b/i.test(html);
}

/** The first form on the page with a password input, or undefined. */
export function findLoginForm(html: string): LoginForm | undefined {
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
    const inputs = [...m[2].matchAll(/<input\b([^>]*)>/gi)].map((i) => attributes(i[1]));
    const password = inputs.find((a) => (a.type ?? '').toLowerCase() === 'password' && a.name);
    if (!password) continue;
    const form = attributes(m[1]);
    const textual = inputs.filter((a) => a.name && ['', 'text', 'email'].includes((a.type ?? '').toLowerCase()));
    const hidden = Object.fromEntries(inputs.filter((a) => (a.type ?? '').toLowerCase() === 'hidden' && a.name).map((a) => [a.name, a.value ?? '']));
    return {
      action: form.action ?? '',
      method: (form.method ?? 'get').toLowerCase(),
      usernameField: textual[0]?.name,
      passwordField: password.name,
      hidden,
    };
  }
  return undefined;
}

/** The first link whose target or text reads like a logout ("logout", "log off", "sign out"). */
export function findLogoutLink(html: string): string | undefined {
  for (const m of html.matchAll(/<a\b([^>]*)>([\s\S]*?)<\/a\s*>/gi)) {
    const href = attributes(m[1]).href;
    if (href && /log\s*-?\s*(out|off)|sign\s*-?\s*out/i.test(`${href} ${m[2]}`)) return href;
  }
  return undefined;
}

/** The visible text of a page, whitespace collapsed, at most `max` characters. */
export function visibleText(html: string, max = 300): string {
  return decodeEntities(html.replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ').replace(/<[^>]*>/g, ' '))
    .replace(/\s+/g, ' ').trim().slice(0, max);
}

/**
 * A same-origin path for a link or action found on `base` ("/login", "login", "?x=1", or an absolute URL
 * to the same host and port); undefined for anything that would leave the declared service.
 */
export function samePath(link: string, basePath: string, origin: string): string | undefined {
  let url: URL;
  try {
    url = new URL(link, `${origin}${basePath}`);
  } catch {
    return undefined;
  }
  if (`${url.protocol}//${url.host}` !== new URL(origin).origin) return undefined;
  return `${url.pathname}${url.search}`;
}
