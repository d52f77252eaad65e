import * as path from 'node:path';
import { loadAttestations } from '../assess/attestations';
import { loadCatalog } from '../catalog';
import { KeyError, loadSigningKey, type SigningKey } from '../evidence/signing';
import { FRS, type SecurityLevel, type SlVector } from '../sdk';
import type { Profile } from '../profile';
import type { Report } from '../report/model';
import { loadProfile } from '../profile';
import { renderConsoleSummary, progressListener } from '../report/console';
import { runAssessment, type RunOptions } from '../runner/run';
import { parsePortSpec } from '../protocols/tcp';
import { findChromium, type PdfOutcome, type PdfRenderer } from '../runner/pdf';
import { ShardSpecError, parseShardSpec, type ShardSpec } from '../runner/shard';
import { EXIT, UsageError, cancelOnSignals, exitCodeFor, intOption, list, parse, safetyList, type Io } from './common';

export const RUN_USAGE = `usage: iacs-probe run <profile.yaml> [--out DIR] [--sl N] [--only PROBE...] [--allow CLASS...]
                      [--host HOST...] [--shard I/N] [--concurrency N] [--ports LIST|all] [--operator NAME]
                      [--overwrite] [--attest FILE] [--sign KEY] [--state DIR] [--pdf | --no-pdf]

  --out DIR          evidence folder (default runs/<run-id>); an existing non-empty folder is refused
  --sl N             assess against SL N for every FR instead of the profile's slTarget
  --only X           run only these probe ids or protocol prefixes (repeat or comma-separate)
  --allow CLASS      also allow intrusive (or destructive, which the profile must allow too)
  --host HOST        run against these profile hosts only; a host outside the profile is refused
  --shard I/N        assess only shard I of N (0-based: 0/4 .. 3/4) of the hosts, split round-robin in the
                     order of their names; \`iacs-probe merge\` joins the N folders into the component's report
  --concurrency N    attempts at once in the whole run (per-host budget: limits.perHost)
  --ports LIST|all   TCP ports for ports.tcp, e.g. 1-1024,4840 or all (1-65535)
  --operator NAME    who runs the test (recorded in the manifest; default: the OS user)
  --overwrite        replace an existing evidence folder
  --attest FILE      manual attestations (YAML; \`iacs-probe attest-template\` writes one): verdicts for
                     requirements probes cannot evidence; copied into the folder as attestations.yaml
  --sign KEY         sign manifest.json with this lab private key (PEM; \`iacs-probe keygen\` makes one)
                     into manifest.sig; an encrypted key takes its passphrase from IACS_PROBE_KEY_PASSPHRASE
  --state DIR        the profile's state folder: the cleanup journal of what intrusive probes create on the
                     device, replayed by the next run (default .iacs-state/<profile name>/ next to the profile)
  --pdf, --no-pdf    report.pdf (report.html printed by a headless Chromium: A4, page numbers) is written by
                     default when a Chromium is found (PATH or IACS_PROBE_CHROMIUM; it takes a few seconds),
                     else the run says why there is none; --pdf makes a missing Chromium a usage error
                     before the run starts, --no-pdf skips it`;

export const runOptions = {
  out: { type: 'string' }, sl: { type: 'string' }, only: { type: 'string', multiple: true },
  allow: { type: 'string', multiple: true }, host: { type: 'string', multiple: true }, shard: { type: 'string' },
  concurrency: { type: 'string' }, ports: { type: 'string' }, operator: { type: 'string' },
  overwrite: { type: 'boolean' }, attest: { type: 'string' }, sign: { type: 'string' }, state: { type: 'string' },
  pdf: { type: 'boolean' }, 'no-pdf': { type: 'boolean' },
} as const;

export type RunValues = Partial<Record<keyof typeof runOptions, string | string[] | boolean>>;

/** --sign KEY: the lab key, or a usage error (exit 3) that says why it cannot be used. Shared by run, demo and merge. */
export function signOption(file: string | string[] | boolean | undefined): SigningKey | undefined {
  if (typeof file !== 'string') return undefined;
  try {
    return loadSigningKey(file);
  } catch (err) {
    if (err instanceof KeyError) throw new UsageError(`--sign: ${err.message}`);
    throw err;
  }
}

/** --shard I/N, or a usage error. */
function shardOption(text: string | string[] | boolean | undefined): ShardSpec | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    return parseShardSpec(text);
  } catch (err) {
    if (err instanceof ShardSpecError) throw new UsageError(err.message);
    throw err;
  }
}

/** --pdf / --no-pdf: the browser that prints report.pdf, or why there will be none (default: a PDF when a Chromium is found). */
export function pdfOption(values: Pick<RunValues, 'pdf' | 'no-pdf'>): PdfRenderer | undefined {
  if (values.pdf === true && values['no-pdf'] === true) throw new UsageError('--pdf and --no-pdf exclude each other');
  if (values['no-pdf'] === true) return undefined;
  const renderer = findChromium();
  if (!renderer.ok && values.pdf === true) throw new UsageError(`--pdf: ${renderer.reason}`);
  return renderer;
}

/** Turns parsed run options into RunOptions (shared by `run` and `demo`). */
export function toRunOptions(values: RunValues): RunOptions {
  const probeInputs: Record<string, Record<string, unknown>> = {};
  if (typeof values.ports === 'string') {
    try {
      parsePortSpec(values.ports);
    } catch (err) {
      throw new UsageError(`--ports: ${(err as Error).message}`);
    }
    probeInputs['ports.tcp'] = { ports: values.ports };
  }
  return {
    sign: signOption(values.sign),
    out: typeof values.out === 'string' ? values.out : undefined,
    stateDir: typeof values.state === 'string' ? values.state : undefined,
    overwrite: values.overwrite === true,
    only: list(values.only),
    allow: safetyList(values.allow),
    hosts: list(values.host),
    shard: shardOption(values.shard),
    concurrency: intOption('concurrency', values.concurrency, 1, 256),
    operator: typeof values.operator === 'string' ? values.operator : undefined,
    probeInputs,
    pdf: pdfOption(values),
    commandLine: Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)),
  };
}

/**
 * Reads --attest for this profile's component (located errors, exit 3, before anything is written) and
 * adds the attestations and the file's bytes to the run options.
 */
export function withAttestations(options: RunOptions, file: string | string[] | boolean | undefined, profile: Profile, io: Io): RunOptions {
  if (typeof file !== 'string') return options;
  const loaded = loadAttestations(file, loadCatalog(), profile.component.types);
  if (loaded.untouched.length > 0) {
    io.err.write(`${file}: ${loaded.untouched.length} entr${loaded.untouched.length === 1 ? 'y' : 'ies'} left empty (not attested): ${loaded.untouched.join(', ')}\n`);
  }
  return { ...options, attestations: loaded.attestations, attestationFile: loaded.bytes };
}

export function applySl(profile: Profile, slText: string | string[] | boolean | undefined): Profile {
  const sl = intOption('sl', slText, 1, 4);
  if (sl === undefined) return profile;
  const slTarget = Object.fromEntries(FRS.map((fr) => [fr, sl as SecurityLevel])) as SlVector;
  return { ...profile, component: { ...profile.component, slTarget } };
}

/** Runs a profile with console progress and summary; returns the exit code. */
export async function runWithConsole(profile: Profile, options: RunOptions, io: Io): Promise<number> {
  const cancel = cancelOnSignals(io);
  const progress = progressListener(io.err);
  try {
    const { report, dir, reporterErrors, pdf } = await runAssessment(profile, {
      ...options, signal: cancel.signal, hooks: progress, notify: (message) => io.err.write(`${message}\n`),
    });
    progress.finish();
    return finishFolder({ report, dir, reporterErrors, pdf }, options.sign, io);
  } finally {
    cancel.dispose();
  }
}

/**
 * The console summary of a written evidence folder (run and merge): the summary, report.pdf or why there is
 * none, the signature, the reports that could not be written; returns the exit code.
 */
export function finishFolder(
  outcome: { report: Report; dir: string; reporterErrors: readonly { file: string; error: string }[]; pdf?: PdfOutcome },
  sign: SigningKey | undefined, io: Io,
): number {
  const { report, dir, reporterErrors, pdf } = outcome;
  io.out.write(renderConsoleSummary(report, path.relative(process.cwd(), dir) || '.'));
  if (pdf) io.out.write(pdf.written ? `PDF: ${pdf.file} (${(pdf.ms / 1000).toFixed(1)} s)\n` : `No report.pdf: ${pdf.reason}\n`);
  if (sign) io.out.write(`Signed: manifest.sig (${sign.certificate ? 'certificate and ' : ''}key sha256 ${sign.fingerprint})\n`);
  for (const e of reporterErrors) io.err.write(`iacs-probe: could not write ${e.file} (the rest of the folder is complete; details in journal.ndjson): ${e.error.split('\n')[0]}\n`);
  return reporterErrors.length > 0 ? Math.max(exitCodeFor(report), 2) : exitCodeFor(report);
}

export async function runCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, runOptions, { min: 1, max: 1, names: 'the profile file' });
  const profile = applySl(loadProfile(positionals[0]), values.sl);
  const options = withAttestations(toRunOptions(values), values.attest, profile, io);
  const code = await runWithConsole(profile, options, io);
  return code ?? EXIT.incomplete;
}
