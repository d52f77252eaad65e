import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { auditSinkOption } from '../../src/cli/emulate';
import { UsageError } from '../../src/cli/common';
import { makeLabPki } from '../../src/protocols/lab';
import type { Attempt } from '../../src/report/model';
import { cli, startCli } from '../helpers/cli';
import { freePort } from '../helpers/sshd';

/*
 * `iacs-probe emulate --log-host ...` configures the emulated device's syslog and NTP as a lab engineer configures a
 * real device's (the Docker kit's emulators use it): a run with a matching lab: block then judges the device's log.
 * Weak posture: RFC 3164 over UDP; hardened: RFC 5424 over TLS, trusting the lab CA given with --syslog-ca, and the
 * clock from the lab NTP server with its key.
 */

async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  socket.close();
  return port;
}

describe('emulate --log-host: the device logs to the lab services of a run', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-emulate-lab-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function assess(posture: 'weak' | 'hardened'): Promise<Attempt[]> {
    const bench = path.join(dir, posture);
    const pki = makeLabPki(path.join(bench, 'pki'), { address: '127.0.0.1' });
    const ports = { udp: await freeUdpPort(), tcp: await freePort(), tls: await freePort(), ntp: await freeUdpPort() };
    const emulator = startCli(['emulate', '--posture', posture, '--ephemeral', '--log-host', '127.0.0.1', '--syslog-udp', String(ports.udp),
      '--syslog-tcp', String(ports.tcp), '--syslog-tls', String(ports.tls), '--syslog-ca', pki.files.caFile, '--ntp', String(ports.ntp)]);
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no services line within 60 s: ${out}`)), 60_000);
        emulator.child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) {
            clearTimeout(timer);
            resolve(out.slice(0, out.indexOf('\n')));
          }
        });
      });
      const ssh = (JSON.parse(line) as { services: { protocol: string; port: number }[] }).services.find((s) => s.protocol === 'ssh')!.port;
      const account = posture === 'weak' ? 'admin' : 'operator';
      const password = posture === 'weak' ? 'admin' : 'Op3rator!Bench-2026';
      const profile = path.join(bench, 'profile.yaml');
      fs.writeFileSync(profile, [
        'apiVersion: iacs-probe/v1',
        `component: { name: emulate lab ${posture}, vendor: Example Automation, model: EPLC-1, firmware: 1.0.0, types: [embedded], slTarget: 2 }`,
        `targets: [{ host: 127.0.0.1, services: [{ port: ${ssh}, protocol: ssh }] }]`,
        `credentials: { ssh: { username: ${account}, password: { env: IACS_EMULATE_LAB_PASSWORD } } }`,
        `policy: { lockout: { threshold: ${posture === 'weak' ? 5 : 3}, durationSeconds: 30, scope: user } }`,
        'lab:',
        '  address: 127.0.0.1',
        `  syslog: { udp: ${ports.udp}, tcp: ${ports.tcp}, tls: ${ports.tls} }`,
        `  ntp: { port: ${ports.ntp}, offsetSeconds: 30, keys: [{ id: 1, type: SHA1, secret: { env: IACS_EMULATE_LAB_NTP_KEY } }] }`,
        '  tls: { ca: pki/lab-ca.crt, cert: pki/collector.crt, key: pki/collector.key }',
        '  settleSeconds: 2',
        '',
      ].join('\n'));
      const out = path.join(bench, 'run');
      const r = await cli(['run', profile, '--only', 'ssh.default-credentials', '--only', 'audit.events', '--only', 'audit.timestamps', '--no-pdf', '--out', out],
        { IACS_EMULATE_LAB_PASSWORD: password, IACS_EMULATE_LAB_NTP_KEY: 'HEX:6c61622d6e74702d6b65792d312d62656e636832' });
      expect(r.code, r.stderr).to.be.oneOf([0, 1]);
      return (JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { attempts: Attempt[] }).attempts;
    } finally {
      const gone = new Promise((resolve) => emulator.child.once('exit', resolve));
      emulator.child.kill('SIGTERM');
      await gone;
    }
  }

  const byProbe = (attempts: Attempt[], probe: string) => attempts.find((a) => a.probe === probe)!;

  it('weak (RFC 3164 over UDP, no year or zone): the log is judged, and its timestamps fail', async () => {
    const attempts = await assess('weak');
    expect(byProbe(attempts, 'audit.events').status).to.be.oneOf(['pass', 'fail']);
    const timestamps = byProbe(attempts, 'audit.timestamps');
    expect(timestamps.status).to.equal('fail');
    expect(timestamps.findings.map((f) => f.code)).to.include('audit.timestamps.timestamp-without-year');
  });

  it('hardened (RFC 5424 over TLS to the lab CA\'s collector, NTP with its key): the events are logged and the timestamps pass', async () => {
    const attempts = await assess('hardened');
    expect(byProbe(attempts, 'audit.events').status, JSON.stringify(byProbe(attempts, 'audit.events'))).to.equal('pass');
    expect(byProbe(attempts, 'audit.timestamps').status, JSON.stringify(byProbe(attempts, 'audit.timestamps').findings)).to.equal('pass');
  });

  it('refuses options that cannot configure a device: exit 3 with the reason', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'syslog-udp': '514' }, /--syslog-udp needs --log-host/],
      [{ 'log-host': '127.0.0.1' }, /at least one of/],
      [{ 'log-host': '127.0.0.1', 'syslog-tcp': '70000' }, /not a port/],
      [{ 'log-host': '127.0.0.1', 'syslog-tls': '6514' }, /--syslog-tls needs --syslog-ca/],
      [{ 'log-host': '127.0.0.1', 'syslog-tls': '6514', 'syslog-ca': path.join(dir, 'none.pem') }, /--syslog-ca: .*not found/],
    ];
    const fifo = path.join(dir, 'ca.fifo');
    execFileSync('mkfifo', [fifo]);
    cases.push([{ 'log-host': '127.0.0.1', 'syslog-tls': '6514', 'syslog-ca': fifo }, /--syslog-ca: .*FIFO/]);
    for (const [values, message] of cases) expect(() => auditSinkOption(values)).to.throw(UsageError, message);
    const r = await cli(['emulate', '--syslog-udp', '514']);
    expect(r.code).to.equal(3);
    expect(r.stderr).to.match(/--syslog-udp needs --log-host/);
  });
});
