import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import {
  StreamDeframer, octetCount, parseSyslog, startSyslogCollector, type SyslogCollector,
} from '../../src/protocols/syslog';
import { LabSetupError, makeLabPki, type LabPki } from '../../src/protocols/lab';

const RECEIVED = Date.UTC(2026, 2, 10, 12, 0, 0);

describe('syslog parsing (RFC 5424, RFC 3164 variants)', () => {
  it('reads every RFC 5424 field, structured data with escapes and a BOM', () => {
    const m = parseSyslog('<86>1 2026-03-10T11:59:58.123456+01:00 plc1 sshd 4711 AUTHFAIL [meta x="a\\"b" y="2"][origin ip="10.0.0.1"] \uFEFFFailed password for admin', RECEIVED);
    expect(m.format).to.equal('5424');
    expect(m).to.include({ facility: 'authpriv', severity: 'info', hostname: 'plc1', appName: 'sshd', procId: '4711', msgId: 'AUTHFAIL', message: 'Failed password for admin' });
    expect(m.timestamp).to.include({ hasZone: true, hasYear: true, fractionDigits: 6, epochMs: Date.UTC(2026, 2, 10, 10, 59, 58, 123) });
    expect(m.structuredData).to.deep.equal([{ id: 'meta', params: { x: 'a"b', y: '2' } }, { id: 'origin', params: { ip: '10.0.0.1' } }]);
  });

  it('reads NIL fields of RFC 5424 as absent', () => {
    const m = parseSyslog('<13>1 - - - - - - hello', RECEIVED);
    expect(m).to.include({ format: '5424', hostname: undefined, appName: undefined, message: 'hello' });
    expect(m.timestamp).to.equal(undefined);
  });

  it('reads BSD syslog without a year: the year is inferred and marked as assumed', () => {
    const m = parseSyslog('<38>Mar 10 11:59:00 plc1 sshd[42]: Failed password for admin from 10.0.0.9', RECEIVED);
    expect(m).to.include({ format: '3164', facility: 'auth', severity: 'info', hostname: 'plc1', appName: 'sshd', procId: '42' });
    expect(m.message).to.equal('Failed password for admin from 10.0.0.9');
    expect(m.timestamp).to.include({ hasYear: false, yearAssumed: true, hasZone: false, epochMs: Date.UTC(2026, 2, 10, 11, 59) });
  });

  it('puts a December record read in January into the year before', () => {
    const m = parseSyslog('<38>Dec 31 23:59:59 plc1 app: x', Date.UTC(2027, 0, 1, 0, 0, 5));
    expect(m.timestamp?.epochMs).to.equal(Date.UTC(2026, 11, 31, 23, 59, 59));
  });

  it('reads BSD variants: a year, an RFC 3339 time (rsyslog forward format), no host name, no PRI', () => {
    expect(parseSyslog('<38>Mar 10 2026 11:59:00 plc1 sshd: x', RECEIVED).timestamp).to.include({ hasYear: true, yearAssumed: false });
    const iso = parseSyslog('<38>2026-03-10T11:59:00.5Z plc1 sshd[1]: x', RECEIVED);
    expect(iso).to.include({ format: '3164', hostname: 'plc1', appName: 'sshd' });
    expect(iso.timestamp).to.include({ hasZone: true, epochMs: Date.UTC(2026, 2, 10, 11, 59, 0, 500) });
    const noHost = parseSyslog('<38>Mar  1 01:02:03 login[7]: root login on ttyS0', RECEIVED);
    expect(noHost).to.include({ hostname: undefined, appName: 'login', procId: '7', message: 'root login on ttyS0' });
    const noPri = parseSyslog('Mar 10 11:59:00 plc1 kernel: boot', RECEIVED);
    expect(noPri).to.include({ format: '3164', facility: undefined, hostname: 'plc1', appName: 'kernel' });
  });

  it('keeps what it cannot read as an unknown record with its text', () => {
    expect(parseSyslog('\u0000\u0001garbage', RECEIVED)).to.include({ format: 'unknown', message: '\u0000\u0001garbage' });
    expect(parseSyslog('<999>1 x', RECEIVED).format).to.equal('unknown');
    // A broken SD element is not RFC 5424; the record stays readable as text.
    expect(parseSyslog('<13>1 2026-03-10T11:59:58Z h a p m [x y="unterminated', RECEIVED).format).to.not.equal('5424');
  });
});

describe('syslog stream framing (RFC 6587)', () => {
  it('splits octet-counted and LF frames, also across chunk boundaries', () => {
    const d = new StreamDeframer(1024);
    const bytes = Buffer.concat([octetCount('<13>1 - - - - - - one'), Buffer.from('<13>two\n'), octetCount('<13>three\nwith LF')]);
    const frames = [...bytes].flatMap((b) => d.push(Buffer.from([b])));
    expect(frames.map((f) => [f.framing, f.bytes.toString()])).to.deep.equal([
      ['octet-counted', '<13>1 - - - - - - one'], ['lf', '<13>two'], ['octet-counted', '<13>three\nwith LF'],
    ]);
  });

  it('treats digits without a following space as an LF-framed line (bad framing is not lost)', () => {
    const frames = new StreamDeframer(1024).push(Buffer.from('12abc\n1234567890123 x\n'));
    expect(frames.map((f) => f.bytes.toString())).to.deep.equal(['12abc', '1234567890123 x']);
  });

  it('keeps a 64 KiB line whole and cuts longer frames into bounded pieces without dropping bytes', () => {
    const line = 'x'.repeat(64 * 1024);
    expect(new StreamDeframer(128 * 1024).push(Buffer.from(`${line}\n`))[0].bytes.length).to.equal(64 * 1024);
    const d = new StreamDeframer(1000);
    const frames = [...d.push(Buffer.from(`${'y'.repeat(2500)}\nnext\n`)), ...d.push(octetCount('z'.repeat(1500)))];
    expect(frames.map((f) => f.bytes.length)).to.deep.equal([1000, 1000, 500, 4, 1000, 500]);
    expect(frames[0].problem).to.match(/no frame end within 1000 bytes/);
    expect(frames[1].problem).to.match(/continuation/);
    expect(frames[3].problem).to.equal(undefined);
    expect(frames[4].problem).to.match(/declared length 1500/);
  });

  it('returns an unterminated tail at end of stream, marked', () => {
    const d = new StreamDeframer(100);
    expect(d.push(Buffer.from('40 partial'))).to.deep.equal([]);
    expect(d.end()[0]).to.include({ framing: 'none' }).and.have.property('problem').that.matches(/ended inside a frame/);
  });
});

describe('lab syslog collector', function () {
  this.timeout(20_000);
  let dir: string;
  let pki: LabPki;
  let collector: SyslogCollector | undefined;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-syslog-'));
    pki = makeLabPki(path.join(dir, 'pki'), { address: '127.0.0.1' });
  });
  afterEach(async () => {
    await collector?.close();
    collector = undefined;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const journal = () => fs.readFileSync(path.join(dir, 'raw.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const start = () => startSyslogCollector({
    address: '127.0.0.1', udpPort: 0, tcpPort: 0, journalFile: path.join(dir, 'raw.ndjson'),
    tls: { port: 0, certPem: pki.collector.pem, keyPem: pki.collector.keyPem, caPem: pki.ca.pem, requireClientCert: true },
  });

  it('refuses a wildcard or malformed lab address before binding anything', async () => {
    for (const address of ['0.0.0.0', '::', 'lab.example']) {
      const err = await startSyslogCollector({ address, udpPort: 0, journalFile: path.join(dir, 'x.ndjson') }).catch((e: unknown) => e);
      expect(err, address).to.be.instanceOf(LabSetupError);
    }
  });

  it('says which port is in use, and leaves none of its other listeners open', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as net.AddressInfo).port;
    const udpProbe = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udpProbe.bind(0, '127.0.0.1', resolve));
    const udpPort = udpProbe.address().port;
    udpProbe.close();
    try {
      const err = await startSyslogCollector({ address: '127.0.0.1', udpPort, tcpPort: busy, journalFile: path.join(dir, 'busy.ndjson') }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(LabSetupError);
      expect((err as Error).message).to.equal(`the syslog collector (TCP) cannot listen on 127.0.0.1:${busy}: the port is in use`);
      // The UDP socket it had bound first was closed again: the port can be bound now.
      const again = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => { again.once('error', reject); again.bind(udpPort, '127.0.0.1', resolve); });
      again.close();
    } finally {
      blocker.close();
    }
  });

  it('journals binary, invalid UTF-8, oversized and badly framed input raw and keeps running', async () => {
    collector = await start();
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a]);
    const udp = dgram.createSocket('udp4');
    udp.send(binary, collector.ports.udp!, '127.0.0.1');
    const socket = net.connect(collector.ports.tcp!, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(Buffer.concat([Buffer.from('<13>bad utf8 \xc3\x28 here\n', 'latin1'), Buffer.from('99999999999 not a length\n'), Buffer.from(`${'L'.repeat(200 * 1024)}\n`)]));
    socket.end(Buffer.from('40 <13>1 - - - - - - cut short'));
    await collector.waitFor((r) => r.problem?.includes('ended inside') ?? false, 5000);
    udp.close();
    const records = collector.records;
    const fromUdp = records.find((r) => r.transport === 'udp')!;
    expect(fromUdp.raw.equals(binary)).to.equal(true);
    expect(fromUdp.utf8Valid).to.equal(false);
    const tcp = records.filter((r) => r.transport === 'tcp');
    expect(tcp[0].utf8Valid).to.equal(false);
    expect(tcp[1].raw.toString()).to.equal('99999999999 not a length');
    expect(tcp.slice(2, 4).map((r) => r.raw.length)).to.deep.equal([128 * 1024, 72 * 1024]);
    expect(tcp.at(-1)!.problem).to.match(/ended inside a frame/);
    // The journal holds the raw bytes: base64 where they are not UTF-8.
    const lines = journal().filter((l) => l.type === 'record');
    expect(Buffer.from(lines.find((l) => l.transport === 'udp')!.base64 as string, 'base64').equals(binary)).to.equal(true);
    expect(lines.length).to.equal(records.length);
    // Still listening after all that.
    const after = dgram.createSocket('udp4');
    after.send('<13>still here', collector.ports.udp!, '127.0.0.1');
    expect(await collector.waitFor((r) => r.raw.toString() === '<13>still here', 3000)).to.not.equal(undefined);
    after.close();
  });

  it('takes TLS only with a client certificate from the lab CA when mutual TLS is asked, and journals the refusal', async () => {
    collector = await start();
    const port = collector.ports.tls!;
    const withCert = tls.connect({ host: '127.0.0.1', port, ca: pki.ca.pem, cert: pki.sender.pem, key: pki.sender.keyPem, servername: 'collector.lab' });
    await new Promise((resolve, reject) => { withCert.once('secureConnect', resolve); withCert.once('error', reject); });
    withCert.end(octetCount('<14>1 2026-03-10T11:59:58Z plc1 app - - - over tls'));
    const got = await collector.waitFor((r) => r.transport === 'tls', 5000);
    expect(got?.clientCertificate).to.equal('device.lab');
    expect(got?.message.message).to.equal('over tls');
    const anonymous = tls.connect({ host: '127.0.0.1', port, ca: pki.ca.pem, servername: 'collector.lab' });
    const outcome = await new Promise<string>((resolve) => {
      anonymous.once('error', (e) => resolve(`error ${e.message}`));
      anonymous.once('close', () => resolve('closed'));
      anonymous.once('secureConnect', () => anonymous.write(octetCount('<14>sneaky')));
    });
    expect(outcome).to.match(/error|closed/);
    expect(collector.records.some((r) => r.raw.toString().includes('sneaky'))).to.equal(false);
    await collector.close();
    expect(journal().some((l) => l.type === 'tls-refused')).to.equal(true);
  });

  it('closes every connection when its signal aborts', async () => {
    const controller = new AbortController();
    collector = await startSyslogCollector({ address: '127.0.0.1', tcpPort: 0, journalFile: path.join(dir, 'abort.ndjson'), signal: controller.signal });
    const socket = net.connect(collector.ports.tcp!, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined);
    controller.abort();
    await closed;
    const refused = await new Promise<string>((resolve) => {
      const again = net.connect(collector!.ports.tcp!, '127.0.0.1');
      again.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      again.once('connect', () => { again.destroy(); resolve('connected'); });
    });
    expect(refused).to.equal('ECONNREFUSED');
  });
});
