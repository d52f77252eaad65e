import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import type * as net from 'node:net';
import type { DeviceIdentity } from '../types';

/**
 * What the emulated web UI shows a browser besides its pages (the `web:` section of the https posture):
 * the http.* probes judge exactly these. Defaults are the hardened behaviour minus the security headers.
 */
export interface WebPosture {
  /** Headers sent on every response (default: Cache-Control: no-store). */
  headers?: Record<string, string>;
  /** Server header; absent or null: none. "{firmware}" is replaced by the device firmware. */
  server?: string | null;
  /** Session cookie attributes (default: Secure on HTTPS, HttpOnly, SameSite=Strict). */
  cookie?: { secure?: boolean; httpOnly?: boolean; sameSite?: 'Strict' | 'Lax' | 'None' | null };
  /** random: 24 random bytes as hex (default); counter: a decimal counter from 1001 (guessable). */
  sessionIds?: 'random' | 'counter';
  /** The landing page gives every visitor a session cookie before login. */
  preLoginSession?: boolean;
  /** A login keeps the session id the visitor brought (session fixation) instead of issuing a new one. */
  keepSessionOnLogin?: boolean;
  /** generic (default): a bare "Not found"; verbose: error pages with a stack trace, paths and versions. */
  errorPages?: 'generic' | 'verbose';
  /** Pages served without a session (e.g. /config, which otherwise needs one). */
  openPaths?: string[];
  /** What the plain-HTTP port serves: the same application (default) or a redirect to the HTTPS port. */
  plainHttp?: 'app' | 'redirect';
}

/** Session id generator for the posture: random hex, or a guessable counter. */
export function sessionIdGenerator(web: WebPosture): () => string {
  if (web.sessionIds === 'counter') {
    let next = 1000;
    return () => String(++next);
  }
  return () => randomBytes(24).toString('hex');
}

export function sessionCookieFlags(web: WebPosture, secureChannel: boolean): string {
  const c = web.cookie ?? {};
  const flags = ['Path=/'];
  if (c.httpOnly ?? true) flags.push('HttpOnly');
  const sameSite = c.sameSite === undefined ? 'Strict' : c.sameSite;
  if (sameSite) flags.push(`SameSite=${sameSite}`);
  if (secureChannel && (c.secure ?? true)) flags.push('Secure');
  return flags.join('; ');
}

/** Sets the posture's headers (and Server) on a response before the application writes it. */
export function applyPostureHeaders(res: http.ServerResponse, web: WebPosture, identity: DeviceIdentity): void {
  for (const [name, value] of Object.entries(web.headers ?? { 'cache-control': 'no-store' })) res.setHeader(name, value);
  if (web.server) res.setHeader('server', web.server.replace('{firmware}', identity.firmware));
}

/** The body of a 404 page: bare, or what a careless embedded web server prints. */
export function notFoundBody(web: WebPosture, identity: DeviceIdentity, path: string): { title: string; html: string } {
  if (web.errorPages !== 'verbose') return { title: 'Not found', html: '' };
  const file = `/opt/eplc/www${path.replace(/[^\w./-]/g, '_')}`;
  return {
    title: '404 Not Found',
    html: `<pre>Error: ENOENT: no such file or directory, open '${file}'\n`
      + '    at Object.openSync (node:fs:596:3)\n    at serveStatic (/opt/eplc/web/server.js:214:17)\n'
      + `    at Router.handle (/opt/eplc/web/router.js:88:5)</pre><hr><address>EPLC-Web/${identity.firmware} (Linux 4.14.98-rt51 armv7l) at ${identity.model}</address>`,
  };
}

/**
 * What the server answers to a request it cannot parse: Node's bare 400 (generic), or a page naming the
 * parser error and the server version (verbose).
 */
export function onClientError(web: WebPosture, identity: DeviceIdentity) {
  return (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) return socket.destroy();
    const body = web.errorPages === 'verbose'
      ? `<html><body><h1>400 Bad Request</h1><pre>${String(err.code)}: ${err.message}\n    at HTTPParser.execute (node:_http_server:1052:12)</pre><address>EPLC-Web/${identity.firmware} (Linux 4.14.98-rt51 armv7l)</address></body></html>\n`
      : '';
    socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${body ? 'Content-Type: text/html\r\n' : ''}\r\n${body}`);
    return undefined;
  };
}

/** Plain-HTTP handler that sends every request to the same path on the HTTPS port. */
export function redirectToHttps(securePort: () => number, web: WebPosture, identity: DeviceIdentity) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    applyPostureHeaders(res, web, identity);
    const host = (req.headers.host ?? '127.0.0.1').replace(/:\d+$/, '');
    res.writeHead(301, { location: `https://${host}:${securePort()}${req.url ?? '/'}`, 'content-length': '0' });
    res.end();
  };
}
