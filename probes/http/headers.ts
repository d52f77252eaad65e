import { isIP } from 'node:net';
import { defineProbe, judge, type Finding } from '../../src/sdk';
import { cacheDirectives, frameProtection, headerFields, parseHsts } from '../../src/protocols/http/headers';
import {
  WEB_PROBE, endpointOf, graded, gradedRequirements, loadHttpBaseline, openLanding, recordExchanges,
  type WebInputs,
} from '../../src/protocols/http/web';

const ID = 'http.headers';
/** HSTS: the only header findings the baseline may map to a requirement (CR 4.1). */
const HSTS_FINDINGS = {
  'hsts-missing': 'no Strict-Transport-Security on the HTTPS login page',
  'hsts-short': "the Strict-Transport-Security max-age is below the baseline's hstsMinMaxAgeSeconds",
  'hsts-invalid': 'a Strict-Transport-Security header browsers ignore (RFC 6797 §6.1 syntax)',
};
/** Every header finding is graded by profiles/baselines/http.yaml (as http.headers.<name>). */
const FINDINGS = {
  ...HSTS_FINDINGS,
  'no-frame-protection': 'neither CSP frame-ancestors nor X-Frame-Options DENY/SAMEORIGIN (clickjacking)',
  'no-csp': 'no Content-Security-Policy',
  'no-nosniff': 'no X-Content-Type-Options: nosniff',
  'no-referrer-policy': 'no Referrer-Policy, or one that sends full URLs to other origins',
  'login-page-cacheable': 'the page with the password field lacks Cache-Control: no-store',
};
const HSTS_NAMES = Object.keys(HSTS_FINDINGS);
const REQUIREMENTS = ['CR 4.1'];
/** Referrer policies that send the full URL to other origins (or over HTTP). */
const LEAKY_REFERRER = new Set(['unsafe-url', 'no-referrer-when-downgrade']);

export default defineProbe<WebInputs>({
  id: ID,
  ...WEB_PROBE,
  title: 'Web UI security headers (HSTS, framing, CSP, nosniff, Referrer-Policy, caching of the login page)',
  description: 'Opens the login page of a declared web service like a browser and reads the security headers of the page it '
    + 'ends on: Strict-Transport-Security (HTTPS only; RFC 6797 syntax and max-age against the baseline), '
    + 'Content-Security-Policy frame-ancestors or X-Frame-Options, a Content-Security-Policy, X-Content-Type-Options, '
    + 'Referrer-Policy, and Cache-Control no-store on a page with a password field. Severity and requirement per SL '
    + 'come from profiles/baselines/http.yaml: only HSTS maps to a requirement (CR 4.1, from SL 2); the others are info.',
  requirements: REQUIREMENTS,
  findings: FINDINGS,
  safety: 'passive',
  timeoutMs: 20_000,
  async run(ctx) {
    const service = ctx.service!;
    const endpoint = endpointOf(service);
    const baseline = loadHttpBaseline(ctx, ID, Object.keys(FINDINGS), REQUIREMENTS);
    const landing = await openLanding(ctx);
    const evidence = [recordExchanges(ctx, 'exchanges', landing.navigation.chain, 'login page')];
    const page = landing.loginPage ?? landing.pages[0];
    const raw = page.exchange.rawHeaders;
    const findings: Finding[] = [];
    const where = `${new URL(page.url).pathname} (${page.exchange.status})`;

    let hsts: Record<string, unknown> | null = null;
    if (endpoint.tls) {
      const parsed = parseHsts(headerFields(raw, 'strict-transport-security'));
      const min = baseline.hstsMinMaxAgeSeconds;
      if (!parsed) {
        findings.push(graded(baseline, 'hsts-missing', `${where} sends no Strict-Transport-Security header: a browser can be downgraded to plain HTTP (SSL stripping)`, evidence));
      } else if (parsed.problems.length > 0) {
        findings.push(graded(baseline, 'hsts-invalid', `the Strict-Transport-Security header "${parsed.raw}" is ignored by browsers: ${parsed.problems.join('; ')}`, evidence));
      } else if ((parsed.maxAge ?? 0) < min) {
        findings.push(graded(baseline, 'hsts-short', `Strict-Transport-Security max-age is ${parsed.maxAge} s (${Math.round((parsed.maxAge ?? 0) / 86400)} days); the baseline asks for at least ${min} s`, evidence));
      }
      hsts = parsed ? { ...parsed } : null;
    }
    const frames = frameProtection(raw);
    if (!frames.protected) {
      findings.push(graded(baseline, 'no-frame-protection', frames.by
        ? `${where} allows framing by other sites (${frames.by}: ${frames.value}): clickjacking of the management UI is possible`
        : `${where} sends neither CSP frame-ancestors nor X-Frame-Options: other sites can frame the management UI (clickjacking)`, evidence));
    }
    const csp = headerFields(raw, 'content-security-policy');
    if (csp.length === 0) findings.push(graded(baseline, 'no-csp', `${where} sends no Content-Security-Policy${headerFields(raw, 'content-security-policy-report-only').length ? ' (only a report-only one, which blocks nothing)' : ''}`, evidence));
    const nosniff = headerFields(raw, 'x-content-type-options');
    if (!nosniff.some((v) => v.trim().toLowerCase() === 'nosniff')) findings.push(graded(baseline, 'no-nosniff', `${where} sends no X-Content-Type-Options: nosniff`, evidence));
    const referrer = headerFields(raw, 'referrer-policy').join(',').split(',').map((v) => v.trim().toLowerCase()).filter(Boolean);
    const effective = referrer[referrer.length - 1];
    if (!effective || LEAKY_REFERRER.has(effective)) {
      findings.push(graded(baseline, 'no-referrer-policy', effective ? `${where} sets Referrer-Policy ${effective}, which sends full URLs to other origins` : `${where} sends no Referrer-Policy`, evidence));
    }
    const isLogin = (page.doc?.passwordFields ?? 0) > 0;
    const cache = cacheDirectives(page.exchange.headers);
    if (isLogin && !cache.has('no-store')) {
      findings.push(graded(baseline, 'login-page-cacheable', `the login page ${where} has no Cache-Control: no-store (${[...cache].join(', ') || 'no Cache-Control'}): browsers and proxies may keep it`, evidence));
    }

    const judged = endpoint.tls ? gradedRequirements(baseline, HSTS_NAMES) : [];
    const ipHost = isIP(service.host) !== 0;
    return {
      observations: {
        page: page.url, status: page.exchange.status, loginPage: isLogin,
        headers: Object.fromEntries(['strict-transport-security', 'content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy', 'cache-control', 'permissions-policy', 'cross-origin-opener-policy']
          .map((h) => [h, headerFields(raw, h)]).filter(([, v]) => v.length > 0).map(([h, v]) => [h, v.length === 1 ? v[0] : v])),
        hsts: endpoint.tls ? hsts : 'not applicable over plain HTTP (RFC 6797 §8.1: a browser ignores it there)',
        ...(endpoint.tls && ipHost ? { hstsNote: 'the service is reached by IP address: browsers never apply HSTS to IP literals (RFC 6797 §8.1), so the header only protects access by host name' } : {}),
        framing: frames,
        baselineLevel: { hstsMinMaxAgeSeconds: baseline.hstsMinMaxAgeSeconds },
        ...(judged.length === 0 ? { note: endpoint.tls ? 'at this SL the baseline grades every header finding as info: no requirement evaluated' : 'plain HTTP: headers recorded as info; HSTS is judged on HTTPS services' } : {}),
      },
      findings,
      outcomes: judge(judged.map((requirement) => ({
        requirement, coverage: 'partial' as const,
        passReason: `the HTTPS login page sends a valid Strict-Transport-Security header with max-age >= ${baseline.hstsMinMaxAgeSeconds} s`,
      })), findings),
    };
  },
});
