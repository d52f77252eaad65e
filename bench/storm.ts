/**
 * Storm rows: the packet rate our generators achieve (robustness.network-storm's step runner: hping3 driven by
 * our argument builder for SYN and ICMP, Node's dgram for UDP, nping for ARP) against the reference tool run
 * directly with the same settings (same target, interval and count), as a ratio of achieved rates. The target
 * is an emulated device (hardened posture) in a labnet namespace, reached over the labnet veth from the root
 * namespace. Each contender's rate is measured the same way: packets its statistics report over its run time.
 */
import { spawn } from 'node:child_process';
import { createLabnet, labnetAvailability } from '../src/labnet/netns';
import {
  hping3Args, npingArpArgs, parseHping3Statistics, parseNpingStatistics, stormStepRunner, stormTools, type StormKind, type StormSpec,
} from '../src/protocols/storm';
import { benchCancel } from './process';
import { builtDeviceCommand } from './labnet';
import type { BenchContext } from './ours';
import { notMeasured, ratioText, type Row } from './table';

const STEP_MS = 2000;
const CASES: { kind: StormKind; rate: number }[] = [
  { kind: 'syn', rate: 1000 }, { kind: 'syn', rate: 10_000 }, { kind: 'icmp', rate: 10_000 },
  { kind: 'udp', rate: 1000 }, { kind: 'udp', rate: 10_000 }, { kind: 'arp', rate: 1000 },
];

/** The reference tool, run directly: achieved packets/s from its statistics over its run time. */
function direct(binary: string, argv: string[], parse: (t: string) => { sent: number } | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'], signal: benchCancel.signal });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', () => {
      const stats = parse(out);
      if (!stats) reject(new Error(`${binary}: no statistics: ${out.slice(-300)}`));
      else resolve(Math.round((stats.sent * 1000) / Math.max(1, Date.now() - started)));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function stormRows(ctx: BenchContext): Promise<Row[]> {
  const work = 'storm generators (labnet)';
  const tools = stormTools();
  if (!tools.hping3 || !tools.nping) return [notMeasured(work, 'needs hping3 and nping')];
  if (process.getuid?.() !== 0) return [notMeasured(work, 'needs root (raw sockets, a labnet)')];
  const available = await labnetAvailability();
  if (!available.ok) return [notMeasured(work, `needs a labnet: ${available.reason}`)];
  const labnet = await createLabnet({ topology: 'root', devices: [{ posture: 'hardened', name: 'plc' }], deviceCommand: builtDeviceCommand(), startTimeoutMs: 120_000, signal: benchCancel.signal });
  try {
    const [device] = labnet.devices;
    const scope = [device.address];
    const iface = labnet.scanner.interface;
    const rows: Row[] = [];
    for (const { kind, rate } of CASES) {
      const port = kind === 'syn' ? device.services.find((s) => s.transport !== 'udp')!.port : 33434;
      const spec: StormSpec = { kind, generator: kind === 'udp' ? 'node' : kind === 'arp' ? 'nping' : 'hping3', address: device.address, port, interface: iface };
      const count = Math.round((rate * STEP_MS) / 1000);
      const plan = { kind, address: device.address, port, rate, count, interface: iface };
      const [refBinary, refArgv, refParse] = kind === 'arp'
        ? [tools.nping, npingArpArgs(plan, scope), parseNpingStatistics] as const
        : [tools.hping3, hping3Args(plan, scope), parseHping3Statistics] as const;
      const ours: number[] = [];
      const ref: number[] = [];
      for (let i = 0; i < Math.min(ctx.runs, 3); i++) {
        benchCancel.signal.throwIfAborted();
        const step = await stormStepRunner(spec, scope, tools)(rate, STEP_MS, { left: Number.MAX_SAFE_INTEGER }, benchCancel.signal, `${kind} ${rate}/s`);
        ours.push(step.achievedRate);
        ref.push(await direct(refBinary, refArgv, refParse));
      }
      const [o, r] = [median(ours), median(ref)];
      const refName = kind === 'arp' ? 'nping' : 'hping3';
      const ourName = spec.generator === 'node' ? 'Node dgram' : `${spec.generator} via our builder`;
      rows.push({
        work: `${kind.toUpperCase()} storm at ${rate}/s, ${STEP_MS / 1000} s (${ourName})`, ours: `${o}/s`, peer: `${refName} ${refArgv.slice(0, -1).join(' ')}: ${r}/s`,
        ratio: ratioText(o / r), goal: '≥ 0.90×', met: o / r >= 0.9 ? 'yes' : 'no',
        notes: [`achieved packets/s, median of ${ours.length} (ours ${ours.join(', ')}; ${refName} ${ref.join(', ')}); ${labnet.devices[0].address} in a labnet namespace`],
      });
    }
    return rows;
  } finally {
    await labnet.close();
  }
}
