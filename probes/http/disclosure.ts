import { randomBytes } from 'node:crypto';
import { defineProbe, finding, isAbort, judge, type Finding } from '../../src/sdk';
import { headerFields } from '../../src/protocols/http/headers';
import { decodeEntities } from '../../src/protocols/http/html';
import { exchange, resolveUrl } from '../../src/protocols/http/navigate';
import { parseRawResponse, rawExchange } from '../../src/protocols/http/raw';
import { WEB_PROBE, endpointOf, graded, gradingOf, loadHttpBaseline, openLanding, recordExchanges, type WebInputs } from '../../src/protocols/http/web';

const ID = 'http.disclosure';
const REQUIREMENTS = ['CR 3.7'];
/** Response headers that name software (and often its version). */
const PRODUCT_HEADERS = ['server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version', 'x-generator', 'x-runtime', 'via', 'x-server', 'x-version'];
/** product/1.2.3 as in Server headers and error page footers (HTTP/1.1 and markup versions excluded). */
const PRODUCT_VERSION = /\b([A-Za-z][\w.+-]{1,40})\/(\d+(?:\.\d+)+[\w.~+-]*)/g;
const NOT_PRODUCTS = /^(https?|x?html|dtd|xml|css|svg|mathml)$/i;

/** What makes an error page verbose, each with a label for the finding. */
const VERBOSE_PATTERNS: [string, RegExp][] = [
  ['a stack trace', /\bat [\w$.<>[\]]+ \(?(?:[^\s()]+):\d+(?::\d+)?\)?|Traceback \(most recent call last\)|\bat (?:java|javax|org|com|sun)\.[\w.$]+\(/],
  ['an exception name', /\b(?:[A-Z]\w+\.)*[A-Z]\w*(?:Exception|Error)\b:/],
  ['a file system path', /(?:^|[\s'"(=:])\/(?:opt|usr|var|home|srv|etc|www|app|root|tmp|mnt)\/[\w.@-]+\/[\w./@-]+|\b[A-Za-z]:\\(?:[\w .-]+\\)+/],
  ['script error details', /\.php on line \d+|\bFatal error:|Server Error in '\/' Application|SQLSTATE\[|\bORA-\d{5}\b|You have an error in your SQL syntax/],
  ['parser internals', /\bHPE_[A-Z_]+\b/],
];

/** Visible text of an HTML (or plain) body: tags, doctype and URLs removed. */
function visibleText(body: Buffer): string {
  return decodeEntities(body.toString('utf8').replace(/<!doctype[^>]*>|<\?xml[^>]*>/gi, ' ').replace(/<[^>]*>/g, ' ')).replace(/\bhttps?:\/\/\S+/g, ' ');
}

export function productVersions(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(PRODUCT_VERSION)) if (!NOT_PRODUCTS.test(m[1])) out.add(`${m[1]}/${m[2]}`);
  return [...out];
}

export function verboseMarks(text: string): { what: string; sample: string }[] {
  return VERBOSE_PATTERNS.flatMap(([what, re]) => {
    const m = re.exec(text);
    return m ? [{ what, sample: m[0].trim().slice(0, 120) }] : [];
  });
}

interface ErrorCase {
  name: string;
  request: string;
  status?: number;
  headers?: [string, string][];
  bodyBytes?: number;
  error?: string;
  versions: string[];
  verbose: { what: string; sample: string }[];
  evidence?: string;
}

export default defineProbe<WebInputs>({
  ...WEB_PROBE,
  id: ID,
  title: 'Web UI: software and version disclosure, verbose error pages',
  description: 'Reads the login page\'s Server, X-Powered-By and similar headers, then provokes three errors: a GET of a '
    + 'random non-existent path, a GET with an invalid percent-encoding, and (raw, on its own connection) a request '
    + 'with a header line without a colon. Product/version strings in headers or error pages are graded by the '
    + 'baseline (info at SL 1, CR 3.7 from SL 2); error pages with stack traces, exception names, file system paths, '
    + 'script or SQL error details or parser internals fail CR 3.7. Nothing else is sent.',
  requirements: REQUIREMENTS,
  findings: {
    'version-disclosed': 'a product/version string in Server, X-Powered-By ... or an error page (graded by the http baseline)',
    'verbose-error': 'an error page with a stack trace, an exception name, a file path, script/SQL error details or parser internals',
  },
  safety: 'passive',
  timeoutMs: 30_000,
  async run(ctx) {
    const service = ctx.service!;
    const endpoint = endpointOf(service);
    const baseline = loadHttpBaseline(ctx, ID, ['version-disclosed'], REQUIREMENTS);
    const landing = await openLanding(ctx);
    const evidence = [recordExchanges(ctx, 'exchanges', landing.navigation.chain, 'login page')];
    const landingHeaders: Record<string, string[]> = {};
    for (const h of PRODUCT_HEADERS) {
      const values = [...new Set(landing.navigation.chain.flatMap((e) => headerFields(e.rawHeaders, h)))];
      if (values.length > 0) landingHeaders[h] = values;
    }
    const headerVersions = new Map<string, string[]>();
    for (const [name, values] of Object.entries(landingHeaders)) {
      const found = values.flatMap((v) => (name === 'x-aspnet-version' || name === 'x-aspnetmvc-version' || name === 'x-version' ? [`${name}: ${v}`] : productVersions(v)));
      if (found.length > 0) headerVersions.set(name, [...new Set(found)]);
    }

    // Three error cases. One that cannot be provoked (the device drops the connection) is recorded, not fatal.
    const token = randomBytes(6).toString('hex');
    const cases: ErrorCase[] = [];
    const tryCase = async (name: string, request: string, run: () => Promise<Omit<ErrorCase, 'name' | 'request' | 'versions' | 'verbose'> & { body: Buffer }>) => {
      try {
        const { body, ...rest } = await run();
        const text = visibleText(body);
        // An empty body is recorded as bodyBytes 0 in the observations, not as an empty file.
        const file = body.length > 0 ? ctx.evidence.save(`error-${name}.txt`, body.subarray(0, 16 * 1024)) : undefined;
        const headerText = (rest.headers ?? []).filter(([k]) => PRODUCT_HEADERS.includes(k.toLowerCase())).map(([, v]) => v).join(' ');
        cases.push({ name, request, ...rest, versions: productVersions(`${headerText} ${text}`), verbose: verboseMarks(text), ...(file ? { evidence: file } : {}) });
      } catch (err) {
        if (ctx.signal.aborted || isAbort(err, ctx.signal) || !(err instanceof Error)) throw err;
        cases.push({ name, request, error: err.message, versions: [], verbose: [] });
      }
    };
    const viaClient = (path: string) => async () => {
      const e = await exchange(endpoint, resolveUrl(endpoint, path), { signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs });
      recordExchanges(ctx, 'exchanges', [e], 'provoked error');
      return { status: e.status, headers: pairs(e.rawHeaders), bodyBytes: e.body.length, body: e.body };
    };
    await tryCase('not-found', `GET /iacs-probe-${token}.html`, viaClient(`/iacs-probe-${token}.html`));
    await tryCase('bad-encoding', `GET /iacs-probe-${token}/%zz%`, viaClient(`/iacs-probe-${token}/%zz%`));
    const hostHeader = `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
    const malformed = `GET /iacs-probe-${token} HTTP/1.1\r\nHost: ${hostHeader}\r\nX-Iacs-Probe header line without a colon\r\nConnection: close\r\n\r\n`;
    await tryCase('malformed-header', 'GET with a header line without a colon (raw)', async () => {
      const raw = await rawExchange(endpoint, Buffer.from(malformed, 'latin1'), { signal: ctx.signal, timeoutMs: ctx.inputs.requestTimeoutMs, quietMs: 500 });
      const received = raw.response.toString('latin1').replace(/^(set-cookie:\s*[^=\r\n]+=)[^;\r\n]*/gim, '$1<redacted>');
      ctx.evidence.save('malformed-request.txt', `>>> sent\n${malformed}\n<<< received (${raw.ended})\n${received}`);
      const parsed = parseRawResponse(raw.response);
      if (!parsed) return { error: raw.response.length === 0 ? 'closed the connection without an answer' : 'answered something that is not an HTTP response', bodyBytes: raw.response.length, body: raw.response };
      return { status: parsed.status, headers: parsed.headers, bodyBytes: parsed.body.length, body: parsed.body };
    });

    const findings: Finding[] = [];
    const where = [
      ...[...headerVersions].map(([h, v]) => `${h} header: ${v.join(', ')}`),
      ...cases.filter((c) => c.versions.length > 0).map((c) => `${c.name} error response: ${c.versions.join(', ')}`),
    ];
    if (where.length > 0) {
      findings.push(graded(baseline, 'version-disclosed', `${service.name} discloses software versions (${where.join('; ')}): known vulnerabilities of those versions can be looked up`, evidence));
    }
    const verbose = cases.filter((c) => c.verbose.length > 0);
    if (verbose.length > 0) {
      findings.push(finding({
        code: 'verbose-error', severity: 'medium', requirements: REQUIREMENTS, evidence: verbose.flatMap((c) => c.evidence ?? []),
        message: `${service.name}'s error pages show ${[...new Set(verbose.flatMap((c) => c.verbose.map((v) => v.what)))].join(', ')} (${verbose.map((c) => c.name).join(', ')}): "${verbose[0].verbose[0].sample}"`,
      }));
    }
    const answered = cases.filter((c) => c.status !== undefined);
    const versionNote = gradingOf(baseline, 'version-disclosed').severity === 'info' && where.length > 0 ? '; version strings are graded info at this SL' : '';
    return {
      observations: {
        headers: landingHeaders,
        versions: Object.fromEntries(headerVersions),
        errors: cases.map(({ evidence: _e, ...c }) => c),
        ...(answered.length === 0 ? { note: 'no error case got an HTTP answer: CR 3.7 not evaluated' } : {}),
      },
      findings,
      outcomes: answered.length === 0 ? [] : judge([{
        requirement: 'CR 3.7', coverage: 'partial',
        passReason: `${answered.map((c) => `${c.name} (${c.status})`).join(', ')}: no stack trace, file path or internal detail${where.length === 0 ? ', no software version' : ''}${versionNote}`,
      }], findings),
    };
  },
});

function pairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}
