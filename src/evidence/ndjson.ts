import * as fs from 'node:fs';
import * as path from 'node:path';

/** What an append-only NDJSON file holds, read by a reader that tolerates a crash while it was written. */
export interface NdjsonRead<T> {
  records: T[];
  /** The last line was cut off (the process died while writing it): ignored. */
  torn: boolean;
  /** 1-based numbers of other lines that are not JSON objects (damage, not a crash): ignored as well. */
  unreadable: number[];
}

/**
 * Parses NDJSON text line by line. A torn last line (no newline after it, or not JSON) is expected after a
 * SIGKILL or a power cut and is reported, never thrown.
 */
export function parseNdjson<T = Record<string, unknown>>(text: string): NdjsonRead<T> {
  const lines = text.split('\n');
  const out: NdjsonRead<T> = { records: [], torn: false, unreadable: [] };
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) out.records.push(value as T);
    else if (i === lines.length - 1) out.torn = true;
    else out.unreadable.push(i + 1);
  });
  return out;
}

/** Reads an NDJSON file (a missing file holds nothing). */
export function readNdjson<T = Record<string, unknown>>(file: string): NdjsonRead<T> {
  try {
    return parseNdjson<T>(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], torn: false, unreadable: [] };
    throw err;
  }
}

/**
 * Appends one line and forces it to disk before returning: the line must survive a SIGKILL right after. A torn
 * line a crash left at the end is closed with a newline first, so that it spoils only itself.
 */
export function appendDurably(file: string, record: object): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a+', 0o600);
  try {
    const size = fs.fstatSync(fd).size;
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    fs.writeSync(fd, `${prefix}${JSON.stringify(record)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
