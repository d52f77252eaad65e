import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startAuditLog, type AuditPosture, type DeviceAuditLog } from '../../src/emulator/audit';
import { makeLabPki, type LabPki } from '../../src/protocols/lab';
import { startSyslogCollector, type SyslogCollector } from '../../src/protocols/syslog';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const failed = (user: string) => ({ category: 'login-failed' as const, service: 'ssh', user, source: '127.0.0.1' });

/** The emulated device's log sender while the lab collector is unreachable (CR 2.10). */
describe('emulator security log during a collector outage', function () {
  this.timeout(30_000);
  let dir: string;
  let pki: LabPki;
  let collector: SyslogCollector | undefined;
  let device: DeviceAuditLog | undefined;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-audit-outage-'));
    pki = makeLabPki(path.join(dir, 'pki'), { address: '127.0.0.1' });
    collector = await startSyslogCollector({
      address: '127.0.0.1', udpPort: 0, tcpPort: 0, journalFile: path.join(dir, 'syslog.ndjson'),
      tls: { port: 0, certPem: pki.collector.pem, keyPem: pki.collector.keyPem, caPem: pki.ca.pem },
    });
  });
  afterEach(async () => {
    await device?.close();
    device = undefined;
    await collector?.close();
    collector = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = (posture: AuditPosture) => {
    const c = collector!;
    device = startAuditLog(posture, { address: '127.0.0.1', udpPort: c.ports.udp, tcpPort: c.ports.tcp, tlsPort: c.ports.tls, caPem: pki.ca.pem }, 'eplc1', () => undefined);
    return device;
  };
  const texts = () => collector!.records.map((r) => r.raw.toString('utf8'));
  const arrived = (user: string, ms: number) => collector!.waitFor((r) => r.raw.toString('utf8').includes(`user ${user} `), ms);

  for (const transport of ['tls', 'tcp'] as const) {
    it(`hardened over ${transport}: records made during the outage wait and arrive after it, behind an AUDIT_FAIL alarm`, async () => {
      const log = start({ transport, alarmOnFailure: true });
      log.event(failed('before'));
      expect(await arrived('before', 5000)).to.not.equal(undefined);
      await collector!.suspend({ maxMs: 20_000 });
      for (const user of ['during-1', 'during-2', 'during-3']) log.event(failed(user));
      await sleep(1500); // the device tries, is refused, and retries
      expect(texts().some((t) => t.includes('during-'))).to.equal(false);
      await collector!.resume();
      await log.flush();
      for (const user of ['during-1', 'during-2', 'during-3']) expect(await arrived(user, 5000), user).to.not.equal(undefined);
      const alarm = collector!.records.find((r) => r.message.msgId === 'AUDIT_FAIL');
      expect(alarm, texts().join('\n')).to.not.equal(undefined);
      expect(alarm!.message.message).to.match(/^audit collector unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ s\): \d+ record\(s\) held and sent now, 0 dropped$/);
      const first = collector!.records.findIndex((r) => r.raw.toString('utf8').includes('user during-1 '));
      expect(alarm!.seq).to.be.lessThan(collector!.records[first].seq);
    });
  }

  it('hardened: a record written into the connection just before the collector destroys it is sent again, not lost', async () => {
    const log = start({ transport: 'tcp' });
    log.event(failed('warm-up'));
    expect(await arrived('warm-up', 5000)).to.not.equal(undefined);
    log.event(failed('in-flight'));
    await log.flush(); // handed to the socket ...
    await collector!.suspend({ maxMs: 20_000 }); // ... which the collector destroys at once
    await sleep(1200);
    const ended = await collector!.resume();
    // Whether or not the collector had read it before the destroy, the device cannot know: it sends it again
    // (at least once), so it also arrives after the outage.
    const again = await collector!.waitFor((r) => r.raw.toString('utf8').includes('user in-flight ') && r.receivedAt >= ended!.endedAt!, 6000);
    expect(again, texts().join('\n')).to.not.equal(undefined);
  });

  it('weak (UDP, no alarm): what is sent during the outage is lost and nothing says so', async () => {
    const log = start({ transport: 'udp', format: '3164', alarmOnFailure: false });
    log.event(failed('before'));
    expect(await collector!.waitFor((r) => r.raw.toString('utf8').includes('before'), 5000)).to.not.equal(undefined);
    await collector!.suspend({ maxMs: 20_000 });
    log.event(failed('during'));
    await log.flush();
    await sleep(300);
    await collector!.resume();
    log.event(failed('after'));
    expect(await collector!.waitFor((r) => r.raw.toString('utf8').includes('after'), 5000)).to.not.equal(undefined);
    await sleep(300);
    expect(texts().some((t) => t.includes('during'))).to.equal(false);
    expect(texts().some((t) => t.includes('AUDIT_FAIL'))).to.equal(false);
  });

  it('alarmOnFailure false on a stream: records still wait, no alarm', async () => {
    const log = start({ transport: 'tcp', alarmOnFailure: false });
    log.event(failed('before'));
    expect(await arrived('before', 5000)).to.not.equal(undefined);
    await collector!.suspend({ maxMs: 20_000 });
    log.event(failed('during'));
    await sleep(1200);
    await collector!.resume();
    expect(await arrived('during', 5000)).to.not.equal(undefined);
    expect(texts().some((t) => t.includes('AUDIT_FAIL'))).to.equal(false);
  });
});
