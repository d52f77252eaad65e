/**
 * Benchmark (not a test): s7.identification vs nmap's s7-info NSE script on the same S7 target in the same run,
 * against the hardened emulator and against snap7's S7Server (node-snap7).
 *
 *   npx tsx bench/s7.ts [runs]
 *
 * Two figures per target, as medians of `runs` (default 10):
 * - whole process: `iacs-probe run <profile> --only s7.identification` (start-up, plan, attempt, evidence, report,
 *   manifest) against `nmap -Pn -n -sT -p PORT --script +s7-info` (start-up, connect, its three requests);
 * - attempt: the probe through the attempt executor in this process, against the same nmap process.
 * Prints one JSON line per target with the ratios ours/nmap.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import probe from '../probes/s7/identification';
import { startEmulator } from '../src/emulator';
import { runProbe } from '../test/helpers/probe-harness';
import { s7Posture } from '../test/helpers/s7';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');

interface Snap7 { S7Server: new () => { SetParam(p: number, v: number): boolean; RegisterArea(a: number, i: number, b: Buffer): boolean; StartTo(h: string): boolean; Stop(): boolean; LocalPort: number; srvAreaDB: number } }

async function benchTarget(name: string, port: number, expect: string, runs: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-s7-'));
  try {
    const profile = path.join(dir, 'profile.yaml');
    fs.writeFileSync(profile, [
      'apiVersion: iacs-probe/v1',
      'component: { name: bench S7 target, types: [embedded], slTarget: 2 }',
      `targets: [{ host: 127.0.0.1, services: [{ port: ${port}, protocol: s7 }] }]`,
    ].join('\n'));
    let n = 0;
    const wholeProcess = async () => {
      const out = path.join(dir, `run-${n++}`);
      await run(process.execPath, [path.join(root, 'bin', 'iacs-probe'), 'run', profile, '--only', 's7.identification', '--out', out], { cwd: root }).catch((err: { code?: number }) => {
        if (err.code !== 0 && err.code !== 1) throw err;
      });
      const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { attempts: { status: string }[] };
      if (report.attempts[0]?.status !== 'pass') throw new Error(`iacs-probe: ${report.attempts[0]?.status}`);
    };
    const attempt = async () => {
      const { attempt: a } = await runProbe(probe, { service: { port, protocol: 's7' } });
      if (a.status !== 'pass') throw new Error(`probe: ${a.status} ${a.message ?? ''}`);
    };
    const nmap = async () => {
      const { stdout } = await run('nmap', ['-Pn', '-n', '-sT', '-p', String(port), '--script', '+s7-info', '127.0.0.1']);
      if (!stdout.includes(expect)) throw new Error(`nmap did not report the identity:\n${stdout}`);
    };
    await wholeProcess(); // warm-up: the first run may build nothing, but loads from a cold cache
    await attempt();
    await nmap();
    const [w, a, b] = [[], [], []] as number[][];
    for (let i = 0; i < runs; i++) {
      w.push(await time(wholeProcess));
      a.push(await time(attempt));
      b.push(await time(nmap));
    }
    console.log(JSON.stringify({
      bench: 's7.identification vs nmap s7-info', target: name, runs, node: process.version, peer: (await run('nmap', ['--version'])).stdout.split('\n')[0],
      oursProcessMedianMs: Math.round(median(w)), oursAttemptMedianMs: Math.round(median(a)), nmapMedianMs: Math.round(median(b)),
      processRatio: Number((median(w) / median(b)).toFixed(2)), attemptRatio: Number((median(a) / median(b)).toFixed(3)),
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 10);
  const emu = await startEmulator(s7Posture('hardened'), { ephemeralPorts: true });
  try {
    await benchTarget('emulator (hardened)', emu.endpoint('s7').port, 'SN-HARD-0001', runs);
  } finally {
    await emu.close();
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const snap7 = require('node-snap7') as Snap7;
  const server = new snap7.S7Server();
  const port = 20000 + Math.floor(Math.random() * 20000);
  server.SetParam(server.LocalPort, port);
  server.RegisterArea(server.srvAreaDB, 1, Buffer.alloc(32));
  if (!server.StartTo('127.0.0.1')) throw new Error(`snap7 did not start on ${port}`);
  try {
    await benchTarget('snap7 S7Server', port, 'SNAP7-SERVER', runs);
  } finally {
    server.Stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
