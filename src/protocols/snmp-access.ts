import { createHash } from 'node:crypto';
import { InvalidInput, type CredentialVault, type ServiceUnderTest } from '../sdk';
import { AUTH_PROTOCOLS, PRIV_PROTOCOLS, type AuthProtocolName, type PrivProtocolName, type V3User } from './snmp';

/**
 * Where SNMP probes get their access from a profile: communities (credentials `snmp.community`, the
 * service option `communities`, the probe input `communities`) and the v3 user (credentials `snmp`,
 * optional `snmp.priv` for a separate privacy passphrase; protocols from the service options or inputs).
 * Profile communities are secrets: evidence names them only by list index and SHA-256.
 */

export interface CommunityCandidate {
  community: string;
  source: 'profile' | 'default';
  /** Position in the profile's list (profile) or in the baseline's list (default), from 0. */
  index: number;
}

/** What evidence may say about a community: a default by name, a profile one by index and hash. */
export interface CommunityRef {
  source: 'profile' | 'default';
  index: number;
  community?: string;
  sha256?: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function communityRef(c: CommunityCandidate): CommunityRef {
  return c.source === 'default'
    ? { source: 'default', index: c.index, community: c.community }
    : { source: 'profile', index: c.index, sha256: sha256Hex(c.community) };
}

export function describeCommunity(c: CommunityCandidate): string {
  return c.source === 'default' ? `well-known community "${c.community}"` : `profile community #${c.index + 1} (sha256 ${sha256Hex(c.community).slice(0, 12)}…)`;
}

function stringList(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new InvalidInput(`${where} must be a list of strings`);
  return value as string[];
}

/** The profile's own communities, in order, without duplicates. */
export function profileCommunities(service: ServiceUnderTest | undefined, inputCommunities: readonly string[] | undefined, credentials: CredentialVault): string[] {
  const fromVault = credentials.get('snmp.community')?.password;
  const all = [
    ...(fromVault !== undefined ? [fromVault] : []),
    ...stringList(service?.options.communities, 'service option communities'),
    ...(inputCommunities ?? []),
  ];
  return [...new Set(all)];
}

/** Profile communities first, then the well-known ones not already among them. */
export function communityCandidates(profile: readonly string[], defaults: readonly string[]): CommunityCandidate[] {
  const out: CommunityCandidate[] = [];
  const defaultIndex = new Map(defaults.map((c, i) => [c, i]));
  profile.forEach((community, index) => {
    const d = defaultIndex.get(community);
    // A profile community that is itself well known may be named: it is no secret.
    out.push(d === undefined ? { community, source: 'profile', index } : { community, source: 'default', index: d });
  });
  const seen = new Set(profile);
  defaults.forEach((community, index) => {
    if (!seen.has(community)) out.push({ community, source: 'default', index });
  });
  return out;
}

function pick<T extends string>(value: unknown, allowed: readonly T[], where: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidInput(`${where} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export interface V3Settings {
  authProtocol?: string;
  privProtocol?: string;
}

/** The profile's SNMPv3 user at authPriv (levels are varied by the caller), or undefined. */
export function profileV3User(credentials: CredentialVault, service: ServiceUnderTest | undefined, inputs: V3Settings): V3User | undefined {
  const cred = credentials.get('snmp');
  if (!cred) return undefined;
  const authProtocol = pick<AuthProtocolName>(inputs.authProtocol ?? service?.options.authProtocol, AUTH_PROTOCOLS, 'authProtocol') ?? 'sha';
  const privProtocol = pick<PrivProtocolName>(inputs.privProtocol ?? service?.options.privProtocol, PRIV_PROTOCOLS, 'privProtocol') ?? 'aes';
  return {
    name: cred.username, level: 'authPriv', authProtocol, authKey: cred.password, privProtocol,
    privKey: credentials.get('snmp.priv')?.password ?? cred.password,
  };
}

/** Runs `fn` over `items` with at most `parallel` in flight; results keep the input order. The first
 * failure stops the workers from starting more and is rethrown. */
export async function mapLimited<T, R>(items: readonly T[], parallel: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, worker));
  return results;
}

/** JSON Schema properties the SNMP probes share (request bounds, communities, v3 protocols). */
export const SNMP_INPUT_PROPERTIES = {
  requestTimeoutMs: { type: 'integer', minimum: 50 },
  retries: { type: 'integer', minimum: 0, maximum: 5 },
  communities: { type: 'array', items: { type: 'string', minLength: 1 } },
  tryDefaults: { type: 'boolean' },
  authProtocol: { enum: [...AUTH_PROTOCOLS] },
  privProtocol: { enum: [...PRIV_PROTOCOLS] },
} as const;
