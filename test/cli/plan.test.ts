import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { pointExampleAt, type ExampleProfile } from '../../src/cli/demo';
import { main } from '../../src/cli/main';
import { startEmulator } from '../../src/emulator';
import { packagePath } from '../../src/paths';
import { profileFromObject } from '../../src/profile';
import type { Report } from '../../src/report/model';
import { runAssessment } from '../../src/runner/run';
import { describePlan, type TestPlan } from '../../src/runner/test-plan';
import { makeReport } from '../helpers/report-factory';
import { expectValidReport } from '../helpers/report-schema';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const text = { out: '', err: '' };
  const sink = (key: 'out' | 'err') => new Writable({ write(chunk, _enc, done) { text[key] += String(chunk); done(); } });
  const code = await main(args, { out: sink('out'), err: sink('err') });
  return { code, ...text };
}

/** A TCP listener and a UDP socket on loopback that count what reaches them. */
async function listeners() {
  const seen = { tcp: 0, udp: 0 };
  const server = net.createServer((s) => { seen.tcp += 1; s.destroy(); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const udp = dgram.createSocket('udp4');
  udp.on('message', () => { seen.udp += 1; });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  return {
    seen, tcpPort: (server.address() as net.AddressInfo).port, udpPort: udp.address().port,
    close: async () => { udp.close(); await new Promise<void>((resolve) => server.close(() => resolve())); },
  };
}

const key = (a: { probe: string; target: string }) => `${a.probe}@${a.target}`;

describe('iacs-probe plan', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-plan-'));
    process.env.IACS_PLAN_TEST_PASSWORD = 'plan-test-password';
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    delete process.env.IACS_PLAN_TEST_PASSWORD;
  });

  function writeProfile(name: string, tcpPort: number, udpPort: number, policy: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `apiVersion: iacs-probe/v1
component: { name: Plan bench, vendor: Example, model: EPLC-1, types: [embedded], slTarget: 2 }
targets:
  - host: 127.0.0.1
    services:
      - { port: ${tcpPort}, protocol: ssh }
      - { port: ${udpPort}, protocol: snmp }
credentials:
  ssh: { username: operator, password: { env: IACS_PLAN_TEST_PASSWORD } }
  lockout.ssh: { username: locktest, password: { env: IACS_PLAN_TEST_PASSWORD } }
${policy}allow: [passive, active]
`);
    return file;
  }

  it('lists the run\'s attempts per service with safety classes, the logins per account and the duration, and sends nothing', async () => {
    const l = await listeners();
    try {
      const file = writeProfile('bench.yaml', l.tcpPort, l.udpPort, 'policy:\n  lockout: { threshold: 5, durationSeconds: 60 }\n');
      const r = await cli(['plan', file, '--allow', 'intrusive', '--json']);
      expect(r.code, r.err).to.equal(0);
      const plan = JSON.parse(r.out) as TestPlan;
      const ssh = `127.0.0.1:${l.tcpPort}`;
      const planned = new Map(plan.attempts.map((a) => [key(a), a]));
      expect(planned.get(`ssh.algorithms@${ssh}`)).to.include({ safety: 'passive', service: 'ssh' });
      expect(planned.get(`ssh.lockout@${ssh}`)).to.include({ safety: 'intrusive', timeoutMs: 240_000 });
      expect(planned.get('ports.tcp@127.0.0.1')).to.include({ service: 'host' });
      expect(plan.skipped.find((s) => key(s) === `ssh.fuzz@${ssh}`)).to.include({ safety: 'destructive', reason: 'not-allowed' });
      expect(plan.services.find((s) => s.target === ssh)!.attempts.map((a) => a.probe)).to.include.members(['ssh.algorithms', 'ssh.auth', 'ssh.lockout']);

      const locktest = plan.logins.find((a) => a.account === 'locktest')!;
      expect(locktest).to.deep.include({ host: '127.0.0.1', expectation: 'locks-on-purpose' });
      expect(locktest.threshold).to.include({ value: 5, source: 'profile' });
      // maxAttempts defaults to threshold + 2 = 7 rounds of 1..7 wrong passwords.
      expect(locktest.attempts[0]).to.include({ probe: 'ssh.lockout', failuresMax: 28, consecutiveFailuresMax: 7 });
      const root = plan.logins.find((a) => a.account === 'root')!;
      expect(root.expectation).to.equal('below');
      expect(root.consecutiveFailuresMax).to.equal(4);
      expect(root.attempts.map((a) => a.probe)).to.deep.equal(['ssh.default-credentials']);
      const operator = plan.logins.find((a) => a.account === 'operator')!;
      expect(operator.attempts.map((a) => a.probe)).to.include('ssh.feedback');
      expect(operator.expectation).to.equal('below');

      const budgets = plan.attempts.reduce((sum, a) => sum + a.timeoutMs, 0);
      expect(plan.duration).to.deep.include({ serialUpperBoundMs: budgets, serialExpectedMs: budgets, basis: { earlierRuns: 0, timeouts: plan.attempts.length } });

      const text = await cli(['plan', file]);
      expect(text.code).to.equal(0);
      expect(text.out).to.contain('Nothing has been sent to the device');
      expect(text.out).to.match(/ssh\.algorithms +passive +budget 30 s/);
      expect(text.out).to.match(/ssh\.lockout @ 127\.0\.0\.1:\d+ \(intrusive\): not-allowed/); // without --allow intrusive
      expect(text.out).to.match(/root@127\.0\.0\.1: at most 4 in a row.*threshold 5 \(profile\): stays below the threshold/);
      expect(text.out).to.contain('from the time budgets only (no earlier run given: --from)');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(l.seen).to.deep.equal({ tcp: 0, udp: 0 });
    } finally {
      await l.close();
    }
  });

  it('says when the lockout threshold is assumed; --from takes typical durations from an earlier run', async () => {
    const l = await listeners();
    try {
      const file = writeProfile('undocumented.yaml', l.tcpPort, l.udpPort, '');
      const earlier = path.join(dir, 'earlier-run');
      fs.mkdirSync(earlier);
      const report: Report = makeReport({ hostile: false }); // ports.tcp took 2500 ms there
      fs.writeFileSync(path.join(earlier, 'report.json'), JSON.stringify(report));
      const r = await cli(['plan', file, '--from', earlier, '--json']);
      expect(r.code, r.err).to.equal(0);
      const plan = JSON.parse(r.out) as TestPlan;
      expect(plan.logins.find((a) => a.account === 'root')!.threshold).to.include({ value: 3, source: 'assumed' });
      expect(plan.logins.find((a) => a.account === 'root')!.consecutiveFailuresMax).to.equal(2);
      expect(plan.attempts.find((a) => a.probe === 'ports.tcp')!.typicalMs).to.equal(2500);
      expect(plan.duration.basis.earlierRuns).to.be.greaterThan(0);
      expect(plan.duration.serialExpectedMs).to.be.lessThan(plan.duration.serialUpperBoundMs);
      expect(plan.duration.earlierRuns).to.deep.equal([report.run.id]);
      const text = await cli(['plan', file, '--from', earlier]);
      expect(text.out).to.contain('threshold 3 assumed (the profile documents none)');
      expect(text.out).to.match(/typical durations from 1 earlier run\(s\) for \d+ attempt\(s\)/);
      expect(l.seen).to.deep.equal({ tcp: 0, udp: 0 });
    } finally {
      await l.close();
    }
  });

  it('sets each load probe\'s bound against robustness.maxTotal and says plainly when the load would be cut off', async () => {
    const write = (name: string, robustness: string) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, `apiVersion: iacs-probe/v1
component: { name: Load bench, types: [embedded], slTarget: 2 }
targets:
  - host: 127.0.0.1
    services:
      - { port: 1502, protocol: modbus }
      - { port: 1161, protocol: snmp }
      - { port: 1069, protocol: tftp }
${robustness}allow: [passive, active, destructive]
`);
      return file;
    };
    const only = ['--only', 'robustness.network-storm', '--only', 'robustness.app-flood', '--allow', 'destructive'];
    // Defaults: steps 100 + 1000 + 10 000 /s for 5 s = 55 500 per stepped load. Storms: syn, udp ×2, udp-closed, icmp, arp.
    const fits = await cli(['plan', write('load-fits.yaml', ''), ...only, '--json']);
    expect(fits.code, fits.err).to.equal(0);
    const loads = (JSON.parse(fits.out) as TestPlan).loads;
    expect(loads.map((l) => [l.probe, l.target, l.unit, l.total, l.budget, l.fits])).to.deep.equal([
      ['robustness.app-flood', '127.0.0.1:1502', 'requests', 55_500, 500_000, true],
      ['robustness.app-flood', '127.0.0.1:1161', 'requests', 55_500, 500_000, true],
      ['robustness.network-storm', '127.0.0.1', 'packets', 6 * 55_500, 500_000, true],
    ]);
    const cut = await cli(['plan', write('load-cut.yaml', 'robustness: { maxTotal: 300000, maxRate: 5000 }\n'), ...only]);
    expect(cut.code, cut.err).to.equal(0);
    // maxRate 5000 lowers the top step: 100 + 1000 + 5000 /s for 5 s = 30 500 per stepped load.
    expect(cut.out).to.include('robustness.network-storm@127.0.0.1: at most 183,000 packets; budget 300,000: fits');
    const over = await cli(['plan', write('load-over.yaml', 'robustness: { maxTotal: 100000 }\n'), ...only]);
    expect(over.out).to.match(/robustness\.network-storm@127\.0\.0\.1: at most 333,000 packets; budget 100,000: EXCEEDS IT: .*CR 7\.1 cannot pass/);
    expect(over.out).to.include('6 stepped storm(s) (syn, udp ×2, udp-closed, icmp, arp), each 100 + 1000 + 10000 packets/s for 5 s per step');

    // run says it before anything is sent, and journals it (without a monitor the storm then sends nothing).
    const out = path.join(dir, 'load-over-run');
    const run = await cli(['run', path.join(dir, 'load-over.yaml'), '--only', 'robustness.network-storm', '--allow', 'destructive', '--no-pdf', '--out', out]);
    expect(run.err).to.include('robustness.network-storm@127.0.0.1 may send up to 333000 packets, more than robustness.maxTotal 100000');
    const journal = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; total?: number });
    expect(journal.filter((r) => r.type === 'load-over-budget').map((r) => r.total)).to.deep.equal([333_000]);
    const fitting = await cli(['run', path.join(dir, 'load-fits.yaml'), '--only', 'robustness.network-storm', '--allow', 'destructive', '--no-pdf', '--out', path.join(dir, 'load-fits-run')]);
    expect(fitting.err).not.to.include('may send up to');
  });

  it('agrees with what the run then did: the weak emulator with the example profile', async () => {
    const emulator = await startEmulator('weak', { ephemeralPorts: true });
    try {
      const exampleFile = packagePath('profiles', 'examples', 'weak.yaml');
      const example = parseYaml(fs.readFileSync(exampleFile, 'utf8')) as ExampleProfile;
      delete example.lab; // the lab's collectors start on fixed ports; none of the selected probes uses them
      pointExampleAt(example, emulator, 'the weak emulator runs no %s service');
      const profile = profileFromObject(example, 'weak.yaml (emulator ports)', path.dirname(exampleFile));
      const options = {
        only: ['ssh', 'modbus', 'cleartext', 'ports.tcp'],
        probeInputs: { 'ports.tcp': { scanner: 'connect', ports: emulator.services.map((s) => s.port).join(',') } },
      };
      const plan = await describePlan(profile, options);
      const { report } = await runAssessment(profile, { ...options, out: path.join(dir, 'weak-run') });

      expectValidReport(JSON.parse(JSON.stringify(report))); // with gaps[].readiness, as every run writes it
      expect(report.gaps.every((g) => g.readiness !== undefined)).to.equal(true);
      const plannedKeys = [...plan.attempts, ...plan.skipped].map(key).sort();
      expect(plannedKeys).to.deep.equal(report.attempts.map(key).sort());
      expect(plan.skipped.map(key).sort()).to.deep.equal(report.attempts.filter((a) => a.status === 'skipped').map(key).sort());
      for (const a of plan.attempts) {
        const done = report.attempts.find((x) => key(x) === key(a))!;
        expect(done.safety, key(a)).to.equal(a.safety);
        expect(done.durationMs, key(a)).to.be.at.most(a.timeoutMs + 5000);
      }
      // The run's failed logins stay within what the plan declared for each account.
      const creds = report.attempts.find((a) => a.probe === 'ssh.default-credentials')!;
      const file = creds.evidence.find((e) => e.endsWith('default-credentials.json'))!;
      const tried = (JSON.parse(fs.readFileSync(path.join(dir, 'weak-run', file), 'utf8')) as { attempts: { username: string; tried: boolean; outcome?: string }[] }).attempts;
      const rejectedBy = new Map<string, number>();
      for (const t of tried.filter((x) => x.tried && x.outcome === 'rejected')) rejectedBy.set(t.username, (rejectedBy.get(t.username) ?? 0) + 1);
      expect(rejectedBy.size).to.be.greaterThan(0);
      for (const [account, n] of rejectedBy) {
        const declared = plan.logins.find((x) => x.account === account)!.attempts.find((x) => x.probe === 'ssh.default-credentials')!;
        expect(n, account).to.be.at.most(declared.failuresMax);
      }
    } finally {
      await emulator.close();
    }
  });
});
