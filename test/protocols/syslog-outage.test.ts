import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { startSyslogCollector, type SyslogCollector } from '../../src/protocols/syslog';
import { makeLabPki } from '../../src/protocols/lab';

/** Connects over TCP; resolves with the socket, or with the error code (ECONNREFUSED) when refused. */
function tryConnect(port: number): Promise<net.Socket | string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { socket.destroy(); resolve('timeout'); }, 3000);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(err.code ?? err.message); });
  });
}

const closed = (socket: net.Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

describe('syslog collector outage (suspend / resume, CR 2.10)', function () {
  this.timeout(20_000);
  let dir: string;
  let collector: SyslogCollector | undefined;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-syslog-outage-'));
    const pki = makeLabPki(path.join(dir, 'pki'), { address: '127.0.0.1' });
    collector = await startSyslogCollector({
      address: '127.0.0.1', udpPort: 0, tcpPort: 0, journalFile: path.join(dir, 'syslog.ndjson'),
      tls: { port: 0, certPem: pki.collector.pem, keyPem: pki.collector.keyPem, caPem: pki.ca.pem },
    });
  });
  afterEach(async () => {
    await collector?.close();
    collector = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const journal = () => fs.readFileSync(path.join(dir, 'syslog.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

  it('destroys the stream connections, refuses reconnects on every transport, then listens again on the same ports; journaled', async () => {
    const c = collector!;
    const ports = { ...c.ports };
    const sender = await tryConnect(ports.tcp!);
    expect(sender).to.be.instanceOf(net.Socket);
    const tlsSender = tls.connect({ host: '127.0.0.1', port: ports.tls!, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => { tlsSender.once('secureConnect', resolve); tlsSender.once('error', reject); });
    (sender as net.Socket).write('12 <13>1 - - - before\n');
    await c.waitFor((r) => r.message.message.includes('before'), 3000);

    const outage = await c.suspend({ reason: 'test', maxMs: 10_000 });
    expect(outage).to.deep.include({ transports: ['udp', 'tcp', 'tls'], connectionsDestroyed: 2, reason: 'test' });
    expect(c.outage?.startedAt).to.equal(outage.startedAt);
    await Promise.all([closed(sender as net.Socket), closed(tlsSender)]);
    expect(await tryConnect(ports.tcp!)).to.equal('ECONNREFUSED');
    expect(await tryConnect(ports.tls!)).to.equal('ECONNREFUSED');
    // UDP: nothing listens, so a datagram is not received (and no record appears).
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.send('<13>during outage', ports.udp!, '127.0.0.1', () => resolve()));
    udp.close();

    const ended = await c.resume();
    expect(ended).to.deep.include({ endedBy: 'resume', transports: ['udp', 'tcp', 'tls'] });
    expect(ended!.endedAt! - ended!.startedAt).to.be.at.least(0);
    expect(c.outage).to.equal(undefined);
    expect(c.ports).to.deep.equal(ports);
    const again = await tryConnect(ports.tcp!);
    expect(again).to.be.instanceOf(net.Socket);
    (again as net.Socket).end('<13>1 - - - - - - after\n');
    expect(await c.waitFor((r) => r.message.message === 'after', 3000)).to.not.equal(undefined);
    expect(c.records.map((r) => r.message.message)).to.not.include('during outage');

    const types = journal().map((e) => e.type);
    expect(types).to.include.members(['outage-start', 'outage-end']);
    expect(journal().find((e) => e.type === 'outage-start')).to.deep.include({ connectionsDestroyed: 2, ports, reason: 'test' });
  });

  it('takes down only the transports asked for; UDP keeps receiving', async () => {
    const c = collector!;
    await c.suspend({ transports: ['tcp', 'tls'], maxMs: 10_000 });
    expect(await tryConnect(c.ports.tcp!)).to.equal('ECONNREFUSED');
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.send('<13>1 - - - - - - udp during', c.ports.udp!, '127.0.0.1', () => resolve()));
    udp.close();
    expect(await c.waitFor((r) => r.message.message === 'udp during', 3000)).to.not.equal(undefined);
    await c.resume();
  });

  it('resumes by itself after maxMs; resume() without an outage and close() during one are harmless', async () => {
    const c = collector!;
    expect(await c.resume()).to.equal(undefined);
    await c.suspend({ maxMs: 300 });
    expect(await tryConnect(c.ports.tcp!)).to.equal('ECONNREFUSED');
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(c.outage).to.equal(undefined);
    const socket = await tryConnect(c.ports.tcp!);
    expect(socket).to.be.instanceOf(net.Socket);
    (socket as net.Socket).destroy();
    expect(journal().find((e) => e.type === 'outage-end')).to.deep.include({ endedBy: 'timer' });
    await c.suspend({ maxMs: 10_000 });
    await c.close();
    expect(journal().filter((e) => e.type === 'outage-end').map((e) => e.endedBy)).to.deep.equal(['timer', 'close']);
  });
});
