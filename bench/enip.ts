/**
 * Benchmark (not a test): enip.identity vs nmap's enip-info NSE script on the same EtherNet/IP target in the same
 * run (the hardened emulator), over TCP and over UDP (nmap -sU needs root; without it the UDP line is left out).
 *
 *   npx tsx bench/enip.ts [runs]
 *
 * Two figures per transport, as medians of `runs` (default 10):
 * - whole process: `iacs-probe run <profile> --only enip.identity` (start-up, plan, attempt, evidence, report,
 *   manifest) against `nmap -Pn -n -sT|-sU -p PORT --script +enip-info` (start-up, its one ListIdentity);
 * - attempt: the probe through the attempt executor in this process, against the same nmap process.
 * Our attempt sends ListServices (and ListInterfaces over TCP) too, which enip-info does not.
 * Prints one JSON line per transport with the ratios ours/nmap.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import probe from '../probes/enip/identity';
import { startEmulator } from '../src/emulator';
import { runProbe } from '../test/helpers/probe-harness';
import { enipPosture } from '../test/helpers/enip';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');

async function benchTransport(port: number, transport: 'tcp' | 'udp', runs: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-enip-'));
  try {
    const profile = path.join(dir, 'profile.yaml');
    fs.writeFileSync(profile, [
      'apiVersion: iacs-probe/v1',
      'component: { name: bench EtherNet/IP target, types: [embedded], slTarget: 2 }',
      `targets: [{ host: 127.0.0.1, services: [{ port: ${port}, protocol: enip, transport: ${transport} }] }]`,
    ].join('\n'));
    let n = 0;
    const wholeProcess = async () => {
      const out = path.join(dir, `run-${n++}`);
      await run(process.execPath, [path.join(root, 'bin', 'iacs-probe'), 'run', profile, '--only', 'enip.identity', '--out', out], { cwd: root }).catch((err: { code?: number }) => {
        if (err.code !== 0 && err.code !== 1) throw err;
      });
      const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { attempts: { status: string }[] };
      if (report.attempts[0]?.status !== 'pass') throw new Error(`iacs-probe: ${report.attempts[0]?.status}`);
    };
    const attempt = async () => {
      const { attempt: a } = await runProbe(probe, { service: { port, protocol: 'enip', transport } });
      if (a.status !== 'pass') throw new Error(`probe: ${a.status} ${a.message ?? ''}`);
    };
    const nmap = async () => {
      const { stdout } = await run('nmap', ['-Pn', '-n', transport === 'tcp' ? '-sT' : '-sU', '-p', String(port), '--script', '+enip-info', '127.0.0.1']);
      if (!stdout.includes('Example Automation EPLC-1')) throw new Error(`nmap did not report the identity:\n${stdout}`);
    };
    await wholeProcess(); // warm-up: loads from a cold cache
    await attempt();
    await nmap();
    const [w, a, b] = [[], [], []] as number[][];
    for (let i = 0; i < runs; i++) {
      w.push(await time(wholeProcess));
      a.push(await time(attempt));
      b.push(await time(nmap));
    }
    console.log(JSON.stringify({
      bench: 'enip.identity vs nmap enip-info', target: 'emulator (hardened)', transport, runs, node: process.version,
      peer: (await run('nmap', ['--version'])).stdout.split('\n')[0],
      oursProcessMedianMs: Math.round(median(w)), oursAttemptMedianMs: Math.round(median(a)), nmapMedianMs: Math.round(median(b)),
      processRatio: Number((median(w) / median(b)).toFixed(2)), attemptRatio: Number((median(a) / median(b)).toFixed(3)),
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 10);
  const emu = await startEmulator(enipPosture('hardened'), { ephemeralPorts: true });
  try {
    const { port } = emu.endpoint('enip');
    await benchTransport(port, 'tcp', runs);
    if (process.getuid?.() === 0) await benchTransport(port, 'udp', runs);
  } finally {
    await emu.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
