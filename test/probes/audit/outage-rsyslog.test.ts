import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import probe from '../../../probes/audit/outage';
import { startAuditBench, type AuditBench } from '../../helpers/audit-bench';
import { requirePeer } from '../../helpers/peers';
import { findRsyslogd, startRsyslog, type RunningRsyslog } from '../../helpers/rsyslog';
import type { Sshd } from '../../helpers/sshd';
import { PLAIN_SSHD, startSshdWithAccounts } from '../../helpers/sshd-account';

const OPERATOR = { username: 'operator', password: 'Bench-Op3rator-2026' };
/** What rsyslogd 8.2302 logs when its forwarding action cannot deliver (its internal message 2007). */
const ALARM = "action '[^']*omfwd' suspended";

/**
 * An independent device log for CR 2.10: a real OpenSSH sshd writes its auth log to a file, Debian's rsyslogd
 * reads it (imfile) and forwards it over TCP with a LinkedList action queue and endless retries
 * (`action.resumeRetryCount="-1"`, as a careful integrator configures it). While audit.outage holds the lab
 * collector unreachable, the failed logins with unknown users wait in rsyslog's queue and arrive afterwards;
 * rsyslog's own internal messages about its forwarding action serve as the alarm.
 */
describe('audit.outage on Debian rsyslog forwarding a real OpenSSH auth log', function () {
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

  /** sshd logging to a file, rsyslogd forwarding it over TCP (octet counting, RFC 5424) to the bench's collector. */
  async function start(ctx: Mocha.Context, queued: boolean) {
    const binary = requirePeer(ctx, 'rsyslogd', findRsyslogd(), 'Debian packages rsyslog rsyslog-gnutls');
    bench = await startAuditBench({ settleSeconds: 3, outage: { seconds: 4, reconnectSeconds: 15, alarm: ALARM } });
    const logFile = path.join(bench.dir, 'sshd-auth.log');
    fs.writeFileSync(logFile, '');
    sshd = await startSshdWithAccounts(ctx, { ...PLAIN_SSHD, logFile }, [OPERATOR]);
    const forward = { port: bench.lab.services.syslog!.ports.tcp!, protocol: 'tcp' as const, framing: 'octet-counted' as const, template: 'RSYSLOG_SyslogProtocol23Format' as const, queued };
    rsyslog = await startRsyslog(binary, { inputFile: logFile, forwards: [forward], internalMessages: true });
    return bench.run(probe, { services: [{ port: sshd.port, protocol: 'ssh' }] });
  }

  it('TCP with a queued, retrying action: nothing lost; rsyslog reports the action suspended -> pass', async function () {
    const { attempt } = await start(this, true);
    const ownRecords = bench!.lab.services.syslog!.records.map((r) => r.raw.toString('utf8')).filter((t) => !/ sshd /.test(t));
    expect(attempt.status, `${JSON.stringify([attempt.findings, attempt.observations])}\n${ownRecords.join('')}\nrsyslogd: ${rsyslog!.output()}`).to.equal('pass');
    expect(attempt.observations).to.deep.include({ senderTransport: 'tcp', namesUsers: true, provoked: 3, delivered: 3 });
    expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 2.10', verdict: 'pass', coverage: 'partial' });
    expect((attempt.observations.alarm as { text: string }).text).to.match(/action '[^']*omfwd' suspended/);
  });

  it('rsyslog\'s defaults (no action queue, no retries): what is logged during the outage is discarded -> fail events-lost', async function () {
    const { attempt } = await start(this, false);
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.include('audit.outage.events-lost');
    expect(attempt.observations).to.deep.include({ senderTransport: 'tcp', provoked: 3 });
    expect(attempt.observations.delivered).to.be.lessThan(3);
  });
});
