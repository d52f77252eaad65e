import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PostureError, startEmulator, type Emulator } from '../../src/emulator';
import { makeLabPki, type LabPki } from '../../src/protocols/lab';
import { startNtpServer, type NtpServer } from '../../src/protocols/ntp';
import { passwordLogin } from '../../src/protocols/ssh';
import { startSyslogCollector, type SyslogCollector, type SyslogRecord } from '../../src/protocols/syslog';
import { hardenedNtpKey } from '../helpers/audit-bench';
import { postureWith } from '../helpers/postures';

/** The emulator's security log (layer 4): a real ssh2 client logs in, the lab collector and NTP server receive. */
describe('emulator security log to the lab collector', function () {
  this.timeout(30_000);
  let dir: string;
  let pki: LabPki;
  let collector: SyslogCollector;
  let ntp: NtpServer;
  let emulator: Emulator | undefined;
  const SERVED_OFFSET_MS = 30_000;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-emu-audit-'));
    pki = makeLabPki(path.join(dir, 'pki'), { address: '127.0.0.1' });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    collector = await startSyslogCollector({
      address: '127.0.0.1', udpPort: 0, tcpPort: 0, journalFile: path.join(dir, `syslog-${Date.now()}.ndjson`),
      tls: { port: 0, certPem: pki.collector.pem, keyPem: pki.collector.keyPem, caPem: pki.ca.pem },
    });
    ntp = await startNtpServer({ address: '127.0.0.1', port: 0, offsetMs: SERVED_OFFSET_MS, keys: [hardenedNtpKey()], journalFile: path.join(dir, `ntp-${Date.now()}.ndjson`) });
  });
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
    await collector.close();
    await ntp.close();
  });

  const sink = () => ({ address: '127.0.0.1', udpPort: collector.ports.udp, tcpPort: collector.ports.tcp, tlsPort: collector.ports.tls, caPem: pki.ca.pem, ntpPort: ntp.port });
  const login = (user: string, password: string) => passwordLogin(user, password, { host: '127.0.0.1', port: emulator!.endpoint('ssh').port, signal: AbortSignal.timeout(10_000), timeoutMs: 10_000 });
  /** Records until `count` arrived (or 5 s passed): the sender is asynchronous. */
  async function received(count: number): Promise<readonly SyslogRecord[]> {
    await emulator!.audit.flush();
    await collector.waitFor(() => collector.records.length >= count, 5000);
    return collector.records;
  }

  it('hardened: RFC 5424 over TLS with every field, lockout events, time from the lab NTP server', async () => {
    emulator = await startEmulator(postureWith('hardened', ['ssh'], { lockout: { threshold: 2, durationSeconds: 30 } }), { ephemeralPorts: true, auditSink: sink() });
    expect((await login('operator', 'wrong-1')).outcome).to.equal('rejected');
    expect((await login('operator', 'wrong-2')).outcome).to.equal('rejected');
    expect((await login('operator', 'Op3rator!Bench-2026')).outcome).to.equal('rejected'); // locked
    const records = await received(4);
    const ids = records.map((r) => r.message.msgId);
    expect(ids).to.deep.equal(['AUTH_FAIL', 'AUTH_FAIL', 'ACCT_LOCK', 'AUTH_LOCKED']);
    for (const r of records) {
      expect(r).to.include({ transport: 'tls', framing: 'octet-counted', peer: '127.0.0.1' });
      expect(r.message).to.include({ format: '5424', hostname: 'eplc1', appName: 'ssh', facility: 'authpriv' });
      expect(r.message.timestamp).to.include({ hasYear: true, hasZone: true });
      expect(r.message.structuredData[0].params).to.include({ user: 'operator', src: '127.0.0.1', service: 'ssh', category: 'access-control' });
      // The device clock follows the lab NTP server: its timestamps run 30 s ahead of the collector's clock.
      expect(r.message.timestamp!.epochMs! - r.receivedAt).to.be.within(SERVED_OFFSET_MS - 1000, SERVED_OFFSET_MS + 1000);
    }
    expect(records[0].message.message).to.equal('login failed for user operator from 127.0.0.1 via ssh');
    expect(records[2].message.message).to.match(/^account operator locked out \(threshold 2 reached/);
    expect(ntp.requests.length).to.be.greaterThan(0);
    expect(ntp.requests.every((r) => r.requestMac === 'valid' && r.answerMac === 'valid')).to.equal(true);
    expect(emulator.audit.clockOffsetMs()).to.be.within(SERVED_OFFSET_MS - 1000, SERVED_OFFSET_MS + 1000);
  });

  it('hardened: a successful login opens a session and closing it is logged', async () => {
    emulator = await startEmulator(postureWith('hardened', ['ssh']), { ephemeralPorts: true, auditSink: sink() });
    expect((await login('operator', 'Op3rator!Bench-2026')).outcome).to.equal('accepted');
    const records = await received(3);
    expect(records.map((r) => r.message.msgId)).to.deep.equal(['AUTH_OK', 'SESSION_OPEN', 'SESSION_CLOSE']);
    expect(records[0].message.structuredData[0].params).to.include({ result: 'success', user: 'operator' });
  });

  it('weak: RFC 3164 over UDP without year, zone or user; lockout not logged; NTP without a key; web logins not logged', async () => {
    emulator = await startEmulator(postureWith('weak', ['ssh', 'https'], { lockout: { threshold: 2, durationSeconds: 30 } }), { ephemeralPorts: true, auditSink: sink() });
    await login('operator', 'wrong-1');
    await login('operator', 'wrong-2');
    await login('operator', 'operator'); // locked: the device logs nothing about it
    const web = emulator.endpoint('http'); // the weak web UI's cleartext port, same login
    const form = new URLSearchParams({ username: 'admin', password: 'admin' });
    const answer = await fetch(`http://${web.host}:${web.port}/login`, { method: 'POST', body: form, redirect: 'manual', signal: AbortSignal.timeout(5000) });
    expect(answer.status, 'the web login succeeded (and is not logged)').to.equal(303);
    await emulator.audit.flush();
    await new Promise((r) => setTimeout(r, 500)); // UDP: give the last datagram time to arrive
    const records = collector.records;
    expect(records.map((r) => r.message.message)).to.deep.equal(['login failed from 127.0.0.1 via ssh', 'login failed from 127.0.0.1 via ssh']);
    for (const r of records) {
      expect(r).to.include({ transport: 'udp' });
      expect(r.message).to.include({ format: '3164', hostname: 'eplc1', appName: 'ssh' });
      expect(r.message.timestamp).to.include({ hasYear: false, hasZone: false });
    }
    // Its clock follows the lab server without authenticating it (CR 2.11 RE(2) fails: audit.time-integrity).
    expect(ntp.requests.length).to.be.greaterThan(0);
    expect(ntp.requests.every((r) => r.requestMac === 'none')).to.equal(true);
    expect(emulator.audit.clockOffsetMs()).to.be.within(SERVED_OFFSET_MS - 1000, SERVED_OFFSET_MS + 1000);
  });

  it('sends nothing without a sink', async () => {
    emulator = await startEmulator(postureWith('hardened', ['ssh']), { ephemeralPorts: true });
    await login('operator', 'wrong');
    await emulator.audit.flush();
    await new Promise((r) => setTimeout(r, 300));
    expect(collector.records).to.have.length(0);
  });

  it('refuses an audit section with an unknown transport or category', async () => {
    for (const audit of [{ transport: 'carrier-pigeon' }, { categories: ['coffee-break'] }]) {
      let error: unknown;
      await startEmulator(postureWith('hardened', ['ssh'], { audit } as never), { ephemeralPorts: true }).then((e) => e.close(), (err: unknown) => { error = err; });
      expect(error).to.be.instanceOf(PostureError);
    }
  });
});
