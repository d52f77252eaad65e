import { expect } from 'chai';
import * as dgram from 'node:dgram';
import probe from '../../../probes/audit/identity';
import sshDefaults from '../../../probes/ssh/default-credentials';
import sshLockout from '../../../probes/ssh/lockout';
import { startEmulator } from '../../../src/emulator';
import { ENGINEER, OPERATOR, POLICY, WEAK_ADMIN, authPosture } from '../../helpers/auth-devices';
import { startAuditBench, type AuditBench } from '../../helpers/audit-bench';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);

describe('probe audit.identity (CR 2.12)', function () {
  this.timeout(60_000);
  let bench: AuditBench | undefined;
  afterEach(async () => {
    await bench?.close();
    bench = undefined;
  });

  it('hardened device: every matched record names the account -> pass', async () => {
    bench = await startAuditBench({ posture: authPosture('hardened', 'ssh') });
    const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
    await bench.run(sshLockout, { service: ssh, policy: POLICY, credentials: { ssh: OPERATOR, 'lockout.ssh.second': ENGINEER } });
    const { attempt } = await bench.run(probe, { services: [ssh] });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 2.12', verdict: 'pass', coverage: 'full' });
    expect(attempt.observations.attributedRecords).to.be.greaterThan(3);
  });

  it('weak device: records without user names -> fail, the finding names the kind and the accounts', async () => {
    bench = await startAuditBench({ posture: authPosture('weak', 'ssh') });
    const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
    await bench.run(sshDefaults, { service: ssh, policy: POLICY, credentials: { ssh: WEAK_ADMIN } });
    const { attempt } = await bench.run(probe, { services: [ssh] });
    expect(attempt.status).to.equal('fail');
    expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 2.12', verdict: 'fail' });
    expect(codes(attempt)).to.include('audit.identity.user-missing');
    expect(attempt.findings.map((f) => f.message).join('\n')).to.match(/login-failed via ssh: \d+ of \d+ record\(s\) do not name the account/);
  });

  it('deceptive peer: a device that logs every event, well worded, but never with the user -> fail', async () => {
    bench = await startAuditBench();
    const device = await startEmulator(authPosture('hardened', 'ssh'), { ephemeralPorts: true });
    try {
      const ssh = { port: device.endpoint('ssh').port, protocol: 'ssh' as const };
      await bench.run(sshDefaults, { service: ssh, policy: POLICY });
      const socket = dgram.createSocket('udp4');
      const lines = bench.actions.list().map((a) => `<38>1 ${new Date().toISOString()} plc1 sshd - AUTH - Failed password from 127.0.0.1 (seq ${a.seq})`);
      for (const l of lines) await new Promise<void>((resolve) => socket.send(l, bench!.lab.services.syslog!.ports.udp!, '127.0.0.1', () => resolve()));
      socket.close();
      await bench.lab.services.syslog!.waitFor(() => bench!.lab.services.syslog!.records.length >= lines.length, 3000);
      const { attempt } = await bench.run(probe, { services: [ssh] });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['audit.identity.user-missing']);
    } finally {
      await device.close();
    }
  });

  it('nothing logged at all: not determined, never pass', async () => {
    bench = await startAuditBench();
    bench.actions.forAttempt({ probe: 'ssh.default-credentials', host: '127.0.0.1', port: 22, interface: 'ssh' }).record({ kind: 'login-failed', account: 'operator' });
    const { attempt } = await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }] });
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.notDetermined).to.match(/nothing to attribute/);
  });

  it('a settle time longer than the attempt budget -> error', async () => {
    bench = await startAuditBench({ settleSeconds: 30 });
    bench.actions.forAttempt({ probe: 'ssh.default-credentials', host: '127.0.0.1', port: 22, interface: 'ssh' }).record({ kind: 'login-failed', account: 'operator' });
    const { attempt } = await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }], timeoutMs: 500 });
    expect(attempt.status).to.equal('error');
  });
});
