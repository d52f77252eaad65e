import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EvidenceRecorder } from '../../sdk';

export * from './endpoint';
export * from './flows';
export * from './hooks';
export * from './stream';
export * from './management';
export * from './intrusive';
export * from './vlan';
export { readPcap, type CapturedPacket } from './pcap';

/** Moves a temporary capture into the evidence folder (the pcap of the far endpoint); returns its path. */
export function keepCapture(evidence: EvidenceRecorder, name: string, file: string): string {
  const saved = evidence.save(name, fs.readFileSync(file));
  fs.rmSync(file, { force: true });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return saved;
}
