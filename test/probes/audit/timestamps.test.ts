import { expect } from 'chai';
import * as dgram from 'node:dgram';
import probe from '../../../probes/audit/timestamps';
import sshDefaults from '../../../probes/ssh/default-credentials';
import { startEmulator } from '../../../src/emulator';
import { POLICY, WEAK_ADMIN, authPosture } from '../../helpers/auth-devices';
import { startAuditBench, type AuditBench } from '../../helpers/audit-bench';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);
const outcome = (a: { outcomes: readonly { requirement: string }[] }, r: string) => a.outcomes.find((o) => o.requirement === r);

describe('probe audit.timestamps (CR 2.11, RE(1))', function () {
  this.timeout(60_000);
  let bench: AuditBench | undefined;
  afterEach(async () => {
    await bench?.close();
    bench = undefined;
  });

  it('hardened device, lab NTP serving +30 s: RFC 3339 timestamps that follow the lab time source -> CR 2.11 and RE(1) pass', async () => {
    bench = await startAuditBench({ posture: authPosture('hardened', 'ssh'), ntpOffsetSeconds: 30 });
    const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
    await bench.run(sshDefaults, { service: ssh, policy: POLICY });
    const { attempt } = await bench.run(probe, { services: [ssh] });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    expect(outcome(attempt, 'CR 2.11')).to.deep.include({ verdict: 'pass' });
    expect(outcome(attempt, 'CR 2.11 RE(1)')).to.deep.include({ verdict: 'pass' });
    expect(attempt.observations.clockOffsetMs).to.be.within(29_000, 31_000);
    expect(attempt.observations.ntpRequestsFromDevice).to.be.greaterThan(0);
  });

  it('hardened device without an NTP offset served (intrusive not allowed): CR 2.11 pass, RE(1) not determined', async () => {
    bench = await startAuditBench({ posture: authPosture('hardened', 'ssh'), ntpOffsetSeconds: 30, allow: ['passive', 'active'] });
    const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
    await bench.run(sshDefaults, { service: ssh, policy: POLICY });
    const { attempt } = await bench.run(probe, { services: [ssh] });
    expect(attempt.status).to.equal('pass');
    expect(attempt.outcomes.map((o) => o.requirement)).to.deep.equal(['CR 2.11']);
    expect(attempt.observations.re1NotDetermined).to.match(/served no offset/);
  });

  it('weak device: BSD timestamps without year or zone -> CR 2.11 fails with both findings', async () => {
    bench = await startAuditBench({ posture: authPosture('weak', 'ssh'), ntpOffsetSeconds: 30 });
    const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
    await bench.run(sshDefaults, { service: ssh, policy: POLICY, credentials: { ssh: WEAK_ADMIN } });
    const { attempt } = await bench.run(probe, { services: [ssh] });
    expect(attempt.status).to.equal('fail');
    expect(outcome(attempt, 'CR 2.11')).to.deep.include({ verdict: 'fail' });
    expect(codes(attempt)).to.deep.equal(['audit.timestamps.timestamp-without-year', 'audit.timestamps.timestamp-without-zone']);
  });

  it('a device with full timestamps that ignores the lab NTP server -> RE(1) fails (ntp-not-followed)', async () => {
    const posture = authPosture('hardened', 'ssh');
    bench = await startAuditBench({ posture: { ...posture, audit: { ...posture.audit, followNtp: false } }, ntpOffsetSeconds: 30 });
    const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
    await bench.run(sshDefaults, { service: ssh, policy: POLICY });
    const { attempt } = await bench.run(probe, { services: [ssh] });
    expect(attempt.status).to.equal('fail');
    expect(outcome(attempt, 'CR 2.11')).to.deep.include({ verdict: 'pass' });
    expect(outcome(attempt, 'CR 2.11 RE(1)')).to.deep.include({ verdict: 'fail' });
    expect(codes(attempt)).to.deep.equal(['audit.timestamps.ntp-not-followed']);
    expect(attempt.findings[0].message).to.match(/never asked it/);
  });

  it('deceptive peer: zoned timestamps two hours off -> clock-off', async () => {
    bench = await startAuditBench();
    const device = await startEmulator(authPosture('hardened', 'ssh'), { ephemeralPorts: true });
    try {
      const ssh = { port: device.endpoint('ssh').port, protocol: 'ssh' as const };
      await bench.run(sshDefaults, { service: ssh, policy: POLICY });
      const stamp = new Date(Date.now() - 2 * 3600_000).toISOString();
      const socket = dgram.createSocket('udp4');
      const lines = bench.actions.list().map((a) => `<38>1 ${stamp} plc1 sshd - - - Failed password for ${a.account} from 127.0.0.1`);
      for (const l of lines) await new Promise<void>((resolve) => socket.send(l, bench!.lab.services.syslog!.ports.udp!, '127.0.0.1', () => resolve()));
      socket.close();
      await bench.lab.services.syslog!.waitFor(() => bench!.lab.services.syslog!.records.length >= lines.length, 3000);
      const { attempt } = await bench.run(probe, { services: [ssh] });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['audit.timestamps.clock-off']);
    } finally {
      await device.close();
    }
  });

  it('a settle time longer than the attempt budget -> error', async () => {
    bench = await startAuditBench({ settleSeconds: 30 });
    bench.actions.forAttempt({ probe: 'ssh.default-credentials', host: '127.0.0.1', port: 22, interface: 'ssh' }).record({ kind: 'login-failed', account: 'operator' });
    const { attempt } = await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }], timeoutMs: 500 });
    expect(attempt.status).to.equal('error');
  });
});
