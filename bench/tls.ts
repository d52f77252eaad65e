/**
 * Wall time of our TLS enumeration (the tls.protocols and tls.certificate probes, through the real attempt
 * executor) against sslscan, testssl.sh and nmap ssl-enum-ciphers on the same openssl s_server, in the same
 * run. Prints one table and the ratios. A script, not a test.
 *
 *   npx tsx bench/tls.ts [--runs 5] [--no-testssl] [--no-nmap]
 */
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import { promisify } from 'node:util';
import protocolsProbe from '../probes/tls/protocols';
import certificateProbe from '../probes/tls/certificate';
import { weakOpensslServer, hardenedOpensslServer, type OpensslServer } from '../test/helpers/openssl-server';
import { findExecutable } from '../test/helpers/peers';
import { runProbe } from '../test/helpers/probe-harness';
import { median, timeMs as timed } from './timing';

const run = promisify(execFile);
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
const withTestssl = !args.includes('--no-testssl');
const withNmap = !args.includes('--no-nmap');



async function version(cmd: string, argv: string[], pattern: RegExp): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, argv, { timeout: 30_000 });
    const plain = `${stdout}${stderr}`.split(String.fromCharCode(27)).map((part) => part.replace(/^\[[0-9;]*m/, '')).join('');
    return pattern.exec(plain)?.[1] ?? '?';
  } catch {
    return '?';
  }
}

interface Row {
  tool: string;
  runs: number;
  medianMs: number;
  suites: number | string;
}

async function benchTarget(label: string, server: OpensslServer): Promise<Row[]> {
  const rows: Row[] = [];
  const target = `127.0.0.1:${server.port}`;
  // Ours: tls.protocols (versions, suites, order, groups, fallback, renegotiation, compression) + tls.certificate.
  let suites = 0;
  const ours: number[] = [];
  for (let i = 0; i < runs; i++) {
    ours.push(await timed(async () => {
      const a = await runProbe(protocolsProbe, { service: { port: server.port, protocol: 'tls' } });
      await runProbe(certificateProbe, { service: { port: server.port, protocol: 'tls' } });
      suites = Object.values((a.attempt.observations as { ciphers: Record<string, string[]> }).ciphers).flat().length;
    }));
  }
  rows.push({ tool: 'iacs-probe tls.protocols+tls.certificate', runs, medianMs: median(ours), suites });

  const sslscan = findExecutable('sslscan');
  if (sslscan) {
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < runs; i++) {
      times.push(await timed(async () => {
        const { stdout } = await run(sslscan, ['--no-colour', '--xml=-', target], { timeout: 300_000, maxBuffer: 16 << 20 });
        count = (stdout.match(/<cipher status=/g) ?? []).length;
      }));
    }
    rows.push({ tool: 'sslscan --xml (defaults)', runs, medianMs: median(times), suites: count });
  }
  const nmap = withNmap ? findExecutable('nmap') : undefined;
  if (nmap) {
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < runs; i++) {
      times.push(await timed(async () => {
        const { stdout } = await run(nmap, ['-Pn', '-n', '-p', String(server.port), '--script', 'ssl-enum-ciphers', '127.0.0.1', '-oX', '-'], { timeout: 300_000, maxBuffer: 16 << 20 });
        count = (stdout.match(/<elem key="name">/g) ?? []).length;
      }));
    }
    rows.push({ tool: 'nmap --script ssl-enum-ciphers', runs, medianMs: median(times), suites: count });
  }
  const testssl = withTestssl ? findExecutable('testssl') ?? findExecutable('testssl.sh') : undefined;
  if (testssl) {
    // The same facts: protocols (-p), suites per protocol (-E), server defaults incl. certificate (-S), FS (-f).
    let count = 0;
    const t = await timed(async () => {
      const { stdout } = await run(testssl, ['--quiet', '--color', '0', '--warnings', 'off', '-p', '-E', '-S', '-f', target], { timeout: 900_000, maxBuffer: 16 << 20 });
      count = stdout.split('\n').filter((l) => /^\s+x[0-9a-f]{2,4}\s/.test(l)).length;
    });
    rows.push({ tool: 'testssl.sh -p -E -S -f', runs: 1, medianMs: t, suites: count });
  }
  console.log(`\n${label} (${target})`);
  console.log('| tool | runs | median wall time | suites reported | ratio to iacs-probe |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.tool} | ${r.runs} | ${(r.medianMs / 1000).toFixed(2)} s | ${r.suites} | ${(r.medianMs / rows[0].medianMs).toFixed(1)}x |`);
  }
  return rows;
}

async function main(): Promise<void> {
  const openssl = findExecutable('openssl');
  if (!openssl) throw new Error('openssl is needed for the s_server target');
  console.log(`host: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}`);
  console.log(`peers: ${await version(openssl, ['version'], /(OpenSSL [\d.]+\w*)/)}, sslscan ${await version('sslscan', ['--version'], /(\d+\.\d+\.\d+)/)}, `
    + `nmap ${await version('nmap', ['--version'], /Nmap version ([\d.]+)/)}, testssl ${await version('testssl', ['--version'], /testssl\S*\s+([\d.]+\S*)/)}`);
  const weak = await weakOpensslServer(openssl);
  try {
    await benchTarget('weak s_server: TLS 1.0-1.3, RSA 1024/SHA-1, ALL:eNULL:@SECLEVEL=0', weak);
  } finally {
    await weak.close();
  }
  const hardened = await hardenedOpensslServer(openssl, 'ec:P-256');
  try {
    await benchTarget('hardened s_server: TLS 1.2+1.3, P-256, ECDHE+AEAD', hardened);
  } finally {
    await hardened.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
