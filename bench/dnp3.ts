/**
 * Benchmark (not a test): dnp3.identification against a bare DNP3 round trip on the same outstation in the same
 * run (the weak emulator). There is no peer scanner for DNP3 here: nmap 7.93 has no DNP3 script and no DNP3
 * master installs from Debian or npm. The peer is therefore the smallest exchange that does the same work - a
 * python3 process that connects, sends REQUEST_LINK_STATUS and the READ of the device attributes (g0v254) as
 * fixed octets, and reads until the attributes come back - and tshark checks once, before the timing, that its
 * octets and the answers are DNP3 without a malformed or error mark and carry the identity.
 *
 *   npx tsx bench/dnp3.ts [runs]
 *
 * Figures, medians of `runs` (default 10): the whole process `iacs-probe run <profile> --only dnp3.identification`
 * (start-up, plan, attempt, evidence, report, manifest), the attempt alone in this process, and the python3 round
 * trip. Prints one JSON line with the ratios ours/round trip.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import probe from '../probes/dnp3/identification';
import { startEmulator } from '../src/emulator';
import { FUNCTION, LINK, allAttributesObjects, encodeLinkFrame, encodeRequest, segment } from '../src/protocols/dnp3';
import { runProbe } from '../test/helpers/probe-harness';
import { dnp3Posture } from '../test/helpers/dnp3';
import { decodeCapture, fieldValues, startCapture } from '../test/helpers/enip';
import { median, timeMs as time } from './timing';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');

/** The round trip's request octets: link status, then READ g0v254 in one unconfirmed user-data frame. */
function requestOctets(): Buffer {
  const frame = (control: number, userData: Buffer) => encodeLinkFrame({ control, destination: 1024, source: 1, userData });
  const [read] = segment(encodeRequest({ seq: 0, fn: FUNCTION.read, objects: allAttributesObjects() }), 0);
  return Buffer.concat([frame(LINK.dir | LINK.prm | LINK.requestLinkStatus, Buffer.alloc(0)), frame(LINK.dir | LINK.prm | LINK.unconfirmedUserData, read)]);
}

/** Reads link frames until one carries an application response (function 0x81); its CRCs are left to tshark. */
const PYTHON = [
  'import socket, sys',
  's = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)',
  's.sendall(bytes.fromhex(sys.argv[2]))',
  'buf = b""',
  'while True:',
  '    chunk = s.recv(4096)',
  '    if not chunk: sys.exit(1)',
  '    buf += chunk',
  '    while len(buf) >= 10 and len(buf) >= 10 + (buf[2] - 5) + 2 * -(-(buf[2] - 5) // 16):',
  '        n = buf[2] - 5',
  '        total = 10 + n + 2 * -(-n // 16)',
  '        user = b"".join(buf[10 + i * 18:10 + i * 18 + min(16, n - i * 16)] for i in range(-(-n // 16)))',
  '        buf = buf[total:]',
  '        if n >= 3 and user[2] == 0x81: s.close(); sys.exit(0)',
].join('\n');

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 10);
  const emu = await startEmulator(dnp3Posture('weak'), { ephemeralPorts: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-dnp3-'));
  try {
    const { port } = emu.endpoint('dnp3');
    const octets = requestOctets().toString('hex');
    const roundTrip = async () => {
      await run('python3', ['-c', PYTHON, String(port), octets]);
    };
    // tshark checks the round trip's octets and the outstation's answers once.
    const cap = await startCapture('tshark', [port]);
    let file: string;
    try {
      await roundTrip();
    } finally {
      file = await cap.stop();
    }
    const packets = await decodeCapture('tshark', file, [{ port, transport: 'tcp', proto: 'dnp3' }], ['dnp3']);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    const problems = packets.flatMap((p) => p.problems).filter((m) => !m.includes('"dnp3.iin_abnormal"'));
    if (problems.length > 0 || !fieldValues(packets, 'dnp3.al.da.value').includes('Example Automation')) throw new Error(`tshark does not confirm the round trip: ${problems.join('; ')}`);

    const profile = path.join(dir, 'profile.yaml');
    fs.writeFileSync(profile, [
      'apiVersion: iacs-probe/v1',
      'component: { name: bench DNP3 outstation, types: [embedded], slTarget: 2 }',
      `targets: [{ host: 127.0.0.1, services: [{ port: ${port}, protocol: dnp3, options: { outstationAddress: 1024 } }] }]`,
    ].join('\n'));
    let n = 0;
    const wholeProcess = async () => {
      const out = path.join(dir, `run-${n++}`);
      await run(process.execPath, [path.join(root, 'bin', 'iacs-probe'), 'run', profile, '--only', 'dnp3.identification', '--out', out], { cwd: root }).catch((err: { code?: number }) => {
        if (err.code !== 0 && err.code !== 1) throw err;
      });
      const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { attempts: { status: string }[] };
      if (report.attempts[0]?.status !== 'pass') throw new Error(`iacs-probe: ${report.attempts[0]?.status}`);
    };
    const attempt = async () => {
      const { attempt: a } = await runProbe(probe, { service: { port, protocol: 'dnp3', options: { outstationAddress: 1024 } } });
      if (a.status !== 'pass') throw new Error(`probe: ${a.status} ${a.message ?? ''}`);
    };
    await wholeProcess(); // warm-up: loads from a cold cache
    await attempt();
    await roundTrip();
    const [w, a, b] = [[], [], []] as number[][];
    for (let i = 0; i < runs; i++) {
      w.push(await time(wholeProcess));
      a.push(await time(attempt));
      b.push(await time(roundTrip));
    }
    console.log(JSON.stringify({
      bench: 'dnp3.identification vs a tshark-checked python3 round trip (no DNP3 peer scanner exists here)', target: 'emulator (weak)', runs, node: process.version,
      peer: (await run('python3', ['--version'])).stdout.trim(),
      oursProcessMedianMs: Math.round(median(w)), oursAttemptMedianMs: Math.round(median(a)), roundTripMedianMs: Math.round(median(b)),
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
