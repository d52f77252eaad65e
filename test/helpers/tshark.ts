import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Lets tshark (Wireshark's dissectors, not ours) say what our frames are: each frame is wrapped in a TCP segment
 * to `port` with text2pcap, and tshark prints the requested fields, one row per frame. TCP reassembly is off,
 * so a length that claims more bytes than follow is shown as such instead of waited for. Multi-valued fields
 * come back comma-separated.
 */
export function tsharkFields(frames: readonly Buffer[], port: number, fields: readonly string[], prefs: readonly string[] = []): string[][] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-tshark-'));
  try {
    const text = frames.map((f) => `000000 ${[...f].map((b) => b.toString(16).padStart(2, '0')).join(' ')}\n`).join('');
    fs.writeFileSync(path.join(dir, 'frames.txt'), text);
    execFileSync('text2pcap', ['-q', '-T', `40000,${port}`, path.join(dir, 'frames.txt'), path.join(dir, 'frames.pcap')]);
    const options = ['tcp.analyze_sequence_numbers:FALSE', 'tcp.desegment_tcp_streams:FALSE', ...prefs].flatMap((o) => ['-o', o]);
    const args = ['-r', path.join(dir, 'frames.pcap'), ...options, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])];
    const out = execFileSync('tshark', args, { env: { ...process.env, HOME: dir } }).toString();
    return out.trim().split('\n').map((l) => l.split('|'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
