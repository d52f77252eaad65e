import type { Credential } from '../../sdk';
import type { CookieJar } from './cookies';
import type { HtmlDocument, HtmlForm } from './html';
import { exchange, isSameOrigin, navigate, nextHop, type Exchange, type NavigateOptions } from './navigate';
import type { HttpEndpoint } from './request';

/** A login form found on a page: where it posts and which fields carry what. */
export interface LoginForm {
  /** The page the form is on. */
  page: string;
  /** Absolute URL the form submits to. */
  action: string;
  method: string;
  enctype: string;
  userField?: string;
  passwordField: string;
  /** Hidden fields and the first named submit button, sent as they are (CSRF tokens and the like). */
  fixed: [string, string][];
}

const USER_NAME = /user|login|name|account|email|benutzer/i;

/** The first form with exactly one password field (a change-password form has two or three). */
export function findLoginForm(doc: HtmlDocument, pageUrl: string): LoginForm | undefined {
  const form = doc.forms.find((f) => f.inputs.filter((i) => i.type === 'password').length === 1);
  return form ? describeForm(form, pageUrl) : undefined;
}

function describeForm(form: HtmlForm, pageUrl: string): LoginForm | undefined {
  const password = form.inputs.find((i) => i.type === 'password');
  if (!password?.name) return undefined;
  const texts = form.inputs.filter((i) => ['text', 'email', 'tel'].includes(i.type) && i.name);
  const user = texts.find((i) => USER_NAME.test(i.name ?? '')) ?? texts[0];
  const fixed: [string, string][] = form.inputs.filter((i) => i.type === 'hidden' && i.name).map((i) => [i.name!, i.value ?? '']);
  const submit = form.inputs.find((i) => (i.type === 'submit' || i.type === 'image') && i.name);
  if (submit) fixed.push([submit.name!, submit.value ?? '']);
  return {
    page: pageUrl, action: new URL(form.action || pageUrl, pageUrl).href, method: form.method, enctype: form.enctype ?? 'application/x-www-form-urlencoded',
    ...(user?.name ? { userField: user.name } : {}), passwordField: password.name, fixed,
  };
}

/** Why a form cannot be submitted by this client (undefined: it can). */
export function unsupportedForm(endpoint: HttpEndpoint, form: LoginForm): string | undefined {
  if (form.method !== 'post') return `the login form uses method ${form.method.toUpperCase()} (the password would travel in the URL); it is not submitted`;
  if (form.enctype !== 'application/x-www-form-urlencoded') return `the login form is sent as ${form.enctype}, which this client does not submit`;
  if (!isSameOrigin(endpoint, new URL(form.action))) return `the login form posts to ${form.action}, another origin than the declared service; it is not submitted`;
  return undefined;
}

export interface FormLoginResult {
  /** The POST and every same-origin redirect after it. */
  chain: Exchange[];
  /** Names of the cookies the POST (and its redirects) set. */
  cookiesSet: string[];
  /** The device answered like a successful login: no error status, and not the login form again. */
  accepted: boolean;
  reason: string;
}

/**
 * Submits the form once with the credential (hidden fields as found, the jar's cookies), then follows
 * same-origin redirects. The password exists only in the request body, never in the returned exchanges.
 */
export async function submitLoginForm(
  endpoint: HttpEndpoint, form: LoginForm, credential: Pick<Credential, 'username' | 'password'>,
  options: NavigateOptions & { jar: CookieJar; stillLoginPage: (page: Exchange) => boolean },
): Promise<FormLoginResult> {
  const body = new URLSearchParams([...form.fixed, ...(form.userField ? [[form.userField, credential.username] as [string, string]] : []), [form.passwordField, credential.password]]);
  const before = new Map(options.jar.names().map((n) => [n, options.jar.get(n)]));
  const post = await exchange(endpoint, new URL(form.action), {
    ...options, method: 'POST', body: body.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(form.page).origin, referer: form.page, ...options.headers },
  });
  const chain: Exchange[] = [post];
  const hop = nextHop(post);
  if (hop) {
    const next = new URL(hop.location, post.url);
    if (isSameOrigin(endpoint, next)) chain.push(...(await navigate(endpoint, next.href, options)).chain);
  }
  const cookiesSet = options.jar.names().filter((n) => before.get(n) !== options.jar.get(n));
  const final = chain[chain.length - 1];
  if (post.status >= 400) return { chain, cookiesSet, accepted: false, reason: `the login POST answered ${post.status} ${post.statusMessage}` };
  if (final.status >= 400) return { chain, cookiesSet, accepted: false, reason: `after the login POST the device answered ${final.status} ${final.statusMessage}` };
  if (options.stillLoginPage(final)) return { chain, cookiesSet, accepted: false, reason: 'after the login POST the device shows the login form again' };
  return { chain, cookiesSet, accepted: true, reason: `the login POST answered ${post.status}${chain.length > 1 ? `, then ${final.status} at ${new URL(final.url).pathname}` : ''}` };
}
