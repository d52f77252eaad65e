import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import events from '../../../probes/audit/events';
import identity from '../../../probes/audit/identity';
import timestamps from '../../../probes/audit/timestamps';
import sshDefaults from '../../../probes/ssh/default-credentials';
import sshLockout from '../../../probes/ssh/lockout';
import { startAuditBench, type AuditBench } from '../../helpers/audit-bench';
import { requirePeer } from '../../helpers/peers';
import { findRsyslogd, startRsyslog, type Forward, type RunningRsyslog } from '../../helpers/rsyslog';
import type { Sshd } from '../../helpers/sshd';
import { PLAIN_SSHD, startSshdWithAccounts } from '../../helpers/sshd-account';

const OPERATOR = { username: 'operator', password: 'Bench-Op3rator-2026' };
const ENGINEER = { username: 'engineer', password: 'Bench-Eng1neer-2026' };

/**
 * An independent target: a real OpenSSH sshd writes its auth log to a file (`sshd -E`), Debian's rsyslogd reads
 * it (imfile) and forwards it to the lab collector, while ssh.default-credentials and ssh.lockout provoke the
 * events. The verdicts are what an engineer reading that log concludes: sshd logs every failed and accepted
 * password with the user name (CR 2.8, 2.12 pass); the timestamps are the forwarder's, with year and zone in
 * RFC 5424 and without them in the traditional RFC 3164 format.
 */
describe('audit probes on Debian rsyslog forwarding a real OpenSSH auth log', function () {
  this.timeout(120_000);
  let bench: AuditBench | undefined;
  let sshd: Sshd | undefined;
  let rsyslog: RunningRsyslog | undefined;
  afterEach(async () => {
    await rsyslog?.stop();
    await sshd?.close();
    await bench?.close();
    rsyslog = undefined;
    sshd = undefined;
    bench = undefined;
  });

  /** What the collector received, for a failure's message. */
  function collected(b: AuditBench): string {
    const records = b.lab.services.syslog!.records;
    // Its connections and refused TLS handshakes, from its journal.
    let events: string;
    try {
      events = fs.readFileSync(path.join(b.dir, 'run', b.lab.services.syslog!.journal), 'utf8').split('\n').filter((l) => l && !l.includes('"type":"record"')).slice(-10).join('\n');
    } catch (err) {
      events = String(err);
    }
    return `${events}\n${records.length} record(s)${records.length > 0 ? `, the last at ${new Date(records.at(-1)!.receivedAt).toISOString()}: ${records.at(-1)!.raw.toString('utf8').slice(0, 200)}` : ''}; now ${new Date().toISOString()}`;
  }

  async function provoke(ctx: Mocha.Context, forward: (b: AuditBench) => Forward, tls: boolean) {
    const binary = requirePeer(ctx, 'rsyslogd', findRsyslogd(), 'Debian packages rsyslog rsyslog-gnutls');
    bench = await startAuditBench({ settleSeconds: 4 });
    const logFile = path.join(bench.dir, 'sshd-auth.log');
    fs.writeFileSync(logFile, '');
    rsyslog = await startRsyslog(binary, {
      inputFile: logFile, forwards: [forward(bench)],
      ...(tls ? { tls: { caFile: bench.pki.files.caFile, certFile: bench.pki.files.senderCert, keyFile: bench.pki.files.senderKey, peerName: 'collector.lab' } } : {}),
    });
    // The forwarder must be through to the collector before anything is provoked: the verdicts are about what sshd logs,
    // not about how long rsyslog takes to read its file and open its (TLS) connection on a loaded machine.
    const marker = `iacs-probe forwarding check ${Date.now()}`;
    fs.appendFileSync(logFile, `${marker}\n`);
    const through = await bench.lab.services.syslog!.waitFor((r) => r.raw.toString('utf8').includes(marker), 60_000);
    if (!through) throw new Error(`rsyslogd did not forward its first line within 60 s\nrsyslogd: ${rsyslog.output().slice(-2500)}\ncollector: ${collected(bench)}`);
    sshd = await startSshdWithAccounts(ctx, { ...PLAIN_SSHD, logFile }, [OPERATOR, ENGINEER]);
    const ssh = { port: sshd.port, protocol: 'ssh' as const };
    await bench.run(sshDefaults, { service: ssh, credentials: { ssh: OPERATOR } });
    await bench.run(sshLockout, { service: ssh, credentials: { ssh: OPERATOR, 'lockout.ssh.second': ENGINEER }, inputs: { maxAttempts: 3 } });
    return ssh;
  }

  it('RFC 5424 over TLS (gtls): every failed and accepted password logged with the user, timestamps with year and zone -> CR 2.8, 2.11, 2.12 pass', async function () {
    const ssh = await provoke(this, (b) => ({ port: b.lab.services.syslog!.ports.tls!, protocol: 'tls', framing: 'octet-counted', template: 'RSYSLOG_SyslogProtocol23Format' }), true);
    const ev = (await bench!.run(events, { services: [ssh] })).attempt;
    expect(ev.status, `${JSON.stringify(ev.findings)}\nsshd: ${sshd!.log().slice(-1500)}\nrsyslogd: ${rsyslog!.output().slice(-2500)}\ncollector: ${collected(bench!)}`).to.equal('pass');
    expect(ev.outcomes[0]).to.deep.include({ requirement: 'CR 2.8', verdict: 'pass', coverage: 'full' });
    expect((ev.observations.kinds as { kind: string }[]).map((k) => k.kind)).to.include.members(['login-failed', 'login-succeeded']);
    const id = (await bench!.run(identity, { services: [ssh] })).attempt;
    expect(id.status, JSON.stringify(id.findings)).to.equal('pass');
    const ts = (await bench!.run(timestamps, { services: [ssh] })).attempt;
    expect(ts.status, JSON.stringify(ts.findings)).to.equal('pass');
    expect(ts.outcomes.map((o) => o.requirement)).to.deep.equal(['CR 2.11']);
    expect(bench!.lab.services.syslog!.records.every((r) => r.transport === 'tls')).to.equal(true);
  });

  it('the traditional RFC 3164 forward format over UDP: events and users logged, but no year or zone -> CR 2.11 fails', async function () {
    const ssh = await provoke(this, (b) => ({ port: b.lab.services.syslog!.ports.udp!, protocol: 'udp', template: 'RSYSLOG_TraditionalForwardFormat' }), false);
    const ev = (await bench!.run(events, { services: [ssh] })).attempt;
    expect(ev.status, `${JSON.stringify(ev.findings)}\nrsyslogd: ${rsyslog!.output().slice(-2500)}\ncollector: ${collected(bench!)}`).to.equal('pass');
    const id = (await bench!.run(identity, { services: [ssh] })).attempt;
    expect(id.status, JSON.stringify(id.findings)).to.equal('pass');
    const ts = (await bench!.run(timestamps, { services: [ssh] })).attempt;
    expect(ts.status).to.equal('fail');
    expect(ts.findings.map((f) => f.code)).to.deep.equal(['audit.timestamps.timestamp-without-year', 'audit.timestamps.timestamp-without-zone']);
  });
});
