import { mergeShards } from '../runner/merge';
import { UsageError, cancelOnSignals, parse, type Io } from './common';
import { finishFolder, pdfOption, signOption } from './run';

export const MERGE_USAGE = `usage: iacs-probe merge <shard-dir>... --out DIR [--allow-incomplete] [--overwrite] [--operator NAME]
                        [--sign KEY] [--pdf | --no-pdf]

  Joins the evidence folders of \`iacs-probe run --shard I/N\` (every shard 0..N-1 of one run) into one:
  checks each folder as \`iacs-probe verify\` does, refuses shards of different profiles, counts, tool
  versions, run options or attestation files, a shard given twice or missing, a host in two shards, a folder
  that is not a shard, and an incomplete shard; copies every shard's evidence (same relative paths) and
  keeps each shard's report.json, journal.ndjson and manifest under shards/<index>/; assesses the union of
  the shards' attempts anew (a requirement's verdict depends on every interface) and writes the reports,
  a journal and a manifest as \`run\` does.

  --out DIR            the merged evidence folder (an existing non-empty folder is refused)
  --allow-incomplete   merge shards whose run did not complete (cancelled, stopped); the merged run is
                       then incomplete (exit 2), its verdicts cover only what ran
  --overwrite          replace an existing --out folder
  --operator NAME      who merges (recorded in the manifest; default: the OS user)
  --sign KEY           sign the merged manifest.json with this lab private key (as \`run --sign\`)
  --pdf, --no-pdf      report.pdf from the merged report.html as \`run\` writes it: when a Chromium is found,
                       else the merge says why there is none; --pdf makes a missing Chromium a usage error,
                       --no-pdf skips it

  Exit codes as \`run\`: 0 no requirement failed at the target SL, 1 one failed, 2 incomplete or probe
  errors, 3 usage or refused shards (nothing written).`;

export const mergeOptions = {
  out: { type: 'string' }, 'allow-incomplete': { type: 'boolean' }, overwrite: { type: 'boolean' },
  operator: { type: 'string' }, sign: { type: 'string' }, pdf: { type: 'boolean' }, 'no-pdf': { type: 'boolean' },
} as const;

export async function mergeCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, mergeOptions, { min: 1, max: Number.MAX_SAFE_INTEGER, names: 'the shard folders' });
  if (typeof values.out !== 'string') throw new UsageError('--out DIR is required: where the merged evidence folder goes');
  const sign = signOption(values.sign);
  const pdf = pdfOption({ pdf: values.pdf, 'no-pdf': values['no-pdf'] });
  const cancel = cancelOnSignals(io);
  try {
    const outcome = await mergeShards(positionals, {
      out: values.out, overwrite: values.overwrite === true, allowIncomplete: values['allow-incomplete'] === true, sign, pdf,
      signal: cancel.signal, operator: values.operator, commandLine: Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)),
    });
    return finishFolder(outcome, sign, io);
  } finally {
    cancel.dispose();
  }
}
