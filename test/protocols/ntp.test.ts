import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildNtp, parseNtp, queryNtp, readTimestamp, startNtpServer, writeTimestamp, type NtpServer,
} from '../../src/protocols/ntp';
import { LabSetupError } from '../../src/protocols/lab';
import { requirePeer } from '../helpers/peers';
import { chronyVersion, findChronyd, measureWithChrony } from '../helpers/chrony';

describe('lab NTP server (RFC 5905)', function () {
  this.timeout(30_000);
  let dir: string;
  let server: NtpServer | undefined;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-ntp-')); });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes and reads NTP timestamps to the microsecond', () => {
    const buf = Buffer.alloc(8);
    const t = Date.UTC(2026, 2, 10, 12, 0, 0) + 0.123456;
    writeTimestamp(buf, 0, t);
    expect(readTimestamp(buf, 0)).to.be.closeTo(t, 0.001);
    const h = parseNtp(buildNtp({ version: 4, mode: 'server', stratum: 1, poll: 6, precision: -20, refId: 'LAB', referenceMs: t, originMs: t, receiveMs: t, transmitMs: t }))!;
    expect(h).to.include({ version: 4, mode: 'server', stratum: 1, poll: 6, precision: -20, trailerBytes: 0 });
    expect(h.refId.toString('latin1')).to.equal('LAB\0');
  });

  it('serves lab time plus the configured offset, and changes it on demand', async () => {
    server = await startNtpServer({ address: '127.0.0.1', port: 0, offsetMs: 5000, journalFile: path.join(dir, 'ntp.ndjson') });
    const first = await queryNtp('127.0.0.1', server.port, { timeoutMs: 2000 });
    expect(first.offsetMs).to.be.closeTo(5000, 20);
    expect(first.server).to.include({ mode: 'server', stratum: 1, leap: 0 });
    server.offsetMs = -1500;
    expect((await queryNtp('127.0.0.1', server.port, { timeoutMs: 2000 })).offsetMs).to.be.closeTo(-1500, 20);
    expect(server.requests.map((r) => r.servedOffsetMs)).to.deep.equal([5000, -1500]);
    const journal = fs.readFileSync(path.join(dir, 'ntp.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { hex: string; mode: string });
    expect(journal.map((l) => l.mode)).to.deep.equal(['client', 'client']);
    expect(journal[0].hex).to.have.length(96);
  });

  it('journals but does not answer what is no client request (short datagrams, other modes)', async () => {
    server = await startNtpServer({ address: '127.0.0.1', port: 0, journalFile: path.join(dir, 'odd.ndjson') });
    const socket = dgram.createSocket('udp4');
    const answers: Buffer[] = [];
    socket.on('message', (m) => answers.push(m));
    const symmetric = buildNtp({ version: 4, mode: 'symmetric-active', stratum: 2, poll: 6, precision: -20, refId: 'X', referenceMs: 0, originMs: 0, receiveMs: 0, transmitMs: Date.now() });
    socket.send(Buffer.from('short'), server.port, '127.0.0.1');
    socket.send(symmetric, server.port, '127.0.0.1');
    const deadline = Date.now() + 3000;
    while (server.requests.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    socket.close();
    expect(answers).to.have.length(0);
    expect(server.requests.map((r) => r.mode)).to.deep.equal([undefined, 'symmetric-active']);
  });

  it('refuses a wildcard address and a port in use, with a clear error', async () => {
    const err = await startNtpServer({ address: '0.0.0.0', port: 0, journalFile: path.join(dir, 'w.ndjson') }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(LabSetupError);
    server = await startNtpServer({ address: '127.0.0.1', port: 0, journalFile: path.join(dir, 'a.ndjson') });
    const busy = await startNtpServer({ address: '127.0.0.1', port: server.port, journalFile: path.join(dir, 'b.ndjson') }).catch((e: unknown) => e);
    expect((busy as Error).message).to.equal(`the lab NTP server cannot listen on 127.0.0.1:${server.port}: the port is in use`);
  });

  it('stops answering once its signal aborts', async () => {
    const controller = new AbortController();
    server = await startNtpServer({ address: '127.0.0.1', port: 0, journalFile: path.join(dir, 'c.ndjson'), signal: controller.signal });
    controller.abort();
    const err = await queryNtp('127.0.0.1', server.port, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect((err as Error).name).to.match(/TargetTimeout|Error/);
  });

  it('chrony, a real NTP client, measures the offset the server serves', async function () {
    const chronyd = requirePeer(this, 'chronyd', findChronyd(), 'package chrony');
    expect(chronyVersion(chronyd)).to.match(/^\d+\.\d+/);
    for (const offsetMs of [2500, -4000]) {
      server = await startNtpServer({ address: '127.0.0.1', port: 0, offsetMs, journalFile: path.join(dir, `chrony${offsetMs}.ndjson`) });
      const { measurements, output } = await measureWithChrony(chronyd, { host: '127.0.0.1', port: server.port }, (m) => m.length >= 1, 15_000);
      // With -x chrony only simulates the correction: its first sample is the offset we serve.
      expect(measurements.length, output).to.be.greaterThan(0);
      expect(measurements[0].offsetS * 1000).to.be.closeTo(offsetMs, 50);
      expect(measurements[0]).to.include({ source: '127.0.0.1', stratum: 1, refId: '4C414200' });
      expect(server.requests.length).to.be.greaterThan(0);
      await server.close();
      server = undefined;
    }
  });
});
