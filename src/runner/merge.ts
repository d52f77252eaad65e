import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assess } from '../assess';
import { parseAttestations } from '../assess/attestations';
import { loadCatalog } from '../catalog';
import { verifyFolder, type Manifest } from '../evidence/manifest';
import { signatureChecker, type SigningKey } from '../evidence/signing';
import { JOURNAL, MANIFEST, MANIFEST_DIGEST, MANIFEST_SIGNATURE, RunStore, foldersOverlap, sha256 } from '../evidence/store';
import { toolVersion } from '../paths';
import type { MergedShard, Report, ShardInfo } from '../report/model';
import { InputRejected } from '../sdk';
import { loadProbes } from './registry';
import { ATTESTATIONS_FILE, closeRunFolder, newRunId, summarize, writeReports } from './run';
import { shardKey, splitHosts } from './shard';
import { pdfAfterReports, type PdfOutcome, type PdfRenderer } from './pdf';

export interface MergeOptions {
  /** The merged evidence folder (refused when it holds files, unless `overwrite`). */
  out: string;
  overwrite?: boolean;
  /** Merge shards whose run did not complete; the merged run is then incomplete too. */
  allowIncomplete?: boolean;
  sign?: SigningKey;
  operator?: string;
  /** Recorded in report.run.options.merge. */
  commandLine?: Record<string, unknown>;
  /** Print the merged report.html into report.pdf with this browser, as `run` does. */
  pdf?: PdfRenderer;
  signal?: AbortSignal;
}

export interface MergeOutcome {
  report: Report;
  dir: string;
  reporterErrors: { file: string; error: string }[];
  /** report.pdf written, or why not (only when MergeOptions.pdf was given). */
  pdf?: PdfOutcome;
}

/** Shards that cannot be joined into one run: nothing is written (exit 3). */
export class MergeRefused extends InputRejected {}

/** A shard folder, verified, with what the merge needs from it. */
interface ShardFolder {
  dir: string;
  report: Report & { run: { shard: ShardInfo } };
  manifest: Manifest;
  manifestSha256: string;
  journalSha256: string;
  /** sha256 of attestations.yaml, or '' when the shard had none. */
  attestationsSha256: string;
}

/** Options of `run` that do not change what is assessed or how it is judged: shards may differ in them. */
const PER_SHARD_OPTIONS = new Set(['out', 'shard', 'overwrite', 'operator', 'sign', 'attest', 'concurrency']);

const fileSha = (dir: string, rel: string) => (fs.existsSync(path.join(dir, rel)) ? sha256(fs.readFileSync(path.join(dir, rel))) : '');

/** Checks a folder as `iacs-probe verify` does (every file against the manifest, the signature) and reads its report. */
function readShard(dir: string): ShardFolder {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new MergeRefused(`${dir} is not a folder`);
  const verified = verifyFolder(dir, signatureChecker());
  if (!verified.ok || !verified.manifest) {
    throw new MergeRefused(`${dir} does not verify, so it cannot be merged (\`iacs-probe verify ${dir}\`):\n${
      verified.problems.map((p) => `  ${p.kind} ${p.path}: ${p.detail}`).join('\n')}`);
  }
  let parsed: Partial<Report> | null;
  try {
    parsed = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as Partial<Report> | null;
  } catch (err) {
    throw new MergeRefused(`${dir}: no readable report.json (${(err as Error).message})`);
  }
  if (parsed?.schemaVersion !== 1 || parsed.tool?.name !== 'iacs-probe' || !parsed.run) throw new MergeRefused(`${dir}: report.json is not an iacs-probe report (schemaVersion 1)`);
  const report = parsed as Report;
  if (!report.run.shard) {
    throw new MergeRefused(`${dir} is not a shard: its report has no run.shard (${report.run.merged ? 'it is a merged run' : 'made by `run` without --shard'})`);
  }
  return {
    dir, report: report as ShardFolder['report'], manifest: verified.manifest,
    manifestSha256: fileSha(dir, MANIFEST), journalSha256: fileSha(dir, JOURNAL), attestationsSha256: fileSha(dir, ATTESTATIONS_FILE),
  };
}

/** The options a shard ran with that decide what is assessed (the same in every shard of a run). */
function assessedOptions(report: Report): Record<string, unknown> {
  return Object.fromEntries(Object.entries(report.run.options).filter(([k]) => !PER_SHARD_OPTIONS.has(k)).sort(([a], [b]) => (a < b ? -1 : 1)));
}

const label = (s: ShardFolder) => `shard ${s.report.run.shard.index}/${s.report.run.shard.count} (${s.dir})`;

/** Refuses shards that are not parts of one run: another profile, count, tool version, options or attestations. */
function checkSameRun(shards: readonly ShardFolder[]): void {
  const [first] = shards;
  const differing = (what: string, value: (s: ShardFolder) => unknown) => {
    const other = shards.find((s) => JSON.stringify(value(s)) !== JSON.stringify(value(first)));
    if (other) throw new MergeRefused(`${label(first)} and ${label(other)} differ in ${what}: they are not shards of one run`);
  };
  differing('the profile (profileSha256)', (s) => s.report.run.profileSha256);
  differing('the shard count', (s) => s.report.run.shard.count);
  differing('the tool version', (s) => s.report.tool.version);
  differing('the run options (--sl, --only, --allow, --host, --ports ...)', (s) => assessedOptions(s.report));
  differing('the SL target', (s) => s.report.slTarget);
  differing('the safety classes allowed', (s) => [...s.report.run.allowed].sort());
  differing('the attestation file (attestations.yaml)', (s) => s.attestationsSha256);
}

/** Refuses a shard given twice, a missing one, a host in two shards, or a shard whose hosts are not its split. */
function checkCoverage(shards: readonly ShardFolder[]): void {
  const count = shards[0].report.run.shard.count;
  const byIndex = new Map<number, ShardFolder>();
  for (const s of shards) {
    const twice = byIndex.get(s.report.run.shard.index);
    if (twice) throw new MergeRefused(`shard ${s.report.run.shard.index}/${count} is given twice: ${twice.dir} and ${s.dir}`);
    byIndex.set(s.report.run.shard.index, s);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw new MergeRefused(`missing shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ${count}: every shard 0..${count - 1} must be merged, or hosts go unassessed`);
  }
  const owner = new Map<string, ShardFolder>();
  for (const s of shards) {
    for (const host of s.report.run.shard.hosts) {
      const other = owner.get(shardKey(host));
      if (other) throw new MergeRefused(`host ${host} is in ${label(other)} and in ${label(s)}: overlapping shards`);
      owner.set(shardKey(host), s);
    }
    const assessed = s.report.targets.map((t) => shardKey(t.host)).sort();
    if (JSON.stringify(assessed) !== JSON.stringify(s.report.run.shard.hosts.map(shardKey).sort())) {
      throw new MergeRefused(`${label(s)}: its report assessed ${assessed.join(', ') || 'no host'}, but run.shard lists ${s.report.run.shard.hosts.join(', ') || 'none'}`);
    }
  }
  const split = splitHosts([...owner.keys()], count);
  for (const s of shards) {
    const expected = split[s.report.run.shard.index];
    if (JSON.stringify(s.report.run.shard.hosts.map(shardKey).sort()) !== JSON.stringify([...expected].sort())) {
      throw new MergeRefused(`${label(s)} holds ${s.report.run.shard.hosts.join(', ') || 'no host'}, but --shard ${s.report.run.shard.index}/${count} of these hosts gives ${expected.join(', ') || 'no host'}`);
    }
  }
}

/** Refuses incomplete shards unless allowed; returns why the merged run is incomplete ('' when it is complete). */
function checkComplete(shards: readonly ShardFolder[], allowIncomplete: boolean): string {
  const incomplete = shards.filter((s) => !s.report.run.complete);
  if (incomplete.length === 0) return '';
  const list = incomplete.map((s) => `${label(s)}${s.report.run.incompleteReason ? `: ${s.report.run.incompleteReason}` : ''}`).join('; ');
  if (!allowIncomplete) {
    throw new MergeRefused(`incomplete shard${incomplete.length === 1 ? '' : 's'} (run.complete false: cancelled or stopped before every planned attempt ran): ${list}. `
      + 'Run it again, or pass --allow-incomplete to merge anyway (the merged run is then incomplete and exits 2)');
  }
  return `merged from incomplete shards: ${list}`;
}

/** Refuses an output folder that is, holds or lies inside a shard folder (--overwrite would delete evidence). */
function checkOut(out: string, shards: readonly ShardFolder[]): void {
  for (const s of shards) {
    if (foldersOverlap(out, s.dir)) throw new MergeRefused(`--out ${out} overlaps the shard folder ${s.dir}; choose a folder of its own`);
  }
}

/** Evidence files of every shard, refusing a path two shards both hold. */
function evidenceFiles(shards: readonly ShardFolder[]): { shard: ShardFolder; rel: string }[] {
  const seen = new Map<string, ShardFolder>();
  const files: { shard: ShardFolder; rel: string }[] = [];
  for (const shard of shards) {
    for (const { path: rel } of shard.manifest.files.filter((f) => f.path.startsWith('evidence/'))) {
      const other = seen.get(rel);
      if (other) throw new MergeRefused(`${rel} is in ${label(other)} and in ${label(shard)}: the evidence of two shards collides`);
      seen.set(rel, shard);
      files.push({ shard, rel });
    }
  }
  return files;
}

/** Where the merged folder keeps a shard's own report, journal and manifest. */
const copyOf = (s: ShardFolder) => `shards/${s.report.run.shard.index}`;

function copyShards(store: RunStore, shards: readonly ShardFolder[], evidence: readonly { shard: ShardFolder; rel: string }[]): void {
  // Byte for byte: the files were redacted when the shards wrote them and verified against their manifests above.
  for (const { shard, rel } of evidence) store.writeFile(rel, fs.readFileSync(path.join(shard.dir, rel)), { alreadyRedacted: true });
  for (const s of shards) {
    for (const file of ['report.json', JOURNAL, MANIFEST, MANIFEST_DIGEST, MANIFEST_SIGNATURE]) {
      if (fs.existsSync(path.join(s.dir, file))) store.writeFile(`${copyOf(s)}/${file}`, fs.readFileSync(path.join(s.dir, file)), { alreadyRedacted: true });
    }
  }
  if (shards[0].attestationsSha256) store.writeFile(ATTESTATIONS_FILE, fs.readFileSync(path.join(shards[0].dir, ATTESTATIONS_FILE)), { alreadyRedacted: true });
}

function mergedShard(s: ShardFolder): MergedShard {
  const r = s.report.run;
  return {
    index: r.shard.index, id: r.id, dir: s.dir, copy: copyOf(s), hosts: [...r.shard.hosts], complete: r.complete,
    startedAt: r.startedAt, finishedAt: r.finishedAt, manifestSha256: s.manifestSha256, journalSha256: s.journalSha256,
  };
}

/** The merged report: the shards' attempts and targets, assessed anew as one run. */
function mergedReport(shards: readonly ShardFolder[], runId: string, incompleteReason: string, options: MergeOptions, operator: string): Report {
  const first = shards[0].report;
  const attempts = shards.flatMap((s) => s.report.attempts);
  const catalog = loadCatalog();
  const component = { ...first.component, slTarget: first.slTarget };
  const attestations = shards[0].attestationsSha256
    ? parseAttestations(fs.readFileSync(path.join(shards[0].dir, ATTESTATIONS_FILE)), ATTESTATIONS_FILE, catalog, component.types).attestations
    : undefined;
  const assessment = assess({ catalog, component, attempts, probeRequirements: new Map(loadProbes().map((p) => [p.id, p.requirements])), attestations });
  const notices = shards.flatMap((s) => s.report.run.notices ?? []);
  return {
    schemaVersion: 1,
    tool: { name: 'iacs-probe', version: toolVersion() },
    run: {
      id: runId,
      // From the first shard's start to this merge (run.merged.shards holds each shard's own times).
      startedAt: shards.map((s) => s.report.run.startedAt).sort()[0],
      finishedAt: new Date().toISOString(),
      complete: incompleteReason === '', ...(incompleteReason ? { incompleteReason } : {}),
      profile: first.run.profile, profileSha256: first.run.profileSha256,
      options: { ...assessedOptions(first), command: 'merge', merge: options.commandLine ?? {} }, operator, allowed: [...first.run.allowed],
      scopeViolations: shards.flatMap((s) => s.report.run.scopeViolations), ...(notices.length ? { notices } : {}),
      merged: { count: shards.length, shards: shards.map(mergedShard) },
    },
    component: first.component,
    targets: shards.flatMap((s) => s.report.targets).sort((a, b) => (shardKey(a.host) < shardKey(b.host) ? -1 : 1)),
    attempts,
    requirements: assessment.requirements,
    slAchieved: assessment.slAchieved,
    slTarget: first.slTarget,
    gaps: assessment.gaps,
    summary: summarize(attempts, assessment),
  };
}

/**
 * Joins the folders of `run --shard i/n` into one evidence folder: verifies each shard, refuses shards that are
 * not the complete, disjoint parts of one run, copies their evidence (same relative paths) and their reports,
 * journals and manifests (under shards/<index>/), re-assesses the union of their attempts, and writes the
 * reports, a journal and a manifest as `run` does. Nothing is written when a check refuses.
 */
export async function mergeShards(dirs: readonly string[], options: MergeOptions): Promise<MergeOutcome> {
  if (dirs.length === 0) throw new MergeRefused('no shard folder given');
  const shards = dirs.map(readShard).sort((a, b) => a.report.run.shard.index - b.report.run.shard.index);
  checkSameRun(shards);
  checkCoverage(shards);
  const incompleteReason = checkComplete(shards, options.allowIncomplete === true);
  checkOut(options.out, shards);
  const evidence = evidenceFiles(shards);
  const runId = newRunId();
  const operator = options.operator ?? os.userInfo().username;
  const store = RunStore.create(options.out, { overwrite: options.overwrite });
  const dir = store.dir;
  store.journal({
    type: 'merge-start', runId, startedAt: new Date().toISOString(), tool: { name: 'iacs-probe', version: toolVersion() },
    profile: shards[0].report.run.profile, profileSha256: shards[0].report.run.profileSha256, options: options.commandLine ?? {},
    shards: shards.map(mergedShard),
  });
  copyShards(store, shards, evidence);
  const report = mergedReport(shards, runId, incompleteReason, options, operator);
  const reporterErrors = await writeReports(store, report);
  const pdf = await pdfAfterReports(store, options.pdf, reporterErrors, options.signal);
  const externalTools = Object.assign({}, ...shards.map((s) => s.manifest.environment?.externalTools ?? {})) as Record<string, string>;
  closeRunFolder({ runId, dir, store, operator }, report, options.sign, externalTools);
  return { report, dir, reporterErrors, ...(pdf ? { pdf } : {}) };
}
