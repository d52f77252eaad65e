import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import probe from '../../../probes/audit/log-access';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { RunActionLog } from '../../../src/runner/actions';
import { closedPort } from '../../../fixtures/servers';
import { startWebdavLogServer, type WebdavLogServer } from '../../helpers/lighttpd-webdav';
import { HARDENED_OPERATOR, HARDENED_READER, LOG_LINES, WEAK_ADMIN, WEAK_OPERATOR, webOnly } from '../../helpers/audit-log';
import { runProbe } from '../../helpers/probe-harness';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);
const outcome = (a: { outcomes: { requirement: string }[] }, id: string) => a.outcomes.find((o) => o.requirement === id);

describe('probe audit.log-access (CR 6.1, 6.1 RE(1), 3.9)', function () {
  this.timeout(60_000);
  let device: Emulator | undefined;
  afterEach(async () => {
    await device?.close();
    device = undefined;
  });
  const https = () => ({ port: device!.endpoint('https').port, protocol: 'https' as const });

  it('hardened device: the engineer reads JSON, the operator gets 403, no credentials 401 -> pass; the reads are in the action log', async () => {
    device = await startEmulator(webOnly('hardened'), { ephemeralPorts: true });
    const actions = new RunActionLog();
    const { attempt } = await runProbe(probe, {
      service: https(), policy: { auditLog: { http: { path: '/api/audit-log', format: 'json' } } }, actions,
      credentials: { 'audit.reader': HARDENED_READER, 'audit.unprivileged': HARDENED_OPERATOR },
    });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    expect(outcome(attempt, 'CR 6.1')).to.deep.include({ verdict: 'pass', coverage: 'full' });
    expect(outcome(attempt, 'CR 6.1 RE(1)')).to.deep.include({ verdict: 'pass', coverage: 'full' });
    expect(outcome(attempt, 'CR 3.9')).to.deep.include({ verdict: 'pass', coverage: 'full', part: { name: 'read', of: ['read', 'modify'] } });
    expect(attempt.observations.format).to.equal('json');
    expect((attempt.observations.others as { status: number }[]).map((o) => o.status)).to.deep.equal([401, 403]);
    expect(actions.list().map((a) => `${a.kind}:${a.account ?? '-'}`)).to.deep.equal(['config-read:engineer', 'access-denied:-', 'access-denied:operator']);
  });

  it('weak device: the log is read without credentials and by the operator -> CR 3.9 fail; CR 6.1 and RE(1) pass (syslog lines)', async () => {
    device = await startEmulator(webOnly('weak'), { ephemeralPorts: true });
    const { attempt } = await runProbe(probe, {
      service: https(), policy: { auditLog: { http: { path: '/api/audit-log', format: 'syslog' } } },
      credentials: { 'audit.reader': WEAK_ADMIN, 'audit.unprivileged': WEAK_OPERATOR },
    });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.have.members(['audit.log-access.readable-without-authentication', 'audit.log-access.readable-by-unprivileged']);
    expect(outcome(attempt, 'CR 3.9')).to.deep.include({ verdict: 'fail' });
    expect(outcome(attempt, 'CR 6.1')).to.deep.include({ verdict: 'pass' });
    expect(outcome(attempt, 'CR 6.1 RE(1)')).to.deep.include({ verdict: 'pass' });
    expect(attempt.observations.format).to.equal('syslog');
  });

  it('an HTML page where JSON is documented -> RE(1) fail; declared as html -> RE(1) not determined, CR 6.1 pass', async () => {
    device = await startEmulator(webOnly('hardened', { format: 'html' }), { ephemeralPorts: true });
    const credentials = { 'audit.reader': HARDENED_READER, 'audit.unprivileged': HARDENED_OPERATOR };
    const promised = await runProbe(probe, { service: https(), policy: { auditLog: { http: { path: '/api/audit-log', format: 'json' } } }, credentials });
    expect(promised.attempt.status).to.equal('fail');
    expect(codes(promised.attempt)).to.deep.equal(['audit.log-access.not-machine-readable']);
    expect(outcome(promised.attempt, 'CR 6.1 RE(1)')).to.deep.include({ verdict: 'fail' });
    const page = await runProbe(probe, { service: https(), policy: { auditLog: { http: { path: '/api/audit-log', format: 'html' } } }, credentials });
    expect(page.attempt.status).to.equal('pass');
    expect(outcome(page.attempt, 'CR 6.1 RE(1)')).to.equal(undefined);
    expect(outcome(page.attempt, 'CR 6.1')).to.deep.include({ verdict: 'pass' });
    expect(page.attempt.observations.notDetermined).to.match(/RE\(1\).*html/);
  });

  it('deceptive peer: JSON for the reader, the same log as an HTML view for the operator (never the same record text) -> CR 3.9 fail', async () => {
    const records = LOG_LINES.map((line, i) => ({ time: line.split(' ')[1], message: line.split(' - ').pop(), seq: i }));
    const user = (req: http.IncomingMessage) => Buffer.from((req.headers.authorization ?? 'Basic ').slice(6), 'base64').toString().split(':')[0];
    const server = http.createServer((req, res) => {
      if (user(req) === 'engineer') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(records));
      if (user(req) === 'operator') {
        const rows = records.map((r) => `<tr><td>${r.time}</td><td>${r.message!.replace(/</g, '&lt;')}</td></tr>`).join('');
        return res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><body><h1>Event viewer</h1><table>${rows}</table></body></html>`);
      }
      return res.writeHead(401, { 'www-authenticate': 'Basic realm="plc"' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: (server.address() as AddressInfo).port, protocol: 'http' }, policy: { auditLog: { http: { path: '/api/audit-log', format: 'json' } } },
        credentials: { 'audit.reader': HARDENED_READER, 'audit.unprivileged': HARDENED_OPERATOR },
      });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['audit.log-access.readable-by-unprivileged']);
      expect(outcome(attempt, 'CR 3.9')).to.deep.include({ verdict: 'fail' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('the authorised account is refused (403) -> CR 6.1 fail; a wrong reader password (401) is an auth error, not a verdict', async () => {
    device = await startEmulator(webOnly('hardened', { read: [] }), { ephemeralPorts: true });
    const policy = { auditLog: { http: { path: '/api/audit-log' } } };
    const refused = await runProbe(probe, { service: https(), policy, credentials: { 'audit.reader': HARDENED_READER } });
    expect(refused.attempt.status).to.equal('fail');
    expect(codes(refused.attempt)).to.deep.equal(['audit.log-access.not-readable']);
    expect(outcome(refused.attempt, 'CR 6.1')).to.deep.include({ verdict: 'fail' });
    const wrong = await runProbe(probe, { service: https(), policy, credentials: { 'audit.reader': { username: 'engineer', password: 'wrong' } } });
    expect(wrong.attempt.status).to.equal('error');
    expect(wrong.attempt.reason).to.equal('auth');
  });

  it('no declared interface or no reader account: not determined, nothing sent', async () => {
    const port = await closedPort();
    try {
      const none = await runProbe(probe, { service: { port: port.port, protocol: 'http' }, credentials: { 'audit.reader': WEAK_ADMIN } });
      expect(none.attempt.outcomes).to.deep.equal([]);
      expect(none.attempt.observations.notDetermined).to.match(/policy\.auditLog\.http/);
      const noReader = await runProbe(probe, { service: { port: port.port, protocol: 'http' }, policy: { auditLog: { http: { path: '/log' } } } });
      expect(noReader.attempt.outcomes).to.deep.equal([]);
      expect(noReader.attempt.observations.notDetermined).to.match(/audit\.reader/);
      const elsewhere = await runProbe(probe, { service: { port: port.port, protocol: 'http' }, policy: { auditLog: { http: { path: '/log', port: 1 } } }, credentials: { 'audit.reader': WEAK_ADMIN } });
      expect(elsewhere.attempt.outcomes.map((o) => o.verdict)).to.deep.equal(['not_applicable', 'not_applicable', 'not_applicable']);
    } finally {
      await port.close();
    }
  });

  it('declared but the port is closed -> error (unreachable)', async () => {
    const port = await closedPort();
    try {
      const { attempt } = await runProbe(probe, { service: { port: port.port, protocol: 'http' }, policy: { auditLog: { http: { path: '/log' } } }, credentials: { 'audit.reader': WEAK_ADMIN }, timeoutMs: 5000 });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('unreachable');
    } finally {
      await port.close();
    }
  });

  describe('independent peer: Debian lighttpd, mod_auth basic', () => {
    let server: WebdavLogServer | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });
    const users = [WEAK_ADMIN, WEAK_OPERATOR];
    const run = () => runProbe(probe, {
      service: { port: server!.port, protocol: 'http' }, policy: { auditLog: { http: { path: server!.urlPath, format: 'syslog' } } },
      credentials: { 'audit.reader': WEAK_ADMIN, 'audit.unprivileged': WEAK_OPERATOR },
    });

    it('only admin may read the log file -> pass', async function () {
      server = await startWebdavLogServer(this, users, 'admin-only', LOG_LINES);
      const { attempt } = await run();
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      expect(attempt.observations.records).to.equal(3);
      // lighttpd answers a valid user who is not `user=admin` with 401 too.
      expect((attempt.observations.others as { status: number }[]).map((o) => o.status)).to.deep.equal([401, 401]);
    });

    it('every authenticated user may read it -> CR 3.9 fail (readable-by-unprivileged)', async function () {
      server = await startWebdavLogServer(this, users, 'any-user', LOG_LINES);
      const { attempt } = await run();
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['audit.log-access.readable-by-unprivileged']);
      expect(outcome(attempt, 'CR 3.9')).to.deep.include({ verdict: 'fail' });
    });
  });

  describeMisbehavingPeers(probe, {
    service: (port) => ({ port, protocol: 'http' }), timeoutMs: 1500, policy: { auditLog: { http: { path: '/api/audit-log', format: 'json' } } },
    credentials: { 'audit.reader': HARDENED_READER, 'audit.unprivileged': HARDENED_OPERATOR },
  });
});
