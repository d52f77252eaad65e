import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CaseRecord } from '../../src/protocols/fuzz';
import type { ProbeRun } from './probe-harness';

/** The campaign line and the case lines of a fuzz probe's fuzz-cases.ndjson. */
export function fuzzCaseLines(run: ProbeRun): { campaign: Record<string, unknown>; cases: CaseRecord[] } {
  const file = run.attempt.evidence.find((e) => e.endsWith('fuzz-cases.ndjson'));
  if (!file) throw new Error(`no fuzz-cases.ndjson in ${run.attempt.evidence.join(', ')}`);
  const lines = run.read(file).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  return { campaign: lines[0] as Record<string, unknown>, cases: lines.filter((l) => l.type === 'case') as CaseRecord[] };
}

/**
 * Wraps payloads in TCP or UDP packets (text2pcap `-T`/`-u src,dst`) and returns tshark's fields, one row per
 * packet. TCP reassembly is off, so each payload is dissected on its own.
 */
export function tsharkFields(payloads: Buffer[], transport: '-T' | '-u', port: number, fields: string[], prefs: string[] = []): string[][] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-fuzz-tshark-'));
  try {
    const dump = payloads.map((f) => `000000 ${[...f].map((b) => b.toString(16).padStart(2, '0')).join(' ')}\n`).join('');
    fs.writeFileSync(path.join(dir, 'frames.txt'), dump);
    execFileSync('text2pcap', ['-q', transport, `40000,${port}`, path.join(dir, 'frames.txt'), path.join(dir, 'frames.pcap')]);
    const out = execFileSync('tshark', [
      '-r', path.join(dir, 'frames.pcap'), '-o', 'tcp.analyze_sequence_numbers:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE',
      ...prefs.flatMap((p) => ['-o', p]), '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f]),
    ], { env: { ...process.env, HOME: dir } }).toString();
    return out.trim().split('\n').map((l) => l.split('|'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
