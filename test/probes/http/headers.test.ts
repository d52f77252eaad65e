import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import probe from '../../../probes/http/headers';
import { decodeEntities } from '../../../src/protocols/http/html';
import { runNmap } from '../../../src/protocols/nmap';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';
import { startWebDevice, useWebPostures, withLighttpd } from '../../helpers/web';

const FAST = { requestTimeoutMs: 2000 };
const codes = (findings: readonly { code: string; severity: string }[]) => findings.map((f) => `${f.code}:${f.severity}`);

describe('probe http.headers', () => {
  const devices = useWebPostures();

  it('weak posture, HTTPS at SL 2: every header missing; HSTS fails CR 4.1, the rest is info', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('https').port, protocol: 'https' }, inputs: FAST, sl: 2 });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(codes(attempt.findings)).to.deep.equal([
      'http.headers.hsts-missing:low', 'http.headers.no-frame-protection:info', 'http.headers.no-csp:info', 'http.headers.no-nosniff:info', 'http.headers.no-referrer-policy:info', 'http.headers.login-page-cacheable:info',
    ]);
    expect(attempt.findings[0].requirements).to.deep.equal(['CR 4.1']);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 4.1:fail']);
    expect(attempt.observations).to.include({ loginPage: true, hsts: null });
    expect(attempt.observations.hstsNote).to.match(/IP address/);
  });

  it('weak posture at SL 1: the same observations, all info, so no requirement is evaluated', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('https').port, protocol: 'https' }, inputs: FAST, sl: 1 });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.findings.every((f) => f.severity === 'info')).to.equal(true);
    expect(attempt.findings).to.have.length(6);
    expect(attempt.outcomes).to.deep.equal([]);
  });

  it('weak posture, plain HTTP: HSTS is not judged there (a browser ignores it); the other headers are info', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('http').port, protocol: 'http' }, inputs: FAST });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.findings.map((f) => f.code)).to.not.include('http.headers.hsts-missing');
    expect(attempt.observations.hsts).to.match(/not applicable over plain HTTP/);
  });

  it('hardened posture: HSTS for a year, CSP with frame-ancestors, nosniff, no-referrer, no-store: pass at SL 3', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('https').port, protocol: 'https' }, inputs: FAST, sl: 3 });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.observations.hsts).to.deep.include({ maxAge: 31536000, includeSubDomains: true, problems: [] });
    expect(attempt.observations.framing).to.deep.equal({ protected: true, by: 'csp-frame-ancestors', value: "'none'" });
  });

  it('HSTS below the baseline and a malformed HSTS header are findings', async () => {
    const short = await startWebDevice('hardened', {}, { headers: { 'strict-transport-security': 'max-age=86400' } });
    const broken = await startWebDevice('hardened', {}, { headers: { 'strict-transport-security': 'max-age=abc; includeSubDomains; includeSubDomains' } });
    try {
      const a = (await runProbe(probe, { service: { port: short.endpoint('https').port, protocol: 'https' }, inputs: FAST, sl: 2 })).attempt;
      expect(codes(a.findings)).to.include('http.headers.hsts-short:low');
      const b = (await runProbe(probe, { service: { port: broken.endpoint('https').port, protocol: 'https' }, inputs: FAST, sl: 2 })).attempt;
      expect(codes(b.findings)).to.include('http.headers.hsts-invalid:low');
      expect(b.findings.find((f) => f.code === 'http.headers.hsts-invalid')?.message).to.match(/not a number.*more than once/);
    } finally {
      await Promise.all([short.close(), broken.close()]);
    }
  });

  it('a lab baseline that maps a header to a requirement the probe cannot evidence is refused as an input error', async () => {
    const doc = parseYaml(fs.readFileSync('profiles/baselines/http.yaml', 'utf8')) as { levels: Record<string, { grading: Record<string, unknown> }> };
    doc.levels['2'].grading['http.headers.no-csp'] = { severity: 'medium', requirements: ['CR 3.5'] };
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'http-baseline-')), 'http.yaml');
    fs.writeFileSync(file, stringify(doc));
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('https').port, protocol: 'https' }, inputs: FAST, baselineFiles: { http: file } });
    expect(attempt, attempt.message).to.include({ status: 'error', reason: 'input' });
    expect(attempt.message).to.match(/CR 3\.5/);
  });

  it('Debian lighttpd: no security headers; nmap http-headers sees the same header fields we record', async function () {
    const nmap = requirePeer(this, 'nmap');
    await withLighttpd(this, async (server) => {
      const { attempt, read } = await runProbe(probe, { service: { port: server.port, protocol: 'http' }, inputs: FAST });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['http.headers.no-frame-protection', 'http.headers.no-csp', 'http.headers.no-nosniff', 'http.headers.no-referrer-policy']);
      const exchange = JSON.parse(read(attempt.evidence.find((e) => e.endsWith('exchanges.ndjson'))!).trim().split('\n')[0]) as { headers: [string, string][] };
      const ours = new Map(exchange.headers.map(([k, v]) => [k.toLowerCase(), v]));
      // Non-standard port: "+" makes nmap run the script whatever service it thinks the port is.
      const result = await runNmap(nmap, ['-sT', '-Pn', '-n', '-p', String(server.port), '--script', '+http-headers'], '127.0.0.1', AbortSignal.timeout(20_000));
      const script = decodeEntities(/<script id="http-headers" output="([^"]*)"/.exec(result.xml)?.[1] ?? '');
      const theirs = new Map(script.split('\n').map((l) => /^\s+([A-Za-z-]+): (.*)$/.exec(l)).flatMap((m) => (m ? [[m[1].toLowerCase(), m[2]] as [string, string]] : [])));
      expect(theirs.get('server')).to.equal(`lighttpd/${server.version}`);
      // Both saw the same fields (nmap asks with HEAD, we with GET: dates may tick, the rest must agree).
      for (const name of ['server', 'content-type', 'etag', 'last-modified', 'content-length', 'accept-ranges']) expect(ours.get(name), name).to.equal(theirs.get(name));
      for (const name of ['strict-transport-security', 'content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy']) {
        expect([ours.has(name), theirs.has(name)], name).to.deep.equal([false, false]);
      }
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'https' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 1000 } });
});
