import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import protocolsProbe, { undeterminedRequirements } from '../../probes/tls/protocols';
import certificateProbe from '../../probes/tls/certificate';
import clientCertificateProbe from '../../probes/tls/client-certificate';
import { verdictFor } from '../../src/assess';
import { loadCatalog } from '../../src/catalog';
import { scanTls, type ExchangeRecord, type TlsScanResult } from '../../src/protocols/tls';
import { FRS, type SlVector } from '../../src/sdk';
import type { Attempt } from '../../src/runner/attempt';
import { stressProxy, type Behaviour, type HelloSeen, type StressProxy } from '../../fixtures/stress-proxy';
import { hardenedOpensslServer, weakOpensslServer, type OpensslServer } from '../helpers/openssl-server';
import { findExecutable, requirePeer } from '../helpers/peers';
import { runProbe } from '../helpers/probe-harness';

/**
 * Deceptive peers that stay in the suite (issue 15, item 4): a real openssl s_server behind a proxy that answers
 * some hellos and, after the first good answer, stalls, resets, closes or sends garbage the way slow and
 * rate-limiting devices do. Retries must recover what a transient fault hid; what stays unanswered must never
 * read as "not accepted" and never support a pass.
 */

const JUDGED = ['CR 4.3', 'CR 4.1', 'CR 3.1', 'CR 3.1 RE(1)'];
/** Short budgets so that a stall costs 250 ms, not 5 s. */
const FAST = { helloTimeoutMs: 250, retryDelayMs: 150 };
const TLS10_HELLO = (h: HelloSeen) => h.version === 0x0301 && h.supportedVersions.length === 0;

function scan(port: number, records: ExchangeRecord[] = [], retryDelayMs = FAST.retryDelayMs): Promise<TlsScanResult> {
  return scanTls({ host: '127.0.0.1', port }, {
    signal: new AbortController().signal, deadline: Date.now() + 40_000, ...FAST, retryDelayMs, onExchange: (e) => records.push(e),
  });
}

/** What an assessment is built on: everything but the counters and notes. */
function facts(r: TlsScanResult) {
  return {
    protocols: r.protocols, ciphers: r.ciphers, suites: r.suites, serverOrder: r.serverOrder, groups: r.groups,
    minDhBits: r.minDhBits, forwardSecrecy: r.forwardSecrecy, fallbackScsv: r.fallbackScsv,
    secureRenegotiation: r.secureRenegotiation, extendedMasterSecret: r.extendedMasterSecret, compression: r.compression,
    clientCertificate: r.clientCertificate, certificates: r.certificates && { protocol: r.certificates.protocol, chain: r.certificates.chain.map((c) => c.toString('hex')) },
  };
}

const misbehaved = (p: StressProxy) => p.applied.stall + p.applied.reset + p.applied.close + p.applied.garbage;
const passes = (outcomes: readonly { requirement: string; verdict: string }[]) => outcomes.filter((o) => o.verdict === 'pass' && JUDGED.includes(o.requirement)).map((o) => o.requirement);

/** verdict:source of the judged requirements' rows in an assessment of this one attempt (the probe's passes are
 * partial, so even a clean run leaves the rows not_determined, but with probe evidence that supports a pass). */
function rows(attempt: Attempt): string[] {
  const catalog = loadCatalog();
  const component = { name: 'bench device', types: ['embedded' as const], slTarget: Object.fromEntries(FRS.map((fr) => [fr, 2])) as SlVector };
  const input = { catalog, component, attempts: [attempt], probeRequirements: new Map([[protocolsProbe.id, protocolsProbe.requirements]]) };
  return JUDGED.map((id) => {
    const row = verdictFor(catalog.requirements.find((r) => r.id === id)!, input);
    return `${id}:${row.verdict}:${row.source}`;
  });
}

interface Observed {
  protocols: Record<string, boolean | null>;
  incomplete: Record<string, string>;
  notDetermined?: Record<string, string>;
  notes?: string[];
  ciphers: Record<string, string[]>;
}

describe('integrity: what stays undetermined withholds exactly the passes it could falsify', () => {
  const levels = (parseYaml(fs.readFileSync(path.join(__dirname, '../../profiles/baselines/tls.yaml'), 'utf8')) as { levels: Record<string, unknown> }).levels;
  const withIncomplete = (incomplete: TlsScanResult['incomplete']) => ({ incomplete }) as TlsScanResult;
  const blocked = (incomplete: TlsScanResult['incomplete'], level: number) => [...undeterminedRequirements(withIncomplete(incomplete), levels[level]).keys()].sort();

  it('a version: every requirement the probe judges; groups: CR 4.3; server order and certificate flight: none', () => {
    expect(blocked({ SSLv3: 'support not determined: ...' }, 1)).to.deep.equal([...JUDGED].sort());
    expect(blocked({ 'TLSv1.2': 'suite list incomplete ...' }, 4)).to.deep.equal([...JUDGED].sort());
    expect(blocked({ 'groups.ECDHE': '...' }, 2)).to.deep.equal(['CR 4.3']);
    expect(blocked({ 'serverOrder.TLSv1.2': '...', certificate: '...' }, 2)).to.deep.equal([]);
  });

  it('fallback SCSV, compression and renegotiation only where the level judges them', () => {
    const checks = { fallbackScsv: '...', compression: '...', secureRenegotiation: '...' };
    expect(blocked(checks, 1)).to.deep.equal(['CR 3.1', 'CR 4.1']); // SL 1 does not require the fallback SCSV
    expect(blocked(checks, 2)).to.deep.equal(['CR 3.1', 'CR 3.1 RE(1)', 'CR 4.1']);
  });
});

describe('integrity: TLS enumeration under stress never hides a weak protocol or suite', function () {
  this.timeout(60_000);
  let openssl: string;
  const cleanup: (() => Promise<void>)[] = [];
  beforeEach(function () {
    openssl = requirePeer(this, 'openssl', findExecutable('openssl'));
  });
  afterEach(async () => {
    for (const close of cleanup.splice(0).reverse()) await close();
  });
  const started = async <T extends { close(): Promise<void> }>(server: Promise<T>): Promise<T> => {
    const s = await server;
    cleanup.push(() => s.close());
    return s;
  };
  /** TLS 1.0 and 1.2/1.3 with strong ECDHE suites: its only weakness (SL 2) is TLS 1.0. */
  const tls10Server = () => started(hardenedOpensslServer(openssl, 'rsa:2048', ['-min_protocol', 'TLSv1', '-no_tls1_1', '-cipher', 'ECDHE+AESGCM:ECDHE+AES:@SECLEVEL=0']));

  describe('(a) a transient fault is retried: the same protocols and suites as an unstressed scan', () => {
    let weak: OpensslServer;
    let healthy: TlsScanResult;
    beforeEach(async () => {
      weak = await started(weakOpensslServer(openssl));
      healthy = await scan(weak.port);
      expect(healthy.incomplete).to.deep.equal({});
      expect(healthy.retries, 'no retry against a healthy server').to.equal(0);
    });

    it('rate limiting: every fourth connection is reset, closed, answered with garbage or stalled', async () => {
      const kinds: Behaviour[] = ['reset', 'garbage', 'close', 'stall'];
      const proxy = await started(stressProxy(weak, (h) => (h.index % 4 === 0 ? kinds[(h.index / 4) % 4] : 'pass')));
      const records: ExchangeRecord[] = [];
      const stressed = await scan(proxy.port, records, 30);
      expect(facts(stressed)).to.deep.equal(facts(healthy));
      expect(stressed.incomplete).to.deep.equal({});
      expect(Object.values(stressed.complete).every(Boolean)).to.equal(true);
      // Every fault cost exactly one retry, and the transcript holds every try.
      expect(Object.values(proxy.applied).every((n) => n > 0), JSON.stringify(proxy.applied)).to.equal(true);
      expect(stressed.retries).to.equal(misbehaved(proxy));
      expect(records.length).to.equal(stressed.exchanges).and.to.equal(proxy.applied.pass + misbehaved(proxy));
      expect(records.filter((r) => r.try === 2).length).to.equal(stressed.retries);
      expect(new Set(records.filter((r) => r.try === 1 && !/^(TLS|SSL|alert)/.test(r.result)).map((r) => r.result))).to.deep.equal(new Set(['reset', 'not TLS', 'closed', 'timeout']));
      expect(stressed.notes.some((n) => /answered on try 2 \(before: timeout\)/.test(n))).to.equal(true);
    });

    // Tries at 0, >= 150 and >= 450 ms (resets), or 0, >= 400 and >= 950 ms (stalls of 250 ms): the third is after the window.
    for (const [kind, windowMs] of [['stall', 550], ['reset', 400]] as const) {
      it(`a device silent for a while (${kind}s every connection for ${windowMs} ms after the 20th): recovered by the growing pauses`, async () => {
        let since: number | undefined;
        const proxy = await started(stressProxy(weak, (h) => {
          if (h.index <= 20) return 'pass';
          since ??= h.at;
          return h.at - since < windowMs ? kind : 'pass';
        }));
        const stressed = await scan(proxy.port);
        expect(facts(stressed)).to.deep.equal(facts(healthy));
        expect(stressed.incomplete).to.deep.equal({});
        expect(proxy.applied[kind]).to.be.within(1, 2); // 2 unless the machine is slow enough to pause past the window
        expect(stressed.notes.some((n) => /answered on try [23]/.test(n)), stressed.notes.join('\n')).to.equal(true);
      });
    }
  });

  describe('(b) a peer that never answers again after the first hello gets no pass', () => {
    for (const kind of ['stall', 'reset', 'close', 'garbage'] as const) {
      it(`hardened s_server that ${kind}s every connection after the first`, async () => {
        const hardened = await started(hardenedOpensslServer(openssl, 'ec:P-256'));
        const control = await runProbe(protocolsProbe, { service: { port: hardened.port, protocol: 'tls' }, inputs: FAST });
        expect(control.attempt.status).to.equal('pass');
        expect(passes(control.attempt.outcomes)).to.have.members(JUDGED);
        expect(rows(control.attempt)).to.deep.equal(JUDGED.map((id) => `${id}:not_determined:probe`));

        const proxy = await started(stressProxy(hardened, (h) => (h.index === 1 ? 'pass' : kind)));
        const { attempt } = await runProbe(protocolsProbe, { service: { port: proxy.port, protocol: 'tls' }, inputs: FAST, timeoutMs: 30_000 });
        expect(attempt.status, attempt.message).to.not.be.oneOf(['pass', 'error']);
        expect(passes(attempt.outcomes)).to.deep.equal([]);
        const obs = attempt.observations as unknown as Observed;
        // The first hello (TLS 1.2, the first third of the suites) is refused with an alert; the second gets no answer.
        expect(obs.protocols).to.deep.equal({ SSLv3: null, TLSv1: null, 'TLSv1.1': null, 'TLSv1.2': null, 'TLSv1.3': null });
        expect(obs.incomplete['TLSv1.2']).to.equal('support not determined: 1 of 3 suite offers unanswered after 3 tries; 1 of 3 not sent: the server stopped answering (a hello it had answered before stayed unanswered too)');
        for (const p of ['TLSv1.3', 'TLSv1.1', 'TLSv1', 'SSLv3']) expect(obs.incomplete[p], p).to.match(/^support not determined: \d of \d not sent: the server stopped answering/);
        expect(obs.incomplete).to.have.property('fallbackScsv');
        expect(Object.keys(obs.notDetermined ?? {})).to.have.members(JUDGED);
        expect(attempt.message).to.match(/no pass for .*TLSv1: support not determined/);
        expect(rows(attempt), 'no probe evidence left that supports a pass').to.deep.equal(JUDGED.map((id) => `${id}:not_determined:none`));
        expect(attempt.durationMs).to.be.below(10_000);
      });
    }
  });

  describe('(c) a weak protocol is never reported absent because its offers timed out', () => {
    it('TLS 1.0 hellos always stall: TLS 1.0 is undetermined (null, not false) and nothing passes', async () => {
      const server = await tls10Server();
      const control = await runProbe(protocolsProbe, { service: { port: server.port, protocol: 'tls' }, inputs: FAST });
      expect(control.attempt.findings.map((f) => f.code)).to.deep.equal(['tls.protocols.tls1-0']);

      const proxy = await started(stressProxy(server, (h) => (TLS10_HELLO(h) ? 'stall' : 'pass')));
      const { attempt } = await runProbe(protocolsProbe, { service: { port: proxy.port, protocol: 'tls' }, inputs: FAST });
      const obs = attempt.observations as unknown as Observed;
      expect(obs.protocols.TLSv1).to.equal(null);
      expect(obs.incomplete).to.have.all.keys('TLSv1');
      expect(obs.incomplete.TLSv1).to.equal('support not determined: 2 of 2 suite offers unanswered after 3 tries');
      expect(passes(attempt.outcomes)).to.deep.equal([]);
      expect(attempt.status).to.not.equal('pass');
      // The server still answered everything else: the rest of the scan is complete and equals the control's.
      const controlObs = control.attempt.observations as unknown as Observed;
      expect(obs.ciphers).to.deep.equal({ 'TLSv1.2': controlObs.ciphers['TLSv1.2'], 'TLSv1.3': controlObs.ciphers['TLSv1.3'] });
    });

    it('TLS 1.0 hellos stall twice, then are answered: TLS 1.0 is found and fails the requirements', async () => {
      const server = await tls10Server();
      let stalled = 0;
      const proxy = await started(stressProxy(server, (h) => (TLS10_HELLO(h) && stalled++ < 2 ? 'stall' : 'pass')));
      const { attempt, read } = await runProbe(protocolsProbe, { service: { port: proxy.port, protocol: 'tls' }, inputs: FAST });
      const obs = attempt.observations as unknown as Observed;
      expect(obs.protocols.TLSv1).to.equal(true);
      // The two pauses before the retries went through ctx.wait: they are in the run's journal, doubled each time.
      const waits = read('journal.ndjson').trim().split('\n').map((l) => JSON.parse(l) as { type: string; ms: number; why: string }).filter((r) => r.type === 'wait');
      expect(waits.map((w) => w.ms)).to.deep.equal([FAST.retryDelayMs, 2 * FAST.retryDelayMs]);
      expect(waits.map((w) => w.why)).to.satisfy((whys: string[]) => whys.every((w, i) => w.startsWith(`tls: pause before try ${i + 2} of `) && w.includes('(TLSv1)')));
      expect(obs.incomplete).to.deep.equal({});
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['tls.protocols.tls1-0']);
      expect(attempt.outcomes.filter((o) => o.verdict === 'fail').map((o) => o.requirement)).to.have.members(['CR 4.3', 'CR 4.1', 'CR 3.1 RE(1)']);
    });

    it('TLS 1.0 hellos are always reset (as some stacks refuse a version) while a replay right after is answered: refused, and noted', async () => {
      const server = await tls10Server();
      const proxy = await started(stressProxy(server, (h) => (TLS10_HELLO(h) ? 'reset' : 'pass')));
      const records: ExchangeRecord[] = [];
      const r = await scan(proxy.port, records);
      expect(r.protocols).to.deep.equal({ SSLv3: false, TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true });
      expect(r.incomplete).to.deep.equal({});
      expect(r.notes.filter((n) => /^enumerate \(TLSv1\): closed without an alert on each of 3 tries .* answered at once: taken as its refusal$/.test(n))).to.have.length(2);
      expect(records.filter((e) => e.protocol === 'TLSv1').map((e) => `${e.try} ${e.result}`)).to.deep.equal(['1 reset', '2 reset', '3 reset', '1 reset', '2 reset', '3 reset']);
    });

    it('a rate limiter that also resets the connection right after a reset (an empty token bucket): TLS 1.0 is undetermined, never refused', async () => {
      const server = await tls10Server();
      let lastReset = -Infinity;
      const proxy = await started(stressProxy(server, (h) => {
        if (!TLS10_HELLO(h) && h.at - lastReset > 100) return 'pass';
        lastReset = h.at;
        return 'reset';
      }));
      const r = await scan(proxy.port);
      expect(r.protocols.TLSv1).to.equal(null);
      expect(r.incomplete).to.deep.equal({ TLSv1: 'support not determined: 2 of 2 suite offers unanswered after 3 tries' });
      expect(r.notes.some((n) => /taken as its refusal/.test(n))).to.equal(false);
      expect(r.notes.filter((n) => /^replay \(TLSv1\.1\): answered on try 2 \(before: reset\)$/.test(n))).to.have.length(2);
    });

    it('SSLv3/TLS 1.0 suites of a weak server behind a proxy that resets every other connection: all still reported', async () => {
      const weak = await started(weakOpensslServer(openssl));
      const inputs = { ...FAST, retryDelayMs: 20 };
      const control = await runProbe(protocolsProbe, { service: { port: weak.port, protocol: 'tls' }, inputs });
      const proxy = await started(stressProxy(weak, (h) => (h.index % 2 === 0 ? 'reset' : 'pass')));
      const { attempt } = await runProbe(protocolsProbe, { service: { port: proxy.port, protocol: 'tls' }, inputs });
      expect(attempt.findings.map((f) => f.code).sort()).to.deep.equal(control.attempt.findings.map((f) => f.code).sort());
      expect((attempt.observations as unknown as Observed).ciphers).to.deep.equal((control.attempt.observations as unknown as Observed).ciphers);
      expect(proxy.applied.reset).to.be.greaterThan(50);
    });
  });

  describe('the certificate probes do not judge a flight read while a better version stayed unanswered', () => {
    /** TLS 1.0-1.2 server; the scanner's TLS 1.2 hellos stall, so the TLS 1.1 flight is the one read. */
    const setup = async (nodeHello: Behaviour) => {
      const server = await started(hardenedOpensslServer(openssl, 'rsa:2048', ['-min_protocol', 'TLSv1', '-max_protocol', 'TLSv1.2', '-cipher', 'ECDHE+AESGCM:ECDHE+AES:@SECLEVEL=0']));
      const proxy = await started(stressProxy(server, (h) => {
        if (h.supportedVersions.length > 1) return nodeHello; // node:tls offers 1.3 and 1.2 there
        return h.version === 0x0303 && h.supportedVersions.length === 0 ? 'stall' : 'pass';
      }));
      return { server, proxy };
    };

    it('tls.certificate: no pass unless node:tls confirms the chain', async () => {
      const { server, proxy } = await setup('reset');
      const control = await runProbe(certificateProbe, { service: { port: server.port, protocol: 'tls' }, inputs: FAST });
      expect(control.attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.8:pass', 'CR 4.3:pass', 'CR 3.1 RE(1):pass']);
      const { attempt } = await runProbe(certificateProbe, { service: { port: proxy.port, protocol: 'tls' }, inputs: FAST });
      expect(attempt.outcomes.filter((o) => o.verdict === 'pass')).to.deep.equal([]);
      expect((attempt.observations as { incomplete?: { certificate?: string } }).incomplete?.certificate).to.match(/TLSv1\.1 flight while TLSv1\.2 hello: unanswered after 3 tries/);

      const confirmed = await setup('pass');
      const again = await runProbe(certificateProbe, { service: { port: confirmed.proxy.port, protocol: 'tls' }, inputs: FAST });
      expect(again.attempt.outcomes.map((o) => o.verdict)).to.deep.equal(control.attempt.outcomes.map((o) => o.verdict));
    });

    it('tls.client-certificate: "no request seen" in a lower flight is not "not applicable"', async () => {
      const { server, proxy } = await setup('pass');
      const control = await runProbe(clientCertificateProbe, { service: { port: server.port, protocol: 'tls' }, inputs: FAST });
      expect(control.attempt.status).to.equal('not_applicable');
      expect(control.attempt.outcomes.map((o) => o.verdict)).to.deep.equal(['not_applicable']);
      const { attempt } = await runProbe(clientCertificateProbe, { service: { port: proxy.port, protocol: 'tls' }, inputs: FAST });
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.message).to.match(/no client certificate request in the TLSv1\.1 flight, but TLSv1\.2 hello: unanswered/);
    });
  });
});
