import * as dns from 'node:dns/promises';
import * as net from 'node:net';
import Ajv from 'ajv';
import { rowsForTypes, type Catalog } from '../catalog';
import type { Profile, ProfileIssue } from '../profile';
import { ProfileError } from '../profile';
import {
  InputRejected, SAFETY_CLASSES, UDP_PROTOCOLS, type ComponentInfo, type HostUnderTest, type ProbeDefinition, type Safety,
  type ServiceUnderTest,
} from '../sdk';
import { skippedAttempt, type Attempt, type PlannedAttempt } from './attempt';
import { matchesSelector } from './registry';
import { normalizeHost } from '../protocols/scope';
import { hostsOfShard, type ShardRecord, type ShardSpec } from './shard';

export interface PlanOptions {
  /** Probe ids or protocol prefixes; empty = every probe. */
  only?: readonly string[];
  /** Safety classes the command line allows (`--allow`). */
  allow?: readonly Safety[];
  /** Restrict the run to these profile hosts (`--host`). */
  hosts?: readonly string[];
  /** Run only this shard of the (selected) hosts (`--shard i/n`). */
  shard?: ShardSpec;
}

export interface Plan {
  hosts: HostUnderTest[];
  attempts: PlannedAttempt[];
  /** Attempts decided before running: not allowed, below the SL target, disabled. */
  skipped: Attempt[];
  allowed: ReadonlySet<Safety>;
  /** With --shard: which shard, and its hosts (possibly none). */
  shard?: ShardRecord;
}

export class ScopeRefused extends InputRejected {}

/**
 * Effective safety classes: passive/active/intrusive when the profile or the command line allows them,
 * destructive only when both do.
 */
export function effectiveAllow(profileAllow: readonly Safety[], cliAllow: readonly Safety[] = []): Set<Safety> {
  const allowed = new Set<Safety>();
  for (const c of SAFETY_CLASSES) {
    const inProfile = profileAllow.includes(c);
    const inCli = cliAllow.includes(c);
    if (c === 'destructive' ? inProfile && inCli : inProfile || inCli) allowed.add(c);
  }
  return allowed;
}

function notAllowedMessage(safety: Safety): string {
  return safety === 'destructive'
    ? 'destructive probes need `allow: [destructive]` in the profile and --allow destructive on the command line'
    : `${safety} probes need \`allow: [${safety}]\` in the profile or --allow ${safety}`;
}

/** True when at least one requirement the probe evidences is required at the component's target. */
function relevantAtTarget(probe: ProbeDefinition<unknown>, component: ComponentInfo, catalog: Catalog): boolean {
  const rows = new Map(rowsForTypes(catalog, component.types).map((r) => [r.id, r]));
  return probe.requirements.some((id) => {
    const row = rows.get(id);
    return row !== undefined && row.sl.some((l) => l <= component.slTarget[row.fr]);
  });
}

function toServices(host: string, profileServices: Profile['targets'][number]['services']): ServiceUnderTest[] {
  return profileServices.map((s) => ({
    host,
    port: s.port,
    protocol: s.protocol,
    transport: s.transport ?? (UDP_PROTOCOLS.has(s.protocol) ? 'udp' : 'tcp'),
    name: s.name ?? `${s.protocol}/${s.port}`,
    tls: s.tls ?? (s.protocol === 'https' || s.protocol === 'modbus-tls' || s.protocol === 'tls'),
    unitId: s.unitId,
    options: s.options ?? {},
  }));
}

/** Resolves host names once; the scope guard then allows exactly the names and these addresses. */
async function resolveHost(host: string): Promise<string[]> {
  if (net.isIP(normalizeHost(host))) return [normalizeHost(host)];
  try {
    return (await dns.lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return []; // unresolvable: its attempts end as unreachable
  }
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });

/** Validates `probes:` settings of the profile against the probes' input schemas. */
function probeSettingIssues(profile: Profile, probes: readonly ProbeDefinition<unknown>[]): ProfileIssue[] {
  const issues: ProfileIssue[] = [];
  for (const [key, settings] of Object.entries(profile.probes)) {
    const exact = probes.find((p) => p.id === key);
    if (!exact) {
      if (!probes.some((p) => matchesSelector(p.id, key))) issues.push(profile.issueAt(['probes', key], `no probe or protocol named "${key}" (see \`iacs-probe probes\`)`));
      continue;
    }
    const { enabled: _e, timeoutMs: _t, ...inputs } = settings;
    const schema = exact.inputs?.schema ?? { type: 'object', additionalProperties: false };
    const validate = ajv.compile({ ...schema, type: 'object' });
    if (!validate(inputs)) {
      for (const e of validate.errors ?? []) {
        const extra = e.keyword === 'additionalProperties' ? [(e.params as { additionalProperty: string }).additionalProperty] : [];
        const parts = e.instancePath.split('/').filter(Boolean);
        const message = e.keyword === 'additionalProperties' ? `unknown input of ${key}` : e.message ?? 'invalid';
        issues.push(profile.issueAt(['probes', key, ...parts, ...extra], message));
      }
    }
  }
  return issues;
}

/** Settings for a probe: protocol-prefix settings first, then the probe's own. */
function settingsFor(profile: Profile, probeId: string): { enabled: boolean; timeoutMs?: number; inputs: Record<string, unknown> } {
  const keys = Object.keys(profile.probes).filter((k) => matchesSelector(probeId, k)).sort((a, b) => a.length - b.length);
  let enabled = true;
  let timeoutMs: number | undefined;
  let inputs: Record<string, unknown> = {};
  for (const k of keys) {
    const { enabled: e, timeoutMs: t, ...rest } = profile.probes[k];
    if (e !== undefined) enabled = e;
    if (t !== undefined) timeoutMs = t;
    if (k === probeId) inputs = rest;
  }
  return { enabled, timeoutMs, inputs };
}

/**
 * Plan = targets × declared services × probes, filtered by selection, safety, component type and SL.
 * Decided skips are returned as attempts so the report shows what was not tested and why.
 */
export async function buildPlan(
  profile: Profile, probes: readonly ProbeDefinition<unknown>[], catalog: Catalog, options: PlanOptions = {},
  extraInputs: Readonly<Record<string, Record<string, unknown>>> = {},
): Promise<Plan> {
  const issues = probeSettingIssues(profile, probes);
  if (issues.length > 0) throw new ProfileError(issues);
  const declared = new Map(profile.targets.map((t) => [normalizeHost(t.host), t]));
  for (const h of options.hosts ?? []) {
    if (!declared.has(normalizeHost(h))) {
      throw new ScopeRefused(`${h} is not a target of ${profile.file}; only hosts the profile declares are ever contacted`);
    }
  }
  for (const sel of options.only ?? []) {
    if (!probes.some((p) => matchesSelector(p.id, sel))) throw new ScopeRefused(`--only ${sel}: no such probe or protocol (see \`iacs-probe probes\`)`);
  }
  const chosenTargets = options.hosts && options.hosts.length > 0
    ? profile.targets.filter((t) => options.hosts!.some((h) => normalizeHost(h) === normalizeHost(t.host)))
    : profile.targets;
  // A shard splits the hosts the selection left, so that its shards together cover exactly that selection.
  const { shard } = options;
  const selectedTargets = shard ? hostsOfShard(chosenTargets, shard) : chosenTargets;
  const hosts: HostUnderTest[] = [];
  for (const t of selectedTargets) {
    hosts.push({ host: t.host, name: t.name ?? t.host, addresses: await resolveHost(t.host), services: toServices(t.host, t.services) });
  }
  const allowed = effectiveAllow(profile.allow, options.allow);
  const selected = probes.filter((p) => !options.only?.length || options.only.some((s) => matchesSelector(p.id, s)));
  const attempts: PlannedAttempt[] = [];
  const skipped: Attempt[] = [];
  for (const host of hosts) {
    for (const probe of selected) {
      const targets: (ServiceUnderTest | undefined)[] = probe.scope === 'host'
        ? [undefined]
        : host.services.filter((s) => probe.appliesTo.includes(s.protocol) && (probe.when?.(s) ?? true));
      const settings = settingsFor(profile, probe.id);
      for (const service of targets) {
        const planned: PlannedAttempt = {
          probe, host, service,
          inputs: { ...(probe.inputs?.defaults as object | undefined ?? {}), ...settings.inputs, ...(extraInputs[probe.id] ?? {}) },
          timeoutMs: settings.timeoutMs ?? probe.timeoutMs,
        };
        if (!settings.enabled) skipped.push(skippedAttempt(planned, 'disabled', `disabled in the profile (probes.${probe.id}.enabled: false)`));
        else if (!allowed.has(probe.safety)) skipped.push(skippedAttempt(planned, 'not-allowed', notAllowedMessage(probe.safety)));
        else if (!relevantAtTarget(probe, profile.component, catalog)) {
          skipped.push(skippedAttempt(planned, 'below-sl', `none of ${probe.requirements.join(', ')} is required at the SL target for ${profile.component.types.join('/')} components`));
        } else attempts.push(planned);
      }
    }
  }
  const shardRecord = shard ? { index: shard.index, count: shard.count, hosts: hosts.map((h) => h.host) } : undefined;
  return { hosts, attempts, skipped, allowed, ...(shardRecord ? { shard: shardRecord } : {}) };
}
