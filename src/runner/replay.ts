import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputRejected, TargetUnreachable, sleep } from '../sdk';
import type { DeviceReaction, FuzzTarget } from '../protocols/fuzz';
import { enterScope, normalizeHost } from '../protocols/scope';
import { FUZZ_TARGETS } from './fuzz-targets';

/**
 * `iacs-probe replay`: finds one fuzz case in a run's evidence (the fuzz-cases.ndjson files the fuzzing probes
 * write) and re-sends exactly its bytes to the host and port of the run, inside the run's scope. Nothing is
 * written to the run folder, so its manifest stays valid.
 */
export const CASES_FILE_NAME = 'fuzz-cases.ndjson';

/** The first line of a cases file: where the campaign ran and with what. */
export interface CampaignLine {
  type: 'campaign';
  probe: string;
  protocol: string;
  transport?: 'tcp' | 'udp';
  host: string;
  port: number;
  /** What the protocol's target factory needs to rebuild the target (absent in early Modbus records). */
  params?: Record<string, unknown>;
  /** Secrets the case bytes carried (redacted in the records): name, SHA-256 and length of each. */
  secrets?: { name: string; sha256: string; length: number }[];
  /** Early Modbus records kept the unit id here. */
  unitId?: number;
  seed: number;
  waitMs: number;
  recoveryMs: number;
  /** The normal request sent after each case (hex or words). */
  check: string;
}

export interface CaseLine {
  type: 'case';
  id: string;
  template: string;
  field: string;
  mutation: string;
  hex: string;
  reaction: { kind: string; detail: string; hex: string };
  stillAnswers: boolean;
  /** Where each secret was replaced by '*' bytes in `hex`. */
  redacted?: Record<string, number[]>;
}

export interface FoundCase {
  file: string;
  campaign: CampaignLine;
  record: CaseLine;
}

function casesFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return casesFiles(p);
    return e.name === CASES_FILE_NAME ? [p] : [];
  });
}

/** The case `caseId` of the run in `runDir`, with its campaign; InputRejected (exit 3) when it is not there. */
export function findCase(runDir: string, caseId: string): FoundCase {
  if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) throw new InputRejected(`${runDir} is not a folder`);
  const found: FoundCase[] = [];
  for (const file of casesFiles(path.join(runDir, 'evidence'))) {
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CampaignLine | CaseLine);
    const campaign = lines.find((l): l is CampaignLine => l.type === 'campaign');
    const record = lines.find((l): l is CaseLine => l.type === 'case' && l.id === caseId);
    if (campaign && record) found.push({ file: path.relative(runDir, file), campaign, record });
  }
  if (found.length === 0) throw new InputRejected(`no fuzz case ${caseId} in ${runDir} (the ids are in evidence/**/${CASES_FILE_NAME})`);
  if (found.length > 1) throw new InputRejected(`case ${caseId} is in several files: ${found.map((f) => f.file).join(', ')}`);
  return found[0];
}

/** The hosts and addresses of the run's profile, from report.json (the only place the run folder keeps them). */
export function runScope(runDir: string): string[] {
  const file = path.join(runDir, 'report.json');
  if (!fs.existsSync(file)) throw new InputRejected(`${runDir} has no report.json: the run's scope is unknown, so nothing is sent`);
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as { targets?: { host: string; addresses?: string[] }[] };
  return (report.targets ?? []).flatMap((t) => [t.host, ...(t.addresses ?? [])]);
}

export interface ReplayResult {
  host: string;
  port: number;
  sent: string;
  reaction: DeviceReaction;
  /** A normal request was answered after the case (within recoveryMs). */
  stillAnswers: boolean;
  /** When it answered only after a pause. */
  recoveredAfterMs?: number;
}

export interface ReplayOptions {
  /** Another host of the run's scope (the same device at another address); default the campaign's. */
  host?: string;
  waitMs?: number;
  recoveryMs?: number;
  /** Values of the secrets the campaign's bytes carried (redacted in the run), by name. */
  secrets?: Record<string, string>;
  signal: AbortSignal;
}

/** The campaign's target, rebuilt by its protocol's factory; InputRejected when no factory knows the protocol. */
export function campaignTarget(campaign: CampaignLine, host: string, secrets: Record<string, string> = {}): FuzzTarget {
  const factory = Object.hasOwn(FUZZ_TARGETS, campaign.protocol) ? FUZZ_TARGETS[campaign.protocol] : undefined;
  if (!factory) throw new InputRejected(`replay of ${campaign.protocol} cases is not supported (known: ${Object.keys(FUZZ_TARGETS).join(', ')})`);
  const params = campaign.params ?? (campaign.unitId !== undefined ? { unitId: campaign.unitId } : {});
  return factory({ host, port: campaign.port }, { ...params, ...secrets });
}

/**
 * The secrets the campaign's bytes carried, from `given` (name -> value), each checked against the SHA-256 the
 * run recorded; InputRejected (exit 3, nothing sent) when one is missing or different.
 */
export function campaignSecrets(campaign: CampaignLine, given: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of campaign.secrets ?? []) {
    const value = given[s.name];
    if (value === undefined) throw new InputRejected(`the case's bytes carry the profile's ${s.name} (redacted in the run): give it with --secret ${s.name}=ENV_VAR`);
    if (createHash('sha256').update(Buffer.from(value, 'latin1')).digest('hex') !== s.sha256) throw new InputRejected(`the ${s.name} given is not the one the run used (SHA-256 differs)`);
    out[s.name] = value;
  }
  return out;
}

/** The case's bytes with each redacted secret put back where the record says it was. */
export function restoredBytes(record: CaseLine, secrets: Record<string, string>): Buffer {
  const bytes = Buffer.from(record.hex.replace(/\s+/g, ''), 'hex');
  for (const [name, offsets] of Object.entries(record.redacted ?? {})) {
    for (const at of offsets) Buffer.from(secrets[name], 'latin1').copy(bytes, at);
  }
  return bytes;
}

/**
 * Sends the case's bytes once, on a new connection (socket), then the campaign's normal request until it is
 * answered or recoveryMs has passed. A host outside the run's scope is refused before anything is sent; a
 * device that refuses the case's connection is unreachable (exit 2), not a reaction.
 */
export async function replayCase(runDir: string, found: FoundCase, options: ReplayOptions): Promise<ReplayResult> {
  const scope = runScope(runDir);
  const host = options.host ?? found.campaign.host;
  if (!scope.map(normalizeHost).includes(normalizeHost(host))) {
    throw new InputRejected(`${host} is not a host of the run's profile (${scope.join(', ') || 'none'})`);
  }
  const secrets = campaignSecrets(found.campaign, options.secrets ?? {});
  const target = campaignTarget(found.campaign, host, secrets);
  const port = found.campaign.port;
  const bytes = restoredBytes(found.record, secrets);
  const waitMs = options.waitMs ?? found.campaign.waitMs;
  const recoveryMs = options.recoveryMs ?? found.campaign.recoveryMs;
  // The same guard as a run: nothing leaves this process for a host outside the profile.
  const guard = enterScope(scope);
  try {
    const reaction = await target.sendCase({ bytes, template: found.record.template }, waitMs, options.signal);
    if (reaction.kind === 'connect-failed') throw new TargetUnreachable(reaction.detail);
    const started = Date.now();
    const answerWait = Math.max(waitMs, 500);
    for (let first = true; first || Date.now() - started < recoveryMs; first = false) {
      if (!first) await sleep(250, options.signal);
      if ((await target.answersNormally(answerWait, options.signal)).ok) {
        return { host, port, sent: found.record.hex, reaction, stillAnswers: true, ...(first ? {} : { recoveredAfterMs: Date.now() - started }) };
      }
    }
    return { host, port, sent: found.record.hex, reaction, stillAnswers: false };
  } finally {
    guard.release();
  }
}
