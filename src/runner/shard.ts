import { InputRejected } from '../sdk';
import { normalizeHost } from '../protocols/scope';

/**
 * One part of a fleet run: shard `index` of `count`, 0-based (index 0..count-1), like a Kubernetes Indexed
 * Job's JOB_COMPLETION_INDEX. Hosts go to shards round-robin in the order of their normalized names.
 */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/** What report.json (run.shard) and the journal record about a shard. */
export interface ShardRecord extends ShardSpec {
  /** The profile hosts this shard assessed (may be empty when there are more shards than hosts). */
  hosts: string[];
}

export class ShardSpecError extends InputRejected {}

/** The most shards a run is split into: more would only make empty folders. */
export const MAX_SHARDS = 1000;

/** Parses "i/n" (0 <= i < n <= MAX_SHARDS). */
export function parseShardSpec(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ShardSpecError(`--shard ${text}: expected INDEX/COUNT, e.g. 0/4 (0-based: the shards of 4 are 0/4 .. 3/4)`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) throw new ShardSpecError(`--shard ${text}: COUNT must be 1 to ${MAX_SHARDS}`);
  if (index >= count) throw new ShardSpecError(`--shard ${text}: INDEX is 0-based and must be below COUNT (0 to ${count - 1})`);
  return { index, count };
}

/** The sort key of a host: its normalized name, compared by code units (the same order on every machine). */
export function shardKey(host: string): string {
  return normalizeHost(host);
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The hosts of each shard: distinct hosts (by key) sorted by key, the k-th going to shard k mod count.
 * Round-robin keeps the shards within one host of each other in size.
 */
export function splitHosts(hosts: readonly string[], count: number): string[][] {
  const keys = [...new Set(hosts.map(shardKey))].sort(byKey);
  const shards: string[][] = Array.from({ length: count }, () => []);
  keys.forEach((key, k) => shards[k % count].push(key));
  return shards;
}

/** The profile hosts (as written) of `all` that belong to the given shard. */
export function hostsOfShard<T extends { host: string }>(all: readonly T[], shard: ShardSpec): T[] {
  const mine = new Set(splitHosts(all.map((t) => t.host), shard.count)[shard.index]);
  return all.filter((t) => mine.has(shardKey(t.host)));
}
