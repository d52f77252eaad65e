import type { CleanupEntry, ProbeContext } from '../../sdk';
import type { AccountInterface, Step } from './types';

/** Budget of one removal: its own, so that cleanup still runs after the attempt's deadline or a Ctrl-C. */
export const CLEANUP_TIMEOUT_MS = 10_000;

export interface Replayed {
  readonly account: string;
  /** The run and probe that created it and died before removing it. */
  readonly leftBy: { runId: string; probe: string; at: string };
  readonly removed: boolean;
  readonly detail: string;
}

/** What became of one account this attempt created. */
export interface Removal {
  readonly account: string;
  readonly removed: boolean;
  readonly detail: string;
}

async function removeEntry(ctx: ProbeContext<unknown>, api: AccountInterface, entry: CleanupEntry, how: 'removed' | 'replayed'): Promise<{ removed: boolean; detail: string }> {
  let step: Step;
  try {
    step = await api.remove(entry.name, { signal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS) });
  } catch (err) {
    return { removed: false, detail: `removal failed: ${(err as Error).message}` };
  }
  const gone = step.accepted || step.absent === true;
  if (gone) ctx.cleanup.resolve(entry.id, step.absent && !step.accepted ? 'absent' : how);
  return { removed: gone, detail: step.detail };
}

/**
 * Removes what earlier runs of this profile created on this interface and never removed (the process died):
 * before anything new is created, so a leftover test account never outlives the next run.
 */
export async function replayLeftovers(ctx: ProbeContext<unknown>, api: AccountInterface): Promise<Replayed[]> {
  const out: Replayed[] = [];
  for (const entry of ctx.cleanup.pending(api.where).filter((e) => e.kind === 'account')) {
    const r = await removeEntry(ctx, api, entry, 'replayed');
    ctx.log.info(`cleanup journal: account ${entry.name} left by run ${entry.runId} (${entry.probe}) ${r.removed ? 'removed' : 'NOT removed'}: ${r.detail}`);
    out.push({ account: entry.name, leftBy: { runId: entry.runId, probe: entry.probe, at: entry.at }, ...r });
  }
  return out;
}

/**
 * Journals each account before `work` creates it (`journal(name)`), and removes every journaled account
 * afterwards, whatever `work` did (returned, threw, was cancelled). Returns work's result and the removals.
 */
export async function withJournaledAccounts<T>(
  ctx: ProbeContext<unknown>, api: AccountInterface, work: (journal: (name: string) => void) => Promise<T>,
): Promise<{ result: T; removals: Removal[] }> {
  const entries: CleanupEntry[] = [];
  const removals: Removal[] = [];
  const cleanUp = async () => {
    for (const entry of entries) removals.push({ account: entry.name, ...(await removeEntry(ctx, api, entry, 'removed')) });
  };
  let result: T;
  try {
    result = await work((name) => { entries.push(ctx.cleanup.add({ kind: 'account', where: api.where, name })); });
  } finally {
    await cleanUp();
  }
  return { result, removals };
}
