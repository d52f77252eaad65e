import { defineFuzzProbe, type FuzzInputs } from '../../src/protocols/fuzz';
import { httpFuzzTarget } from '../../src/protocols/http/fuzz';
import { httpEndpoint } from '../../src/protocols/http/request';

export interface HttpFuzzInputs extends FuzzInputs {
  /** The path the requests and the normal GET ask for (default: essentialFunction https/http path, else "/"). */
  path?: string;
}

export default defineFuzzProbe<HttpFuzzInputs>({
  id: 'http.fuzz',
  protocol: 'http',
  label: 'HTTP',
  normalRequest: 'normal request',
  title: 'HTTP/1.1 request fuzzing (request line, headers, lengths, chunking) with essential-function checks',
  description:
    'Mutates valid HTTP/1.1 requests (GET, POST with Content-Length, POST chunked): method, URI and version of the request '
    + 'line; Host, header names and values at their boundaries (empty, 8-16 KiB, NUL, bare CR, folding, 2000 fields); '
    + 'Content-Length stale, huge, negative, doubled, next to Transfer-Encoding; chunk sizes beyond 64 bits, negative, not '
    + 'hex, missing last chunk; bare LF, bare CR and other line terminators; truncations and random mutations fill the '
    + 'budget. The seed fixes the cases. Each case goes on its own connection (inside TLS for https), at a capped rate; '
    + 'after each one a GET must be answered with a status below 500, and the run\'s essential-function monitor must not '
    + 'report a loss (CR 3.5). Every case is recorded (fuzz-cases.ndjson) and can be re-sent with `iacs-probe replay`.',
  appliesTo: ['http', 'https'],
  extraInputs: {
    properties: { path: { type: 'string', pattern: '^/', maxLength: 2048 } },
    defaults: {},
  },
  target: (ctx, service) => {
    const endpoint = httpEndpoint(service);
    return httpFuzzTarget(service, { tls: endpoint.tls, path: ctx.inputs.path ?? monitorPath(ctx.essentialFunction, endpoint.tls) ?? '/' });
  },
});

/** The path of the profile's https (or http) watch, so the normal request is the monitor's. */
function monitorPath(blocks: Readonly<Record<string, unknown>>, tls: boolean): string | undefined {
  for (const key of tls ? ['https', 'http'] : ['http', 'https']) {
    const b = blocks[key] as { path?: unknown } | undefined;
    if (b && typeof b.path === 'string') return b.path;
  }
  return undefined;
}
