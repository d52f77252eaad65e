import * as fs from 'node:fs';
import * as path from 'node:path';
import { verifyFolder } from '../evidence/manifest';
import { readNdjson } from '../evidence/ndjson';
import { signatureChecker } from '../evidence/signing';
import { JOURNAL, MANIFEST, MANIFEST_DIGEST, MANIFEST_SIGNATURE, sha256, type RunStore } from '../evidence/store';
import type { Attempt, ResumedFrom } from '../report/model';
import { InputRejected } from '../sdk';
import { ACTIONS_FILE } from './actions';
import { attemptTarget, type PlannedAttempt } from './attempt';

/** A folder `iacs-probe resume` cannot continue: nothing is written (exit 3). */
export class ResumeRefused extends InputRejected {}

/** Where the resumed folder keeps the interrupted folder's journal, report, action log and manifest. */
export const INTERRUPTED_COPY = 'interrupted';

/** The run-start record of the journal (what `run` stores so that a run can be resumed). */
export interface RunStartRecord {
  type: 'run-start';
  runId: string;
  startedAt: string;
  profile: string;
  profileSha256: string;
  options: Record<string, unknown>;
  /** Working directory of the run: relative paths of its command line resolve against it. */
  cwd?: string;
  /** The profile's state folder the run used (cleanup and lockout records). */
  stateDir?: string;
}

/** An interrupted run folder, read for `resume`. */
export interface InterruptedRun {
  dir: string;
  start: RunStartRecord;
  /** Attempts that ran to an end (any verdict, or an error other than cancelled) with all their evidence present. */
  finished: Attempt[];
  /** Attempts journaled as finished whose evidence files are missing: run again. */
  missingEvidence: number;
  /** The run ledger as the last journaled attempt left it (failed logins per account ...). */
  ledger: Record<string, number>;
  /** The folder was closed (SIGINT/SIGTERM: report and manifest written); false after SIGKILL or a crash. */
  closed: boolean;
  journalSha256: string;
  manifestSha256?: string;
  /** The journal's last line was cut off by the kill (ignored). */
  tornJournal: boolean;
}

interface JournalRecord {
  type?: string;
  attempt?: Attempt;
  ledger?: Record<string, number>;
  complete?: boolean;
}

/** A finished attempt: the probe ran to a verdict or an error of its own, not cut short by the interruption. */
function finishedAttempt(a: Attempt): boolean {
  return a.status !== 'skipped' && !(a.status === 'error' && a.reason === 'cancelled');
}

/**
 * Reads an interrupted run folder: refuses one that is not a run folder, is complete, was made by `demo` (its
 * emulator is gone), or whose manifest no longer verifies. Never writes to it.
 */
export function readInterruptedRun(dir: string): InterruptedRun {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new ResumeRefused(`${dir} is not a folder`);
  const journalFile = path.join(dir, JOURNAL);
  if (!fs.existsSync(journalFile)) throw new ResumeRefused(`${dir} is not a run folder: it has no ${JOURNAL}`);
  const journal = readNdjson<JournalRecord>(journalFile);
  const start = journal.records[0] as unknown as RunStartRecord | undefined;
  if (start?.type !== 'run-start' || typeof start.profile !== 'string' || typeof start.profileSha256 !== 'string') {
    throw new ResumeRefused(`${dir} is not a run folder: ${JOURNAL} does not begin with the run-start record of \`iacs-probe run\`${journal.records[0]?.type === 'merge-start' ? ' (it is a merged folder)' : ''}`);
  }
  if (start.options.command === 'demo') throw new ResumeRefused(`${dir} is a demo run: its emulated device is gone with the demo; run the demo again`);
  const end = journal.records.find((r) => r.type === 'run-end');
  if (end?.complete === true) throw new ResumeRefused(`${dir} is a complete run (run-end complete: true): there is nothing to resume`);
  const closed = fs.existsSync(path.join(dir, MANIFEST));
  if (closed) {
    const verified = verifyFolder(dir, signatureChecker());
    if (!verified.ok) {
      throw new ResumeRefused(`${dir} does not verify, so its attempts cannot be reused (\`iacs-probe verify ${dir}\`):\n${verified.problems.map((p) => `  ${p.kind} ${p.path}: ${p.detail}`).join('\n')}`);
    }
  }
  const journaled = journal.records.filter((r) => r.type === 'attempt' && r.attempt);
  const done = journaled.map((r) => r.attempt!).filter(finishedAttempt);
  const present = (a: Attempt) => a.evidence.every((rel) => fs.existsSync(path.join(dir, rel)));
  const ledger = journaled.filter((r) => r.ledger).at(-1)?.ledger ?? {};
  return {
    dir, start, finished: done.filter(present), missingEvidence: done.filter((a) => !present(a)).length, ledger, closed,
    journalSha256: sha256(fs.readFileSync(journalFile)), ...(closed ? { manifestSha256: sha256(fs.readFileSync(path.join(dir, MANIFEST))) } : {}),
    tornJournal: journal.torn,
  };
}

const attemptKey = (probe: string, target: string, service: string) => `${probe} ${target} ${service}`;

/** For each planned attempt (by index) the finished attempt of the interrupted run it stands for, if any. */
export function matchFinished(planned: readonly PlannedAttempt[], finished: readonly Attempt[]): Map<number, Attempt> {
  const byKey = new Map<string, Attempt[]>();
  for (const a of finished) {
    const key = attemptKey(a.probe, a.target, a.service);
    byKey.set(key, [...(byKey.get(key) ?? []), a]);
  }
  const out = new Map<number, Attempt>();
  planned.forEach((p, i) => {
    const reused = byKey.get(attemptKey(p.probe.id, attemptTarget(p), p.service?.protocol ?? 'host'))?.shift();
    if (reused) out.set(i, reused);
  });
  return out;
}

/**
 * Copies what the resumed folder keeps from the interrupted one, byte for byte (both were redacted when written):
 * the reused attempts' evidence at the same paths, and the interrupted folder's journal, report, action log and
 * manifest under interrupted/, so that the new manifest covers what the reused verdicts stand on.
 */
export function copyFromInterrupted(store: RunStore, run: InterruptedRun, reused: Iterable<Attempt>): void {
  for (const a of reused) for (const rel of a.evidence) store.writeFile(rel, fs.readFileSync(path.join(run.dir, rel)), { alreadyRedacted: true });
  for (const file of [JOURNAL, 'report.json', ACTIONS_FILE, MANIFEST, MANIFEST_DIGEST, MANIFEST_SIGNATURE]) {
    const from = path.join(run.dir, file);
    if (fs.existsSync(from)) store.writeFile(`${INTERRUPTED_COPY}/${file}`, fs.readFileSync(from), { alreadyRedacted: true });
  }
}

/** report.run.resumedFrom: which folder this run continues and what it took from there. */
export function resumedFromInfo(run: InterruptedRun, reused: number, rerun: number, profileSha256: string): ResumedFrom {
  return {
    dir: run.dir, runId: run.start.runId, startedAt: run.start.startedAt, closed: run.closed, copy: INTERRUPTED_COPY,
    journalSha256: run.journalSha256, ...(run.manifestSha256 ? { manifestSha256: run.manifestSha256 } : {}),
    reused, rerun, ...(profileSha256 !== run.start.profileSha256 ? { profileSha256: run.start.profileSha256 } : {}),
  };
}
