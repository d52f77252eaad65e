import { expect } from 'chai';
import * as fs from 'node:fs';
import * as http from 'node:http';
import accessProbe from '../../../probes/audit/log-access';
import probe from '../../../probes/audit/log-protection';
import { assess } from '../../../src/assess';
import { loadCatalog } from '../../../src/catalog';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { RunActionLog } from '../../../src/runner/actions';
import { FRS, type SlVector } from '../../../src/sdk';
import { closedPort, listenTestServer, type TestServer } from '../../../fixtures/servers';
import { startWebdavLogServer, type WebdavLogServer } from '../../helpers/lighttpd-webdav';
import { runProbe } from '../../helpers/probe-harness';
import { HARDENED_OPERATOR, HARDENED_READER, LOG_LINES, WEAK_ADMIN, WEAK_OPERATOR, webOnly } from '../../helpers/audit-log';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);
const HARDENED = { 'audit.reader': HARDENED_READER, 'audit.unprivileged': HARDENED_OPERATOR };
const WEAK = { 'audit.reader': WEAK_ADMIN, 'audit.unprivileged': WEAK_OPERATOR };
const POLICY = { auditLog: { http: { path: '/api/audit-log' } } };

/**
 * A deceptive log server (node:http): admin reads a JSON array of records; DELETE is answered with `deleteStatus`
 * and either clears the records or keeps them, whatever it answered. Every other method is refused (403).
 */
async function deceptiveLog(deleteStatus: number, reallyDeletes: boolean): Promise<TestServer & { records: unknown[] }> {
  const records: unknown[] = [{ time: '2026-03-05T10:00:00Z', event: 'login-succeeded', user: 'admin' }, { time: '2026-03-05T10:01:00Z', event: 'login-failed', user: 'bob' }];
  const server = http.createServer((req, res) => {
    req.resume();
    const admin = req.headers.authorization === `Basic ${Buffer.from('admin:admin').toString('base64')}`;
    if (req.method === 'GET') {
      res.writeHead(admin ? 200 : 401, { 'content-type': 'application/json' });
      return res.end(admin ? JSON.stringify(records) : '{"error":"unauthorised"}');
    }
    if (req.method === 'DELETE') {
      if (reallyDeletes) records.splice(0);
      res.writeHead(deleteStatus);
      return res.end();
    }
    res.writeHead(403);
    return res.end();
  });
  return Object.assign(await listenTestServer(server), { records });
}

describe('probe audit.log-protection (CR 3.9, destructive)', function () {
  this.timeout(90_000);
  let device: Emulator | undefined;
  afterEach(async () => {
    await device?.close();
    device = undefined;
  });
  const https = () => ({ port: device!.endpoint('https').port, protocol: 'https' as const });

  it('hardened device: every write and DELETE refused, the log intact -> pass (full); refusals in the action log', async () => {
    device = await startEmulator(webOnly('hardened'), { ephemeralPorts: true });
    const actions = new RunActionLog();
    const { attempt } = await runProbe(probe, { service: https(), policy: POLICY, credentials: HARDENED, actions });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
    expect(attempt.outcomes).to.deep.equal([{
      requirement: 'CR 3.9', verdict: 'pass', coverage: 'full', part: { name: 'modify', of: ['read', 'modify'] }, reason: attempt.outcomes[0].reason,
    }]);
    const tries = attempt.observations.tries as { identity: string; method: string; status: number }[];
    expect(tries.map((t) => `${t.method}:${t.status}`)).to.deep.equal(['POST:401', 'PATCH:401', 'PUT:401', 'DELETE:401', 'POST:403', 'PATCH:403', 'PUT:403', 'DELETE:403']);
    expect(actions.list().filter((a) => a.kind === 'access-denied')).to.have.length(8);
  });

  it('weak device: the operator adds a forged record and clears the log -> fail (alterable and deletable by the non-admin)', async () => {
    device = await startEmulator(webOnly('weak'), { ephemeralPorts: true });
    const { attempt } = await runProbe(probe, { service: https(), policy: POLICY, credentials: WEAK });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.have.members(['audit.log-protection.alterable-by-unprivileged', 'audit.log-protection.deletable-by-unprivileged']);
    expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 3.9', verdict: 'fail' });
  });

  it('CR 3.9 passes only with both probes\' evidence: reading alone leaves the row not determined', async () => {
    device = await startEmulator(webOnly('hardened'), { ephemeralPorts: true });
    const read = await runProbe(accessProbe, { service: https(), policy: POLICY, credentials: HARDENED });
    const modify = await runProbe(probe, { service: https(), policy: POLICY, credentials: HARDENED });
    const slTarget = Object.fromEntries(FRS.map((fr) => [fr, 2])) as SlVector;
    const input = (attempts: (typeof read.attempt)[]) => ({
      catalog: loadCatalog(), component: { name: 'plc', types: ['embedded' as const], slTarget }, attempts,
      probeRequirements: new Map([[accessProbe.id, accessProbe.requirements], [probe.id, probe.requirements]]),
    });
    const row = (attempts: (typeof read.attempt)[]) => assess(input(attempts)).requirements.find((r) => r.id === 'CR 3.9')!;
    expect(row([read.attempt]).verdict).to.equal('not_determined');
    expect(row([read.attempt]).reason).to.match(/modify part was not examined/);
    expect(row([read.attempt, modify.attempt])).to.deep.include({ verdict: 'pass', coverage: 'full' });
  });

  describe('independent peer: Debian lighttpd, mod_auth basic + mod_webdav', () => {
    let server: WebdavLogServer | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });
    const run = () => runProbe(probe, {
      service: { port: server!.port, protocol: 'http' }, policy: { auditLog: { http: { path: server!.urlPath, format: 'syslog' } } }, credentials: WEAK,
    });

    it('only admin passes mod_auth -> pass, the file on disk unchanged', async function () {
      server = await startWebdavLogServer(this, [WEAK_ADMIN, WEAK_OPERATOR], 'admin-only', LOG_LINES);
      const before = fs.readFileSync(server.logFile, 'utf8');
      const { attempt } = await run();
      expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
      expect(attempt.outcomes[0]).to.deep.include({ verdict: 'pass', coverage: 'full' });
      expect(fs.readFileSync(server.logFile, 'utf8')).to.equal(before);
    });

    it('every authenticated user passes -> fail: the operator\'s PUT replaced the file and its DELETE removed it (on disk)', async function () {
      server = await startWebdavLogServer(this, [WEAK_ADMIN, WEAK_OPERATOR], 'any-user', LOG_LINES);
      const { attempt } = await run();
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.have.members(['audit.log-protection.alterable-by-unprivileged', 'audit.log-protection.deletable-by-unprivileged']);
      expect(fs.existsSync(server.logFile)).to.equal(false);
      const tries = attempt.observations.tries as { method: string; identity: string; change?: { forged: boolean; gone: boolean } }[];
      expect(tries.find((t) => t.method === 'PUT' && t.identity.startsWith('unprivileged'))?.change?.forged).to.equal(true);
      expect(tries.find((t) => t.method === 'DELETE' && t.identity.startsWith('unprivileged'))?.change?.gone).to.equal(true);
    });
  });

  describe('deceptive peers: the verdict follows the log, not the status code', () => {
    let server: (TestServer & { records: unknown[] }) | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });
    const run = () => runProbe(probe, { service: { port: server!.port, protocol: 'http' }, policy: POLICY, credentials: { 'audit.reader': WEAK_ADMIN } });

    it('answers 200 to DELETE but keeps the log -> pass (partial: no non-admin account), the 200s noted', async () => {
      server = await deceptiveLog(200, false);
      const { attempt } = await run();
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      expect(attempt.outcomes[0]).to.deep.include({ verdict: 'pass', coverage: 'partial' });
      expect(attempt.observations.acceptedWithoutEffect).to.deep.equal(['unauthenticated DELETE: 200']);
      expect(server.records).to.have.length(2);
    });

    it('answers 403 to DELETE but deletes the log -> fail (deletable without authentication)', async () => {
      server = await deceptiveLog(403, true);
      const { attempt } = await run();
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['audit.log-protection.deletable-without-authentication']);
      expect(attempt.findings[0].message).to.match(/DELETE \/api\/audit-log answered 403: 2 record\(s\) missing|the log is gone/);
      expect(server.records).to.have.length(0);
    });
  });

  it('not determined without a declared interface; error when the port is closed', async () => {
    const port = await closedPort();
    try {
      const none = await runProbe(probe, { service: { port: port.port, protocol: 'http' }, credentials: WEAK });
      expect(none.attempt.outcomes).to.deep.equal([]);
      const { attempt } = await runProbe(probe, { service: { port: port.port, protocol: 'http' }, policy: POLICY, credentials: WEAK, timeoutMs: 5000 });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('unreachable');
    } finally {
      await port.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'http' }), timeoutMs: 1500, policy: POLICY, credentials: HARDENED });
});
