import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PostureError, loadPosture, startEmulator } from '../../src/emulator';
import { AuditRecordStore, type StorageFill } from '../../src/emulator/audit-store';
import { isUnsupported, openLoginChannel } from '../../src/protocols/auth';
import { startSyslogCollector, type SyslogCollector } from '../../src/protocols/syslog';

const failed = (user: string) => ({ category: 'login-failed' as const, service: 'ssh', user, source: '127.0.0.1' });

/** The emulated device's log copy and its CR 2.9 RE(1) capacity warning (posture audit.capacityWarningPercent). */
describe('emulator audit storage capacity warning', () => {
  const warningsOf = (percent: number | undefined, max: number, format?: '3164') => {
    const warnings: { fill: StorageFill; line: string }[] = [];
    const store = new AuditRecordStore({ ...(percent !== undefined ? { capacityWarningPercent: percent } : {}), ...(format ? { format } : {}) }, 'eplc1', max, (fill, line) => warnings.push({ fill, line: line(Date.UTC(2026, 0, 2, 3, 4, 5)) }));
    return { store, warnings };
  };

  it('warns once when the store reaches the threshold, not again while it stays full (ring buffer), again after it was cleared', () => {
    const { store, warnings } = warningsOf(80, 10);
    for (let i = 0; i < 7; i++) store.add(failed(`u${i}`), Date.now());
    expect(warnings).to.deep.equal([]);
    store.add(failed('u7'), Date.now());
    expect(warnings.map((w) => w.fill)).to.deep.equal([{ percent: 80, count: 8, max: 10 }]);
    expect(warnings[0].line).to.match(/^<84>1 \S+ eplc1 audit - AUDIT_CAPACITY \[audit@32473 category="audit-trail" event="storage-threshold" percent="80" records="8" capacity="10"\] audit storage 80% full \(8 of 10 records\)$/);
    // The device keeps its own warning in its log too.
    expect(store.list().at(-1)!.object).to.deep.include({ event: 'audit-capacity', message: 'audit storage 80% full (8 of 10 records)' });
    for (let i = 8; i < 30; i++) store.add(failed(`u${i}`), Date.now());
    expect(warnings).to.have.length(1);
    expect(store.list()).to.have.length(10);
    store.clear();
    for (let i = 0; i < 8; i++) store.add(failed(`v${i}`), Date.now());
    expect(warnings).to.have.length(2);
  });

  it('RFC 3164 devices write it as "audit: AUDIT_CAPACITY ..."; without the knob there is no warning at all', () => {
    const bsd = warningsOf(50, 4, '3164');
    for (let i = 0; i < 2; i++) bsd.store.add(failed(`u${i}`), Date.now());
    expect(bsd.warnings[0].line).to.match(/^<84>Jan {2}[12] \d\d:\d\d:05 eplc1 audit: AUDIT_CAPACITY audit storage 50% full \(2 of 4 records\)$/);
    const none = warningsOf(undefined, 4);
    for (let i = 0; i < 20; i++) none.store.add(failed(`u${i}`), Date.now());
    expect(none.warnings).to.deep.equal([]);
  });

  it('the shipped postures: hardened warns at 80 %, weak has no knob; a knob out of range is a posture error', async () => {
    expect(loadPosture('hardened').audit?.capacityWarningPercent).to.equal(80);
    expect(loadPosture('weak').audit?.capacityWarningPercent).to.equal(undefined);
    const posture = { ...loadPosture('hardened'), services: {}, audit: { capacityWarningPercent: 120 } };
    let error: unknown;
    try {
      const e = await startEmulator(posture, { ephemeralPorts: true });
      await e.close();
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(PostureError);
    expect((error as Error).message).to.match(/audit.capacityWarningPercent: a number above 0 and at most 100/);
  });

  describe('sent to the collector', function () {
    this.timeout(30_000);
    let dir: string;
    let collector: SyslogCollector | undefined;
    afterEach(async () => {
      await collector?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('a posture that lists categories still sends the warning (it is about the log, not an access event)', async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-audit-capacity-'));
      collector = await startSyslogCollector({ address: '127.0.0.1', tcpPort: 0, journalFile: path.join(dir, 'syslog.ndjson') });
      const hardened = loadPosture('hardened');
      const posture = { ...hardened, services: { ssh: hardened.services.ssh }, audit: { transport: 'tcp' as const, categories: ['login-failed' as const], capacityWarningPercent: 1, followNtp: false } };
      const e = await startEmulator(posture, { ephemeralPorts: true, auditSink: { address: '127.0.0.1', tcpPort: collector.ports.tcp } });
      try {
        // 1 % of the 1000-record copy: the 10th failed SSH login crosses it.
        const signal = AbortSignal.timeout(20_000);
        const ssh = { host: '127.0.0.1', port: e.endpoint('ssh').port, protocol: 'ssh' as const, transport: 'tcp' as const, name: 'ssh', tls: false, options: {} };
        const channel = await openLoginChannel(ssh, { signal, deadline: Date.now() + 20_000, resolvePath: (f) => f });
        if (isUnsupported(channel)) throw new Error(channel.unsupported);
        for (let i = 0; i < 10; i++) expect((await channel.tryLogin(`iacs-capacity-${i}`, 'not-the-password', signal)).outcome).to.equal('rejected');
        const warning = await collector.waitFor((r) => r.raw.toString().includes('AUDIT_CAPACITY'), 5000);
        expect(warning?.raw.toString()).to.contain('audit storage 1% full (10 of 1000 records)');
      } finally {
        await e.close();
      }
    });
  });
});
