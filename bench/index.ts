/**
 * `npm run bench`: starts the peers and targets itself, times whole processes as users time them (our
 * command line from the build, the peer tools as processes), alternately, and prints one markdown table:
 * work | iacs-probe | peer | ratio | goal | met?, with numbered notes (the same-work checks, and the measured
 * reason where a goal is not met). Not a test: performance is measured here, as ratios within one run.
 *
 *   npm run bench -- [--runs 5] [--only startup,ssh,tls,ports,modbus,demo,fleet,storm,boundary] [--no-testssl]
 *                    [--fleet 1,10,50,100] [--fleet-max N]
 *
 * Rows with ports and the fleet need root and iproute2 (labnet). Exit 0 when every row was measured, 1
 * when one could not be (a peer missing, a same-work check failed, a process failed), 3 on usage errors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { demoRows, startupRows } from './cli';
import { FLEET_SIZES, fleetRows } from './fleet';
import { modbusIdentificationRows } from './modbus-identification';
import { ensureBuilt, type BenchContext } from './ours';
import { benchCancel } from './process';
import { portsRows } from './ports';
import { sshRows } from './ssh';
import { stormRows } from './storm';
import { boundaryRows } from './boundary';
import { notMeasured, renderTable, type Row } from './table';
import { tlsRows } from './tls';

const SECTIONS = ['startup', 'ssh', 'tls', 'ports', 'modbus', 'demo', 'fleet', 'storm', 'boundary'] as const;
type Section = (typeof SECTIONS)[number];

interface Options {
  runs: number;
  only: Section[];
  testssl: boolean;
  fleet: number[];
}

class UsageError extends Error {}

function numbers(text: string, what: string): number[] {
  const list = text.split(',').map((x) => Number(x.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`${what}: positive integers, comma-separated`);
  return list;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      only: { type: 'string', multiple: true },
      'no-testssl': { type: 'boolean', default: false },
      fleet: { type: 'string', default: FLEET_SIZES.join(',') },
      'fleet-max': { type: 'string' },
    },
    strict: true,
  });
  const [runs] = numbers(values.runs, '--runs');
  const only = (values.only ?? [SECTIONS.join(',')]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  const unknown = only.filter((x) => !(SECTIONS as readonly string[]).includes(x));
  if (unknown.length) throw new UsageError(`--only: unknown ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
  const max = values['fleet-max'] === undefined ? Infinity : numbers(values['fleet-max'], '--fleet-max')[0];
  return { runs, only: only as Section[], testssl: !values['no-testssl'], fleet: numbers(values.fleet, '--fleet').filter((n) => n <= max) };
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, node ${process.version}`;
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function section(name: Section, ctx: BenchContext, options: Options): Promise<Row[]> {
  switch (name) {
    case 'startup': return startupRows(ctx);
    case 'ssh': return sshRows(ctx);
    case 'tls': return tlsRows(ctx, options.testssl);
    case 'ports': return portsRows(ctx);
    case 'modbus': return modbusIdentificationRows(ctx);
    case 'demo': return demoRows(ctx);
    case 'fleet': return fleetRows(ctx, options.fleet);
    case 'storm': return stormRows(ctx);
    case 'boundary': return boundaryRows(ctx);
  }
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 3;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-'));
  // First signal: kill what runs, let every section close its servers and labnets. Second: exit now (the
  // labnet's exit hook still removes its namespaces).
  const onSignal = (signal: NodeJS.Signals) => {
    if (benchCancel.signal.aborted) process.exit(130);
    process.stderr.write(`bench: ${signal}: stopping (again to quit at once)\n`);
    benchCancel.abort(new Error(`cancelled by ${signal}`));
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const ctx: BenchContext = { runs: options.runs, tmp, log: (m) => process.stderr.write(`bench: ${m}\n`) };
  try {
    ensureBuilt(ctx.log);
    const started = new Date();
    const loadBefore = load();
    const rows: Row[] = [];
    for (const name of SECTIONS.filter((s) => options.only.includes(s))) {
      if (benchCancel.signal.aborted) return 130;
      try {
        rows.push(...await section(name, ctx, options));
      } catch (err) {
        rows.push(notMeasured(name, `failed: ${(err as Error).message}`));
      }
    }
    process.stdout.write(`iacs-probe bench, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${options.runs} runs per contender (median, whole processes)\n`);
    process.stdout.write(`machine: ${machine()}; load average ${loadBefore} before, ${load()} after\n\n`);
    process.stdout.write(renderTable(rows));
    return rows.some((r) => r.met === 'not measured') ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
