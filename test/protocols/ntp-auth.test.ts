import { expect } from 'chai';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  aesCmac, appendMac, buildNtp, checkMac, ntpKeyMaterial, queryNtp, startNtpServer, type NtpKey, type NtpServer,
} from '../../src/protocols/ntp';
import { requirePeer } from '../helpers/peers';
import { findChronyd, measureWithChrony, type ChronyKey } from '../helpers/chrony';

const SHA1_TEXT = 'HEX:00112233445566778899aabbccddeeff00112233';
const CMAC_TEXT = 'HEX:2b7e151628aed2a6abf7158809cf4f3c';
const SHA1_KEY: NtpKey = { id: 1, type: 'SHA1', secret: ntpKeyMaterial(SHA1_TEXT) };
const CMAC_KEY: NtpKey = { id: 2, type: 'AES128CMAC', secret: ntpKeyMaterial(CMAC_TEXT) };
const MD5_KEY: NtpKey = { id: 3, type: 'MD5', secret: ntpKeyMaterial('lab-md5-key') };

const request = () => buildNtp({ version: 4, mode: 'client', stratum: 0, poll: 4, precision: -20, refId: Buffer.alloc(4), referenceMs: 0, originMs: 0, receiveMs: 0, transmitMs: Date.now() });

describe('lab NTP server: symmetric-key authentication (RFC 5905 MAC, RFC 8573 AES-CMAC)', function () {
  this.timeout(60_000);
  let dir: string;
  let server: NtpServer | undefined;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-ntp-auth-')); });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('computes AES-128-CMAC as RFC 4493 §4 gives it (empty, 16 and 40 bytes)', () => {
    const key = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');
    const m = Buffer.from('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411', 'hex');
    expect(aesCmac(key, Buffer.alloc(0)).toString('hex')).to.equal('bb1d6929e95937287fa37d129b756746');
    expect(aesCmac(key, m.subarray(0, 16)).toString('hex')).to.equal('070a16b46b4d4144f79bdd9dd04a287c');
    expect(aesCmac(key, m).toString('hex')).to.equal('dfa66747de9ae63030ca32611497c827');
  });

  it('appends and checks MACs: valid, invalid, unknown key, none, crypto-NAK', () => {
    for (const key of [SHA1_KEY, CMAC_KEY, MD5_KEY]) {
      const signed = appendMac(request(), key);
      expect(signed.length).to.equal(48 + 4 + (key.type === 'SHA1' ? 20 : 16));
      expect(checkMac(signed, [SHA1_KEY, CMAC_KEY, MD5_KEY])).to.include({ status: 'valid', keyId: key.id });
      signed[signed.length - 1] ^= 1;
      expect(checkMac(signed, [key]).status).to.equal('invalid');
      expect(checkMac(signed, []).status).to.equal('unknown-key');
    }
    expect(checkMac(request(), [SHA1_KEY]).status).to.equal('none');
    expect(checkMac(Buffer.concat([request(), Buffer.alloc(4)]), [SHA1_KEY]).status).to.equal('crypto-nak');
  });

  it('answers a signed request with a MAC of its key, a plain one without, a bad MAC not at all; journals each', async () => {
    const journalFile = path.join(dir, 'auto.ndjson');
    server = await startNtpServer({ address: '127.0.0.1', port: 0, offsetMs: 2000, keys: [SHA1_KEY, CMAC_KEY], journalFile });
    for (const key of [SHA1_KEY, CMAC_KEY]) {
      const sample = await queryNtp('127.0.0.1', server.port, { timeoutMs: 2000, key });
      expect(sample.mac).to.equal('valid');
      expect(sample.offsetMs).to.be.closeTo(2000, 20);
    }
    expect((await queryNtp('127.0.0.1', server.port, { timeoutMs: 2000 })).mac).to.equal('none');
    const unknown: NtpKey = { ...SHA1_KEY, secret: Buffer.from('not the lab key') };
    const err = await queryNtp('127.0.0.1', server.port, { timeoutMs: 500, key: unknown }).catch((e: unknown) => e);
    expect((err as Error).name).to.equal('TargetTimeout');
    expect(server.requests.map((r) => [r.requestMac, r.answerMac])).to.deep.equal([
      ['valid', 'valid'], ['valid', 'valid'], ['none', 'none'], ['invalid', undefined],
    ]);
    const lines = fs.readFileSync(journalFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.answerMac ?? null)).to.deep.equal(['valid', 'valid', 'none', null]);
    const text = fs.readFileSync(journalFile, 'utf8');
    expect(text).not.to.include(SHA1_KEY.secret.toString('hex'));
    expect(text).not.to.include(CMAC_KEY.secret.toString('hex'));
  });

  it('test modes: serves a shifted time without a MAC, with a wrong MAC, with a valid MAC; journals every switch', async () => {
    const journalFile = path.join(dir, 'modes.ndjson');
    server = await startNtpServer({ address: '127.0.0.1', port: 0, keys: [SHA1_KEY], journalFile });
    server.setMode({ offsetMs: 3_600_000, mac: 'none' }, 'attack without MAC');
    const plain = await queryNtp('127.0.0.1', server.port, { timeoutMs: 2000, key: SHA1_KEY });
    expect(plain).to.include({ mac: 'none' });
    expect(plain.offsetMs).to.be.closeTo(3_600_000, 20);
    server.setMode({ offsetMs: 3_600_000, mac: 'wrong' }, 'attack with a wrong MAC');
    expect((await queryNtp('127.0.0.1', server.port, { timeoutMs: 2000, key: SHA1_KEY })).mac).to.equal('invalid');
    server.setMode({ offsetMs: 120_000, mac: 'valid' }, 'authenticated control');
    const control = await queryNtp('127.0.0.1', server.port, { timeoutMs: 2000, key: SHA1_KEY });
    expect(control.mac).to.equal('valid');
    expect(control.offsetMs).to.be.closeTo(120_000, 20);
    expect(server.requests.map((r) => r.answerMac)).to.deep.equal(['none', 'wrong', 'valid']);
    expect(server.requests.map((r) => r.servedOffsetMs)).to.deep.equal([3_600_000, 3_600_000, 120_000]);
    const modes = fs.readFileSync(journalFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'serve-mode');
    expect(modes.map((m) => [m.offsetMs, m.mac, m.why])).to.deep.equal([
      [3_600_000, 'none', 'attack without MAC'], [3_600_000, 'wrong', 'attack with a wrong MAC'], [120_000, 'valid', 'authenticated control'],
    ]);
  });

  it('a request whose trailer is no MAC (extension fields, NTS) is answered plainly, as before', async () => {
    server = await startNtpServer({ address: '127.0.0.1', port: 0, keys: [SHA1_KEY], journalFile: path.join(dir, 'ext.ndjson') });
    const socket = dgram.createSocket('udp4');
    const answers: Buffer[] = [];
    socket.on('message', (m) => answers.push(m));
    socket.send(Buffer.concat([request(), Buffer.alloc(16)]), server.port, '127.0.0.1');
    const deadline = Date.now() + 3000;
    while (answers.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    socket.close();
    expect(answers).to.have.length(1);
    expect(answers[0].length).to.equal(48);
    expect(server.requests[0]).to.include({ requestMac: 'unsupported', answerMac: 'none' });
  });

  // chrony as the independent judge of our MACs: a sample with all tests passed (test 5 is authentication)
  // only when the answer carries a MAC it verifies; none at all for a wrong or missing MAC.
  const chronyCases: { name: string; key: NtpKey; chrony: ChronyKey }[] = [
    { name: 'SHA1', key: SHA1_KEY, chrony: { id: 1, type: 'SHA1', text: SHA1_TEXT } },
    { name: 'AES128CMAC (RFC 8573)', key: CMAC_KEY, chrony: { id: 2, type: 'AES128', text: CMAC_TEXT } },
  ];
  for (const c of chronyCases) {
    it(`chrony with a ${c.name} key takes our authenticated answers and no answer without a MAC or with a wrong one`, async function () {
      const chronyd = requirePeer(this, 'chronyd', findChronyd(), 'package chrony');
      const accepted = (m: { tests: string }) => m.tests === '111 111 1111';
      server = await startNtpServer({ address: '127.0.0.1', port: 0, offsetMs: 2500, keys: [c.key], journalFile: path.join(dir, `chrony-${c.key.id}.ndjson`) });
      const good = await measureWithChrony(chronyd, { host: '127.0.0.1', port: server.port }, (m) => m.some(accepted), 15_000, c.chrony);
      const sample = good.measurements.find(accepted);
      expect(sample, good.output).to.not.equal(undefined);
      expect(sample!.offsetS * 1000).to.be.closeTo(2500, 50);
      expect(server.requests.every((r) => r.requestMac === 'valid' && r.keyId === c.key.id && r.answerMac === 'valid')).to.equal(true);
      for (const mac of ['none', 'wrong'] as const) {
        server.setMode({ offsetMs: 3_600_000, mac }, `chrony ${mac}`);
        const before = server.requests.length;
        const bad = await measureWithChrony(chronyd, { host: '127.0.0.1', port: server.port }, () => server!.requests.length >= before + 4, 15_000, c.chrony);
        expect(server.requests.length, bad.output).to.be.at.least(before + 4);
        // chrony logs no sample at all for an answer that fails authentication.
        expect(bad.measurements, mac).to.deep.equal([]);
        expect(server.requests.slice(before).every((r) => r.requestMac === 'valid' && r.answerMac === (mac === 'none' ? 'none' : 'wrong'))).to.equal(true);
      }
    });
  }
});
