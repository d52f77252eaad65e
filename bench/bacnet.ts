/**
 * Benchmark (not a test): bacnet.identification vs nmap's bacnet-info NSE script on the same BACnet/IP target in
 * the same run (the hardened emulator). nmap -sU needs root: without it the benchmark says so and stops.
 *
 *   npx tsx bench/bacnet.ts [runs]
 *
 * Two figures, as medians of `runs` (default 10):
 * - whole process: `iacs-probe run <profile> --only bacnet.identification` (start-up, plan, attempt, evidence,
 *   report, manifest) against `nmap -Pn -n -sU -p PORT --script +bacnet-info` (start-up, UDP scan, its nine reads);
 * - attempt: the probe through the attempt executor in this process, against the same nmap process.
 * Both read the same nine device properties (we add serial-number, nmap adds nothing else). Prints one JSON line
 * with the ratios ours/nmap.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import probe from '../probes/bacnet/identification';
import { startEmulator } from '../src/emulator';
import { runProbe } from '../test/helpers/probe-harness';
import { bacnetPosture } from '../test/helpers/bacnet';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');

async function bench(port: number, runs: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-bacnet-'));
  try {
    const profile = path.join(dir, 'profile.yaml');
    fs.writeFileSync(profile, [
      'apiVersion: iacs-probe/v1',
      'component: { name: bench BACnet/IP target, types: [embedded], slTarget: 2 }',
      `targets: [{ host: 127.0.0.1, services: [{ port: ${port}, protocol: bacnet }] }]`,
    ].join('\n'));
    let n = 0;
    const wholeProcess = async () => {
      const out = path.join(dir, `run-${n++}`);
      await run(process.execPath, [path.join(root, 'bin', 'iacs-probe'), 'run', profile, '--only', 'bacnet.identification', '--out', out], { cwd: root }).catch((err: { code?: number }) => {
        if (err.code !== 0 && err.code !== 1) throw err;
      });
      const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { attempts: { status: string }[] };
      if (report.attempts[0]?.status !== 'pass') throw new Error(`iacs-probe: ${report.attempts[0]?.status}`);
    };
    const attempt = async () => {
      const { attempt: a } = await runProbe(probe, { service: { port, protocol: 'bacnet' } });
      if (a.status !== 'pass') throw new Error(`probe: ${a.status} ${a.message ?? ''}`);
    };
    const nmap = async () => {
      const { stdout } = await run('nmap', ['-Pn', '-n', '-sU', '-p', String(port), '--script', '+bacnet-info', '127.0.0.1']);
      if (!stdout.includes('Model Name: EPLC-1')) throw new Error(`nmap did not report the identity:\n${stdout}`);
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
      bench: 'bacnet.identification vs nmap bacnet-info', target: 'emulator (hardened)', transport: 'udp', runs, node: process.version,
      peer: (await run('nmap', ['--version'])).stdout.split('\n')[0],
      oursProcessMedianMs: Math.round(median(w)), oursAttemptMedianMs: Math.round(median(a)), nmapMedianMs: Math.round(median(b)),
      processRatio: Number((median(w) / median(b)).toFixed(2)), attemptRatio: Number((median(a) / median(b)).toFixed(3)),
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('nmap -sU (bacnet-info runs on a UDP scan) needs root');
  const runs = Number(process.argv[2] ?? 10);
  const emu = await startEmulator(bacnetPosture('hardened'), { ephemeralPorts: true });
  try {
    await bench(emu.endpoint('bacnet').port, runs);
  } finally {
    await emu.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
