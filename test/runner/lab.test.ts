import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { verifyFolder } from '../../src/evidence/manifest';
import { ProfileError, profileFromObject } from '../../src/profile';
import { LabSetupError } from '../../src/protocols/lab';
import { queryNtp } from '../../src/protocols/ntp';
import { runAssessment } from '../../src/runner/run';
import { defineProbe, type LabServices, type ProbeDefinition } from '../../src/sdk';

/**
 * The runner starts the profile's lab services for the run and hands them to probes as ctx.lab. The test
 * probe plays the device: it sends one syslog datagram to the collector and asks the NTP server for the time.
 */
const seen: { lab?: LabServices; ntpOffsetMs?: number } = {};
const labProbe = defineProbe({
  id: 'fixture.lab', protocol: 'fixture', title: 'reads the lab services', description: 'test only', requirements: ['CR 2.8'],
  findings: {}, safety: 'passive', scope: 'host', appliesTo: [], timeoutMs: 5000,
  async run(ctx) {
    seen.lab = ctx.lab;
    if (ctx.lab?.syslog?.ports.udp) {
      const socket = dgram.createSocket('udp4');
      socket.send('<38>1 - dev sshd - - - Failed password for admin', ctx.lab.syslog.ports.udp, ctx.lab.address);
      await ctx.lab.syslog.waitFor((r) => r.message.appName === 'sshd', 2000, ctx.signal);
      socket.close();
    }
    if (ctx.lab?.ntp) seen.ntpOffsetMs = (await queryNtp(ctx.lab.address, ctx.lab.ntp.port, { timeoutMs: 2000, signal: ctx.signal })).offsetMs;
    ctx.actions.record({ kind: 'login-failed', account: 'admin' });
    return { observations: {}, findings: [], outcomes: [] };
  },
});

describe('runner: lab services of a run (profile lab block)', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-lab-run-'));
    delete seen.lab;
    delete seen.ntpOffsetMs;
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const profile = (lab: Record<string, unknown>, allow: string[] = ['passive', 'active']) => profileFromObject({
    apiVersion: 'iacs-probe/v1', component: { name: 'lab test', types: ['embedded'], slTarget: 2 },
    targets: [{ host: '127.0.0.1', services: [] }], lab, allow,
  }, 'inline', dir);

  it('starts the collector and the NTP server for the run, journals what they received and closes them after the run', async () => {
    const out = path.join(dir, 'run');
    await runAssessment(profile({ address: '127.0.0.1', syslog: { udp: 0, tls: 0 }, ntp: { port: 0, offsetSeconds: 30 } }), { out, probes: [labProbe as ProbeDefinition<unknown>] });
    expect(seen.lab?.syslog?.records.map((r) => r.message.message)).to.deep.equal(['Failed password for admin']);
    // Without intrusive allowed the offset is not applied.
    expect(seen.ntpOffsetMs).to.be.closeTo(0, 50);
    const journal = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const start = journal.find((j) => j.type === 'lab-start')!;
    expect(start).to.deep.include({ address: '127.0.0.1' });
    expect((start.ntp as Record<string, unknown>).offsetNotApplied).to.equal('intrusive probes are not allowed');
    expect(fs.readFileSync(path.join(out, 'lab', 'syslog.ndjson'), 'utf8')).to.include('Failed password for admin');
    expect(fs.readFileSync(path.join(out, 'lab', 'ntp.ndjson'), 'utf8').trim().split('\n')).to.have.length(1);
    // Only the generated CA certificate is in the folder, never a key.
    expect(fs.readdirSync(path.join(out, 'lab')).sort()).to.deep.equal(['lab-ca.crt', 'ntp.ndjson', 'syslog.ndjson']);
    expect(fs.readFileSync(path.join(out, 'actions.ndjson'), 'utf8')).to.include('"kind":"login-failed"');
    expect(verifyFolder(out).ok).to.equal(true);
    // Closed after the run: the UDP port can be bound again.
    const again = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => { again.once('error', reject); again.bind(seen.lab!.syslog!.ports.udp!, '127.0.0.1', resolve); });
    again.close();
  });

  it('serves the profile offset when intrusive probes are allowed', async () => {
    await runAssessment(profile({ address: '127.0.0.1', ntp: { port: 0, offsetSeconds: 30 } }, ['passive', 'active', 'intrusive']), { out: path.join(dir, 'run'), probes: [labProbe as ProbeDefinition<unknown>] });
    expect(seen.ntpOffsetMs).to.be.closeTo(30_000, 50);
  });

  it('refuses a wildcard lab address as a profile error', () => {
    expect(() => profile({ address: '0.0.0.0', syslog: { udp: 0 } })).to.throw(ProfileError, /every interface/);
  });

  it('a port in use stops the run before any probe runs, and leaves no folder', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as net.AddressInfo).port;
    const out = path.join(dir, 'refused');
    try {
      const err = await runAssessment(profile({ address: '127.0.0.1', syslog: { udp: 0, tcp: busy } }), { out, probes: [labProbe as ProbeDefinition<unknown>] }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(LabSetupError);
      expect((err as Error).message).to.match(/the syslog collector \(TCP\) cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
      expect(seen.lab).to.equal(undefined);
      expect(fs.existsSync(out)).to.equal(false);
    } finally {
      blocker.close();
    }
  });
});
