import type { FrameTemplate, TemplateCase } from '../fuzz/grammar';
import { param, type FuzzTargetFactory } from '../fuzz/target';
import { sendStreamCase, type Classification } from '../fuzz/transport';

/**
 * The HTTP/1.1 grammar of the fuzzer (RFC 9112): three valid requests (GET, POST with Content-Length, POST
 * chunked) as a model of request line, header fields, body and line terminators, and mutations of each part
 * written out against that model. Text has no fixed-width fields, so every systematic case is here; the
 * engine adds truncations, extensions and random byte mutations.
 */

interface HttpModel {
  method: string;
  uri: string;
  version: string;
  /** Header fields; a null value writes the name as a whole line (a line without a colon). */
  headers: [string, string | null][];
  body: string;
  /** The end of every line (CRLF in a valid request). */
  eol: string;
}

/** Bytes as written: latin1 keeps 0x00-0xff one byte each. */
const bytesOf = (s: string) => Buffer.from(s, 'latin1');

export function serializeRequest(m: HttpModel): Buffer {
  const requestLine = m.version === '' ? `${m.method} ${m.uri}` : `${m.method} ${m.uri} ${m.version}`;
  const head = [requestLine, ...m.headers.map(([n, v]) => (v === null ? n : `${n}: ${v}`))].join(m.eol);
  return bytesOf(`${head}${m.eol}${m.eol}${m.body}`);
}

const FORM = 'a=1&b=2';

function baseModels(host: string, path: string): Record<string, HttpModel> {
  const common: [string, string | null][] = [['Host', host], ['User-Agent', 'iacs-probe'], ['Connection', 'close']];
  return {
    'get': { method: 'GET', uri: path, version: 'HTTP/1.1', headers: [...common, ['Accept', '*/*']], body: '', eol: '\r\n' },
    'post-content-length': {
      method: 'POST', uri: path, version: 'HTTP/1.1', eol: '\r\n', body: FORM,
      headers: [...common, ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', String(FORM.length)]],
    },
    'post-chunked': {
      method: 'POST', uri: path, version: 'HTTP/1.1', eol: '\r\n', body: `${FORM.length.toString(16)}\r\n${FORM}\r\n0\r\n\r\n`,
      headers: [...common, ['Content-Type', 'application/x-www-form-urlencoded'], ['Transfer-Encoding', 'chunked']],
    },
  };
}

type Change = (m: HttpModel) => void;
type Variant = [field: string, mutation: string, change: Change];

const setHeader = (m: HttpModel, name: string, value: string) => {
  const i = m.headers.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
  if (i >= 0) m.headers[i] = [m.headers[i][0], value];
  else m.headers.push([name, value]);
};
const dropHeader = (m: HttpModel, name: string) => {
  m.headers = m.headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
};

const REQUEST_LINE: Variant[] = [
  ...['', 'get', 'GETT', 'G'.repeat(1024), 'CONNECT', 'TRACE', 'PRI', 'GE\x00T', 'GET GET'].map((v): Variant =>
    ['request-line.method', `method ${JSON.stringify(v.length > 40 ? `${v.slice(0, 8)}… (${v.length} chars)` : v)}`, (m) => { m.method = v; }]),
  ...['', '*', 'http://[::1', `/${'A'.repeat(8190)}`, `/${'A'.repeat(16384)}`, '/%', '/%zz', '/%00', '/../../../../../etc/passwd',
    `/?${'a=1&'.repeat(2000)}`, '/a b', '/\xff\xfe', '//////'].map((v): Variant =>
    ['request-line.uri', `URI ${JSON.stringify(v.length > 40 ? `${v.slice(0, 8)}… (${v.length} chars)` : v)}`, (m) => { m.uri = v; }]),
  ...['HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', 'HTTP/', 'HTTP/1.', 'HTTP/01.01', 'http/1.1', 'HTTP/1.1 extra', `HTTP/${'1'.repeat(300)}.1`]
    .map((v): Variant => ['request-line.version', `version ${JSON.stringify(v.length > 40 ? `${v.slice(0, 8)}… (${v.length} chars)` : v)}`, (m) => { m.version = v; }]),
  ['request-line.version', 'no version (HTTP/0.9 style "GET /")', (m) => { m.version = ''; }],
];

const HEADERS: Variant[] = [
  ['header.host', 'Host missing', (m) => dropHeader(m, 'Host')],
  ['header.host', 'Host empty', (m) => setHeader(m, 'Host', '')],
  ['header.host', 'Host twice, different values', (m) => m.headers.push(['Host', 'other.invalid'])],
  ['header.host', 'Host of 8192 chars', (m) => setHeader(m, 'Host', 'h'.repeat(8192))],
  ['header.host', 'Host with port 99999', (m) => setHeader(m, 'Host', 'device:99999')],
  ['header.host', 'Host with userinfo and path', (m) => setHeader(m, 'Host', 'user@device/x?y')],
  ['header.name', 'empty header name', (m) => m.headers.push(['', 'x'])],
  ['header.name', 'space before the colon', (m) => m.headers.push(['X-Test ', 'x'])],
  ['header.name', 'NUL in a header name', (m) => m.headers.push(['X-\x00Test', 'x'])],
  ['header.name', 'non-token characters in a header name', (m) => m.headers.push(['X(y)[z]', 'x'])],
  ['header.name', 'header name of 8192 chars', (m) => m.headers.push(['X'.repeat(8192), 'x'])],
  ['header.name', 'header line without a colon', (m) => m.headers.push(['X-No-Colon-Here', null])],
  ['header.value', 'header value of 16384 chars', (m) => m.headers.push(['X-Long', 'v'.repeat(16384)])],
  ['header.value', 'NUL in a header value', (m) => m.headers.push(['X-Test', 'a\x00b'])],
  ['header.value', 'bare CR in a header value', (m) => m.headers.push(['X-Test', 'a\rb'])],
  ['header.value', 'obsolete line folding', (m) => m.headers.push(['X-Test', 'a\r\n b'])],
  ['header.value', 'bytes 0x7f-0xff in a header value', (m) => m.headers.push(['X-Test', '\x7f\x80\xfe\xff'])],
  ['header.count', '200 header fields', (m) => { for (let i = 0; i < 200; i++) m.headers.push([`X-H${i}`, 'x']); }],
  ['header.count', '2000 header fields', (m) => { for (let i = 0; i < 2000; i++) m.headers.push([`X-H${i}`, 'x']); }],
];

const TERMINATORS: Variant[] = [
  ['line-terminator', 'bare LF line ends', (m) => { m.eol = '\n'; }],
  ['line-terminator', 'bare CR line ends', (m) => { m.eol = '\r'; }],
  ['line-terminator', 'CR CR LF line ends', (m) => { m.eol = '\r\r\n'; }],
  ['line-terminator', 'LF CR line ends', (m) => { m.eol = '\n\r'; }],
  ['line-terminator', 'NUL before each CRLF', (m) => { m.eol = '\x00\r\n'; }],
];

const CONTENT_LENGTH: Variant[] = [
  ...[['100', 'stale: larger than the body'], ['3', 'stale: smaller than the body'], ['0', 'zero with a body'],
    ['99999999999999999999', 'huge (beyond 64 bits)'], ['4294967296', '2^32'], ['2147483648', '2^31'], ['-1', 'negative'],
    ['+7', 'with a plus sign'], ['0x7', 'hexadecimal'], ['7, 7', 'a list of equal values'], ['7, 8', 'a list of different values'],
    ['abc', 'not a number'], ['', 'empty'], [' 7 ', 'padded with spaces']].map(([v, why]): Variant =>
    ['header.content-length', `Content-Length ${JSON.stringify(v.length > 24 ? `${v.slice(0, 8)}…` : v)} (${why})`, (m) => setHeader(m, 'Content-Length', v)]),
  ['header.content-length', 'Content-Length twice (7 and 8)', (m) => m.headers.push(['Content-Length', '8'])],
  ['header.content-length', 'Content-Length missing with a body', (m) => dropHeader(m, 'Content-Length')],
  ['header.content-length', 'Content-Length and Transfer-Encoding: chunked (request smuggling shape)', (m) => m.headers.push(['Transfer-Encoding', 'chunked'])],
  ['body', 'body of 65536 bytes, Content-Length consistent', (m) => { m.body = 'a'.repeat(65536); setHeader(m, 'Content-Length', '65536'); }],
];

const chunked = (body: string): Change => (m) => { m.body = body; };
const CHUNKED: Variant[] = [
  ['chunk.size', 'chunk size ffffffffffffffff', chunked(`ffffffffffffffff\r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.size', 'chunk size 10000000000000000 (65 bits)', chunked(`10000000000000000\r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.size', 'chunk size -1', chunked(`-1\r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.size', 'chunk size not hex ("zz")', chunked(`zz\r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.size', 'chunk size with 0x prefix', chunked(`0x7\r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.size', 'chunk size larger than the data', chunked(`100\r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.size', 'chunk size smaller than the data', chunked(`3\r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.size', 'chunk size of 8000 leading zeros', chunked(`${'0'.repeat(8000)}7\r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.size', 'chunk extension', chunked(`7;ext=${'x'.repeat(1000)}\r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.size', 'space after the chunk size', chunked(`7 \r\n${FORM}\r\n0\r\n\r\n`)],
  ['chunk.last', 'no last chunk', chunked(`7\r\n${FORM}\r\n`)],
  ['chunk.last', 'last chunk without the final CRLF', chunked(`7\r\n${FORM}\r\n0\r\n`)],
  ['chunk.last', 'trailer field after the last chunk', chunked(`7\r\n${FORM}\r\n0\r\nX-Trailer: ${'t'.repeat(4000)}\r\n\r\n`)],
  ['chunk.data', 'chunk data without its CRLF', chunked(`7\r\n${FORM}0\r\n\r\n`)],
  ['chunk.data', '1000 chunks of one byte', chunked(`${'1\r\na\r\n'.repeat(1000)}0\r\n\r\n`)],
  ...[['chunked, identity', 'chunked then identity'], ['Chunked', 'capitalised'], ['xchunked', 'unknown coding'], ['chunked, chunked', 'chunked twice'], ['', 'empty']]
    .map(([v, why]): Variant => ['header.transfer-encoding', `Transfer-Encoding ${JSON.stringify(v)} (${why})`, (m) => setHeader(m, 'Transfer-Encoding', v)]),
];

/** Each variant applied to a copy of `base`; one that leaves the request unchanged (e.g. a GET's body) is dropped. */
function variants(base: HttpModel, list: readonly Variant[]): TemplateCase[] {
  const valid = serializeRequest(base);
  return list.map(([field, mutation, change]) => {
    const m: HttpModel = { ...base, headers: base.headers.map(([n, v]) => [n, v]) };
    change(m);
    return { field, mutation, bytes: serializeRequest(m) };
  }).filter((c) => !c.bytes.equals(valid));
}

export interface HttpGrammarOptions {
  /** The Host header (host or host:port). */
  host: string;
  /** The path the requests ask for (the monitor's, by default "/"). */
  path: string;
}

export function httpTemplates(o: HttpGrammarOptions): FrameTemplate[] {
  const models = baseModels(o.host, o.path);
  const perTemplate: Record<string, readonly Variant[]> = {
    'get': [...REQUEST_LINE, ...HEADERS, ...TERMINATORS],
    'post-content-length': CONTENT_LENGTH,
    'post-chunked': [...CHUNKED, ['line-terminator', 'bare LF line ends (chunked)', (m) => { m.eol = '\n'; }]],
  };
  return Object.entries(models).map(([name, model]) => ({
    name: `http-${name}`, bytes: serializeRequest(model), fields: [], cases: variants(model, perTemplate[name]),
  }));
}

/** The normal request: GET `path`, one connection, closed after the answer. */
export function httpCheckRequest(o: HttpGrammarOptions): Buffer {
  return serializeRequest(baseModels(o.host, o.path).get);
}

const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?\r?\n/;

/** A status line below 400 is a reply, 4xx/5xx the server's refusal, anything else is not HTTP. */
export function classifyHttp(received: Buffer): Classification {
  const m = STATUS_LINE.exec(received.subarray(0, 1024).toString('latin1'));
  if (!m) return { kind: 'invalid', detail: `not an HTTP status line: ${JSON.stringify(received.subarray(0, 40).toString('latin1'))}` };
  const status = Number(m[3]);
  return { kind: status < 400 ? 'reply' : 'exception', detail: `HTTP ${status}${m[4] ? ` ${m[4]}` : ''}` };
}

/** The answer's header block has arrived (the body does not matter to the fuzzer). */
const headersComplete = (received: Buffer) => received.includes('\r\n\r\n') || received.includes('\n\n');

/** The Host header for an endpoint: IPv6 literals bracketed, the port always given. */
export function hostHeader(endpoint: { host: string; port: number }): string {
  return `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}

/**
 * The fuzz core's HTTP target (params: tls, path). With `tls: true` the case bytes go inside a TLS connection
 * (any certificate), as to an https service. The normal request is GET `path`, answered by a status line
 * below 500.
 */
export const httpFuzzTarget: FuzzTargetFactory = (endpoint, params) => {
  const options = { tls: param(params, 'tls', false), path: param(params, 'path', '/') };
  const grammar = { host: hostHeader(endpoint), path: options.path };
  const stream = { host: endpoint.host, port: endpoint.port, tls: options.tls };
  const check = httpCheckRequest(grammar);
  return {
    protocol: 'http',
    transport: 'tcp',
    params: options,
    templates: httpTemplates(grammar),
    checkDescription: `GET ${options.path} HTTP/1.1${options.tls ? ' over TLS' : ''}`,
    sendCase: (c, waitMs, signal) => sendStreamCase(stream, c.bytes, { waitMs, signal, classify: classifyHttp, complete: headersComplete }),
    async answersNormally(waitMs, signal) {
      const r = await sendStreamCase(stream, check, { waitMs, signal, classify: classifyHttp, complete: headersComplete });
      const status = /^HTTP (\d{3})/.exec(r.detail);
      return { ok: status !== null && Number(status[1]) < 500, kind: r.kind, detail: r.detail, ...(r.code ? { code: r.code } : {}) };
    },
  };
};
