/**
 * Times the five http.* probes (run one after the other, as a run would on one service) against nmap's
 * NSE scripts that read roughly the same facts (http-headers, http-security-headers, http-cookie-flags,
 * http-server-header, http-auth), on the same server, in the same run, and prints the ratios.
 * Not a test: run with `npx tsx bench/http.ts [rounds]`. Servers: Debian lighttpd with Basic auth over
 * plain HTTP, and the weak emulated web UI over HTTPS (TLS 1.0-1.2, a 1024-bit key).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import access from '../probes/http/access';
import cookies from '../probes/http/cookies';
import disclosure from '../probes/http/disclosure';
import headers from '../probes/http/headers';
import transport from '../probes/http/transport';
import type { ProbeDefinition, ServiceProtocol } from '../src/sdk';
import { findExecutable } from '../test/helpers/peers';
import { runProbe } from '../test/helpers/probe-harness';
import { startLighttpd, startWebDevice } from '../test/helpers/web';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);
const PROBES = [transport, headers, cookies, access, disclosure] as ProbeDefinition<unknown>[];
const SCRIPTS = '+http-headers,+http-security-headers,+http-cookie-flags,+http-server-header,+http-auth';

async function bench(name: string, port: number, protocol: ServiceProtocol, nmap: string, rounds: number): Promise<void> {
  const ours: number[] = [];
  const nse: number[] = [];
  const probesOnce = async () => {
    for (const p of PROBES) {
      const { attempt } = await runProbe(p, { service: { port, protocol } });
      if (attempt.status === 'error') throw new Error(`${p.id}: ${attempt.message}`);
    }
  };
  await probesOnce(); // warm-up (module loading, TLS session setup code paths)
  for (let i = 0; i < rounds; i++) {
    const steps = [
      async () => ours.push(await time(probesOnce)),
      async () => nse.push(await time(() => run(nmap, ['-Pn', '-n', '-sT', '-p', String(port), '--script', SCRIPTS, '127.0.0.1']))),
    ];
    for (const step of i % 2 === 0 ? steps : [...steps].reverse()) await step();
  }
  const m = { ours: median(ours), nse: median(nse) };
  console.log(`${name} (127.0.0.1:${port}), ${rounds} rounds, median wall time`);
  console.log(`  http.transport + headers + cookies + access + disclosure (in-process): ${m.ours.toFixed(0)} ms`);
  console.log(`  nmap --script ${SCRIPTS} (process):  ${m.nse.toFixed(0)} ms`);
  console.log(`  ratio http.* / nmap = ${(m.ours / m.nse).toFixed(2)}`);
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 7);
  const need = (name: string) => {
    const found = findExecutable(name);
    if (!found) throw new Error(`${name} is not installed`);
    return found;
  };
  const nmap = need('nmap');
  const lighttpd = await startLighttpd(need('lighttpd'), need('htpasswd'));
  const weak = await startWebDevice('weak');
  try {
    await bench(`lighttpd ${lighttpd.version}, plain HTTP`, lighttpd.port, 'http', nmap, rounds);
    await bench('weak emulated web UI, HTTPS', weak.endpoint('https').port, 'https', nmap, rounds);
  } finally {
    await Promise.all([lighttpd.close(), weak.close()]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
