import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import probe from '../../../probes/audit/monitoring';
import sshDefaults from '../../../probes/ssh/default-credentials';
import { startEmulator } from '../../../src/emulator';
import { OPERATOR, POLICY, WEAK_ADMIN, authPosture } from '../../helpers/auth-devices';
import { startAuditBench, type AuditBench } from '../../helpers/audit-bench';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);

/** The shipped audit baseline with a tighter monitoring bound, so that a batching device is late within a short test. */
function tightBaseline(dir: string, monitoringLatencySeconds: number): string {
  const file = path.join(dir, 'audit-tight.yaml');
  const shipped = fs.readFileSync(path.join(__dirname, '../../../profiles/baselines/audit.yaml'), 'utf8');
  fs.writeFileSync(file, shipped.replace(/monitoringLatencySeconds: \d+/, `monitoringLatencySeconds: ${monitoringLatencySeconds}`));
  return file;
}

describe('probe audit.monitoring (CR 6.2)', function () {
  this.timeout(60_000);
  let bench: AuditBench | undefined;
  afterEach(async () => {
    await bench?.close();
    bench = undefined;
  });

  for (const posture of ['hardened', 'weak'] as const) {
    it(`${posture} device: pushes its login events within a second -> pass, always partial (only access control was provoked)`, async () => {
      bench = await startAuditBench({ posture: authPosture(posture, 'ssh') });
      const ssh = { port: bench.emulator!.endpoint('ssh').port, protocol: 'ssh' as const };
      await bench.run(sshDefaults, { service: ssh, policy: POLICY, credentials: { ssh: posture === 'weak' ? WEAK_ADMIN : OPERATOR } });
      const { attempt } = await bench.run(probe, { services: [ssh] });
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 6.2', verdict: 'pass', coverage: 'partial' });
      expect(attempt.observations.transports).to.deep.equal([posture === 'weak' ? 'udp' : 'tls']);
      expect((attempt.observations.latencyMs as { p95: number }).p95).to.be.below(1000);
      expect(attempt.observations.pushedRecords).to.be.greaterThan(0);
    });
  }

  it('deceptive peer: a device that batches its records and sends them 3 s late -> late, fail', async () => {
    bench = await startAuditBench();
    const device = await startEmulator(authPosture('hardened', 'ssh'), { ephemeralPorts: true });
    try {
      const ssh = { port: device.endpoint('ssh').port, protocol: 'ssh' as const };
      await bench.run(sshDefaults, { service: ssh, policy: POLICY });
      const provoked = bench.actions.list();
      const last = Math.max(...provoked.map((a) => a.atMs));
      await new Promise((resolve) => setTimeout(resolve, last + 3000 - Date.now()));
      const socket = dgram.createSocket('udp4');
      for (const a of provoked) {
        const line = `<38>1 ${new Date().toISOString()} plc1 sshd - AUTH - ${a.kind === 'login-failed' ? 'Failed password' : 'Accepted password'} for ${a.account} from 127.0.0.1`;
        await new Promise<void>((resolve) => socket.send(line, bench!.lab.services.syslog!.ports.udp!, '127.0.0.1', () => resolve()));
      }
      socket.close();
      await bench.lab.services.syslog!.waitFor(() => bench!.lab.services.syslog!.records.length >= provoked.length, 3000);
      const { attempt } = await bench.run(probe, { services: [ssh], baselineFiles: { audit: tightBaseline(bench.dir, 1) } });
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['audit.monitoring.late']);
      expect((attempt.observations.latencyMs as { p95: number }).p95).to.be.at.least(3000);
    } finally {
      await device.close();
    }
  });

  it('events provoked, nothing pushed: not determined, never pass', async () => {
    bench = await startAuditBench();
    bench.actions.forAttempt({ probe: 'ssh.default-credentials', host: '127.0.0.1', port: 22, interface: 'ssh' }).record({ kind: 'login-failed', account: 'operator' });
    const { attempt } = await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }] });
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.notDetermined).to.match(/no provoked event reached the lab collector/);
  });

  it('a settle time longer than the attempt budget -> error', async () => {
    bench = await startAuditBench({ settleSeconds: 30 });
    bench.actions.forAttempt({ probe: 'ssh.default-credentials', host: '127.0.0.1', port: 22, interface: 'ssh' }).record({ kind: 'login-failed', account: 'operator' });
    const { attempt } = await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }], timeoutMs: 500 });
    expect(attempt.status).to.equal('error');
  });

  it('no lab block: not determined', async () => {
    const { attempt } = await runProbe(probe, { services: [{ port: 22, protocol: 'ssh' }] });
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.notDetermined).to.match(/no lab syslog collector/);
  });
});
