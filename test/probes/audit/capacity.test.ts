import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import probe from '../../../probes/audit/capacity';
import { closedPort } from '../../../fixtures/servers';
import { authPosture } from '../../helpers/auth-devices';
import { startAuditBench, type AuditBench } from '../../helpers/audit-bench';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);
/** What the example profiles document for the emulated device (1000 records, warning at 80 %). */
const EMULATOR_CAPACITY = { auditLog: { capacity: { records: 1000, warnAtPercent: 80, warning: 'AUDIT_CAPACITY' } } };
/** A small documented log for the deceptive peers: limit 100 × (80 + 5) / 100 = 85 events. */
const SMALL_CAPACITY = { auditLog: { capacity: { records: 100, warnAtPercent: 80, warning: 'AUDIT_CAPACITY' } } };
const FAST = { maxRatePerSecond: 200 };

/** The shipped audit baseline with a 1 s record window, so that waits for a warning that never comes stay short. */
function shortWindow(dir: string): Record<string, string> {
  const file = path.join(dir, 'audit-short-window.yaml');
  const shipped = fs.readFileSync(path.join(__dirname, '../../../profiles/baselines/audit.yaml'), 'utf8');
  fs.writeFileSync(file, shipped.replace(/windowSeconds: \d+/, 'windowSeconds: 1'));
  return { audit: file };
}

describe('probe audit.capacity (CR 2.9 RE(1))', function () {
  this.timeout(90_000);
  let bench: AuditBench | undefined;
  afterEach(async () => {
    await bench?.close();
    bench = undefined;
  });

  describe('emulator (its log copy holds 1000 records)', () => {
    it('hardened (capacityWarningPercent 80): AUDIT_CAPACITY arrives at the 800th record -> pass, full, with the count and the warning in the evidence', async () => {
      bench = await startAuditBench({ posture: authPosture('hardened', 'ssh') });
      const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
      const { attempt, read } = await bench.run(probe, { services: [ssh], policy: EMULATOR_CAPACITY, inputs: FAST, baselineFiles: shortWindow(bench.dir) });
      expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
      expect(attempt.outcomes).to.deep.equal([{ requirement: 'CR 2.9 RE(1)', verdict: 'pass', coverage: 'full', reason: attempt.outcomes[0].reason }]);
      const warning = attempt.observations.warning as { text: string; afterEvents: number };
      expect(warning.text).to.contain('AUDIT_CAPACITY').and.to.contain('audit storage 80% full (800 of 1000 records)');
      // The device's log was empty: the 800th failed login crossed the threshold; a few more may have gone out meanwhile.
      expect(warning.afterEvents).to.be.within(800, 850);
      expect(attempt.observations).to.deep.include({ stoppedBy: 'warning', namesUsers: true, eventLimit: 850, thresholdRecords: 800 });
      expect(attempt.observations.upperBound).to.match(/upper bound/);
      expect(attempt.outcomes[0].reason).to.match(/^the device warned after \d+ provoked event\(s\) \(limit 850/);
      const evidence = JSON.parse(read('evidence/audit.capacity/127.0.0.1/capacity.json')) as { timeline: { event: unknown; account?: string }[]; warning: { text: string }; note: string };
      expect(evidence.warning.text).to.contain('AUDIT_CAPACITY');
      expect(evidence.note).to.match(/upper bound/);
      expect(evidence.timeline.filter((t) => typeof t.event === 'number')).to.have.length(attempt.observations.provoked as number);
      expect(evidence.timeline.map((t) => t.event)).to.include('warning record received');
      // Only unknown user names, each recorded as an SSH failed login.
      const actions = bench.actions.list().filter((a) => a.probe === 'audit.capacity');
      expect(actions.every((a) => a.kind === 'login-failed' && a.interface === 'ssh' && /^iacs-capacity-\d+$/.test(a.account!))).to.equal(true);
    });

    it('weak (no warning knob): 850 failed logins, all logged over UDP, no warning -> fail no-warning', async () => {
      bench = await startAuditBench({ posture: authPosture('weak', 'ssh') });
      const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
      const { attempt } = await bench.run(probe, { services: [ssh], policy: EMULATOR_CAPACITY, inputs: FAST, baselineFiles: shortWindow(bench.dir) });
      expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['audit.capacity.no-warning']);
      expect(attempt.findings[0]).to.deep.include({ severity: 'high', requirements: ['CR 2.9 RE(1)'] });
      expect(attempt.observations).to.deep.include({ provoked: 850, stoppedBy: 'limit', namesUsers: false, warning: null });
      expect(attempt.observations.loggedOfProvoked).to.be.at.least(800);
    });
  });

  describe('deceptive devices (node:http basic login, syslog over UDP written in the test)', () => {
    it('warns only when its log is full (100 %): too late -> fail no-warning after the 85 events of the limit', async () => {
      bench = await startAuditBench();
      const device = await webDevice(bench, { records: 100, warnAtRecords: 100 });
      try {
        const { attempt } = await bench.run(probe, { services: [device.service], policy: SMALL_CAPACITY, inputs: FAST, baselineFiles: shortWindow(bench.dir) });
        expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('fail');
        expect(codes(attempt)).to.deep.equal(['audit.capacity.no-warning']);
        expect(attempt.observations).to.deep.include({ provoked: 85, loggedOfProvoked: 85, namesUsers: true });
        expect(device.logged()).to.equal(85);
      } finally {
        await device.close();
      }
    });

    it('the same device warning at 80 records: pass at the 80th event (an implementation other than the emulator)', async () => {
      bench = await startAuditBench();
      const device = await webDevice(bench, { records: 100, warnAtRecords: 80 });
      try {
        const { attempt } = await bench.run(probe, { services: [device.service], policy: SMALL_CAPACITY, inputs: FAST, baselineFiles: shortWindow(bench.dir) });
        expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
        expect((attempt.observations.warning as { afterEvents: number }).afterEvents).to.be.within(80, 85);
      } finally {
        await device.close();
      }
    });

    it('answers every login but logs nothing: the control login is not logged, the log is not filled -> not determined, never pass', async () => {
      bench = await startAuditBench();
      const device = await webDevice(bench, { records: 100, silent: true });
      try {
        const { attempt } = await bench.run(probe, { services: [device.service], policy: SMALL_CAPACITY, inputs: FAST, baselineFiles: shortWindow(bench.dir) });
        expect(attempt.status).to.not.equal('pass');
        expect(attempt.outcomes).to.deep.equal([]);
        expect(attempt.observations.notDetermined).to.match(/logged none of the failed logins iacs-capacity-0 via http .*cannot fill its audit storage/);
        expect(device.answered()).to.equal(1);
      } finally {
        await device.close();
      }
    });

    it('a warning record received before the probe (the run filled the log, or the pattern fits another record): not determined, nothing provoked', async () => {
      bench = await startAuditBench();
      const device = await webDevice(bench, { records: 100, warnAtRecords: 100 });
      try {
        await device.send('<132>1 2026-01-01T00:00:00Z plc1 audit - AUDIT_CAPACITY - audit storage 80% full');
        await bench.lab.services.syslog!.waitFor((r) => r.raw.toString().includes('AUDIT_CAPACITY'), 2000);
        const { attempt } = await bench.run(probe, { services: [device.service], policy: SMALL_CAPACITY, inputs: FAST });
        expect(attempt.status).to.not.equal('pass');
        expect(attempt.outcomes).to.deep.equal([]);
        expect(attempt.observations.notDetermined).to.match(/before this probe provoked anything.*run audit.capacity on its own/);
        expect(attempt.observations).to.deep.include({ provoked: 0 });
        expect(device.answered()).to.equal(0);
      } finally {
        await device.close();
      }
    });

    it('a pattern that also fits the device\'s ordinary failed-login records (no user named) is no warning: not determined after the control login, never pass', async () => {
      bench = await startAuditBench();
      const device = await webDevice(bench, { records: 100, warnAtRecords: 100, anonymous: true });
      try {
        const policy = { auditLog: { capacity: { records: 100, warnAtPercent: 80, warning: 'AUTH_FAIL|AUDIT_CAPACITY' } } };
        const { attempt } = await bench.run(probe, { services: [device.service], policy, inputs: FAST, baselineFiles: shortWindow(bench.dir) });
        expect(attempt.outcomes).to.deep.equal([]);
        expect(attempt.observations.notDetermined).to.match(/also matches the device's record of an ordinary failed login/);
        expect(device.answered()).to.equal(1);
      } finally {
        await device.close();
      }
    });

    it('a pattern our own user names (iacs-capacity-<n>) also fit: a record of our login is never the warning -> pass only at the real one', async () => {
      bench = await startAuditBench();
      const device = await webDevice(bench, { records: 100, warnAtRecords: 80 });
      try {
        // /capacity/ fits "login failed for user iacs-capacity-0" as well as the device's AUDIT_CAPACITY record.
        const policy = { auditLog: { capacity: { records: 100, warnAtPercent: 80, warning: 'capacity' } } };
        const { attempt } = await bench.run(probe, { services: [device.service], policy, inputs: FAST, baselineFiles: shortWindow(bench.dir) });
        expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
        expect((attempt.observations.warning as { afterEvents: number; text: string }).text).to.contain('AUDIT_CAPACITY');
        expect((attempt.observations.warning as { afterEvents: number }).afterEvents).to.be.within(80, 85);
      } finally {
        await device.close();
      }
    });
  });

  describe('caps', () => {
    it('a profile asking for more than the hard caps is clamped (20 000 events, 200/s) and says so', async () => {
      bench = await startAuditBench();
      const device = await webDevice(bench, { records: 100, warnAtRecords: 80 });
      try {
        const { attempt } = await bench.run(probe, { services: [device.service], policy: SMALL_CAPACITY, inputs: { maxEvents: 50_000, maxRatePerSecond: 1000 }, baselineFiles: shortWindow(bench.dir) });
        expect(attempt.status).to.equal('pass');
        const caps = attempt.observations.caps as { maxEvents: number; maxRatePerSecond: number; clamped: string[] };
        expect(caps).to.deep.include({ maxEvents: 20_000, maxRatePerSecond: 200 });
        expect(caps.clamped).to.deep.equal(['maxEvents 50000 is above the hard cap: 20000 applies', 'maxRatePerSecond 1000 is above the hard cap: 200 applies']);
        // Paced to the cap: ~80 events at 200/s take at least ~0.4 s. Each login waits one interval after the previous
        // one, also after a slow answer (no catch-up burst), so the measured rate stays at the cap (1 ms timer slack).
        expect(attempt.observations.ratePerSecond as number).to.be.at.most(202);
      } finally {
        await device.close();
      }
    });

    it('maxEvents below the limit: stopped there without a warning -> not determined, never fail', async () => {
      bench = await startAuditBench();
      const device = await webDevice(bench, { records: 100, warnAtRecords: 100 });
      try {
        const { attempt } = await bench.run(probe, { services: [device.service], policy: SMALL_CAPACITY, inputs: { maxEvents: 30, maxRatePerSecond: 200 }, baselineFiles: shortWindow(bench.dir) });
        expect(attempt.outcomes).to.deep.equal([]);
        expect(attempt.observations).to.deep.include({ provoked: 30 });
        expect(attempt.observations.notDetermined).to.match(/fewer than the 85 the threshold \+ margin needs from an empty log: maxEvents \(30\) is below it/);
        expect(device.logged()).to.equal(30);
      } finally {
        await device.close();
      }
    });

    it('the rate cap holds: 20 events at 10/s take about 2 s', async () => {
      bench = await startAuditBench();
      const device = await webDevice(bench, { records: 20, warnAtRecords: 100 });
      try {
        const policy = { auditLog: { capacity: { records: 20, warnAtPercent: 95, marginPercent: 5, warning: 'AUDIT_CAPACITY' } } };
        const { attempt } = await bench.run(probe, { services: [device.service], policy, inputs: { maxRatePerSecond: 10 }, baselineFiles: shortWindow(bench.dir) });
        expect(attempt.status).to.equal('fail');
        const times = device.times();
        expect(times).to.have.length(20);
        // The control login, then 19 paced ones: 18 intervals of 100 ms between the 2nd and the last.
        expect(times.at(-1)! - times[1]).to.be.at.least(1700);
      } finally {
        await device.close();
      }
    });
  });

  describe('nothing to judge: not determined with the reason', () => {
    it('no lab collector', async () => {
      const { attempt } = await runProbe(probe, { services: [{ port: 22, protocol: 'ssh' }], policy: EMULATOR_CAPACITY });
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/no lab syslog collector/);
    });

    it('no documented capacity, or no warning pattern', async () => {
      bench = await startAuditBench();
      const none = (await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }] })).attempt;
      expect(none.observations.notDetermined).to.match(/documents no audit storage capacity/);
      const noPattern = (await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }], policy: { auditLog: { capacity: { records: 100, warnAtPercent: 80 } } } })).attempt;
      expect(noPattern.outcomes).to.deep.equal([]);
      expect(noPattern.observations.notDetermined).to.match(/no pattern for the device's warning record/);
    });

    it('a per-source lockout would lock the lab out: nothing is provoked', async () => {
      bench = await startAuditBench();
      const { attempt } = await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }], policy: { ...SMALL_CAPACITY, lockout: { threshold: 5, durationSeconds: 60, scope: 'source' } } });
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/lockout per source address after 5 failures/);
      expect(bench.actions.list()).to.deep.equal([]);
    });
  });

  it('the login interface is closed: error (unreachable), not a verdict', async () => {
    bench = await startAuditBench();
    const closed = await closedPort();
    const { attempt } = await bench.run(probe, { services: [{ port: closed.port, protocol: 'ssh' }], policy: SMALL_CAPACITY });
    await closed.close();
    expect(attempt.status).to.equal('error');
    expect(attempt.reason).to.equal('unreachable');
    expect(attempt.outcomes).to.deep.equal([]);
  });

  it('Ctrl-C during the fill stops it at once: error, no login after the abort', async () => {
    bench = await startAuditBench();
    const device = await webDevice(bench, { records: 1000, warnAtRecords: 100_000 });
    const run = new AbortController();
    try {
      const policy = { auditLog: { capacity: { records: 1000, warnAtPercent: 80, warning: 'AUDIT_CAPACITY' } } };
      setTimeout(() => run.abort(new Error('SIGINT')), 2500);
      const started = Date.now();
      const { attempt } = await bench.run(probe, { services: [device.service], policy, inputs: { maxRatePerSecond: 20 }, runSignal: run.signal, baselineFiles: shortWindow(bench.dir) });
      const stoppedAfter = Date.now() - started;
      expect(attempt.status).to.equal('error');
      expect(stoppedAfter).to.be.below(3500);
      const answered = device.answered();
      await new Promise((r) => setTimeout(r, 300));
      expect(device.answered()).to.equal(answered);
      expect(answered).to.be.below(60);
    } finally {
      await device.close();
    }
  });
});

/**
 * A web UI with HTTP basic authentication that refuses every login, and a log of `records` slots it sends to
 * the lab collector over UDP (RFC 5424, the user named): one record per refused login, and `AUDIT_CAPACITY`
 * once it holds `warnAtRecords`. `silent`: it answers every login and logs nothing; `anonymous`: its records name no user.
 */
async function webDevice(bench: AuditBench, o: { records: number; warnAtRecords?: number; silent?: boolean; anonymous?: boolean }) {
  const udp = dgram.createSocket('udp4');
  const port = bench.lab.services.syslog!.ports.udp!;
  const send = (text: string) => new Promise<void>((resolve, reject) => udp.send(text, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  let stored = 0;
  let answered = 0;
  let warned = false;
  const times: number[] = [];
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      answered += 1;
      times.push(Date.now());
      const user = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0];
      if (!o.silent) {
        stored = Math.min(o.records, stored + 1);
        void send(`<84>1 ${new Date().toISOString()} plc1 webui - AUTH_FAIL - login failed${o.anonymous ? '' : ` for user ${user}`} via http`);
        if (!warned && o.warnAtRecords !== undefined && stored >= o.warnAtRecords) {
          warned = true;
          void send(`<132>1 ${new Date().toISOString()} plc1 audit - AUDIT_CAPACITY - audit storage ${Math.round((stored / o.records) * 100)}% full`);
        }
      }
    }
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="plc"', 'Content-Type': 'text/plain' }).end('unauthorized');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    service: { port: (server.address() as AddressInfo).port, protocol: 'http' as const },
    send,
    logged: () => stored,
    answered: () => answered,
    times: () => times,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      udp.close();
    },
  };
}
