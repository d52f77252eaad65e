import { defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import { resolveUrl } from '../../src/protocols/http/navigate';
import { httpRequest } from '../../src/protocols/http/request';
import {
  WEB_PROBE, candidatePaths, challengesOf, declaredHttpsService, endpointOf, openLanding,
  recordExchanges, visitAll, type WebInputs,
} from '../../src/protocols/http/web';

const REQUIREMENTS = ['CR 4.1', 'CR 1.5'];

export default defineProbe<WebInputs>({
  id: 'http.transport',
  ...WEB_PROBE,
  title: 'Web UI: credentials only over TLS (no cleartext login, plain HTTP redirects to HTTPS)',
  description: 'Opens the login page of a declared web service like a browser (same-origin redirects and meta refreshes '
    + 'followed) and GETs the paths that should need a session. Over plain HTTP, a password form or an HTTP '
    + 'authentication challenge means credentials would cross the network in cleartext (CR 4.1, CR 1.5); a redirect to '
    + 'a declared HTTPS service of the same host is checked with one request there. Over HTTPS, a login form that posts '
    + 'to http:// is the same failure. Never sends credentials.',
  requirements: REQUIREMENTS,
  findings: {
    'cleartext-login': 'a login form over plain HTTP, or an HTTPS login form that posts to http://',
    'cleartext-basic-auth': 'an HTTP Basic challenge over plain HTTP: user name and password in cleartext',
    'cleartext-auth-challenge': 'another HTTP authentication scheme (Digest, NTLM ...) over plain HTTP: the session is not encrypted',
    'https-downgrade': 'the HTTPS login page redirects the browser to plain HTTP',
    'redirect-unverified': 'plain HTTP redirects to an undeclared place, or to a declared HTTPS service that did not answer',
    'no-https-redirect': 'plain HTTP serves pages instead of redirecting to HTTPS (no login seen on them)',
  },
  safety: 'passive',
  timeoutMs: 30_000,
  async run(ctx) {
    const service = ctx.service!;
    const endpoint = endpointOf(service);
    const landing = await openLanding(ctx);
    const findings: Finding[] = [];
    const landingEvidence = recordExchanges(ctx, 'exchanges', landing.navigation.chain, 'login page');
    const evidence = [landingEvidence];
    const visits = await visitAll(ctx, candidatePaths(ctx, landing));
    for (const v of visits) if ('navigation' in v) recordExchanges(ctx, 'exchanges', v.navigation.chain, `path ${v.path}`);

    // What asks for credentials, where.
    const forms = landing.loginForm ? [{ page: landing.loginForm.page, action: landing.loginForm.action }] : [];
    const scriptLogin = !landing.loginForm && landing.loginPage ? landing.loginPage.url : undefined;
    const challenges = visits.flatMap((v) => ('navigation' in v ? challengesOf(v.navigation.final).map((c) => ({ path: v.path, ...c })) : []));
    challenges.push(...challengesOf(landing.navigation.final).map((c) => ({ path: new URL(landing.navigation.final.url).pathname, ...c })));

    let redirect: Record<string, unknown> | undefined;
    const judgements: Judgement[] = [];
    if (!endpoint.tls) {
      if (landing.loginForm || scriptLogin) {
        findings.push(finding({
          code: 'cleartext-login', severity: 'high', requirements: REQUIREMENTS, evidence,
          message: `${service.name} serves a login form over plain HTTP (${landing.loginForm?.page ?? scriptLogin}): the password crosses the network in cleartext`,
        }));
      }
      const basic = challenges.filter((c) => c.scheme.toLowerCase() === 'basic');
      const other = challenges.filter((c) => c.scheme.toLowerCase() !== 'basic');
      if (basic.length > 0) {
        findings.push(finding({
          code: 'cleartext-basic-auth', severity: 'high', requirements: REQUIREMENTS, evidence,
          message: `${service.name} asks for HTTP Basic authentication over plain HTTP (${[...new Set(basic.map((c) => c.path))].join(', ')}): user name and password cross the network base64-encoded, i.e. in cleartext`,
        }));
      }
      if (other.length > 0) {
        findings.push(finding({
          code: 'cleartext-auth-challenge', severity: 'medium', requirements: ['CR 4.1'], evidence,
          message: `${service.name} asks for HTTP ${[...new Set(other.map((c) => c.scheme))].join('/')} authentication over plain HTTP (${[...new Set(other.map((c) => c.path))].join(', ')}): the session it opens is not encrypted`,
        }));
      }
      // Plain HTTP that only sends the browser to HTTPS: verify the target when it is declared.
      const left = landing.navigation.leftTo;
      const target = left?.url ? declaredHttpsService(ctx.host, new URL(left.url)) : undefined;
      if (left && target) {
        const to = new URL(left.url!);
        const answer = await httpRequest(endpointOf(target), { path: `${to.pathname}${to.search}`, signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs })
          .then((r) => ({ status: r.status }), (err: Error) => ({ error: err.message }));
        redirect = { from: left.from, location: left.location, to: left.url, declaredService: target.name, answer };
        if ('error' in answer) {
          findings.push(finding({ code: 'redirect-unverified', severity: 'info', requirements: [], evidence, message: `${service.name} redirects to ${left.url} (declared as ${target.name}), which did not answer: ${answer.error}` }));
        }
      } else if (left) {
        redirect = { from: left.from, location: left.location, ...(left.url ? { to: left.url } : {}), declaredService: null };
        findings.push(finding({
          code: 'redirect-unverified', severity: 'info', requirements: [], evidence,
          message: `${service.name} redirects to ${left.location}, which is not a declared HTTPS service of this host: not followed, so where the login happens is not known`,
        }));
      }
      const verified = redirect !== undefined && redirect.declaredService !== null && !('error' in (redirect.answer as object));
      const cleartextAsk = findings.some((f) => f.severity !== 'info');
      if (!cleartextAsk && !redirect) {
        findings.push(finding({
          code: 'no-https-redirect', severity: 'info', requirements: [], evidence,
          message: `${service.name} serves pages over plain HTTP instead of redirecting to HTTPS (no login seen on the ${visits.length + 1} pages requested)`,
        }));
      }
      judgements.push({ requirement: 'CR 1.5', coverage: 'partial', passReason: 'no password form and no Basic challenge is served over this plain-HTTP service (Digest and similar schemes do not send the password itself)' });
      if (cleartextAsk || verified) {
        judgements.push({ requirement: 'CR 4.1', coverage: 'partial', passReason: `plain HTTP only redirects to the declared HTTPS service ${String(redirect?.declaredService)} and asks for no credentials` });
      }
    } else {
      // HTTPS: no way back to cleartext, and the login form must not post to http://.
      const down = landing.navigation.leftTo;
      if (down?.url && new URL(down.url).protocol === 'http:') {
        findings.push(finding({
          code: 'https-downgrade', severity: 'medium', requirements: ['CR 4.1'], evidence,
          message: `${service.name} sends the browser from HTTPS to plain HTTP (${down.from} -> ${down.location}): the web UI is used in cleartext`,
        }));
        redirect = { from: down.from, location: down.location, to: down.url, declaredService: null };
      }
      const action = landing.loginForm ? new URL(landing.loginForm.action) : undefined;
      if (action?.protocol === 'http:') {
        findings.push(finding({
          code: 'cleartext-login', severity: 'high', requirements: REQUIREMENTS, evidence,
          message: `the login form on ${landing.loginForm!.page} is served over HTTPS but posts to ${action.href}: the password crosses the network in cleartext`,
        }));
      }
      const passReason = landing.loginForm
        ? `the login form is served over TLS and posts to ${resolveUrl(endpoint, landing.loginForm.action).origin}; the TLS configuration itself is judged by tls.*`
        : 'the web UI is served over TLS; the TLS configuration itself is judged by tls.*';
      judgements.push({ requirement: 'CR 4.1', coverage: 'partial', passReason });
      // After a downgrade the login (if any) happens on the plain-HTTP side, which its own attempt judges.
      if (!redirect) judgements.push({ requirement: 'CR 1.5', coverage: 'partial', passReason });
    }
    return {
      observations: {
        scheme: endpoint.tls ? 'https' : 'http',
        landing: { url: landing.navigation.final.url, status: landing.navigation.final.status, hops: landing.navigation.chain.map((e) => `${e.status} ${e.url}`) },
        loginForms: forms,
        ...(scriptLogin ? { passwordFieldWithoutForm: scriptLogin } : {}),
        authChallenges: challenges,
        ...(redirect ? { redirect } : {}),
        paths: visits.map((v) => ('navigation' in v ? { path: v.path, status: v.navigation.final.status, final: v.navigation.final.url } : v)),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
