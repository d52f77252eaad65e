import { expect } from 'chai';
import probe, { productVersions, verboseMarks } from '../../../probes/http/disclosure';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { useWebPostures, withLighttpd } from '../../helpers/web';

const FAST = { requestTimeoutMs: 2000 };
type ErrorRow = { name: string; status?: number; versions: string[]; verbose: { what: string }[]; error?: string };
const errors = (o: Record<string, unknown>) => o.errors as ErrorRow[];

describe('probe http.disclosure', () => {
  const devices = useWebPostures();

  it('weak posture at SL 2: Server header with the firmware version, error pages with a stack trace and paths: fail CR 3.7', async () => {
    const { attempt, read } = await runProbe(probe, { service: { port: devices.weak().endpoint('https').port, protocol: 'https' }, inputs: FAST, sl: 2 });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.findings.map((f) => [f.code, f.severity, f.requirements.join()])).to.deep.equal([
      ['http.disclosure.version-disclosed', 'low', 'CR 3.7'], ['http.disclosure.verbose-error', 'medium', 'CR 3.7'],
    ]);
    expect(attempt.observations.versions).to.deep.equal({ server: ['EPLC-Web/1.0.0'] });
    expect(errors(attempt.observations).map((e) => [e.name, e.status, e.verbose.map((v) => v.what)])).to.deep.equal([
      ['not-found', 404, ['a stack trace', 'a file system path']],
      ['bad-encoding', 404, ['a stack trace', 'a file system path']],
      ['malformed-header', 400, ['a stack trace', 'parser internals']],
    ]);
    expect(read(attempt.evidence.find((e) => e.endsWith('malformed-request.txt'))!)).to.match(/^>>> sent\nGET \/iacs-probe-[0-9a-f]{12} HTTP\/1\.1/);
  });

  it('weak posture at SL 1: the version is info there, the verbose errors still fail CR 3.7', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('http').port, protocol: 'http' }, inputs: FAST, sl: 1 });
    expect(attempt.findings.map((f) => `${f.code}:${f.severity}`)).to.deep.equal(['http.disclosure.version-disclosed:info', 'http.disclosure.verbose-error:medium']);
    expect(attempt.status).to.equal('fail');
  });

  it('hardened posture: no Server header, bare error pages: pass (partial)', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('https').port, protocol: 'https' }, inputs: FAST, sl: 3 });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(errors(attempt.observations).map((e) => [e.name, e.status])).to.deep.equal([['not-found', 404], ['bad-encoding', 404], ['malformed-header', 400]]);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['CR 3.7:pass:partial']);
  });

  it('Debian lighttpd: "Server: lighttpd/<version>" on the page and on every error, plain error pages', async function () {
    await withLighttpd(this, async (server) => {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'http' }, inputs: FAST, sl: 2 });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['http.disclosure.version-disclosed']);
      expect(attempt.observations.versions).to.deep.equal({ server: [`lighttpd/${server.version}`] });
      expect(errors(attempt.observations).map((e) => [e.name, e.status, e.versions])).to.deep.equal([
        ['not-found', 404, [`lighttpd/${server.version}`]], ['bad-encoding', 404, [`lighttpd/${server.version}`]], ['malformed-header', 400, [`lighttpd/${server.version}`]],
      ]);
    });
  });

  it('recognises versions and verbose markers, and not markup versions', () => {
    expect(productVersions('Apache/2.4.57 (Debian) OpenSSL/3.0.11 HTTP/1.1 XHTML/1.0')).to.deep.equal(['Apache/2.4.57', 'OpenSSL/3.0.11']);
    expect(verboseMarks('Warning: include(): in /var/www/html/index.php on line 12').map((m) => m.what)).to.deep.equal(['a file system path', 'script error details']);
    expect(verboseMarks('404 Not Found')).to.deep.equal([]);
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'https' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 1000 } });
});
