import type { LockRequest, ProbeDefinition } from '../sdk';
import { attemptTarget, skippedAttempt, type Attempt, type PlannedAttempt } from './attempt';

export interface SchedulerLimits {
  /** Attempts at once per host (connection budget toward one device). */
  perHost: number;
  /** Attempts at once in the run. */
  global: number;
  /** Consecutive unreachable errors after which a host's remaining attempts are skipped. */
  unhealthyAfter: number;
}

export interface SchedulerHooks {
  onStart?(planned: PlannedAttempt, index: number, total: number): void;
  onEnd?(attempt: Attempt, done: number, total: number, index: number): void;
}

export type Execute = (planned: PlannedAttempt) => Promise<Attempt>;

interface Slot {
  planned: PlannedAttempt;
  index: number;
  hostKey: string;
  phase: number;
  locks: readonly LockRequest[];
  state: 'waiting' | 'running' | 'done';
}

/**
 * Runs planned attempts under the connection budgets. Order per host: lower phases first (a lockout
 * test runs after everything else on that host); within a phase, plan order. A probe's locks (accounts
 * it uses) are held shared or exclusive, so a lockout test never overlaps a probe that logs in with the
 * same account. After `unhealthyAfter` consecutive unreachable errors on a host, its remaining attempts
 * are skipped. When `signal` aborts, nothing new starts and the remainder is skipped as cancelled.
 */
export async function schedule(
  planned: readonly PlannedAttempt[], execute: Execute, limits: SchedulerLimits, signal: AbortSignal,
  lockInfo: (p: PlannedAttempt) => readonly LockRequest[], hooks: SchedulerHooks = {},
): Promise<Attempt[]> {
  const slots: Slot[] = planned.map((p, index) => ({
    planned: p, index, hostKey: p.host.host, phase: (p.probe as ProbeDefinition<unknown>).phase ?? 0,
    locks: lockInfo(p), state: 'waiting',
  }));
  const results: (Attempt | undefined)[] = new Array(slots.length);
  const runningPerHost = new Map<string, number>();
  const unreachableStreak = new Map<string, number>();
  const unhealthy = new Set<string>();
  const held = new Map<string, { mode: 'shared' | 'exclusive'; count: number }>();
  let running = 0;
  let done = 0;

  const lowestWaitingPhase = (hostKey: string): number => Math.min(
    ...slots.filter((s) => s.hostKey === hostKey && s.state !== 'done').map((s) => s.phase),
  );
  const locksFree = (locks: readonly LockRequest[]) => locks.every((l) => {
    const h = held.get(l.key);
    return !h || (h.mode === 'shared' && l.mode === 'shared');
  });
  const acquire = (locks: readonly LockRequest[]) => {
    for (const l of locks) {
      const h = held.get(l.key);
      held.set(l.key, { mode: l.mode, count: (h?.count ?? 0) + 1 });
    }
  };
  const release = (locks: readonly LockRequest[]) => {
    for (const l of locks) {
      const h = held.get(l.key)!;
      if (h.count <= 1) held.delete(l.key);
      else h.count -= 1;
    }
  };

  return new Promise<Attempt[]>((resolve) => {
    const finish = (slot: Slot, attempt: Attempt) => {
      slot.state = 'done';
      results[slot.index] = attempt;
      done += 1;
      hooks.onEnd?.(attempt, done, slots.length, slot.index);
    };
    const pump = () => {
      for (const slot of slots) {
        if (slot.state !== 'waiting') continue;
        if (signal.aborted) {
          finish(slot, skippedAttempt(slot.planned, 'cancelled', 'the run was cancelled before this attempt started'));
          continue;
        }
        if (unhealthy.has(slot.hostKey)) {
          finish(slot, skippedAttempt(slot.planned, 'target-unhealthy', `${slot.hostKey} stopped answering (${unreachableStreak.get(slot.hostKey)} unreachable errors in a row)`));
          continue;
        }
        if (running >= limits.global) break;
        if ((runningPerHost.get(slot.hostKey) ?? 0) >= limits.perHost) continue;
        if (slot.phase > lowestWaitingPhase(slot.hostKey)) continue;
        if (!locksFree(slot.locks)) continue;
        slot.state = 'running';
        running += 1;
        runningPerHost.set(slot.hostKey, (runningPerHost.get(slot.hostKey) ?? 0) + 1);
        acquire(slot.locks);
        hooks.onStart?.(slot.planned, slot.index, slots.length);
        void execute(slot.planned).then((attempt) => {
          running -= 1;
          runningPerHost.set(slot.hostKey, runningPerHost.get(slot.hostKey)! - 1);
          release(slot.locks);
          if (attempt.status === 'error' && attempt.reason === 'unreachable') {
            const streak = (unreachableStreak.get(slot.hostKey) ?? 0) + 1;
            unreachableStreak.set(slot.hostKey, streak);
            if (streak >= limits.unhealthyAfter) unhealthy.add(slot.hostKey);
          } else if (attempt.status !== 'skipped') {
            unreachableStreak.set(slot.hostKey, 0);
          }
          finish(slot, attempt);
          pump();
        });
      }
      if (done === slots.length) resolve(results as Attempt[]);
    };
    signal.addEventListener('abort', () => pump(), { once: true });
    pump();
  });
}

/** Default lock: none. Probes declare their own (accounts they log in with) via `locks`. */
export function locksOf(p: PlannedAttempt, info: Omit<Parameters<NonNullable<ProbeDefinition<unknown>['locks']>>[0], 'host' | 'service' | 'inputs'>): readonly LockRequest[] {
  const probe = p.probe;
  const own = probe.locks ? probe.locks({ ...info, host: p.host, service: p.service, inputs: p.inputs }) : [];
  // Destructive attempts on one host run one at a time: a flood or a crashing case of one would be blamed on
  // another, and the essential function each one is judged by is the host's.
  return probe.safety === 'destructive' ? [...own, { key: `destructive:${p.host.host}`, mode: 'exclusive' }] : own;
}

export { attemptTarget };
