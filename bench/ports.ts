/**
 * Ports row: `iacs-probe run --only ports.tcp` against `nmap -sT -Pn -n -p <the same ports>`, whole
 * processes, from a labnet's scanner side against one emulated device (weak posture) at an address of its
 * own, so no other service of this machine is in the scan. ports.tcp runs nmap itself; service detection
 * is off in the profile, so both do one TCP connect scan of the same list (ours reads it from
 * `portsScanned`). The same work: every run finds the same open ports.
 */
import { createLabnet, labnetAvailability } from '../src/labnet/netns';
import { findExecutable } from '../test/helpers/peers';
import { ProcessFailed, benchCancel, timeChecked } from './process';
import { attemptOf, oneHostProfile, phasesText, timeRun, versionOf, type BenchContext, type Phases } from './ours';
import { builtDeviceCommand, scannerSide } from './labnet';
import { comparison, notMeasured, type Row } from './table';
import { alternate, type Contender } from './timing';

const UDP = new Set(['snmp', 'tftp', 'bacnet']);

/** How many ports a spec like "20-23,80" names. */
function portCount(spec: string): number {
  return spec.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
}

function nmapOpen(xml: string): number[] {
  return [...xml.matchAll(/<port protocol="tcp" portid="(\d+)"><state state="open"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
}

export async function portsRows(ctx: BenchContext): Promise<Row[]> {
  const work = 'ports.tcp on an emulated device (labnet)';
  const nmap = findExecutable('nmap');
  if (!nmap) return [notMeasured(work, 'needs nmap')];
  const available = await labnetAvailability();
  if (!available.ok) return [notMeasured(work, `needs a labnet: ${available.reason}`)];
  const labnet = await createLabnet({ devices: [{ posture: 'weak', name: 'plc' }], deviceCommand: builtDeviceCommand(), startTimeoutMs: 120_000, signal: benchCancel.signal });
  try {
    const [device] = labnet.devices;
    // One declared service per TCP port (a protocol may list a port twice, e.g. over TCP and as a UDP endpoint).
    const tcp = [...new Map(device.services.filter((s) => !UDP.has(s.protocol) && s.transport !== 'udp').map((s) => [s.port, s])).values()];
    const profile = oneHostProfile(ctx.tmp, 'ports', device.address, tcp.map((s) => ({ port: s.port, protocol: 'tcp', name: s.protocol })), {
      probes: { 'ports.tcp': { serviceDetection: false } },
    });
    const spawner = scannerSide(labnet);
    const first = await timeRun(ctx, profile, ['--only', 'ports.tcp'], { spawner });
    const observed = attemptOf(first.report, 'ports.tcp').observations as { portsScanned: string; open: { port: number }[] };
    const reference = observed.open.map((p) => p.port).sort((a, b) => a - b);
    if (reference.length < tcp.length) throw new ProcessFailed(`ports.tcp found ${reference.length} open ports (${reference.join(", ")}), the device listens on ${tcp.length} (${tcp.map((s) => `${s.protocol}/${s.port}`).join(", ")})`);
    const same = (what: string, open: number[]) => {
      if (open.join(',') !== reference.join(',')) throw new ProcessFailed(`${what} found ${open.join(',')}, expected ${reference.join(',')}`);
    };
    const phases: Phases[] = [];
    const contenders: Record<string, Contender> = {
      ours: async (run) => {
        const { result, report, phases: p } = await timeRun(ctx, profile, ['--only', 'ports.tcp'], { spawner });
        same('ports.tcp', (attemptOf(report, 'ports.tcp').observations as typeof observed).open.map((p) => p.port).sort((a, b) => a - b));
        if (run >= 0) phases.push(p);
        return result;
      },
      nmap: async () => {
        const r = await timeChecked({ argv: [nmap, '-sT', '-Pn', '-n', '-p', observed.portsScanned, '-oX', '-', device.address], spawner });
        same('nmap', nmapOpen(r.stdout));
        return r;
      },
    };
    const ports = portCount(observed.portsScanned);
    ctx.log(`ports: ${ctx.runs} rounds against ${device.address} (${ports} ports)`);
    const m = await alternate(contenders, ctx.runs);
    return [comparison(work, m.ours, `nmap ${versionOf([nmap, '--version'], /Nmap version ([\d.]+)/)} -sT`, m.nmap, undefined, [
      `Same work checked on every run: one TCP connect scan of the same ${ports} ports (the ports.tcp default list and the declared ports), the same ${reference.length} open ports; ports.tcp runs nmap -sT itself, so the ratio is its overhead (start-up, judging, evidence).`,
      `iacs-probe: ${phasesText(phases)}.`,
    ])];
  } finally {
    await labnet.close();
  }
}
