/**
 * The cleanup journal: what a probe created on a device (a test account) and must remove again. An entry is
 * written (and flushed to disk) before the object is created and resolved once it is gone, so a run that died
 * half-way (SIGKILL, power loss) leaves the entry behind and the next run of the same profile removes the
 * object first. The runner keeps one journal per profile in its state folder (docs/accounts.md).
 */

/** One object a probe created or is about to create. */
export interface CleanupEntry {
  /** Unique id of the entry (random). */
  readonly id: string;
  /** What was created, e.g. "account". */
  readonly kind: string;
  /** The interface it was created through, e.g. "ssh:192.0.2.10:22"; a replay acts only on its own interface. */
  readonly where: string;
  /** The object's name on the device (an account name; never a secret). */
  readonly name: string;
  /** The probe and run that wrote it, and when (ISO time). */
  readonly probe: string;
  readonly runId: string;
  readonly at: string;
}

/** How an entry was resolved. `replayed`: a later run removed what an earlier run left behind. */
export type CleanupResolution = 'removed' | 'absent' | 'replayed';

export interface CleanupJournal {
  /** Entries not yet resolved at `where`, oldest first: left by runs that died, or by this run. */
  pending(where: string): readonly CleanupEntry[];
  /** Writes the entry durably before the object is created; returns it with its id. */
  add(entry: Pick<CleanupEntry, 'kind' | 'where' | 'name'>): CleanupEntry;
  /** Marks the entry done once the object is gone. */
  resolve(id: string, how: CleanupResolution): void;
  /** The journal's file, for evidence (undefined when it lives in memory only). */
  readonly file?: string;
}
