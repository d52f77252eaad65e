import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSyslogCollector, type SyslogCollector, type SyslogRecord } from '../../src/protocols/syslog';
import { makeLabPki, type LabPki } from '../../src/protocols/lab';
import { freePort } from '../helpers/openssl-server';
import { requirePeer } from '../helpers/peers';
import { findRsyslogd, startRsyslog, type RunningRsyslog } from '../helpers/rsyslog';

/**
 * Debian's rsyslogd as the independent sender: records injected into its imudp input come out of its omfwd
 * actions over UDP, TCP (LF and octet counting) and TLS (gtls, mutual), in its RFC 5424 and traditional
 * (RFC 3164) formats; the collector must read each one as rsyslog wrote it.
 */
describe('lab syslog collector with Debian rsyslog as the sender', function () {
  this.timeout(60_000);
  let dir: string;
  let pki: LabPki;
  let collector: SyslogCollector;
  let octetCollector: SyslogCollector | undefined;
  let rsyslog: RunningRsyslog | undefined;
  let inputPort: number;

  before(async function () {
    const binary = requirePeer(this, 'rsyslogd', findRsyslogd(), 'packages rsyslog rsyslog-gnutls');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-rsyslog-peer-'));
    pki = makeLabPki(path.join(dir, 'pki'), { address: '127.0.0.1' });
    collector = await startSyslogCollector({
      address: '127.0.0.1', udpPort: 0, tcpPort: 0, journalFile: path.join(dir, 'raw.ndjson'),
      tls: { port: 0, certPem: pki.collector.pem, keyPem: pki.collector.keyPem, caPem: pki.ca.pem, requireClientCert: true },
    });
    // A second TCP port for the octet-counted stream, so each record's route is known.
    const octet = await startSyslogCollector({ address: '127.0.0.1', tcpPort: 0, journalFile: path.join(dir, 'octet.ndjson') });
    octetCollector = octet;
    inputPort = await freePort();
    rsyslog = await startRsyslog(binary, {
      inputPort,
      tls: { caFile: pki.files.caFile, certFile: pki.files.senderCert, keyFile: pki.files.senderKey, peerName: 'collector.lab' },
      forwards: [
        { protocol: 'udp', port: collector.ports.udp!, template: 'RSYSLOG_SyslogProtocol23Format' },
        { protocol: 'tcp', port: collector.ports.tcp!, framing: 'traditional' },
        { protocol: 'tcp', port: octet.ports.tcp!, framing: 'octet-counted', template: 'RSYSLOG_SyslogProtocol23Format' },
        { protocol: 'tls', port: collector.ports.tls!, framing: 'octet-counted', template: 'RSYSLOG_SyslogProtocol23Format' },
      ],
    });
  });
  after(async () => {
    await rsyslog?.stop();
    await collector?.close();
    await octetCollector?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Sends one record to rsyslog's input and waits until it arrived on `c` over `transport`. */
  async function relay(c: SyslogCollector, transport: SyslogRecord['transport'], record: string, marker: string): Promise<SyslogRecord> {
    const udp = dgram.createSocket('udp4');
    try {
      // UDP input: repeat until it is through (rsyslog may still be opening its forward connections).
      for (let i = 0; i < 20; i++) {
        udp.send(record, inputPort, '127.0.0.1');
        const got = await c.waitFor((r) => r.transport === transport && r.raw.toString().includes(marker), 1000);
        if (got) return got;
      }
    } finally {
      udp.close();
    }
    throw new Error(`rsyslog did not forward ${marker} over ${transport}:\n${rsyslog?.output()}`);
  }

  const sshdFailure = (marker: string) => `<38>Mar 10 11:59:00 plc1 sshd[4242]: Failed password for admin from 10.0.0.9 port 5555 ssh2 ${marker}`;

  it('reads RFC 5424 over UDP (RFC 5426) as rsyslog formats it', async () => {
    const r = await relay(collector, 'udp', sshdFailure('m-udp'), 'm-udp');
    expect(r.framing).to.equal('datagram');
    expect(r.message).to.include({ format: '5424', facility: 'auth', severity: 'info', hostname: 'plc1', appName: 'sshd', procId: '4242' });
    expect(r.message.message.trim()).to.equal('Failed password for admin from 10.0.0.9 port 5555 ssh2 m-udp');
    expect(r.message.timestamp).to.include({ hasYear: true, hasZone: true });
  });

  it('reads the traditional RFC 3164 format over TCP with LF framing', async () => {
    const r = await relay(collector, 'tcp', sshdFailure('m-lf'), 'm-lf');
    expect(r.framing).to.equal('lf');
    expect(r.message).to.include({ format: '3164', hostname: 'plc1', appName: 'sshd', procId: '4242' });
    expect(r.message.timestamp).to.include({ text: 'Mar 10 11:59:00', hasYear: false, yearAssumed: true });
  });

  it('reads RFC 5424 over TCP with octet counting (RFC 6587)', async () => {
    const r = await relay(octetCollector!, 'tcp', sshdFailure('m-octet'), 'm-octet');
    expect(r.framing).to.equal('octet-counted');
    expect(r.message).to.include({ format: '5424', appName: 'sshd', procId: '4242' });
  });

  it('reads RFC 5424 over TLS (RFC 5425, gtls) from a sender with a lab certificate', async () => {
    const r = await relay(collector, 'tls', sshdFailure('m-tls'), 'm-tls');
    expect(r.framing).to.equal('octet-counted');
    expect(r.clientCertificate).to.equal('device.lab');
    expect(r.message).to.include({ format: '5424', hostname: 'plc1', appName: 'sshd' });
  });

  it('journaled every record raw before parsing, in arrival order', () => {
    const journal = fs.readFileSync(path.join(dir, 'raw.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; seq?: number; utf8?: string });
    const records = journal.filter((l) => l.type === 'record');
    expect(records.map((l) => l.seq)).to.deep.equal(collector.records.map((r) => r.seq));
    expect(records.map((l) => l.utf8)).to.deep.equal(collector.records.map((r) => r.raw.toString()));
  });
});
