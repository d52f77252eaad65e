import { createHash, randomBytes } from 'node:crypto';
import { defineProbe, finding, judge, type Finding } from '../../src/sdk';
import type { Navigation } from '../../src/protocols/http/navigate';
import {
  WEB_PROBE, candidatePaths, declaredHttpsService, isLoginPage, openLanding, pageOf, recordExchanges,
  visitAll, visitPath, type CandidatePath, type PathVisit, type WebInputs,
} from '../../src/protocols/http/web';

const REQUIREMENTS = ['CR 1.1', 'CR 2.1'];

/** How a path answered a request without a session. */
export type Access =
  | 'open' // content served
  | 'login-page' // a login form (directly or after redirects)
  | 'challenge' // 401 with WWW-Authenticate
  | 'forbidden' // 403
  | 'redirects-to-https' // sent to a declared HTTPS service of the same host
  | 'absent' // 404/410/405/501, or the page every unknown path gets
  | 'redirects-elsewhere' | 'server-error' | 'empty' | 'no-answer' | 'other';

const PROTECTED: ReadonlySet<Access> = new Set(['login-page', 'challenge', 'forbidden', 'redirects-to-https']);

interface PathResult {
  path: string;
  source: CandidatePath['source'];
  access: Access;
  status?: number;
  final?: string;
  redirect?: string;
  error?: string;
  evidence?: string;
}

interface NotFoundShape {
  status: number;
  sha256?: string;
  title?: string;
}

function digest(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

export default defineProbe<WebInputs>({
  id: 'http.access',
  ...WEB_PROBE,
  title: 'Web UI: protected pages refuse requests without a session',
  description: 'Without any credentials or cookies, GETs the paths that must need a session (the service option '
    + '`protectedPaths` and the input `paths`, default /admin, /config, /setup) and same-origin links of the login page '
    + '(never links that look like logout, reboot, reset, update or save), following same-origin redirects. A page '
    + 'with content is a finding (CR 1.1, CR 2.1); a 401/403, a login form or a redirect to the login or to the '
    + 'declared HTTPS service counts as protected. A random path is requested first so that a UI answering every '
    + 'path with the same page is not mistaken for open pages.',
  requirements: REQUIREMENTS,
  findings: {
    'unauthenticated-access': 'a path that must need a session (protectedPaths, paths) answers with content without one',
    'page-without-session': 'a page linked from the login page answers without a session (public by design, or not: review)',
  },
  safety: 'active',
  timeoutMs: 30_000,
  async run(ctx) {
    const service = ctx.service!;
    const landing = await openLanding(ctx);
    recordExchanges(ctx, 'exchanges', landing.navigation.chain, 'login page');
    const probePath = `/iacs-probe-${randomBytes(6).toString('hex')}`;
    const unknown = await visitPath(ctx, probePath);
    const notFound: NotFoundShape | undefined = 'navigation' in unknown
      ? { status: unknown.navigation.final.status, ...(unknown.navigation.final.status === 200 ? { sha256: digest(unknown.navigation.final.body), title: pageOf(unknown.navigation.final).doc?.title } : {}) }
      : undefined;
    if ('navigation' in unknown) recordExchanges(ctx, 'exchanges', unknown.navigation.chain, 'random path (how an unknown path answers)');

    const paths = candidatePaths(ctx, landing);
    const visits = await visitAll(ctx, paths);
    const classify = (nav: Navigation): Access => {
      const final = nav.final;
      if (nav.leftTo) return nav.leftTo.url && declaredHttpsService(ctx.host, new URL(nav.leftTo.url)) ? 'redirects-to-https' : 'redirects-elsewhere';
      if (final.status === 401) return 'challenge';
      if (final.status === 403) return 'forbidden';
      if ([404, 405, 410, 501].includes(final.status)) return 'absent';
      if (final.status >= 500) return 'server-error';
      if (final.status < 200 || final.status >= 300) return 'other';
      if (isLoginPage(final)) return 'login-page';
      if (notFound?.sha256 === digest(final.body) || (notFound?.status === 200 && notFound.title !== undefined && notFound.title === pageOf(final).doc?.title)) return 'absent';
      return final.body.length === 0 ? 'empty' : 'open';
    };
    const results = visits.map((v: PathVisit, i): PathResult => {
      const source = paths[i].source;
      if ('error' in v) return { path: v.path, source, access: 'no-answer', error: v.error };
      const evidence = recordExchanges(ctx, 'exchanges', v.navigation.chain, `path ${v.path} without a session`);
      return {
        path: v.path, source, access: classify(v.navigation), status: v.navigation.final.status, final: v.navigation.final.url,
        ...(v.navigation.leftTo ? { redirect: v.navigation.leftTo.location } : {}), evidence,
      };
    });

    const findings: Finding[] = [];
    const open = results.filter((r) => r.access === 'open');
    const mustBeProtected = open.filter((r) => r.source !== 'login-page-link');
    if (mustBeProtected.length > 0) {
      findings.push(finding({
        code: 'unauthenticated-access', severity: 'high', requirements: REQUIREMENTS, evidence: mustBeProtected.flatMap((r) => r.evidence ?? []).slice(0, 1),
        message: `${service.name} serves ${mustBeProtected.map((r) => `${r.path} (${r.status})`).join(', ')} without any session or credentials`,
      }));
    }
    const linked = open.filter((r) => r.source === 'login-page-link');
    if (linked.length > 0) {
      findings.push(finding({
        code: 'page-without-session', severity: 'info', requirements: [], evidence: linked.flatMap((r) => r.evidence ?? []).slice(0, 1),
        message: `pages linked from the login page answer without a session: ${linked.map((r) => r.path).join(', ')} (public by design, or not: review them)`,
      }));
    }
    const judged = results.filter((r) => r.source !== 'login-page-link' && (PROTECTED.has(r.access) || r.access === 'open'));
    const guarded = judged.filter((r) => PROTECTED.has(r.access));
    return {
      observations: {
        unknownPath: { path: probePath, ...(notFound ?? { error: 'error' in unknown ? unknown.error : '' }) },
        paths: results.map(({ evidence: _e, ...r }) => r),
        ...(judged.length === 0 ? { note: 'none of the paths that must need a session exists on this service: nothing to judge (name them with the service option protectedPaths)' } : {}),
      },
      findings,
      outcomes: judged.length === 0 ? [] : judge(REQUIREMENTS.map((requirement) => ({
        requirement, coverage: 'partial' as const,
        passReason: `without a session, ${guarded.map((r) => `${r.path} (${r.access})`).join(', ')} refused access`,
      })), findings),
    };
  },
});
