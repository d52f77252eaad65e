import { expect } from 'chai';
import * as dgram from 'node:dgram';
import probe from '../../../probes/audit/events';
import sshDefaults from '../../../probes/ssh/default-credentials';
import sshLockout from '../../../probes/ssh/lockout';
import httpDefaults from '../../../probes/http/default-credentials';
import { startEmulator } from '../../../src/emulator';
import { ENGINEER, OPERATOR, POLICY, WEAK_ADMIN, authPosture } from '../../helpers/auth-devices';
import { startAuditBench, type AuditBench } from '../../helpers/audit-bench';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);
const messages = (a: { findings: { message: string }[] }) => a.findings.map((f) => f.message);

/** Sends each line as one datagram to the bench's UDP collector from `from` (a loopback address). */
async function sendFrom(bench: AuditBench, from: string, lines: readonly string[]): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, from, resolve));
  for (const line of lines) await new Promise<void>((resolve, reject) => socket.send(line, bench.lab.services.syslog!.ports.udp!, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  socket.close();
  await bench.lab.services.syslog!.waitFor(() => bench.lab.services.syslog!.records.length >= lines.length, 3000);
}

describe('probe audit.events (CR 2.8)', function () {
  this.timeout(60_000);
  let bench: AuditBench | undefined;
  afterEach(async () => {
    await bench?.close();
    bench = undefined;
  });

  it('hardened device: every failed login, the lock and the successful login after it are logged -> pass, full', async () => {
    bench = await startAuditBench({ posture: authPosture('hardened', 'ssh') });
    const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
    expect((await bench.run(sshDefaults, { service: ssh, policy: POLICY })).attempt.status).to.equal('pass');
    expect((await bench.run(sshLockout, { service: ssh, policy: POLICY, credentials: { ssh: OPERATOR, 'lockout.ssh.second': ENGINEER } })).attempt.status).to.equal('pass');
    const { attempt } = await bench.run(probe, { services: [ssh] });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    expect(attempt.outcomes).to.deep.equal([{ requirement: 'CR 2.8', verdict: 'pass', coverage: 'full', reason: attempt.outcomes[0].reason }]);
    const kinds = (attempt.observations.kinds as { kind: string; provoked: number; logged: number }[]).map((k) => k.kind);
    expect(kinds).to.include.members(['login-failed', 'lockout-expected', 'login-succeeded']);
    expect(attempt.evidence).to.include('evidence/audit.events/127.0.0.1/correlation.json');
  });

  it('weak device: the web UI\'s logins are never logged -> fail, findings name the kinds and the interface', async () => {
    bench = await startAuditBench({ posture: authPosture('weak', 'https') });
    const http = { port: bench.emulator!.endpoint('http').port, protocol: 'http' as const };
    expect((await bench.run(httpDefaults, { service: http, policy: POLICY, inputs: { lists: ['generic'] } })).attempt.status).to.equal('fail');
    const { attempt } = await bench.run(probe, { services: [http] });
    expect(attempt.status).to.equal('fail');
    expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 2.8', verdict: 'fail' });
    expect(codes(attempt)).to.include('audit.events.category-not-logged');
    expect(messages(attempt).join('\n')).to.match(/login-succeeded via http: none of \d+ provoked event\(s\) was logged/);
  });

  it('weak device, shell logins logged but only one of two declared login interfaces exercised: coverage partial', async () => {
    bench = await startAuditBench({ posture: { ...authPosture('weak', 'ssh'), services: { ssh: authPosture('weak', 'ssh').services.ssh, https: authPosture('weak', 'https').services.https } } });
    const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
    await bench.run(sshDefaults, { service: ssh, policy: POLICY, credentials: { ssh: WEAK_ADMIN } });
    const { attempt } = await bench.run(probe, { services: [ssh, { port: bench.emulator!.endpoint('https').port, protocol: 'https' }] });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    expect(attempt.outcomes[0]).to.deep.include({ verdict: 'pass', coverage: 'partial' });
    expect(attempt.observations.unexercisedInterfaces).to.deep.equal([`https/${bench.emulator!.endpoint('https').port}`]);
  });

  describe('deceptive peers', () => {
    it('a catch-all record for every event ("login failed/succeeded") is no evidence -> fail', async () => {
      bench = await startAuditBench();
      const device = await startEmulator(authPosture('hardened', 'ssh'), { ephemeralPorts: true }); // logs nothing itself
      try {
        const ssh = { port: device.endpoint('ssh').port, protocol: 'ssh' as const };
        await bench.run(sshDefaults, { service: ssh, policy: POLICY });
        const provoked = bench.actions.list().length;
        await sendFrom(bench, '127.0.0.1', Array.from({ length: provoked }, () => '<38>1 - plc1 auth - - - auth event: login failed/succeeded, session opened/closed'));
        const { attempt } = await bench.run(probe, { services: [ssh] });
        expect(attempt.status).to.equal('fail');
        expect(attempt.observations.ambiguousRecords).to.equal(provoked);
        expect(codes(attempt)).to.deep.equal(['audit.events.category-not-logged']);
      } finally {
        await device.close();
      }
    });

    it('well-worded records from another address are not the device\'s -> fail', async () => {
      bench = await startAuditBench();
      const device = await startEmulator(authPosture('hardened', 'ssh'), { ephemeralPorts: true });
      try {
        const ssh = { port: device.endpoint('ssh').port, protocol: 'ssh' as const };
        await bench.run(sshDefaults, { service: ssh, policy: POLICY });
        const lines = bench.actions.list().map((a) => `<38>1 ${new Date().toISOString()} plc1 sshd - - - Failed password for ${a.account} from 127.0.0.1`);
        await sendFrom(bench, '127.0.0.2', lines);
        const { attempt } = await bench.run(probe, { services: [ssh] });
        expect(attempt.status).to.equal('fail');
        expect(attempt.observations).to.include({ otherSourceRecords: lines.length, deviceRecords: 0 });
      } finally {
        await device.close();
      }
    });
  });

  describe('nothing to judge: not determined, never pass', () => {
    it('no lab block', async () => {
      const { attempt } = await runProbe(probe, { services: [{ port: 22, protocol: 'ssh' }] });
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/no lab syslog collector/);
    });

    it('a lab, but no probe provoked anything on the host', async () => {
      bench = await startAuditBench();
      const { attempt } = await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }] });
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/no probe provoked/);
    });
  });

  it('a settle time longer than the attempt budget -> error (timeout), nothing judged', async () => {
    bench = await startAuditBench({ settleSeconds: 30 });
    bench.actions.forAttempt({ probe: 'ssh.default-credentials', host: '127.0.0.1', port: 22, interface: 'ssh' }).record({ kind: 'login-failed', account: 'operator' });
    const { attempt } = await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }], timeoutMs: 500 });
    expect(attempt.status).to.equal('error');
    expect(attempt.outcomes).to.deep.equal([]);
  });
});
