/**
 * Benchmark (not a test): ssh.default-credentials trying the same 12 wrong passwords for one account as
 * nmap's ssh-brute NSE script (userdb/passdb files, unpwdb), against the emulator's SSH service without a
 * lockout, in the same run.
 *
 *   npx tsx bench/auth.ts [runs]
 *
 * Prints one JSON line: median wall time per run for each tool and the ratio ours/nmap. Both include their
 * start-up (nmap's process, the probe's attempt executor and evidence); the probe also opens one raw
 * identification exchange first. ssh-brute runs several threads; the probe checks one credential at a time
 * on purpose (a lockout counter must see the failures in order).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import probe from '../probes/ssh/default-credentials';
import { startEmulator } from '../src/emulator';
import { runProbe } from '../test/helpers/probe-harness';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);
const PASSWORDS = ['admin', 'password', '1234', 'wago', 'private', 'public', 'root', 'operator', 'moxa', 'administrator', 'Admin@123', 'default'];

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-auth-'));
  const emu = await startEmulator({
    name: 'bench', accounts: [{ username: 'op', password: 'not-in-any-list' }], lockout: null,
    // nmap's libssh2 has no ed25519; ssh-brute only starts when root is offered password authentication.
    services: { ssh: { hostKeys: [{ type: 'rsa', bits: 2048 }], rootLogin: true } },
  }, { ephemeralPorts: true });
  const { port } = emu.endpoint('ssh');
  try {
    fs.writeFileSync(path.join(dir, 'list.yaml'), `id: bench\ntitle: bench\nentries:\n${PASSWORDS.map((p, i) => `  - { id: p${i}, username: op, password: "${p}", uncited: bench }`).join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'users'), 'op\n');
    fs.writeFileSync(path.join(dir, 'pass'), `${PASSWORDS.join('\n')}\n`);
    // ssh-brute runs on ports nmap calls ssh: a services file naming the emulator's port (no -sV needed).
    fs.writeFileSync(path.join(dir, 'nmap-services'), `ssh\t${port}/tcp\t0.9\n`);
    const ours = async () => {
      const { attempt } = await runProbe(probe, {
        service: { port, protocol: 'ssh' }, policy: { lockout: { threshold: 100 } },
        inputs: { lists: [path.join(dir, 'list.yaml')] },
      });
      if (attempt.status !== 'pass' || (attempt.observations as { tried: number }).tried !== PASSWORDS.length) throw new Error(`probe: ${attempt.status} ${attempt.message ?? ''}`);
    };
    const nmap = async () => {
      const { stdout } = await run('nmap', ['-Pn', '-n', '-sT', '-p', String(port), '--datadir', dir, '--script', 'ssh-brute',
        '--script-args', `userdb=${dir}/users,passdb=${dir}/pass,unpwdb.timelimit=0,brute.firstonly=true`, '127.0.0.1']);
      if (!/Statistics: Performed 1[2-3] guesses|0 valid accounts/.test(stdout)) throw new Error(`nmap did not try the list:\n${stdout}`);
    };
    const version = (await run('nmap', ['--version'])).stdout.split('\n')[0];
    await ours();
    await nmap();
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < runs; i++) {
      a.push(await time(ours));
      b.push(await time(nmap));
    }
    console.log(JSON.stringify({
      bench: 'ssh.default-credentials vs nmap ssh-brute (12 passwords, one account)', runs, node: process.version, peer: version,
      oursMedianMs: Math.round(median(a)), peerMedianMs: Math.round(median(b)), ratio: Number((median(a) / median(b)).toFixed(3)),
    }));
  } finally {
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
