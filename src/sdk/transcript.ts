import type { EvidenceRecorder } from './probe';

/**
 * A timestamped hex transcript of one exchange (frames sent and received), saved as evidence.
 * Lines look like `2026-11-29T13:37:00.123Z > 00 01 00 00 00 06 01 03 00 00 00 01`.
 */
export class Transcript {
  readonly path: string;

  constructor(private readonly evidence: EvidenceRecorder, private readonly name: string) {
    this.path = evidence.append(name, `# transcript ${name}; '>' sent, '<' received, '#' note`);
  }

  sent(data: Uint8Array): void {
    this.line('>', hex(data));
  }

  received(data: Uint8Array): void {
    this.line('<', hex(data));
  }

  note(text: string): void {
    this.line('#', text.replace(/\r?\n/g, ' | '));
  }

  private line(direction: string, text: string): void {
    this.evidence.append(this.name, `${new Date().toISOString()} ${direction} ${text}`);
  }
}

export function hex(data: Uint8Array): string {
  return Buffer.from(data).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}
