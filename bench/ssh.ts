/**
 * Times ssh.algorithms against ssh-audit (and nmap's ssh2-enum-algos) on the same OpenSSH sshd, in the
 * same run, and prints the ratios. Not a test: run with `npx tsx bench/ssh.ts [rounds]`.
 * Both tools connect to one sshd on 127.0.0.1 with the weak test configuration (5 host-key algorithms,
 * 3 keys). ssh-audit 2.5 has no --skip-rate-test; it also tests DH group-exchange sizes, which we do not.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import probe from '../probes/ssh/algorithms';
import { findExecutable } from '../test/helpers/peers';
import { runProbe } from '../test/helpers/probe-harness';
import { WEAK_SSHD, launchSshd } from '../test/helpers/sshd';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);



async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 7);
  const need = (name: string) => {
    const found = findExecutable(name);
    if (!found) throw new Error(`${name} is not installed`);
    return found;
  };
  const sshAudit = need('ssh-audit');
  const nmap = findExecutable('nmap');
  const sshd = await launchSshd(need('sshd'), need('ssh-keygen'), WEAK_SSHD);
  const port = String(sshd.port);
  try {
    const ours: number[] = [];
    const audit: number[] = [];
    const nse: number[] = [];
    const { stdout: version } = await run(sshAudit, ['-h']).catch((e: { stdout: string }) => e);
    await runProbe(probe, { service: { port: sshd.port, protocol: 'ssh' } }); // warm-up (module loading)
    for (let i = 0; i < rounds; i++) {
      // Alternate the order so neither tool always runs on a warmer server.
      const steps = [
        async () => ours.push(await time(async () => {
          const { attempt } = await runProbe(probe, { service: { port: sshd.port, protocol: 'ssh' } });
          if (attempt.status === 'error') throw new Error(attempt.message);
        })),
        async () => audit.push(await time(() => run(sshAudit, ['-j', '-p', port, '127.0.0.1']).catch((e: { stdout?: string }) => {
          if (!e.stdout) throw e;
        }))),
        ...(nmap ? [async () => nse.push(await time(() => run(nmap, ['-Pn', '-n', '-sT', '-p', port, '--script', '+ssh2-enum-algos', '127.0.0.1'])))] : []),
      ];
      for (const step of i % 2 === 0 ? steps : [...steps].reverse()) await step();
    }
    const m = { ours: median(ours), audit: median(audit), nse: nse.length ? median(nse) : undefined };
    console.log(`sshd ${sshd.host}:${port}, ${rounds} rounds, median wall time`);
    console.log(`  ssh.algorithms (KEXINIT + 3 host-key exchanges, in-process): ${m.ours.toFixed(0)} ms`);
    console.log(`  ${/v[\d.]+/.exec(version)?.[0] ?? ''} ssh-audit -j (process):                       ${m.audit.toFixed(0)} ms`);
    if (m.nse !== undefined) console.log(`  nmap --script ssh2-enum-algos (process, lists only):   ${m.nse.toFixed(0)} ms`);
    console.log(`  ratio ssh.algorithms / ssh-audit = ${(m.ours / m.audit).toFixed(2)}`);
    if (m.nse !== undefined) console.log(`  ratio ssh.algorithms / nmap ssh2-enum-algos = ${(m.ours / m.nse).toFixed(2)}`);
  } finally {
    await sshd.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
