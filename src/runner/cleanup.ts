import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { appendDurably, readNdjson } from '../evidence/ndjson';
import type { CleanupEntry, CleanupJournal, CleanupResolution } from '../sdk';

/** The journal's file name inside a profile's state folder. */
export const CLEANUP_FILE = 'cleanup.ndjson';

type Line = ({ op: 'add' } & CleanupEntry) | { op: 'resolve'; id: string; how: CleanupResolution; runId: string; at: string };

/**
 * The default state folder of a profile: `.iacs-state/<profile name>/` next to the profile file, so every run
 * of that profile finds what an earlier one left behind, wherever its evidence folders go.
 */
export function defaultStateDir(profileFile: string): string {
  const base = path.basename(profileFile).replace(/\.(ya?ml|json)$/i, '');
  return path.join(path.dirname(path.resolve(profileFile)), '.iacs-state', base);
}

/** Unresolved entries of a journal file; a torn last line (the process died while writing it) is ignored. */
export function readPending(file: string): CleanupEntry[] {
  const open = new Map<string, CleanupEntry>();
  for (const line of readNdjson<Line>(file).records) {
    if (line.op === 'add') {
      const { op: _op, ...entry } = line;
      open.set(entry.id, entry);
    } else if (line.op === 'resolve') open.delete(line.id);
  }
  return [...open.values()];
}

/** A profile's cleanup journal on disk (append-only NDJSON, fsync'd per line); created on first use. */
export class FileCleanupJournal implements CleanupJournal {
  readonly file: string;
  constructor(stateDir: string, private readonly runId: string, private readonly now: () => Date = () => new Date()) {
    this.file = path.join(stateDir, CLEANUP_FILE);
  }

  pending(where: string): readonly CleanupEntry[] {
    return readPending(this.file).filter((e) => e.where === where);
  }

  add(entry: Pick<CleanupEntry, 'kind' | 'where' | 'name'> & { probe?: string }): CleanupEntry {
    const full: CleanupEntry = {
      id: randomBytes(8).toString('hex'), kind: entry.kind, where: entry.where, name: entry.name,
      probe: entry.probe ?? '', runId: this.runId, at: this.now().toISOString(),
    };
    appendDurably(this.file, { op: 'add', ...full });
    return full;
  }

  resolve(id: string, how: CleanupResolution): void {
    appendDurably(this.file, { op: 'resolve', id, how, runId: this.runId, at: this.now().toISOString() });
  }

  /** The same journal with the probe id filled into every entry an attempt adds. */
  forProbe(probe: string): CleanupJournal {
    return {
      file: this.file,
      pending: (where) => this.pending(where),
      add: (entry) => this.add({ ...entry, probe }),
      resolve: (id, how) => this.resolve(id, how),
    };
  }
}
