import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { correlate, fitsInterface, isAmbiguous, summarizeKinds } from '../../src/protocols/audit';
import { parseSyslog } from '../../src/protocols/syslog';
import { startSyslogCollector } from '../../src/protocols/syslog';
import type { ActionRecord } from '../../src/sdk';

/** Device records arrive over a real socket at the collector; the actions are what the login layer would record. */
describe('audit correlation: actions matched to device records', function () {
  this.timeout(10_000);
  it('matches each action to its own record, tells missing kinds, and reads user, latency and clock offset', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-correlate-'));
    const collector = await startSyslogCollector({ address: '127.0.0.1', udpPort: 0, journalFile: path.join(dir, 'raw.ndjson') });
    try {
      // The actions happened before the records arrive (a few ms earlier would tie with a fast loopback).
      const t0 = Date.now() - 50;
      const action = (seq: number, kind: ActionRecord['kind'], account: string): ActionRecord => ({
        seq, at: new Date(t0 + seq).toISOString(), atMs: t0 + seq, kind, probe: 'ssh.lockout', host: '127.0.0.1', port: 22, interface: 'ssh', source: '127.0.0.1', account,
      });
      const actions = [action(1, 'login-failed', 'operator'), action(2, 'login-failed', 'engineer'), action(3, 'lockout-expected', 'operator'), action(4, 'login-succeeded', 'operator')];
      const now = new Date(t0 + 2000).toISOString();
      const lines = [
        `<38>1 ${now} plc1 sshd 7 - - Failed password for engineer from 127.0.0.1`,
        `<38>1 ${now} plc1 sshd 7 - - Failed password for operator from 127.0.0.1`,
        `<38>1 ${now} plc1 sshd 7 - - Accepted password for operator from 127.0.0.1`,
        '<38>Mar 10 11:59:00 plc1 app: unrelated noise',
      ];
      const socket = dgram.createSocket('udp4');
      for (const l of lines) socket.send(l, collector.ports.udp!, '127.0.0.1');
      await collector.waitFor(() => collector.records.length === lines.length, 3000);
      socket.close();
      const matches = correlate(actions, collector.records, { deviceAddresses: ['127.0.0.1'], windowMs: 5000 });
      expect(matches.map((m) => m.record?.message.message.match(/for (\w+)/)?.[1] ?? null)).to.deep.equal(['operator', 'engineer', null, 'operator']);
      expect(matches.every((m) => !m.record || m.userPresent)).to.equal(true);
      expect(matches[0].clockOffsetMs).to.be.within(1000, 2100);
      expect(matches[0].latencyMs).to.be.within(0, 3000);
      expect(summarizeKinds(matches)).to.deep.equal([
        { kind: 'login-failed', provoked: 2, logged: 2, interfaces: ['ssh'] },
        { kind: 'lockout-expected', provoked: 1, logged: 0, interfaces: ['ssh'] },
        { kind: 'login-succeeded', provoked: 1, logged: 1, interfaces: ['ssh'] },
      ]);
      // Records from another address are not the device's.
      expect(correlate(actions, collector.records, { deviceAddresses: ['192.0.2.1'], windowMs: 5000 }).every((m) => !m.record)).to.equal(true);
    } finally {
      await collector.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches a record that names an interface only to actions on that interface, and takes no catch-all record', () => {
    const record = (text: string) => ({ seq: 1, receivedAt: 0, transport: 'udp', peer: '127.0.0.1', peerPort: 1, framing: 'datagram', raw: Buffer.from(text), utf8Valid: true, message: parseSyslog(text, Date.now()) }) as const;
    const sshd = record('<38>1 - plc1 sshd 7 - - Failed password for operator from 127.0.0.1 port 40000 ssh2');
    expect(fitsInterface(sshd, 'ssh')).to.equal(true);
    expect(fitsInterface(sshd, 'https')).to.equal(false);
    const web = record('<38>1 - plc1 webui - - [audit@32473 service="https"] login failed for user operator');
    expect(fitsInterface(web, 'http')).to.equal(true);
    expect(fitsInterface(web, 'opcua')).to.equal(false);
    expect(fitsInterface(record('<38>1 - plc1 auth - - - login failed for operator'), 'mqtt')).to.equal(true);
    expect(isAmbiguous(record('<38>1 - plc1 auth - - - auth event: login failed/succeeded'))).to.equal(true);
    expect(isAmbiguous(sshd)).to.equal(false);
  });
});
