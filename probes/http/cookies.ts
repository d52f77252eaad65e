import { AuthRejected, defineProbe, finding, judge, type Finding } from '../../src/sdk';
import { CookieJar, setCookiesOf, type SetCookie } from '../../src/protocols/http/cookies';
import { submitLoginForm, unsupportedForm } from '../../src/protocols/http/form-login';
import { isSameOrigin, navigate, resolveUrl, type Exchange } from '../../src/protocols/http/navigate';
import {
  WEB_DEFAULTS, WEB_INPUT_SCHEMA, WEB_PROTOCOLS, endpointOf, graded, isLoginPage, loadHttpBaseline, openLanding, pageOf, recordExchanges,
  type ProbeBaseline, type WebInputs,
} from '../../src/protocols/http/web';
import { LoginBudget } from '../../src/protocols/auth/ledger';

interface CookieInputs extends WebInputs {
  /** How many times the login page is opened with an empty cookie jar, to compare the ids it hands out. */
  samples: number;
  /** Log in with credentials.http (when the profile gives them) to examine the session cookie itself. */
  login: boolean;
}

const REQUIREMENTS = ['CR 3.8'];
const ID = 'http.cookies';
/** Findings graded by profiles/baselines/http.yaml (as http.cookies.<name>). */
const GRADED_FINDINGS = {
  'no-secure': 'a session cookie over HTTPS without the Secure attribute',
  'no-httponly': 'a session cookie without HttpOnly',
  'no-samesite': 'a session cookie without SameSite=Strict or Lax',
  'session-id-short': "a session id with fewer bits than the baseline's sessionIdMinBits (upper bound from length and alphabet)",
};
/** Findings with a fixed grading (high, CR 3.8). */
const FIXED_FINDINGS = {
  'session-id-predictable': 'independent visitors got the same session id, or decimal ids a small step apart',
  'session-fixation': 'the login keeps the session id issued before login',
  'session-cleartext': 'a session cookie is issued over plain HTTP',
};
/** Cookie names that carry sessions in common web stacks and device firmwares. */
const SESSION_NAME = /sess|^sid$|sid_|_sid|token|auth|login|jsessionid|phpsessid|aspsessionid|asp\.net_sessionid|connect\.sid|^__host-|^__secure-/i;
const LOGOUT_LINK = /log_?out|logoff|sign_?out/i;

/**
 * An upper bound of the entropy of an id from its length and alphabet (digits 3.3 bits a character, hex 4,
 * base64 6 ...). Randomness itself cannot be measured from a few samples: a long id may still be guessable,
 * but a short one is guessable for sure.
 */
export function entropyBound(value: string): { alphabet: string; bits: number } {
  const classes: [string, RegExp, number][] = [['digits', /[0-9]/, 10], ['lower', /[a-z]/, 26], ['upper', /[A-Z]/, 26], ['-_', /[-_]/, 2], ['+/=', /[+/=]/, 3], ['%', /%/, 1]];
  let alphabet: string;
  let size: number;
  if (/^[0-9]+$/.test(value)) [alphabet, size] = ['decimal', 10];
  else if (/^[0-9a-f]+$/.test(value) || /^[0-9A-F]+$/.test(value)) [alphabet, size] = ['hex', 16];
  else {
    const present = classes.filter(([, re]) => re.test(value));
    const rest = value.replace(/[0-9a-zA-Z\-_+/=%]/g, '');
    size = present.reduce((n, [, , k]) => n + k, 0) + (rest ? 32 : 0);
    alphabet = [...present.map(([name]) => name), ...(rest ? ['other'] : [])].join('+');
  }
  return { alphabet, bits: Math.floor(value.length * Math.log2(Math.max(size, 2))) };
}

/** Ids that follow each other (decimal ids a small step apart) or repeat for different clients. */
export function predictability(values: readonly string[]): string | undefined {
  if (values.length < 2) return undefined;
  if (new Set(values).size < values.length) return `the same id was issued to ${values.length - new Set(values).size + 1} independent clients`;
  if (values.every((v) => /^\d{1,15}$/.test(v))) {
    const n = values.map(Number).sort((a, b) => a - b);
    const steps = n.slice(1).map((x, i) => x - n[i]);
    if (Math.max(...steps) < 65536) return `the ids are numbers a small step apart (${values.join(', ')})`;
  }
  return undefined;
}

interface CookieRecord {
  name: string;
  session: boolean;
  why: string;
  setBy: 'login-page' | 'login';
  secure: boolean;
  httpOnly: boolean;
  sameSite: string | null;
  path?: string;
  domain?: string;
  persistent: boolean;
  valueLength: number;
  alphabet: string;
  bitsAtMost: number;
}

function recordOf(c: SetCookie, setBy: CookieRecord['setBy'], session: boolean, why: string): CookieRecord {
  const e = entropyBound(c.value);
  return {
    name: c.name, session, why, setBy, secure: c.secure, httpOnly: c.httpOnly, sameSite: c.sameSite ?? null,
    ...(c.path !== undefined ? { path: c.path } : {}), ...(c.domain !== undefined ? { domain: c.domain } : {}),
    persistent: c.maxAge !== undefined || c.expires !== undefined, valueLength: c.value.length, alphabet: e.alphabet, bitsAtMost: e.bits,
  };
}

function cookiesSetIn(chain: readonly Exchange[]): SetCookie[] {
  return chain.flatMap((e) => setCookiesOf(e.headers));
}

function attributeFindings(baseline: ProbeBaseline, cookie: SetCookie, tls: boolean, evidence: string[]): Finding[] {
  const out: Finding[] = [];
  const name = `session cookie ${cookie.name}`;
  if (tls && !cookie.secure) out.push(graded(baseline, 'no-secure', `${name} lacks the Secure attribute: a browser also sends it over plain HTTP to this host, where it can be read`, evidence));
  if (!cookie.httpOnly) out.push(graded(baseline, 'no-httponly', `${name} lacks HttpOnly: a script injected into the UI can read it`, evidence));
  const sameSite = cookie.sameSite?.toLowerCase();
  if (sameSite !== 'strict' && sameSite !== 'lax') {
    out.push(graded(baseline, 'no-samesite', `${name} has ${cookie.sameSite === undefined ? 'no SameSite attribute' : `SameSite=${cookie.sameSite}`}: other sites can make the browser send requests with it (CSRF)`, evidence));
  }
  return out;
}

export default defineProbe<CookieInputs>({
  id: ID,
  protocol: 'http',
  title: 'Web UI session cookies: Secure, HttpOnly, SameSite, id length and predictability, renewal at login',
  description: 'Opens the login page a few times with an empty cookie jar and reads every Set-Cookie; with credentials.http '
    + '(and the input login) it submits the login form once with them, keeping the cookies it had (as a browser does), '
    + 'reads the session cookie the login sets, then follows a logout link if the page after login has one. Judges '
    + 'session cookies (set at login, or named like one) against the baseline: Secure on HTTPS, HttpOnly, SameSite, '
    + 'an upper bound of the id entropy, ids that repeat or count up, a pre-login id kept after login (fixation), and '
    + 'session cookies over plain HTTP (CR 3.8, partial). Cookie values are never recorded, only length and hash.',
  requirements: REQUIREMENTS,
  findings: { ...GRADED_FINDINGS, ...FIXED_FINDINGS },
  safety: 'active',
  scope: 'service',
  appliesTo: [...WEB_PROTOCOLS],
  timeoutMs: 30_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        ...WEB_INPUT_SCHEMA,
        samples: { type: 'integer', minimum: 1, maximum: 10, description: 'Times the login page is opened with an empty jar' },
        login: { type: 'boolean', description: 'Log in with credentials.http when given' },
      },
    },
    defaults: { ...WEB_DEFAULTS, samples: 3, login: true },
  },
  locks: ({ host, credentials }) => {
    const user = credentials.get('http')?.username;
    return user ? [{ key: `account:${host.host}:${user}`, mode: 'shared' }] : [];
  },
  async run(ctx) {
    const service = ctx.service!;
    const endpoint = endpointOf(service);
    const baseline = loadHttpBaseline(ctx, ID, Object.keys(GRADED_FINDINGS), REQUIREMENTS);
    const tls = endpoint.tls;

    // 1. The login page, several times, each with an empty jar (independent visitors).
    const jar = new CookieJar();
    const landing = await openLanding(ctx, jar);
    const evidence = [recordExchanges(ctx, 'exchanges', landing.navigation.chain, 'login page, visitor 1 (cookie values: length and sha256 prefix only)')];
    const preLogin = cookiesSetIn(landing.navigation.chain);
    const samples = new Map<string, string[]>();
    const addSample = (c: SetCookie) => samples.set(c.name, [...(samples.get(c.name) ?? []), c.value]);
    preLogin.forEach(addSample);
    for (let i = 1; i < ctx.inputs.samples; i++) {
      const nav = await navigate(endpoint, landing.navigation.chain[0].url, { signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs, jar: new CookieJar() });
      recordExchanges(ctx, 'exchanges', nav.chain, `login page, visitor ${i + 1}`);
      cookiesSetIn(nav.chain).forEach(addSample);
    }

    // 2. One login with the profile's account, then log out again.
    const credential = ctx.credentials.get('http');
    let login: Record<string, unknown> = { tried: false, reason: credential ? 'input login is false' : 'no credentials.http in the profile' };
    let atLogin: SetCookie[] = [];
    let fixation: string[] = [];
    if (credential && ctx.inputs.login) {
      const form = landing.loginForm;
      const problem = form ? unsupportedForm(endpoint, form) : 'no login form (one password field in a form) on the login page';
      // The run-wide login budget the authentication probes use (one account store serves every interface).
      const budget = new LoginBudget(ctx.ledger, ctx.policy, service.host);
      if (problem || !form) login = { tried: false, reason: problem };
      else if (budget.remaining(credential.username) < 1) {
        login = { tried: false, reason: `${budget.used(credential.username)} failed logins already counted for ${credential.username} this run; one more could reach the lockout threshold ${budget.threshold.value}` };
      } else {
        const before = new Map(jar.names().map((n) => [n, jar.get(n)]));
        const result = await submitLoginForm(endpoint, form, credential, {
          signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs, jar, stillLoginPage: (page) => isLoginPage(page),
        });
        recordExchanges(ctx, 'exchanges', result.chain, `login as ${credential.username} (${credential.source}); request body not recorded`);
        budget.record(credential.username, result.accepted ? 'accepted' : 'rejected');
        if (!result.accepted) {
          throw new AuthRejected(`the login with ${credential.source} (${credential.username}) was not accepted: ${result.reason}`);
        }
        atLogin = cookiesSetIn(result.chain);
        atLogin.forEach(addSample);
        // Pre-login cookies the login did not replace now carry the logged-in session.
        fixation = atLogin.length > 0
          ? atLogin.filter((c) => before.has(c.name) && before.get(c.name) === c.value).map((c) => c.name)
          : preLogin.filter((c) => SESSION_NAME.test(c.name)).map((c) => c.name);
        const after = pageOf(result.chain[result.chain.length - 1]);
        const logout = (after.doc?.links ?? []).map((l) => resolveUrl(endpoint, l, after.url)).find((u) => isSameOrigin(endpoint, u) && LOGOUT_LINK.test(u.pathname));
        if (logout) recordExchanges(ctx, 'exchanges', (await navigate(endpoint, logout.href, { signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs, jar })).chain, 'log out');
        login = { tried: true, user: credential.username, accepted: true, how: result.reason, cookiesSet: atLogin.map((c) => c.name), loggedOut: logout ? logout.pathname : false };
      }
    }

    // 3. Which cookies carry the session, and how they are protected.
    const records: CookieRecord[] = [];
    const session: SetCookie[] = [];
    const seen = new Set<string>();
    for (const [c, setBy] of [...atLogin.map((c) => [c, 'login'] as const), ...preLogin.map((c) => [c, 'login-page'] as const)]) {
      if (seen.has(c.name)) continue;
      seen.add(c.name);
      const why = setBy === 'login' ? 'set by the login' : fixation.includes(c.name) ? 'kept as the session after login' : SESSION_NAME.test(c.name) ? 'named like a session cookie' : '';
      records.push(recordOf(c, setBy, why !== '', why || 'not a session cookie (name, and not set at login)'));
      if (why) session.push(c);
    }
    const findings: Finding[] = [];
    for (const c of session) findings.push(...attributeFindings(baseline, c, tls, evidence));
    if (!tls && session.length > 0) {
      findings.push(finding({
        code: 'session-cleartext', severity: 'high', requirements: REQUIREMENTS, evidence,
        message: `${service.name} issues the session cookie ${session.map((c) => c.name).join(', ')} over plain HTTP: anyone on the path can read and replay it`,
      }));
    }
    for (const c of session) {
      const values = samples.get(c.name) ?? [c.value];
      const bits = Math.min(...values.map((v) => entropyBound(v).bits));
      if (bits < baseline.sessionIdMinBits) {
        findings.push(graded(baseline, 'session-id-short', `session cookie ${c.name} carries at most ${bits} bits (${values[0].length} ${entropyBound(values[0]).alphabet} characters); the baseline asks for ${baseline.sessionIdMinBits}`, evidence));
      }
      const pattern = predictability(values.slice(0, ctx.inputs.samples));
      if (pattern) findings.push(finding({ code: 'session-id-predictable', severity: 'high', requirements: REQUIREMENTS, evidence, message: `session cookie ${c.name}: ${pattern}` }));
    }
    if (fixation.length > 0) {
      findings.push(finding({
        code: 'session-fixation', severity: 'high', requirements: REQUIREMENTS, evidence,
        message: `the login keeps the session id issued before login (${fixation.join(', ')}): whoever planted or read that id before the login now holds the logged-in session`,
      }));
    }
    return {
      observations: {
        cookies: records,
        samples: Object.fromEntries([...samples].map(([k, v]) => [k, { count: v.length, distinct: new Set(v).size }])),
        login,
        ...(session.length === 0 ? { note: credential ? 'no session cookie was seen' : 'no session cookie before login; give credentials.http to examine the one set at login' } : {}),
      },
      findings,
      outcomes: session.length === 0 ? [] : judge([{
        requirement: 'CR 3.8', coverage: 'partial',
        passReason: `session cookie ${session.map((c) => c.name).join(', ')}: ${tls ? 'Secure, ' : ''}HttpOnly, SameSite, at least ${baseline.sessionIdMinBits} bits, no repeats or counting${login.tried ? ', renewed at login' : ''}`,
      }], findings),
    };
  },
});
