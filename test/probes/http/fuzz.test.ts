import Ajv from 'ajv';
import { expect } from 'chai';
import * as net from 'node:net';
import probe from '../../../probes/http/fuzz';
import { FUZZ_CEILINGS, generateCases, systematicCases } from '../../../src/protocols/fuzz';
import { httpTemplates } from '../../../src/protocols/http/fuzz';
import { listenTestServer, type TestServer } from '../../../fixtures/servers';
import { fuzzCaseLines, tsharkFields } from '../../helpers/fuzz';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';
import { withLighttpd } from '../../helpers/web';
import { startWebDeviceProcess, type WebDeviceProcess } from '../../helpers/web-process';

const TEMPLATES = httpTemplates({ host: '127.0.0.1:8080', path: '/' });
const FAST = { cases: 90, ratePerSecond: 200, waitMs: 150, recoveryMs: 1500 };
const http = (port: number) => ({ port, protocol: 'http' as const });

/** An HTTP device that answers every complete request with 200, and dies (stops listening, drops every
 * connection) on the first request that carries `Content-Length: -1`. */
async function fragileServer(): Promise<TestServer & { died(): boolean }> {
  let dead = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (d) => {
      received += d.toString('latin1');
      if (received.includes('Content-Length: -1\r\n')) {
        dead = true;
        server.close();
        for (const s of sockets) s.destroy();
        return;
      }
      if (received.includes('\r\n\r\n')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
  });
  const test = await listenTestServer(server);
  return { ...test, died: () => dead };
}

describe('probe http.fuzz', function () {
  this.timeout(60_000);

  describe('the grammar', () => {
    it('the same seed gives the same cases byte for byte; another seed another order', () => {
      const key = (seed: number) => generateCases(TEMPLATES, seed, 300).map((c) => `${c.template}|${c.mutation}|${c.bytes.toString('hex')}`);
      expect(key(62443)).to.have.length(300).and.deep.equal(key(62443));
      expect(key(7)).to.not.deep.equal(key(62443));
    });

    it('covers request line, headers, Content-Length, chunk sizes and line terminators, each case differing from its template', () => {
      const all = TEMPLATES.flatMap((t) => systematicCases(t).map((c) => ({ ...c, valid: t.bytes })));
      const fields = new Set(all.map((c) => c.field));
      for (const f of ['request-line.method', 'request-line.uri', 'request-line.version', 'header.host', 'header.name', 'header.value',
        'header.content-length', 'header.transfer-encoding', 'chunk.size', 'line-terminator', 'frame']) expect(fields, f).to.include(f);
      expect(all.every((c) => !c.bytes.equals(c.valid))).to.equal(true);
      const negative = all.find((c) => c.mutation.startsWith('Content-Length "-1"'))!;
      expect(negative.bytes.toString('latin1')).to.contain('\r\nContent-Length: -1\r\n');
      const bareLf = all.find((c) => c.mutation === 'bare LF line ends')!;
      expect(bareLf.bytes.includes('\r')).to.equal(false);
    });

    it('tshark decodes the valid templates as HTTP/1.1 requests with the fields we meant', function () {
      requirePeer(this, 'tshark');
      requirePeer(this, 'text2pcap');
      const rows = tsharkFields(TEMPLATES.map((t) => t.bytes), '-T', 80,
        ['http.request.method', 'http.request.uri', 'http.request.version', 'http.host', 'http.content_length_header', 'http.transfer_encoding', '_ws.expert.message'],
        ['http.desegment_headers:FALSE', 'http.desegment_body:FALSE']);
      expect(rows.map((r) => r.slice(0, 6))).to.deep.equal([
        ['GET', '/', 'HTTP/1.1', '127.0.0.1:8080', '', ''],
        ['POST', '/', 'HTTP/1.1', '127.0.0.1:8080', '7', ''],
        ['POST', '/', 'HTTP/1.1', '127.0.0.1:8080', '', 'chunked'],
      ]);
      // A stale Content-Length is seen as such by tshark too (the same frame, another value).
      const stale = systematicCases(TEMPLATES[1]).find((c) => c.mutation.startsWith('Content-Length "100"'))!;
      expect(tsharkFields([stale.bytes], '-T', 80, ['http.content_length_header'], ['http.desegment_headers:FALSE', 'http.desegment_body:FALSE'])[0]).to.deep.equal(['100']);
    });

    it('the schema refuses more cases or a higher rate than the ceilings', () => {
      const validate = new Ajv({ strict: false }).compile(probe.inputs!.schema);
      expect(validate({ cases: FUZZ_CEILINGS.cases, path: '/x' })).to.equal(true);
      expect(validate({ cases: FUZZ_CEILINGS.cases + 1 })).to.equal(false);
      expect(validate({ ratePerSecond: FUZZ_CEILINGS.ratePerSecond + 1 })).to.equal(false);
      expect(validate({ path: 'no-slash' })).to.equal(false);
    });
  });

  describe('against the emulator (its web UI in a process of its own, so that a crash ends that process only)', () => {
    let device: WebDeviceProcess | undefined;
    afterEach(async () => {
      await device?.close();
      device = undefined;
    });

    // A real defect the fuzzer found: the emulator's web UI parses the request target with new URL() without a
    // guard, so a request target WHATWG URL refuses (e.g. "http://[::1") throws in the request handler and the
    // process dies, in both postures. Kept as found (not fixed here): CR 3.5 must fail, naming that case.
    for (const [posture, protocol] of [['weak', 'https'], ['hardened', 'https'], ['weak', 'http']] as const) {
      it(`${posture} ${protocol}: the web UI dies on a request target new URL() refuses; CR 3.5 fails naming that case`, async () => {
        device = await startWebDeviceProcess(posture);
        const port = device.port(protocol);
        const run = await runProbe(probe, { service: { port, protocol }, inputs: { ...FAST, cases: 400, recoveryMs: 500 } });
        expect(run.attempt.status, run.attempt.message).to.equal('fail');
        expect(run.attempt.findings.map((f) => f.code)).to.deep.equal(['http.fuzz.function-killed']);
        const { campaign, cases } = fuzzCaseLines(run);
        expect(campaign).to.deep.include({ protocol: 'http', transport: 'tcp', params: { tls: protocol === 'https', path: '/' } });
        const killer = cases.at(-1)!;
        expect(killer.stillAnswers).to.equal(false);
        const target = /^\S* (\S*)/.exec(Buffer.from(killer.hex.replace(/ /g, ''), 'hex').toString('latin1'))![1];
        expect(() => new URL(target, 'http://device'), `request target ${target}`).to.throw(TypeError);
        expect(await device.exited(), device.stderr()).to.equal(true);
        expect(device.stderr()).to.contain('Invalid URL');
        // Every case before it was survived, so the campaign did reach the device's request handling.
        expect(cases.slice(0, -1).every((c) => c.stillAnswers)).to.equal(true);
        expect(cases.filter((c) => c.reaction.kind === 'reply' || c.reaction.kind === 'exception').length).to.be.above(cases.length / 3);
      });
    }
  });

  describe('against lighttpd (Debian, not ours)', () => {
    it('survives the campaign: every case answered or dropped, GET / keeps working (pass)', async function () {
      await withLighttpd(this, async (server) => {
        const run = await runProbe(probe, { service: http(server.port), inputs: FAST });
        expect(run.attempt.status, run.attempt.message).to.equal('pass');
        const { cases } = fuzzCaseLines(run);
        expect(cases).to.have.length(90);
        expect(cases.every((c) => c.stillAnswers)).to.equal(true);
        expect(cases.some((c) => c.reaction.kind === 'exception' && /^HTTP 4\d\d/.test(c.reaction.detail))).to.equal(true);
        expect(run.attempt.outcomes[0].reason).to.contain('90 HTTP fuzz cases (seed 62443)');
      });
    });

    it('caps: the case cap holds (7 sent)', async function () {
      await withLighttpd(this, async (server) => {
        const run = await runProbe(probe, { service: http(server.port), inputs: { ...FAST, cases: 7 } });
        expect(run.attempt.observations).to.deep.include({ sent: 7, planned: 7, end: 'all-cases' });
        expect(fuzzCaseLines(run).cases).to.have.length(7);
      });
    });

    it('Ctrl-C stops the campaign within 1 s', async function () {
      await withLighttpd(this, async (server) => {
        const controller = new AbortController();
        let abortedAt = 0;
        setTimeout(() => {
          abortedAt = Date.now();
          controller.abort(new Error('cancelled by SIGINT'));
        }, 700);
        const { attempt } = await runProbe(probe, { service: http(server.port), inputs: { ratePerSecond: 20 }, runSignal: controller.signal });
        expect(attempt.status).to.equal('error');
        expect(attempt.reason).to.equal('cancelled');
        expect(Date.now() - abortedAt).to.be.below(1000);
      });
    });
  });

  it('a device that dies on Content-Length -1 fails CR 3.5 with that case recorded and named', async () => {
    const server = await fragileServer();
    try {
      const run = await runProbe(probe, { service: http(server.port), inputs: { ...FAST, cases: 400, recoveryMs: 500 } });
      expect(server.died()).to.equal(true);
      expect(run.attempt.status, run.attempt.message).to.equal('fail');
      expect(run.attempt.findings.map((f) => f.code)).to.deep.equal(['http.fuzz.function-killed']);
      const { cases } = fuzzCaseLines(run);
      const last = cases.at(-1)!;
      expect(Buffer.from(last.hex.replace(/ /g, ''), 'hex').toString('latin1')).to.contain('Content-Length: -1\r\n');
      expect(last).to.include({ stillAnswers: false, id: `http-${server.port}-s62443-${String(last.index).padStart(4, '0')}` });
      expect(cases.slice(0, -1).every((c) => c.stillAnswers)).to.equal(true);
      expect(run.attempt.findings[0].message).to.contain(last.id).and.contain(`iacs-probe replay <run-dir> ${last.id}`);
    } finally {
      await server.close();
    }
  });

  describeMisbehavingPeers(probe, { service: http, timeoutMs: 3000, inputs: { waitMs: 200, recoveryMs: 300, cases: 20 } });
});
