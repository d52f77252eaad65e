import * as fs from 'node:fs';
import * as path from 'node:path';
import { foldersOverlap } from '../evidence/store';
import { loadProfile } from '../profile';
import { ResumeRefused, readInterruptedRun, type InterruptedRun } from '../runner/resume';
import { ATTESTATIONS_FILE } from '../runner/run';
import { parse, type Io } from './common';
import { applySl, runWithConsole, toRunOptions, withAttestations, type RunValues } from './run';

export const RESUME_USAGE = `usage: iacs-probe resume <run-dir> [--out DIR] [--force] [--operator NAME] [--sign KEY] [--pdf | --no-pdf]

  Continues a run that was interrupted (Ctrl-C, SIGTERM, a kill, a crash): reads the folder's journal, runs the
  same profile with the same options again, takes over every attempt that had finished (with its evidence and
  the run's failed-login counts) and runs only those that had not. Writes a NEW evidence folder: the interrupted
  one is only read (it stays evidence; \`iacs-probe verify\` still passes on it when it was closed), the new one
  keeps a copy of its journal, report and manifest under interrupted/ and names it in report.json
  (run.resumedFrom). Lockouts the interrupted run may have left (the profile's state folder) are waited out.
  Exit codes as for \`run\`. Refused with exit 3, nothing written: a folder that is not a run folder, a complete
  run, a demo run, a closed folder that no longer verifies, a profile that changed since (sha256) unless --force.

  --out DIR          the new evidence folder (default runs/<run-id>); never the interrupted folder or inside it
  --force            resume although the profile changed since the interrupted run (both sha256 are recorded)
  --operator NAME    who resumes the run (default: the interrupted run's --operator, else the OS user)
  --sign KEY         sign the new folder's manifest (as \`run --sign\`)
  --pdf, --no-pdf    report.pdf as for \`run\``;

const resumeOptions = {
  out: { type: 'string' }, force: { type: 'boolean' }, operator: { type: 'string' }, sign: { type: 'string' },
  pdf: { type: 'boolean' }, 'no-pdf': { type: 'boolean' },
} as const;

/** Options of the interrupted run's command line that `resume` decides anew (or that only `run` takes). */
const NOT_CARRIED = new Set(['out', 'overwrite', 'sign', 'pdf', 'no-pdf', 'attest', 'resume']);

/** The interrupted run's profile, as it was (or, with --force, as it is now). */
function profileOf(run: InterruptedRun, cwd: string, force: boolean) {
  const file = path.resolve(cwd, run.start.profile);
  if (!fs.existsSync(file)) throw new ResumeRefused(`the profile of the interrupted run, ${file}, does not exist any more`);
  const profile = loadProfile(file);
  if (profile.sha256 !== run.start.profileSha256 && !force) {
    throw new ResumeRefused(`${file} changed since the interrupted run (sha256 ${run.start.profileSha256.slice(0, 12)}… then, ${profile.sha256.slice(0, 12)}… now): `
      + 'its finished attempts were judged against the old one. Run it anew, or pass --force to resume with the profile as it is now (both sha256 are recorded)');
  }
  return profile;
}

export async function resumeCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, resumeOptions, { min: 1, max: 1, names: 'the interrupted run folder' });
  const run = readInterruptedRun(positionals[0]);
  if (foldersOverlap(values.out ?? path.join('runs', 'new'), run.dir)) {
    throw new ResumeRefused(`the new folder would be ${values.out === undefined ? 'under' : ''} ${values.out ?? 'runs/'}, which overlaps the interrupted folder ${run.dir}; choose another --out`);
  }
  const cwd = run.start.cwd ?? process.cwd();
  const original = Object.fromEntries(Object.entries(run.start.options).filter(([k]) => !NOT_CARRIED.has(k))) as RunValues;
  const profile = applySl(profileOf(run, cwd, values.force === true), original.sl);
  const options = toRunOptions({
    ...original, ...(typeof original.state === 'string' ? { state: path.resolve(cwd, original.state) } : {}),
    out: values.out, operator: values.operator ?? original.operator, sign: values.sign, pdf: values.pdf, 'no-pdf': values['no-pdf'],
  });
  // The attestations the interrupted run was judged with: its own copy, not the file as it may be now.
  const attestations = path.join(run.dir, ATTESTATIONS_FILE);
  const withManual = withAttestations(options, fs.existsSync(attestations) ? attestations : undefined, profile, io);
  io.err.write(`Resuming run ${run.start.runId} (${run.dir}, ${run.closed ? 'closed after a signal' : 'not closed: killed or crashed'}): `
    + `${run.finished.length} finished attempt(s) taken over${run.missingEvidence ? `, ${run.missingEvidence} whose evidence is missing run again` : ''}`
    + `${run.tornJournal ? '; the journal\'s last line was cut off by the interruption (ignored)' : ''}\n`);
  return runWithConsole(profile, {
    ...withManual, stateDir: run.start.stateDir ?? withManual.stateDir, resume: run,
    commandLine: { ...run.start.options, resume: { dir: positionals[0], ...values } },
  }, io);
}
