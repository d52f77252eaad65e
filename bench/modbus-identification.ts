/**
 * Benchmark (not a test): modbus.identification against the hardened emulator vs nmap's
 * modbus-discover NSE script (Report Slave ID + 43/14 basic objects) on the same device in the same run.
 *
 *   npx tsx bench/modbus-identification.ts [runs]
 *
 * Prints one JSON line: median wall time per run for each tool and the ratio ours/nmap. nmap's time
 * includes its process start-up, the probe's includes the attempt executor and evidence writing: both
 * are what a user waits for.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import probe from '../probes/modbus/identification';
import { startEmulator } from '../src/emulator';
import { runProbe } from '../test/helpers/probe-harness';
import { modbusPosture } from '../test/helpers/modbus';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);


async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 10);
  const emu = await startEmulator(modbusPosture('hardened'), { ephemeralPorts: true });
  const { port } = emu.endpoint('modbus');
  try {
    const ours = async () => {
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'modbus', unitId: 1 } });
      if (attempt.status !== 'pass') throw new Error(`probe: ${attempt.status} ${attempt.message ?? ''}`);
    };
    const nmap = async () => {
      const { stdout } = await run('nmap', ['-Pn', '-n', '-sT', '-p', String(port), '--script', '+modbus-discover', '127.0.0.1']);
      if (!stdout.includes('Example Automation')) throw new Error(`nmap did not report the identity:\n${stdout}`);
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
    const result = {
      bench: 'modbus.identification vs nmap modbus-discover', runs, node: process.version, peer: version,
      oursMedianMs: Math.round(median(a)), peerMedianMs: Math.round(median(b)), ratio: Number((median(a) / median(b)).toFixed(3)),
    };
    console.log(JSON.stringify(result));
  } finally {
    await emu.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
