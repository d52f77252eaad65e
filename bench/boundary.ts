/**
 * Boundary row: the full deny-by-default sweep (boundary.deny-default, 65 535 TCP ports one way, plus common UDP
 * ports and ICMP types) from the untrusted endpoint through the hardened nftables router of the two-sided bench,
 * against nmap -sS -p- from the same endpoint through the same router, as a ratio of wall times. Both views are
 * compared too: the ports our sweep saw cross must be the ports nmap finds open or closed (not filtered).
 */
import probe from '../probes/boundary/deny-default';
import { createBoundaryBench } from '../src/labnet/boundary-bench';
import { labnetAvailability } from '../src/labnet/netns';
import { parseNmapXml, portStates } from '../src/protocols/nmap';
import { findTool } from '../src/protocols/tools';
import { TEST_CONDUITS, declOf } from '../test/helpers/boundary';
import { configureRouter, startManagementService } from '../test/helpers/nft-router';
import { runProbe } from '../test/helpers/probe-harness';
import type { BenchContext } from './ours';
import { notMeasured, ratioText, seconds, type Row } from './table';

const NMAP_ARGS = ['-sS', '-Pn', '-n', '-p-', '-T4', '--max-retries', '1', '--min-rate', '10000'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function boundaryRows(ctx: BenchContext): Promise<Row[]> {
  const work = 'deny-by-default sweep, 65 535 TCP ports through a hardened nftables router';
  const nmap = findTool('nmap');
  if (!findTool('hping3') || !findTool('dumpcap') || !findTool('nft') || !nmap) return [notMeasured(work, 'needs hping3, dumpcap, nft and nmap')];
  if (process.getuid?.() !== 0) return [notMeasured(work, 'needs root (namespaces, raw sockets)')];
  const available = await labnetAvailability();
  if (!available.ok) return [notMeasured(work, `needs namespaces: ${available.reason}`)];
  const bench = await createBoundaryBench();
  try {
    await configureRouter(bench, 'hardened', TEST_CONDUITS);
    await startManagementService(bench);
    const [trusted, untrusted] = bench.zones;
    const ours: number[] = [];
    const theirs: number[] = [];
    let agreement = '';
    for (let i = 0; i < Math.min(ctx.runs, 3); i++) {
      let started = Date.now();
      const { attempt } = await runProbe(probe, { boundary: declOf(bench), types: ['network'] });
      ours.push(Date.now() - started);
      if (attempt.status !== 'pass') throw new Error(`boundary.deny-default on the hardened router: ${attempt.status} ${attempt.message ?? ''}`);
      started = Date.now();
      const scan = await bench.run(untrusted.endpoint.namespace, [nmap, ...NMAP_ARGS, '-oX', '-', trusted.endpoint.address], { timeoutMs: 600_000 });
      theirs.push(Date.now() - started);
      const states = portStates(parseNmapXml(scan.stdout));
      const crossed = [...states.open.map((p) => p.port), ...states.closed];
      agreement = `nmap: ${crossed.length} ports open|closed (${crossed.join(',') || 'none'}: the declared historian conduit), ${states.filtered.size + states.unnamed.reduce((n, u) => n + u.count, 0)} filtered; ours: 0 undeclared crossed`;
      ctx.log(`boundary run ${i + 1}: ours ${ours[i]} ms, nmap ${theirs[i]} ms`);
    }
    const [o, t] = [median(ours), median(theirs)];
    return [{
      work: `${work} (boundary.deny-default, hping3 + far-side dumpcap)`, ours: seconds(o), peer: `nmap ${NMAP_ARGS.join(' ')}: ${seconds(t)}`,
      ratio: ratioText(o / t), goal: '≤ 1×', met: o <= t ? 'yes' : 'no',
      notes: [`median of ${ours.length} (ours ${ours.join(', ')} ms; nmap ${theirs.join(', ')} ms); ${agreement}`, 'ours also sends 17 UDP ports and 8 ICMP types in that time'],
    }];
  } finally {
    await bench.close();
  }
}
