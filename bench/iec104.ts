/**
 * Benchmark (not a test): iec104.identification vs nmap's iec-identify NSE script on the same IEC 104 outstation in
 * the same run (the weak emulator: the plain port serves any client, which nmap needs).
 *
 *   npx tsx bench/iec104.ts [runs]
 *
 * Two figures, as medians of `runs` (default 10):
 * - whole process: `iacs-probe run <profile> --only iec104.identification` (start-up, plan, attempt, evidence,
 *   report, manifest) against `nmap -Pn -n -sT -p PORT --script +iec-identify` (start-up, TESTFR, STARTDT, C_IC_NA_1);
 * - attempt: the probe through the attempt executor in this process, against the same nmap process.
 * Our attempt also sends STOPDT and acknowledges with an S-frame, which iec-identify does not.
 * Prints one JSON line with the ratios ours/nmap.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import probe from '../probes/iec104/identification';
import { startEmulator } from '../src/emulator';
import { runProbe } from '../test/helpers/probe-harness';
import { iec104Posture } from '../test/helpers/iec104';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 10);
  const emu = await startEmulator(iec104Posture('weak'), { ephemeralPorts: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-iec104-'));
  try {
    const { port } = emu.endpoint('iec104');
    const profile = path.join(dir, 'profile.yaml');
    fs.writeFileSync(profile, [
      'apiVersion: iacs-probe/v1',
      'component: { name: bench IEC 104 outstation, types: [embedded], slTarget: 2 }',
      `targets: [{ host: 127.0.0.1, services: [{ port: ${port}, protocol: iec104 }] }]`,
    ].join('\n'));
    let n = 0;
    const wholeProcess = async () => {
      const out = path.join(dir, `run-${n++}`);
      await run(process.execPath, [path.join(root, 'bin', 'iacs-probe'), 'run', profile, '--only', 'iec104.identification', '--out', out], { cwd: root }).catch((err: { code?: number }) => {
        if (err.code !== 0 && err.code !== 1) throw err;
      });
      const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { attempts: { status: string }[] };
      if (report.attempts[0]?.status !== 'pass') throw new Error(`iacs-probe: ${report.attempts[0]?.status}`);
    };
    const attempt = async () => {
      const { attempt: a } = await runProbe(probe, { service: { port, protocol: 'iec104' } });
      if (a.status !== 'pass') throw new Error(`probe: ${a.status} ${a.message ?? ''}`);
    };
    const nmap = async () => {
      const { stdout } = await run('nmap', ['-Pn', '-n', '-sT', '-p', String(port), '--script', '+iec-identify', '127.0.0.1']);
      if (!/Information objects: 7/.test(stdout)) throw new Error(`nmap did not report the information objects:\n${stdout}`);
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
      bench: 'iec104.identification vs nmap iec-identify', target: 'emulator (weak)', runs, node: process.version,
      peer: (await run('nmap', ['--version'])).stdout.split('\n')[0],
      oursProcessMedianMs: Math.round(median(w)), oursAttemptMedianMs: Math.round(median(a)), nmapMedianMs: Math.round(median(b)),
      processRatio: Number((median(w) / median(b)).toFixed(2)), attemptRatio: Number((median(a) / median(b)).toFixed(3)),
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await emu.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
