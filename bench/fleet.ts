/**
 * Fleet rows: N emulated devices in a labnet (one network namespace and address each), one profile with N
 * hosts, one `iacs-probe run --concurrency 64` from the scanner side; wall time and peak RSS per N, and the
 * per-host budget checked at the targets.
 *
 * Devices run a reduced posture derived from hardened.yaml: its SSH, HTTPS and Modbus/TCP services (Modbus
 * enabled with the hardened settings), nothing else. Those are the three connection-based families the
 * default run exercises in depth (SSH, TLS + web, Modbus); the OPC UA server (node-opcua) alone would
 * triple a device's memory and start-up, and SNMP is UDP (no connection to count).
 *
 * Budget at the targets: each device counts the TCP connections it holds at once (device-entry
 * --connection-log). The bound is limits.perHost × CONNECTIONS_PER_ATTEMPT, where one attempt may hold 3:
 * every probe of this profile opens one connection at a time, but the device may still hold the previous
 * one when the next arrives (measured with perHost 1: 2 at once for ssh.auth, tls.protocols, http.feedback,
 * ...), and ports.tcp's connect scan reaches each open port (3 here) at the same time.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { loadPosture, type ConnectionStats } from '../src/emulator';
import { createLabnet, labnetAvailability, type Labnet } from '../src/labnet/netns';
import type { Report } from '../src/report/model';
import { benchCancel, timeChecked, type ProcessResult } from './process';
import { cli, readReport, writeProfile, type BenchContext } from './ours';
import { builtDeviceCommand, scannerSide } from './labnet';
import { measuredCell, mib, notMeasured, ratioText, seconds, type Met, type Row } from './table';
import { summarise } from './timing';

export const FLEET_SIZES = [1, 10, 50, 100];
const CONCURRENCY = 64;
const PER_HOST = 2;
/** Services of the reduced posture: each is open on every device. */
const FLEET_SERVICES = ['ssh', 'https', 'modbus'] as const;
/** max(2 for a connection the device has not closed yet beside the next, ports.tcp's one per open port). */
const CONNECTIONS_PER_ATTEMPT = Math.max(2, FLEET_SERVICES.length);
const GOAL_RATIO = 4;
const GOAL_RSS_KIB = 500 * 1024;
/** What one device process needs (measured: ~65 MiB resident), with room for its TLS and SSH sessions. */
const DEVICE_BUDGET_KIB = 100 * 1024;

/** hardened.yaml with only SSH, HTTPS and Modbus/TCP (enabled), written to `dir`. */
function fleetPosture(dir: string): { file: string; username: string; password: string } {
  const hardened = loadPosture('hardened');
  const services: Record<string, unknown> = {};
  for (const key of Object.keys(hardened.services)) services[key] = { enabled: false };
  for (const key of FLEET_SERVICES) services[key] = { ...hardened.services[key], enabled: true };
  const file = path.join(dir, 'fleet-posture.yaml');
  fs.writeFileSync(file, stringify({ ...hardened, name: 'fleet', description: 'hardened.yaml, SSH + HTTPS + Modbus/TCP only (bench fleet)', services }));
  const account = hardened.accounts?.find((a) => a.username === 'operator');
  if (!account) throw new Error('hardened.yaml has no operator account');
  return { file, username: account.username, password: account.password };
}

function fleetProfile(dir: string, labnet: Labnet, account: { username: string; password: string }): string {
  fs.writeFileSync(path.join(dir, 'fleet-secrets.yaml'), stringify({ operator: account.password }));
  const login = { username: account.username, password: { secret: 'operator' } };
  return writeProfile(dir, `fleet-${labnet.devices.length}`, {
    component: { name: `bench fleet of ${labnet.devices.length}`, vendor: 'Example Automation', model: 'EPLC-1', types: ['embedded'], slTarget: 2 },
    targets: labnet.devices.map((d) => ({
      host: d.address, name: d.name,
      services: d.services.map((s) => ({ port: s.port, protocol: s.protocol })),
    })),
    secretsFile: 'fleet-secrets.yaml',
    credentials: { ssh: login, http: login },
    policy: { lockout: { threshold: 3, durationSeconds: 30, scope: 'user' }, sessions: { maxConcurrent: 2, idleTimeoutSeconds: 300 } },
    limits: { perHost: PER_HOST },
    allow: ['passive', 'active'],
  });
}

interface FleetRun {
  n: number;
  startMs: number;
  /** CPU time the device processes used during the run (ms). */
  devicesCpuMs: number;
  result: ProcessResult;
  report: Report;
  console: string;
  connections: DeviceConnections[];
}

/** What device-entry --connection-log writes. */
type DeviceConnections = ConnectionStats & { host: string };

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system, ms) the device processes have used so far, from /proc/<pid>/stat. */
function devicesCpuMs(labnet: Labnet): number {
  let ticks = 0;
  for (const d of labnet.devices) {
    try {
      const stat = fs.readFileSync(`/proc/${d.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // a device that has gone used nothing more
    }
  }
  return (ticks * 1000) / CLOCK_TICKS;
}

/** Reads what every device wrote as it stopped; a device that wrote nothing makes the check impossible. */
function readConnectionLogs(dir: string, labnet: Labnet): DeviceConnections[] {
  return labnet.devices.map((d) => {
    const file = path.join(dir, `${d.address}.json`);
    if (!fs.existsSync(file)) throw new Error(`device ${d.name} (${d.address}) wrote no connection log`);
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DeviceConnections;
  });
}

async function runFleet(ctx: BenchContext, n: number, posture: ReturnType<typeof fleetPosture>): Promise<FleetRun> {
  const dir = path.join(ctx.tmp, `fleet-${n}`);
  const logs = path.join(dir, 'connections');
  fs.mkdirSync(logs, { recursive: true });
  const started = Date.now();
  const devices = Array.from({ length: n }, (_, i) => ({ posture: posture.file, name: `plc-${String(i + 1).padStart(3, '0')}` }));
  const labnet = await createLabnet({ devices, deviceCommand: builtDeviceCommand(logs), startTimeoutMs: 600_000, signal: benchCancel.signal });
  let run: Omit<FleetRun, 'connections'>;
  try {
    const startMs = Date.now() - started;
    ctx.log(`fleet N=${n}: ${n} devices up in ${seconds(startMs)}; one run at --concurrency ${CONCURRENCY}`);
    const profile = fleetProfile(dir, labnet, posture);
    const out = path.join(dir, 'run');
    const cpuBefore = devicesCpuMs(labnet);
    const result = await timeChecked({
      argv: cli('run', profile, '--concurrency', String(CONCURRENCY), '--out', out), spawner: scannerSide(labnet), sampleTree: true, timeoutMs: 1_800_000,
    }, [0, 1, 2]);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    const devicesCpu = devicesCpuMs(labnet) - cpuBefore;
    run = { n, startMs, devicesCpuMs: devicesCpu, result, report: readReport(out), console: result.stdout };
    checkPerHostSection(run.report, html, run.console);
  } finally {
    await labnet.close(); // the devices write their connection logs as they stop
  }
  return { ...run, connections: readConnectionLogs(logs, labnet) };
}

/** The report's per-host section lists every host, in report.html and (with several hosts) in the console summary. */
function checkPerHostSection(report: Report, html: string, consoleText: string): void {
  const several = report.targets.length > 1;
  const missing = report.targets.filter((t) => !html.includes(`id="host-${t.host}"`) || (several && !consoleText.includes(`\n  ${t.host} `)));
  if (missing.length) throw new Error(`the per-host section misses ${missing.length} host(s), e.g. ${missing[0].host}`);
}

function fleetRow(run: FleetRun, baseline: FleetRun | undefined): Row {
  const { n, result, report, connections } = run;
  const bound = PER_HOST * CONNECTIONS_PER_ATTEMPT;
  const busiest = connections.reduce((a, b) => (b.peak > a.peak ? b : a));
  const idle = connections.filter((c) => c.total === 0).length;
  const budgetKept = busiest.peak <= bound && idle === 0;
  const errors = report.attempts.filter((a) => a.status === 'error');
  const ratio = baseline ? result.wallMs / baseline.result.wallMs : undefined;
  const rssKiB = result.peakRssKiB ?? Number.POSITIVE_INFINITY;
  // Errors count against the goal: a fleet run that times attempts out did not do the work.
  const checks = [rssKiB <= GOAL_RSS_KIB, budgetKept, errors.length === 0, ...(n === 100 && ratio !== undefined ? [ratio <= GOAL_RATIO] : [])];
  const met: Met = checks.every(Boolean) ? 'yes' : 'no';
  const cpuFloorMs = ((result.cpuMs ?? 0) + run.devicesCpuMs) / os.cpus().length;
  const notes = [
    `fleet N=${n}: ${report.attempts.length} attempts (${errors.length} errors${errors.length ? `: ${summariseErrors(errors)}` : ''}) on ${report.targets.length} host${report.targets.length === 1 ? '' : 's'};`,
    `devices up in ${seconds(run.startMs)} (not in the wall time);`,
    `longest attempts: ${[...report.attempts].sort((a, b) => b.durationMs - a.durationMs).slice(0, 3).map((a) => `${a.probe} ${seconds(a.durationMs)}`).join(', ')};`,
    `most connections one device held at once: ${busiest.peak} (${busiest.host}, bound ${bound} = perHost ${PER_HOST} × ${CONNECTIONS_PER_ATTEMPT})${idle ? `, ${idle} device(s) saw no connection` : ''};`,
    `whole process tree incl. nmap children: ${mib(result.peakTreeRssKiB)} at most;`,
    `CPU during the run: iacs-probe and its nmap children ${seconds(result.cpuMs ?? NaN)}, the devices ${seconds(run.devicesCpuMs)}: on ${os.cpus().length} cores the run needs at least ${seconds(cpuFloorMs)} (load average ${os.loadavg()[0].toFixed(1)} at its end).`,
    ...(n === 100 && baseline && ratio !== undefined && ratio > GOAL_RATIO ? [cpuReason(result, run.devicesCpuMs, baseline.result.wallMs)] : []),
  ];
  return {
    work: `fleet N=${n}: ${n} emulated device${n === 1 ? '' : 's'}, one run, --concurrency ${CONCURRENCY}`,
    ours: `${measuredCell(summarise([result]))}, ≤ ${busiest.peak} conn/host`,
    peer: '—',
    ratio: ratio === undefined ? '—' : `${ratioText(ratio)} N=1`,
    goal: `${n === 100 ? `≤ ${GOAL_RATIO}× N=1 wall, ` : ''}≤ 500 MiB, ≤ ${bound} conn/host`,
    met,
    notes,
  };
}

/** Why N=100 misses the wall-time goal, in CPU: the devices share this machine's cores, a real bench's would not. */
function cpuReason(result: ProcessResult, devicesCpuMs: number, baselineWallMs: number): string {
  const cores = os.cpus().length;
  const ours = (result.cpuMs ?? 0) / cores;
  const all = ours + devicesCpuMs / cores;
  return `Against ${GOAL_RATIO}× N=1: the CPU of this run, spread over ${cores} cores, is ${ratioText(all / baselineWallMs)} N=1's wall; `
    + `iacs-probe's own share alone (devices on hardware of their own) ${ratioText(ours / baselineWallMs)}.`;
}

function summariseErrors(errors: Report['attempts']): string {
  const byProbe = new Map<string, number>();
  for (const e of errors) byProbe.set(`${e.probe} ${e.reason ?? ''}`.trim(), (byProbe.get(`${e.probe} ${e.reason ?? ''}`.trim()) ?? 0) + 1);
  return [...byProbe].map(([k, v]) => `${k} ×${v}`).join(', ');
}

export async function fleetRows(ctx: BenchContext, sizes: readonly number[]): Promise<Row[]> {
  const available = await labnetAvailability();
  if (!available.ok) return sizes.map((n) => notMeasured(`fleet N=${n}`, `needs a labnet: ${available.reason}`));
  const posture = fleetPosture(ctx.tmp);
  const rows: Row[] = [];
  let baseline: FleetRun | undefined;
  for (const n of sizes) {
    const free = os.freemem() / 1024;
    if (n * DEVICE_BUDGET_KIB > free) {
      rows.push(notMeasured(`fleet N=${n}`, `${n} devices need about ${mib(n * DEVICE_BUDGET_KIB)}; ${mib(free)} are free on this machine`));
      continue;
    }
    try {
      const run = await runFleet(ctx, n, posture);
      if (n === 1) baseline = run;
      rows.push(fleetRow(run, baseline));
    } catch (err) {
      rows.push(notMeasured(`fleet N=${n}`, (err as Error).message));
    }
  }
  return rows;
}
