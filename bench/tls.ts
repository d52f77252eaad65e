/**
 * TLS rows: `iacs-probe run --only tls.protocols` against sslscan, nmap ssl-enum-ciphers and testssl.sh,
 * whole processes, on one weak `openssl s_server` (TLS 1.0-1.3, RSA 1024/SHA-1, ALL:eNULL:@SECLEVEL=0).
 * The same work: every run reports the same protocol versions and the same suites per version (sslscan's
 * set, read first, is the reference). tls.protocols also reads the server's order, groups, fallback SCSV,
 * renegotiation and compression; sslscan's defaults add the certificate and groups; testssl runs -p -E only.
 * testssl.sh takes minutes on this server: it runs once (not warmed up), or not at all with --no-testssl.
 */
import { findExecutable } from '../test/helpers/peers';
import { nmapTlsSuites, ourTlsSuites, sslscanSuites, testsslSuites } from '../test/helpers/peer-output';
import { weakOpensslServer } from '../test/helpers/openssl-server';
import { ProcessFailed, timeChecked } from './process';
import { ROOT, attemptOf, oneHostProfile, phasesText, stripAnsi, timeRun, versionOf, type BenchContext, type Phases } from './ours';
import { comparison, notMeasured, type Row } from './table';
import { alternate, summarise, type Contender } from './timing';

function sameSet(what: string, ours: Set<string>, reference: Set<string>): void {
  const missing = [...reference].filter((s) => !ours.has(s));
  const extra = [...ours].filter((s) => !reference.has(s));
  if (missing.length || extra.length) {
    throw new ProcessFailed(`${what}: not the same suites as sslscan (missing ${missing.join(', ') || 'none'}; extra ${extra.join(', ') || 'none'})`);
  }
}

export async function tlsRows(ctx: BenchContext, withTestssl: boolean): Promise<Row[]> {
  const work = 'tls.protocols on openssl s_server (weak)';
  const [openssl, sslscan, nmap] = ['openssl', 'sslscan', 'nmap'].map((n) => findExecutable(n));
  const testssl = withTestssl ? findExecutable('testssl') ?? findExecutable('testssl.sh') : undefined;
  if (!openssl || !sslscan) return [notMeasured(work, 'needs openssl and sslscan (Debian packages)')];
  const server = await weakOpensslServer(openssl);
  try {
    const target = `127.0.0.1:${server.port}`;
    const sslscanArgv = [sslscan, '--no-colour', '--xml=-', target];
    const reference = sslscanSuites((await timeChecked({ argv: sslscanArgv })).stdout);
    if (reference.size < 50) throw new ProcessFailed(`sslscan saw only ${reference.size} suites on the weak server`);
    const profile = oneHostProfile(ctx.tmp, 'tls', '127.0.0.1', [{ port: server.port, protocol: 'tls' }]);
    const phases: Phases[] = [];
    const contenders: Record<string, Contender> = {
      ours: async (run) => {
        const { result, report, phases: p } = await timeRun(ctx, profile, ['--only', 'tls.protocols']);
        sameSet('tls.protocols', ourTlsSuites((attemptOf(report, 'tls.protocols').observations as { ciphers: Record<string, string[]> }).ciphers), reference);
        if (run >= 0) phases.push(p);
        return result;
      },
      sslscan: async () => {
        const r = await timeChecked({ argv: sslscanArgv, cwd: ROOT });
        sameSet('sslscan', sslscanSuites(r.stdout), reference);
        return r;
      },
    };
    if (nmap) {
      contenders.nmap = async () => {
        const r = await timeChecked({ argv: [nmap, '-Pn', '-n', '-p', String(server.port), '--script', 'ssl-enum-ciphers', '-oX', '-', '127.0.0.1'] });
        sameSet('nmap ssl-enum-ciphers', nmapTlsSuites(r.stdout), reference);
        return r;
      };
    }
    ctx.log(`tls: ${ctx.runs} rounds against openssl s_server on ${target} (${reference.size} suites)`);
    const m = await alternate(contenders, ctx.runs);
    const checked = `Same work checked on every run: the same ${reference.size} (protocol, suite) pairs as sslscan; ${versionOf([openssl, 'version'], /(OpenSSL [\d.]+\w*)/)} s_server.`;
    const rows = [comparison(work, m.ours, `sslscan ${versionOf([sslscan, '--version'], /(\d+\.\d+\.\d+)/)}`, m.sslscan, 0.2, [checked, `iacs-probe: ${phasesText(phases)}.`])];
    if (m.nmap) rows.push(comparison(work, m.ours, `nmap ${versionOf([nmap!, '--version'], /Nmap version ([\d.]+)/)} ssl-enum-ciphers`, m.nmap));
    if (testssl) {
      ctx.log('tls: testssl.sh once (minutes)');
      const r = await timeChecked({ argv: [testssl, '--quiet', '--color', '0', '--warnings', 'off', '-p', '-E', target], timeoutMs: 1_800_000 });
      sameSet('testssl.sh', testsslSuites(stripAnsi(r.stdout)), reference);
      rows.push(comparison(work, m.ours, `testssl.sh ${versionOf([testssl, '--version'], /testssl\S*\s+([\d.]+\S*)/)} -p -E`, summarise([r])));
    }
    return rows;
  } finally {
    await server.close();
  }
}
