import { expect } from 'chai';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import httpLockout from '../../probes/http/lockout';
import httpSessions from '../../probes/http/sessions';
import opcuaLockout from '../../probes/opcua/lockout';
import { channelFor, discoverEndpoints, identityFromFiles, withOpcuaClient } from '../../src/protocols/opcua';
import { packagePath } from '../../src/paths';
import { startEmulator, type Emulator } from '../../src/emulator';
import { profileFromObject } from '../../src/profile';
import type { Report } from '../../src/report/model';
import { runAssessment } from '../../src/runner/run';
import { closedPort } from '../../fixtures/servers';
import { ENGINEER, OPERATOR, POLICY, authPosture } from '../helpers/auth-devices';
import { BENCH_CLIENT } from '../helpers/opcua';
import { runProbe } from '../helpers/probe-harness';

// Deceptive peers for the authentication probes: devices that refuse for a reason other than the one the
// probe tests (a server error after N requests, a session refused for good). Such a refusal must never be
// read as a lock or as a session limit, and a row whose evidence is incomplete must never pass.

interface Deceptive {
  port: number;
  requests(): number;
  close(): Promise<void>;
}

const GOOD = `Basic ${Buffer.from(`${OPERATOR.username}:${OPERATOR.password}`).toString('base64')}`;

/** Basic authentication without any lockout, that answers 500 to every request after the first `healthy`. */
async function errorsAfter(healthy: number): Promise<Deceptive> {
  let count = 0;
  const server = http.createServer((req, res) => {
    count += 1;
    if (count > healthy) return res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
    if (req.headers.authorization === GOOD) return res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Device status</h1>');
    res.writeHead(401, { 'www-authenticate': 'Basic realm="device"', 'content-type': 'text/html' }).end('<h1>401 Unauthorized</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, requests: () => count, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/**
 * A web UI with a login form whose logins work twice; from then on every login answers 503 (a device whose
 * session table broke, or that throttles logins): session 3 is refused, and stays refused when one closes.
 */
async function formLoginThatBreaks(): Promise<Deceptive> {
  let count = 0;
  let logins = 0;
  const page = '<html><body><form method="post" action="/login"><input name="user"><input type="password" name="pass"><button>Log in</button></form></body></html>';
  const server = http.createServer((req, res) => {
    count += 1;
    if (req.url === '/' && req.method === 'GET') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    if (req.url === '/login' && req.method === 'POST') {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (form.get('user') !== OPERATOR.username || form.get('pass') !== OPERATOR.password) return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
        logins += 1;
        if (logins > 2) return res.writeHead(503, { 'content-type': 'text/plain' }).end('service unavailable');
        res.writeHead(303, { location: '/home', 'set-cookie': `sid=${logins}-${Math.random().toString(36).slice(2)}; HttpOnly` }).end();
      });
      return undefined;
    }
    if (req.url === '/home') {
      if (/sid=/.test(req.headers.cookie ?? '')) return res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Home</h1><a href="/logout">Log out</a>');
      return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    }
    if (req.url === '/logout') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, requests: () => count, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

describe('integrity: authentication probes and the verdict rule against deceptive devices', function () {
  this.timeout(120_000);

  it('a web server without lockout that answers 500 after 6 requests: http.lockout claims no lock, CR 1.11 not determined', async () => {
    const server = await errorsAfter(6);
    try {
      const { attempt } = await runProbe(httpLockout, {
        service: { port: server.port, protocol: 'http', options: { auth: { mode: 'basic', path: '/' } } },
        credentials: { http: OPERATOR }, policy: POLICY,
      });
      expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.message).to.match(/answered with 500, which is no authentication verdict/);
      expect(server.requests()).to.be.greaterThan(6);
    } finally {
      await server.close();
    }
  });

  it('an OPC UA server whose session table is full answers BadTooManySessions: opcua.lockout claims no lock, CR 1.11 not determined', async () => {
    const emulator = await startEmulator(authPosture('hardened', 'opcua', { maxSessions: 1 }), { ephemeralPorts: true });
    const target = { host: '127.0.0.1', port: emulator.endpoint('opcua').port };
    const signal = new AbortController().signal;
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    let held: Promise<unknown> | undefined;
    try {
      // Another client holds the only session the server has.
      const endpoints = await discoverEndpoints(target, { signal });
      const secure = endpoints.find((e) => e.securityMode === 'SignAndEncrypt')!;
      const bench = identityFromFiles(packagePath(BENCH_CLIENT.clientCertificate), packagePath(BENCH_CLIENT.clientPrivateKey));
      await new Promise<void>((opened, failed) => {
        held = withOpcuaClient(target, { signal, security: channelFor(secure, bench) }, (c) => c.withSession(
          { type: 'username', username: ENGINEER.username, password: ENGINEER.password }, async () => { opened(); await released; },
        )).catch(failed);
      });
      const { attempt } = await runProbe(opcuaLockout, {
        service: { port: target.port, protocol: 'opcua', options: BENCH_CLIENT }, credentials: { opcua: OPERATOR }, policy: POLICY,
      });
      expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.message).to.match(/BadTooManySessions, which is no authentication verdict/);
    } finally {
      release();
      await held?.catch(() => undefined);
      await emulator.close();
    }
  });

  it('a session refused with 503, and still refused once one session is closed: CR 2.7 is not determined, not passed', async () => {
    const server = await formLoginThatBreaks();
    try {
      const { attempt } = await runProbe(httpSessions, {
        service: { port: server.port, protocol: 'http', options: { auth: { mode: 'form', successPath: '/home', logoutPath: '/logout' } } },
        credentials: { http: OPERATOR }, policy: { sessions: { maxConcurrent: 2 } },
      });
      const concurrent = attempt.observations.concurrent as { refused: { index: number; status: string }[]; openedAfterOneClosed: boolean; notDetermined: string };
      expect(concurrent.refused).to.deep.equal([{ index: 3, status: '503' }]);
      expect(concurrent.openedAfterOneClosed).to.equal(false);
      expect(concurrent.notDetermined).to.match(/not the session limit/);
      expect(attempt.outcomes.filter((o) => o.requirement === 'CR 2.7')).to.deep.equal([]);
      expect(attempt.status).to.equal('not_determined');
    } finally {
      await server.close();
    }
  });

  describe('a whole run: SSH locks as documented, the web lockout meets a 500, the OPC UA one an unreachable port', () => {
    let emulator: Emulator;
    let web: Deceptive;
    let dir: string;
    let report: Report;

    before(async () => {
      emulator = await startEmulator(authPosture('hardened', 'ssh'), { ephemeralPorts: true });
      web = await errorsAfter(6);
      const opcua = await closedPort();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-integrity-auth-'));
      process.env.IACS_INTEGRITY_OPERATOR = OPERATOR.password;
      process.env.IACS_INTEGRITY_ENGINEER = ENGINEER.password;
      const profile = profileFromObject({
        apiVersion: 'iacs-probe/v1',
        component: { name: 'Deceptive bench device', types: ['embedded'], slTarget: 2 },
        targets: [{
          host: '127.0.0.1',
          services: [
            { port: emulator.endpoint('ssh').port, protocol: 'ssh' },
            { port: web.port, protocol: 'http', options: { auth: { mode: 'basic', path: '/' } } },
            { port: opcua.port, protocol: 'opcua' },
          ],
        }],
        credentials: {
          ssh: { username: OPERATOR.username, password: { env: 'IACS_INTEGRITY_OPERATOR' } },
          http: { username: OPERATOR.username, password: { env: 'IACS_INTEGRITY_OPERATOR' } },
          opcua: { username: OPERATOR.username, password: { env: 'IACS_INTEGRITY_OPERATOR' } },
          'lockout.ssh.second': { username: ENGINEER.username, password: { env: 'IACS_INTEGRITY_ENGINEER' } },
        },
        policy: POLICY,
        allow: ['passive', 'active', 'intrusive'],
      }, 'integrity.yaml', dir);
      ({ report } = await runAssessment(profile, { out: path.join(dir, 'run'), only: ['ssh.lockout', 'http.lockout', 'opcua.lockout'] }));
    });
    after(async () => {
      delete process.env.IACS_INTEGRITY_OPERATOR;
      delete process.env.IACS_INTEGRITY_ENGINEER;
      await Promise.all([emulator?.close(), web?.close()]);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('the attempts: ssh.lockout passes, http.lockout could not tell, opcua.lockout is an error', () => {
      const status = Object.fromEntries(report.attempts.map((a) => [a.probe, a.status]));
      expect(status).to.deep.equal({ 'ssh.lockout': 'pass', 'http.lockout': 'not_determined', 'opcua.lockout': 'error' });
    });

    it('CR 1.11 is not determined, naming both interfaces that were not examined, in report.json, report.html and trf.csv', () => {
      const row = report.requirements.find((r) => r.id === 'CR 1.11')!;
      expect(row.verdict).to.equal('not_determined');
      expect(row.notExamined).to.have.length(2);
      expect(row.notExamined![0]).to.match(new RegExp(`^http\\.lockout@127\\.0\\.0\\.1:${web.port}: not_determined without a judgement of CR 1\\.11 \\(.*no authentication verdict`));
      expect(row.notExamined![1]).to.match(/^opcua\.lockout@127\.0\.0\.1:\d+: error \(unreachable\)/);
      expect(row.reason).to.contain('supports a pass: ssh.lockout@127.0.0.1');
      const written = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'report.json'), 'utf8')) as Report;
      expect(written.requirements.find((r) => r.id === 'CR 1.11')).to.deep.include({ verdict: 'not_determined', notExamined: row.notExamined });
      const html = fs.readFileSync(path.join(dir, 'run', 'report.html'), 'utf8');
      expect(html).to.contain(`Not examined: http.lockout@127.0.0.1:${web.port}`);
      // One TRF row (RFC 4180: quoted fields may hold line breaks): from "CR 1.11," to the next row's clause.
      const trf = /\r\nCR 1\.11,([\s\S]*?)\r\n(?=[A-Z]{2,3} \d)/.exec(fs.readFileSync(path.join(dir, 'run', 'trf.csv'), 'utf8'))?.[1] ?? '';
      expect(trf).to.match(/,N\/D$/);
      expect(trf).to.contain('opcua.lockout@127.0.0.1').and.to.contain('http.lockout@127.0.0.1');
    });
  });
});
