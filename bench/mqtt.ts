/**
 * Benchmark (not a test): mqtt.access's anonymous round trip vs mosquitto_sub + mosquitto_pub on the same
 * broker in the same run: Debian's mosquitto (anonymous configuration) and the weak emulator.
 *
 *   npx tsx bench/mqtt.ts [runs]
 *
 * Three figures per broker, as medians of `runs` (default 10):
 * - whole process: `iacs-probe run <profile> --only mqtt.access` (start-up, plan, the attempt, evidence, report,
 *   manifest) with windowMs 100 and no takeover test: CONNECT, SUBSCRIBE #, $SYS/# and a test topic, one PUBLISH,
 *   100 ms of deliveries, DISCONNECT;
 * - attempt: the same probe through the attempt executor in this process;
 * - peer: `mosquitto_sub -t '$SYS/broker/version' -C 1` (CONNECT, SUBSCRIBE, the retained message, DISCONNECT)
 *   followed by `mosquitto_pub` of one QoS 0 message: the same packets in two processes.
 * Prints one JSON line per broker with the ratios ours/peer.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import probe from '../probes/mqtt/access';
import { startEmulator } from '../src/emulator';
import { findMosquitto, startMosquitto } from '../test/helpers/mosquitto';
import { mqttPosture } from '../test/helpers/mqtt';
import { runProbe } from '../test/helpers/probe-harness';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const INPUTS = { windowMs: 100, takeover: false };

async function bench(name: string, port: number, runs: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-mqtt-'));
  try {
    const profile = path.join(dir, 'profile.yaml');
    fs.writeFileSync(profile, [
      'apiVersion: iacs-probe/v1',
      'component: { name: bench MQTT broker, types: [network], slTarget: 2 }',
      `targets: [{ host: 127.0.0.1, services: [{ port: ${port}, protocol: mqtt }] }]`,
      `probes: { mqtt.access: ${JSON.stringify(INPUTS)} }`,
    ].join('\n'));
    let n = 0;
    const wholeProcess = async () => {
      const out = path.join(dir, `run-${n++}`);
      await run(process.execPath, [path.join(root, 'bin', 'iacs-probe'), 'run', profile, '--only', 'mqtt.access', '--out', out], { cwd: root }).catch((err: { code?: number }) => {
        if (err.code !== 0 && err.code !== 1) throw err;
      });
      const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { attempts: { status: string }[] };
      if (report.attempts[0]?.status !== 'fail') throw new Error(`iacs-probe: ${report.attempts[0]?.status}`);
    };
    const attempt = async () => {
      const { attempt: a } = await runProbe(probe, { service: { port, protocol: 'mqtt' }, inputs: INPUTS });
      if (a.status !== 'fail') throw new Error(`probe: ${a.status} ${a.message ?? ''}`);
    };
    const peer = async () => {
      const { stdout } = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', '$SYS/broker/version', '-C', '1', '-W', '5']);
      if (!stdout.trim()) throw new Error('mosquitto_sub read no version');
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'iacs-probe/bench', '-m', 'x']);
    };
    await wholeProcess(); // warm-up: loads from a cold cache
    await attempt();
    await peer();
    const [w, a, p] = [[], [], []] as number[][];
    for (let i = 0; i < runs; i++) {
      w.push(await time(wholeProcess));
      a.push(await time(attempt));
      p.push(await time(peer));
    }
    console.log(JSON.stringify({
      bench: 'mqtt.access (anonymous round trip) vs mosquitto_sub + mosquitto_pub', target: name, runs, node: process.version,
      oursProcessMedianMs: Math.round(median(w)), oursAttemptMedianMs: Math.round(median(a)), peerMedianMs: Math.round(median(p)),
      processRatio: Number((median(w) / median(p)).toFixed(2)), attemptRatio: Number((median(a) / median(p)).toFixed(2)),
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 10);
  const binary = findMosquitto();
  if (!binary) throw new Error('mosquitto is not installed (Debian packages mosquitto, mosquitto-clients)');
  const broker = await startMosquitto(binary, 'anonymous');
  const emu = await startEmulator(mqttPosture('weak'), { ephemeralPorts: true });
  try {
    await bench(`mosquitto ${broker.version} (anonymous configuration)`, broker.port, runs);
    await bench('emulator (weak)', emu.endpoint('mqtt').port, runs);
  } finally {
    await Promise.all([broker.stop(), emu.close()]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
